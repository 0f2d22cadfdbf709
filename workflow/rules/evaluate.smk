# Stage evaluate: held-out accuracy of the fit and of its null, recovery of the reference, and the
# transition's network scores (gathered by aggregate into tf_scores.tsv and target_scores.tsv).
# Job transgrn.jobs.evaluate; science transgrn.evaluate, transgrn.network_scores.
from transgrn.jobs import EVALUATE_FILES
from transgrn.jobs import evaluate as evaluate_job


rule evaluate_grn:
    input:
        **transition_files(MAPPING_FILES | FIT_FILES),
        source=cluster_slice("source"),
        target=cluster_slice("target"),
        reference=PREPARED / "reference.parquet",
    output:
        **transition_files(EVALUATE_FILES),
    params:
        smooth=config["data"]["smooth"],
        filter=config["filter"],
        self_term=config["fit"]["self_term"],
    # after its transition's fit, before other transitions' mappings and fits (fit.smk, rule fit_grn)
    priority: 3
    threads: 1
    resources:
        mem_mb=mem_mb(350, per_cluster_mb=5, design_copies=2, per_edge_bytes=300),
        runtime=runtime_min(20),
    group:
        "transition"
    log:
        TRANSITION_LOGS / "evaluate_grn.log",
        times=TRANSITION_BENCHMARKS / "evaluate_grn.tsv",
    run:
        run_job(evaluate_job.evaluate_grn, input, output, params, wildcards, log, rule, SEED)
