# Stage evaluate: held-out accuracy of the fit and of its null, and recovery of the reference.
# Package module transgrn.evaluate, script scripts/evaluate.py.


rule evaluate_grn:
    input:
        masks=member_files("mask.parquet"),
        mappings_main=member_files("mapping_main.parquet"),
        mappings_null=member_files("mapping_null.parquet"),
        fits=member_files("coefficients.parquet"),
        fit_intercepts=member_files("intercepts.parquet"),
        fit_infos=member_files("fit.json"),
        slices=member_slices,
        reference=PREPARED / "reference.parquet",
    output:
        manifest=BATCH_DIR / "evaluate_grn.json",
    params:
        smooth=config["data"]["smooth"],
        filter=config["filter"],
        self_term=config["fit"]["self_term"],
        transitions=batch_transitions,
        inputs_per_transition=transition_files("mask.parquet", "mapping_main.parquet", "mapping_null.parquet",
                                               "coefficients.parquet", "intercepts.parquet")
        | {"info": str(TRANSITION_DIR / "fit.json")}
        | SLICE_PATTERNS,
        outputs_per_transition={"metrics": "metrics.json", "gene_r2": "gene_r2.parquet",
                                "predictions": "predictions.parquet",
                                # network scores of the transition (transgrn.network_scores), gathered by
                                # aggregate into tf_scores.tsv and target_scores.tsv: computed here, where the
                                # design is already in memory
                                "tf_scores": "tf_scores.parquet", "target_scores": "target_scores.parquet"},
    benchmark:
        LOGS / "benchmarks/batches/{batch}/evaluate_grn.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(350, per_cluster_mb=5, design_copies=2, per_edge_bytes=300),
        runtime=runtime_min(20),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "batches/{batch}/evaluate.log",
    script:
        "../../scripts/evaluate.py"


rule evaluate_grn_files:
    input:
        manifest=batch_manifest("evaluate_grn"),
    params:
        stage="evaluate_grn",
    output:
        metrics=TRANSITION_DIR / "metrics.json",
        gene_r2=TRANSITION_DIR / "gene_r2.parquet",
        predictions=TRANSITION_DIR / "predictions.parquet",
        tf_scores=TRANSITION_DIR / "tf_scores.parquet",
        target_scores=TRANSITION_DIR / "target_scores.parquet",
    group:
        "transition"
    log:
        LOGS / "transitions/{transition}/evaluate_files.log",
    resources:
        **LINK_RESOURCES,
    conda:
        "../../envs/coreutils.yaml"
    shell:
        LINK_FROM_BATCH
