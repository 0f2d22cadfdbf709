# Gather all transitions into the result tables, the GRN tensor and the report.


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


rule report:
    input:
        table=RESULTS / "transitions.tsv",
        edges=RESULTS / "edges.parquet",
        summary=PREPARED / "summary.json",
        skipped=PREPARED / "skipped.tsv",
        gene_r2=per_transition("gene_r2.parquet"),
        predictions=per_transition("predictions.parquet"),
    output:
        report=RESULTS / "report.html",
    params:
        config=config,
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "report.log",
    script:
        "../../scripts/report.py"
