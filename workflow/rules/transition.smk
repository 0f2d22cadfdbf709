# Per transition: mask, mapping (configured method and the random null), fit, evaluation.


rule transition_mask:
    input:
        prior=PREPARED / "prior_edges.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        mask=TRANSITION_DIR / "mask.parquet",
    params:
        method=config["mapping"]["method"],  # which rows the design fits decides which edges are estimable
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/transitions/{transition}/transition_mask.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(500, per_input_mb=4),
        runtime=runtime_min(10),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/mask.log",
    script:
        "../../scripts/transition_mask.py"


rule map_cells:
    input:
        mask=TRANSITION_DIR / "mask.parquet",  # the lagged design chooses its lag on the prior's edges
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        mapping=TRANSITION_DIR / "mapping_{role}.parquet",
    params:
        mapping=config["mapping"],
        seed=config["seed"],
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/transitions/{transition}/map_cells_{role}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(600, per_cluster_mb=8, design_copies=2),  # not from the mask: the group writes it
        runtime=runtime_min(20),
    group:
        "transition"
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
        info=TRANSITION_DIR / "fit.json",
    params:
        fit=config["fit"],
        smooth=config["data"]["smooth"],
        seed=config["seed"],
    threads: 1
    benchmark:
        LOGS / "benchmarks/transitions/{transition}/fit_grn.tsv"
    resources:
        # bootstrap: per edge, B weights and B cross-products; alpha auto: Gram matrices of every CV fold
        mem_mb=mem_mb(500, per_cluster_mb=5, design_copies=2, per_edge_bytes=250 + 40 * config["fit"]["bootstrap"],
                      gram_copies=2 + 16 * (config["fit"]["alpha"] == "auto")),
        runtime=runtime_min(20),
        gpu=1 if config["fit"]["device"] == "cuda" else 0,
    group:
        "transition"
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
        info=TRANSITION_DIR / "fit.json",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
        reference=PREPARED / "reference.parquet",
        # with models: [.., mlp], the MLP's held-out R^2 (rule fit_mlp in validation.smk)
        mlp=lambda wildcards: [str(TRANSITION_DIR / f).format(**wildcards) for f in ("mlp_metrics.json", "mlp_gene_r2.parquet")]
        if "mlp" in config["models"]
        else [],
    output:
        metrics=TRANSITION_DIR / "metrics.json",
        gene_r2=TRANSITION_DIR / "gene_r2.parquet",
        predictions=TRANSITION_DIR / "predictions.parquet",
    params:
        smooth=config["data"]["smooth"],
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
        "../../scripts/evaluate_grn.py"
