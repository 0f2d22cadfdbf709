# Stage differential (config differential.enabled): edges whose weight differs between pairs of
# transitions, with the analytic (infinitesimal-jackknife) standard error of the joint cell bootstrap or
# the bootstrap itself (differential.se_method; transgrn.differential, scripts/differential.py).
# One job per unit -- the cluster the unit's pairs share (siblings: their source) -- fits each of
# its transitions once and tests every pair; a gather step streams the units into one table.

DIFFERENTIAL = RESULTS / "differential"

wildcard_constraints:
    unit=CLUSTER_ID_PATTERN,


rule differential_unit:
    input:
        transitions=PREPARED / "transitions.tsv",
        masks=unit_files("mask.parquet"),
        mappings=unit_files("mapping_main.parquet"),
        # the main fit's weights, which the differences are reported against; read for their borrowed
        # edges (fit.borrow_below), which are not tested (transgrn.differential.tested_edges)
        coefficients=unit_files("coefficients.parquet"),
        slices=unit_slices,
    output:
        table=DIFFERENTIAL / "{unit}.parquet",
    params:
        options=config["differential"],
        fit=config["fit"],
        seed=config["seed"],
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/differential/{unit}.tsv"
    threads: 1
    resources:
        # one transition's data and refit at a time (like fit_grn with fit.bootstrap: n_boot), plus the
        # replicates kept in memory up to transgrn.differential.DEFAULT_MAX_BYTES (64 MB; spilled beyond);
        # measured at atlas scale (benchmarks/scale.py --steps differential): 0.96-1.03 GB for 3-8
        # transitions, against about 1.3 GB requested here
        mem_mb=mem_mb(700, per_edge_bytes=250 + 40 * config["differential"]["n_boot"], gram_copies=2),
        runtime=runtime_min(60),
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "differential/{unit}.log",
    script:
        "../../scripts/differential.py"


rule differential:
    input:
        units=lambda wildcards: [str(DIFFERENTIAL / f"{unit}.parquet")
                                 for unit in dict.fromkeys(differential_pairs()["unit_id"])],
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
