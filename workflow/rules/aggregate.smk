# Gather all transitions into the result tables and the GRN tensor.


def largest_transition_mb(input):
    """Size in MB of the largest transition's files that aggregate reads (coefficients + attribution)."""
    attributions = input.mlp_attribution or [None] * len(input.coefficients)
    return max(os.stat(c).st_size + (os.stat(a).st_size if a else 0) for c, a in zip(input.coefficients, attributions)) / 1e6


def aggregate_mem_mb(wildcards, input, attempt):
    """aggregate streams one transition at a time, so its memory follows the largest transition, not
    their number: measured 0.5 GB peak for 500,000 edges (0.7 GB with bootstrap and MLP, 33 MB of
    files per transition) at 20 to 400 transitions (benchmarks/aggregate_scale.py). Doubled on retry."""
    return int((1000 + 30 * largest_transition_mb(input)) * 2 ** (attempt - 1))


def aggregate_runtime(wildcards, input, attempt):
    """Minutes: at least an hour, else 10 MB/s of input read (about 5 times slower than measured)."""
    return int(max(60, 10 + _input_mb(input) / 10 / 60) * attempt)


rule aggregate:
    input:
        transitions=PREPARED / "transitions.tsv",
        summary=PREPARED / "summary.json",
        prior=PREPARED / "prior_edges.parquet",
        metrics=per_transition("metrics.json"),
        coefficients=per_transition("coefficients.parquet"),
        # optional per-transition results (validation.smk): MLP attributions become a tensor layer;
        # co-factor tables are requested here so that a run makes them
        mlp_attribution=lambda wildcards: per_transition("mlp_attribution.parquet")(wildcards) if "mlp" in config["models"] else [],
        cofactors=lambda wildcards: per_transition("cofactors.tsv")(wildcards) if config["cofactors"]["enabled"] else [],
    output:
        table=report(RESULTS / "transitions.tsv", caption="../report/transitions_table.rst", category="Overview"),
        edges=RESULTS / "edges.parquet",
        edges_filtered=RESULTS / "edges_filtered.parquet",
        tensor=RESULTS / "grn_tensor.h5ad",
        provenance=RESULTS / "provenance.json",
    params:
        mapping=config["mapping"]["method"],
        with_reference=bool(config["reference"]),
        filter=config["filter"],
        config=config,
    benchmark:
        LOGS / "benchmarks/aggregate.tsv"
    threads: 1
    resources:
        mem_mb=aggregate_mem_mb,
        runtime=aggregate_runtime,
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "aggregate.log",
    script:
        "../../scripts/aggregate.py"

