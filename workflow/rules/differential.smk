# Stage differential (config differential.enabled): edges whose weight differs between pairs of
# transitions, with the analytic (infinitesimal-jackknife) standard error of the joint cell bootstrap or
# the bootstrap itself (differential.se_method). A unit -- the cluster its pairs share (siblings: their
# source) -- reads each of its transitions' bootstrap replicates, which the fits refitted (fit.smk
# FIT_OUTPUTS), or computes its analytic influence around the fit's network, once and tests every pair
# (rule differential_unit, transgrn.differential.unit); rule differential gathers the units' tables into
# one (transgrn.differential.gather). Job transgrn.jobs.differential; science transgrn.differential.
from transgrn.jobs import differential as differential_job

DIFFERENTIAL = RESULTS / "differential"

# with the fits' replicates: two transitions' replicates (memory-mapped) and one pair's table at a time,
# measured at atlas scale (benchmarks/scale.py --steps differential) 0.59-0.76 GB for units of 3-8
# transitions; analytic: one transition's cells and system at a time, plus what it keeps for its
# pairs up to transgrn.differential.DEFAULT_MAX_BYTES (64 MB; spilled beyond).
DIFFERENTIAL_UNIT_MEM = mem_mb(700, per_edge_bytes=250 + 40 * config["differential"]["n_boot"], gram_copies=2)


rule differential_unit:
    input:
        transitions=PREPARED / "transitions.tsv",
        masks=unit_files(MAPPING_FILES["mask"]),
        # the main fit's weights, which the differences are reported against, and their borrowed edges
        # (fit.borrow_below), which are not tested (transgrn.differential.tested_edges)
        coefficients=unit_files(FIT_FILES["coefficients"]),
        # with the bootstrap, the replicates that the fits refitted; else -- the analytic standard
        # error -- the cells and mapping it linearizes over, around the fit's network: its intercepts
        # and the penalty it chose (fit.json), so that nothing is refitted
        **(dict(replicates=unit_files(FIT_OUTPUTS["differential_replicates"])) if DIFFERENTIAL_REFITS
           else dict(intercepts=unit_files(FIT_FILES["intercepts"]), info=unit_files(FIT_FILES["info"]),
                     mappings=unit_files(MAPPING_FILES["mapping_main"]), slices=unit_slices)),
    output:
        table=DIFFERENTIAL / "{unit}.parquet",
    params:
        options=config["differential"],
        fit=config["fit"],
        seed=SEED,
        smooth=config["data"]["smooth"],
    threads: 1
    resources:
        mem_mb=DIFFERENTIAL_UNIT_MEM,
        runtime=differential_unit_runtime,
    log:
        LOGS / "differential/{unit}.log",
        times=LOGS / "benchmarks/differential/{unit}.tsv",
    run:
        run_job(differential_job.differential_unit, input, output, params, wildcards, log, rule, SEED)


rule differential:
    input:
        units=lambda wildcards: [str(DIFFERENTIAL / f"{unit}.parquet") for unit in differential_units()],
    output:
        table=RESULTS / "differential.parquet",
    threads: 1
    resources:
        # one row group at a time
        mem_mb=mem_mb(500),
        runtime=runtime_min(30),
    log:
        LOGS / "differential.log",
    run:
        run_job(differential_job.differential, input, output, params, wildcards, log, rule, SEED)
