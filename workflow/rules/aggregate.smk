# Gather all transitions into the result tables and the GRN tensor.


rule aggregate:
    input:
        transitions=PREPARED / "transitions.tsv",
        summary=PREPARED / "summary.json",
        metrics=per_transition("metrics.json"),
        coefficients=per_transition("coefficients.parquet"),
    output:
        table=RESULTS / "transitions.tsv",
        edges=RESULTS / "edges.parquet",
        tensor=RESULTS / "grn_tensor.h5ad",
    params:
        mapping=config["mapping"]["method"],
        with_reference=bool(config["reference"]),
        config=config,
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "aggregate.log",
    script:
        "../../scripts/aggregate.py"

