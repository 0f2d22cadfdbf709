# Per transition: mask, mapping (configured method and the random null), fit, evaluation.


rule transition_mask:
    input:
        prior=PREPARED / "prior_edges.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        mask=TRANSITION_DIR / "mask.parquet",
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/mask.log",
    script:
        "../../scripts/transition_mask.py"


rule map_cells:
    input:
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        mapping=TRANSITION_DIR / "mapping_{role}.parquet",
    params:
        mapping=config["mapping"],
        seed=config["seed"],
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/mapping_{role}.log",
    script:
        "../../scripts/map_cells.py"


rule fit_grn:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        mapping_null=TRANSITION_DIR / "mapping_null.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        coefficients=TRANSITION_DIR / "coefficients.parquet",
        intercepts=TRANSITION_DIR / "intercepts.parquet",
    params:
        fit=config["fit"],
    threads: 1
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/fit.log",
    script:
        "../../scripts/fit_grn.py"


rule evaluate_grn:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        mapping_null=TRANSITION_DIR / "mapping_null.parquet",
        coefficients=TRANSITION_DIR / "coefficients.parquet",
        intercepts=TRANSITION_DIR / "intercepts.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
        reference=PREPARED / "reference.parquet",
    output:
        metrics=TRANSITION_DIR / "metrics.json",
        gene_r2=TRANSITION_DIR / "gene_r2.parquet",
        predictions=TRANSITION_DIR / "predictions.parquet",
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/evaluate.log",
    script:
        "../../scripts/evaluate_grn.py"
