# Stage models: beyond the linear fit, the masked neural network (config models: [.., mlp]) and the
# co-factor tests (config cofactors.enabled). Job transgrn.jobs.models; science transgrn.models.
# aggregate collects the MLP's metrics and attributions, the run's targets request the co-factor tables.
from transgrn.jobs import models as models_job

TRANSITION_CELLS = dict(source=cluster_slice("source"), target=cluster_slice("target"))


rule fit_mlp:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        **TRANSITION_CELLS,
    output:
        metrics=TRANSITION_DIR / "mlp_metrics.json",
        gene_r2=TRANSITION_DIR / "mlp_gene_r2.parquet",
        attribution=TRANSITION_DIR / "mlp_attribution.parquet",
    params:
        seed=SEED,
        device=config["fit"]["device"],
        smooth=config["data"]["smooth"],
    threads: 1
    resources:
        mem_mb=mem_mb(1000, dense_copies=8),
        runtime=runtime_min(60),
        gpu=1 if config["fit"]["device"] == "cuda" else 0,
    log:
        TRANSITION_LOGS / "fit_mlp.log",
    run:
        run_job(models_job.fit_mlp, input, output, params, wildcards, log, rule, SEED)


rule find_cofactors:
    input:
        mask=TRANSITION_DIR / "mask.parquet",
        mapping_main=TRANSITION_DIR / "mapping_main.parquet",
        **TRANSITION_CELLS,
    output:
        table=TRANSITION_DIR / "cofactors.tsv",
    params:
        options=config["cofactors"],
    threads: 1
    resources:
        mem_mb=mem_mb(700, dense_copies=3),
        runtime=runtime_min(30),
    log:
        TRANSITION_LOGS / "find_cofactors.log",
    run:
        run_job(models_job.find_cofactors, input, output, params, wildcards, log, rule, SEED)
