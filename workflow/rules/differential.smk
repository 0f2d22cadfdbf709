# Stage differential (config differential.enabled): edges whose weight differs between pairs of
# transitions, with the analytic (infinitesimal-jackknife) standard error of the joint cell bootstrap or
# the bootstrap itself (differential.se_method; transgrn.differential, scripts/differential.py).
# A unit -- the cluster its pairs share (siblings: their source) -- reads each of its transitions'
# bootstrap replicates, which the fits refitted (fit.smk FIT_OUTPUTS), once and tests every pair;
# small units share a job (a batch, common.smk differential_plan), and a gather step streams the
# batches into one table. A run with one batch (the demo's) has no gather step:
# rule differential tests that batch itself (common.smk differential_inputs).

DIFFERENTIAL = RESULTS / "differential"

wildcard_constraints:
    dbatch=BATCH_ID_PATTERN,

# what a batch reads: its transitions' files (common.smk dbatch_*); with the bootstrap, the replicates
# that the fits refitted (fit.smk FIT_OUTPUTS), else -- the analytic standard error -- the cells and
# mapping it linearizes over
DIFFERENTIAL_BATCH_INPUTS = dict(
    transitions=PREPARED / "transitions.tsv",
    masks=dbatch_files("mask.parquet"),
    # the main fit's weights, which the differences are reported against, and their borrowed edges
    # (fit.borrow_below), which are not tested (transgrn.differential.tested_edges)
    coefficients=dbatch_files("coefficients.parquet"),
    **(dict(replicates=dbatch_files(FIT_OUTPUTS["differential_replicates"])) if DIFFERENTIAL_REFITS
       else dict(mappings=dbatch_files("mapping_main.parquet"), slices=dbatch_slices)),
)
# with the fits' replicates: two transitions' replicates (memory-mapped) and one pair's table at a time,
# measured at atlas scale (benchmarks/scale.py --steps differential) 0.59-0.76 GB for units of 3-8
# transitions; analytic: one transition's cells and system at a time, plus what it keeps for its
# pairs up to transgrn.differential.DEFAULT_MAX_BYTES (64 MB; spilled beyond). About 1.3 GB is
# requested at that scale.
DIFFERENTIAL_BATCH_MEM = mem_mb(700, per_edge_bytes=250 + 40 * config["differential"]["n_boot"], gram_copies=2)


rule differential_batch:
    input:
        **DIFFERENTIAL_BATCH_INPUTS,
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
        mem_mb=DIFFERENTIAL_BATCH_MEM,
        runtime=differential_batch_runtime,
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "differential/{dbatch}.log",
    script:
        "../../scripts/differential.py"


rule differential:
    input:
        unpack(differential_inputs),
    output:
        table=RESULTS / "differential.parquet",
    params:
        units=dbatch_units,  # none when it gathers
        options=config["differential"],
        fit=config["fit"],
        seed=config["seed"],
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/differential.tsv"
    threads: 1
    resources:
        # gathering holds one row group at a time
        mem_mb=differential_resource(DIFFERENTIAL_BATCH_MEM, mem_mb(500)),
        runtime=differential_resource(differential_batch_runtime, runtime_min(30)),
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "differential.log",
    script:
        "../../scripts/differential.py"
