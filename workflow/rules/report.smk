# The summary report of the whole run.

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
