# Stage differential (config differential.enabled): edges whose weight differs between pairs of
# transitions, with the analytic (infinitesimal-jackknife) standard error of the joint cell bootstrap or
# the bootstrap itself (differential.se_method; transgrn.differential, scripts/differential.py).
# A unit -- the cluster its pairs share (siblings: their source) -- fits each of its transitions once
# and tests every pair; small units share a job (a batch, common.smk differential_plan), and a gather
# step streams the batches into one table.

DIFFERENTIAL = RESULTS / "differential"

wildcard_constraints:
    dbatch=BATCH_ID_PATTERN,


rule differential_batch:
    input:
        transitions=PREPARED / "transitions.tsv",
        masks=dbatch_files("mask.parquet"),
        mappings=dbatch_files("mapping_main.parquet"),
        # the main fit's weights, which the differences are reported against; read for their borrowed
        # edges (fit.borrow_below), which are not tested (transgrn.differential.tested_edges)
        coefficients=dbatch_files("coefficients.parquet"),
        slices=dbatch_slices,
    output:
        table=DIFFERENTIAL / "{dbatch}.parquet",
    params:
        units=dbatch_units,
        options=config["differential"],
        fit=config["fit"],
        seed=config["seed"],
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/differential/{dbatch}.tsv"
    threads: 1
    resources:
        # one transition's data and refit at a time (like fit_grn with fit.bootstrap: n_boot), plus the
        # replicates kept in memory up to transgrn.differential.DEFAULT_MAX_BYTES (64 MB; spilled beyond);
        # measured at atlas scale (benchmarks/scale.py --steps differential): 0.96-1.03 GB for 3-8
        # transitions, against about 1.3 GB requested here
        mem_mb=mem_mb(700, per_edge_bytes=250 + 40 * config["differential"]["n_boot"], gram_copies=2),
        runtime=runtime_min(5),  # per transition refitted
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "differential/{dbatch}.log",
    script:
        "../../scripts/differential.py"


rule differential:
    input:
        batches=lambda wildcards: [str(DIFFERENTIAL / f"{batch}.parquet") for batch in differential_pairs()[1]],
    output:
        table=RESULTS / "differential.parquet",
    threads: 1
    resources:
        mem_mb=mem_mb(500),  # one row group at a time
        runtime=runtime_min(30),
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "differential.log",
    script:
        "../../scripts/differential.py"
