# Stage models: beyond the linear fit, the masked neural network (config models: [.., mlp]) and the
# co-factor tests (config cofactors.enabled). Package module transgrn.models, script scripts/models.py;
# aggregate collects the MLP's metrics and attributions, the run's targets request the co-factor tables.


rule fit_mlp:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        metrics=TRANSITION_DIR / "mlp_metrics.json",
        gene_r2=TRANSITION_DIR / "mlp_gene_r2.parquet",
        attribution=TRANSITION_DIR / "mlp_attribution.parquet",
    params:
        seed=config["seed"],
        device=config["fit"]["device"],
        smooth=config["data"]["smooth"],
    threads: 1
    resources:
        mem_mb=mem_mb(1000, dense_copies=8),
        runtime=runtime_min(60),
        gpu=1 if config["fit"]["device"] == "cuda" else 0,
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/fit_mlp.log",
    script:
        "../../scripts/models.py"


rule find_cofactors:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        table=TRANSITION_DIR / "cofactors.tsv",
    params:
        options=config["cofactors"],
    threads: 1
    resources:
        mem_mb=mem_mb(700, dense_copies=3),
        runtime=runtime_min(30),
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/cofactors.log",
    script:
        "../../scripts/models.py"
