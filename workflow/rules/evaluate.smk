# Stage evaluate: held-out accuracy of the fit and of its null, and recovery of the reference.
# Package module transgrn.evaluate, script scripts/evaluate.py.


rule evaluate_grn:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        mapping_null=TRANSITION_DIR / "mapping_null.parquet",
        coefficients=TRANSITION_DIR / "coefficients.parquet",
        intercepts=TRANSITION_DIR / "intercepts.parquet",
        info=TRANSITION_DIR / "fit.json",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
        reference=PREPARED / "reference.parquet",
    output:
        metrics=TRANSITION_DIR / "metrics.json",
        gene_r2=TRANSITION_DIR / "gene_r2.parquet",
        predictions=TRANSITION_DIR / "predictions.parquet",
        # network scores of the transition (transgrn.network_scores), gathered by aggregate into
        # tf_scores.tsv and target_scores.tsv: computed here, where the design is already in memory
        tf_scores=TRANSITION_DIR / "tf_scores.parquet",
        target_scores=TRANSITION_DIR / "target_scores.parquet",
    params:
        smooth=config["data"]["smooth"],
        filter=config["filter"],
        self_term=config["fit"]["self_term"],
    benchmark:
        LOGS / "benchmarks/transitions/{transition}/evaluate_grn.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(350, per_cluster_mb=5, design_copies=2, per_edge_bytes=300),
        runtime=runtime_min(20),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/evaluate.log",
    script:
        "../../scripts/evaluate.py"
