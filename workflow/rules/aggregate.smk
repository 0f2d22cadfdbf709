# Gather all transitions into the result tables, the GRN tensor and the run-level network. Job transgrn.jobs.aggregate.
from transgrn.jobs import aggregate as aggregate_job


rule aggregate:
    input:
        transitions=PREPARED / "transitions.tsv",
        summary=PREPARED / "summary.json",
        prior=PREPARED / "prior_edges.parquet",
        # the run-level network's recovery is scored against it (with a reference configured)
        reference=PREPARED / "reference.parquet",
        metrics=per_transition("metrics.json"),
        coefficients=per_transition("coefficients.parquet"),
        # with models: [.., mlp] (models.smk): the MLP's held-out R^2 joins transitions.tsv and its
        # attributions become a tensor layer
        mlp_metrics=lambda wildcards: per_transition("mlp_metrics.json")(wildcards) if "mlp" in config["models"] else [],
        mlp_attribution=lambda wildcards: per_transition("mlp_attribution.parquet")(wildcards) if "mlp" in config["models"] else [],
        # each transition's network scores (evaluate.smk), gathered into tf_scores.tsv and target_scores.tsv
        tf_scores=per_transition("tf_scores.parquet"),
        target_scores=per_transition("target_scores.parquet"),
    output:
        table=report(RESULTS / "transitions.tsv", caption="../report/transitions_table.rst", category="Overview"),
        edges=RESULTS / "edges.parquet",
        edges_filtered=RESULTS / "edges_filtered.parquet",
        tensor=RESULTS / "grn_tensor.h5ad",
        provenance=RESULTS / "provenance.json",
        tf_scores_table=RESULTS / "tf_scores.tsv",
        target_scores_table=RESULTS / "target_scores.tsv",
        # the run-level network (transgrn.run_network) and its recovery
        network=RESULTS / "network.parquet",
        network_metrics=RESULTS / "network_metrics.json",
    params:
        mapping=config["mapping"]["method"],
        with_reference=bool(config["reference"]),
        filter=config["filter"],
        # provenance of the results: every setting except report.*, which only changes the page, so
        # that editing it does not rerun aggregate (a params change is a rerun trigger)
        config={key: value for key, value in config.items() if key != "report"},
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    log:
        LOGS / "aggregate.log",
        times=LOGS / "benchmarks/aggregate.tsv",
    run:
        run_job(aggregate_job.aggregate, input, output, params, wildcards, log, rule, SEED)

