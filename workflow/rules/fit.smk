# Stage fit: the masked regression on the mapping's training pairs (and the null's), with bootstrap confidence.
# Package module transgrn.fit, script scripts/fit.py.


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
        "../../scripts/fit.py"
