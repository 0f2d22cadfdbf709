# Stage fit: the masked regression on the mapping's pairs (and the null's), with bootstrap confidence.
# Job transgrn.jobs.fit; science transgrn.fit, transgrn.pooled.
from transgrn.jobs import FIT_FILES  # what a transition's fit writes for the later stages
from transgrn.jobs import fit as fit_job

# with them, for the differential test, the replicates (common.smk differential_refits; the test reads
# them instead of refitting)
FIT_OUTPUTS = FIT_FILES | ({"differential_replicates": "differential_replicates.npy"} if differential_refits() else {})
# their number (0: none)
DIFFERENTIAL_REFITS = config["differential"]["n_boot"] if "differential_replicates" in FIT_OUTPUTS else 0

# fit.borrow_below > 0: every transition's fit borrows from one network pooled over all clusters
# (transgrn.pooled), for the TFs its own cells cannot inform; at 0 the pooled network is not fitted.
POOLED = RESULTS / "pooled"
POOLED_FILES = {"pooled_network": POOLED / "network.parquet", "pooled_tf_variance": POOLED / "tf_variance.parquet"}
BORROWING = config["fit"]["borrow_below"] > 0


rule fit_pooled:
    input:
        slices=run_slices,
        prior=PREPARED / "prior_edges.parquet",
    output:
        network=POOLED_FILES["pooled_network"],
        tf_variance=POOLED_FILES["pooled_tf_variance"],
    params:
        fit=config["fit"],
        seed=SEED,
        smooth=config["data"]["smooth"],
    threads: 1
    # every fit waits for it: started beside the first mapping, not after them
    priority: 1
    resources:
        mem_mb=pooled_design_mb,
        runtime=runtime_min(60),
        gpu=1 if config["fit"]["device"] == "cuda" else 0,
    log:
        LOGS / "fit_pooled.log",
        times=LOGS / "benchmarks/fit_pooled.tsv",
    run:
        run_job(fit_job.fit_pooled, input, output, params, wildcards, log, rule, SEED)


rule fit_grn:
    input:
        **transition_files(MAPPING_FILES),
        source=cluster_slice("source"),
        target=cluster_slice("target"),
        **(POOLED_FILES if BORROWING else {}),
    output:
        **transition_files(FIT_OUTPUTS),
    params:
        fit=config["fit"],
        smooth=config["data"]["smooth"],
        seed=SEED,
        # only with the test's replicates: a run without the test keeps its params (no refit of its fits)
        **({"differential_n_boot": DIFFERENTIAL_REFITS} if DIFFERENTIAL_REFITS else {}),
    # a transition's later stages before other transitions' earlier ones (evaluate 3 > fit 2 > mapping 0):
    # each core finishes the chains it started, so that no long fit starts last and runs alone
    priority: 2
    threads: 1
    resources:
        # bootstrap: per edge, B weights and B cross-products (the fit's and the differential test's
        # refits, one after the other; the test's B float32 weights kept to be written); alpha auto: Gram
        # matrices of every CV fold
        mem_mb=mem_mb(500, per_cluster_mb=5, design_copies=2,
                      per_edge_bytes=250 + 40 * max(config["fit"]["bootstrap"], DIFFERENTIAL_REFITS)
                      + 4 * DIFFERENTIAL_REFITS, gram_copies=2 + 16 * (config["fit"]["alpha"] == "auto")),
        runtime=runtime_min(20),
        gpu=1 if config["fit"]["device"] == "cuda" else 0,
    group:
        "transition"
    log:
        TRANSITION_LOGS / "fit_grn.log",
        times=TRANSITION_BENCHMARKS / "fit_grn.tsv",
    run:
        run_job(fit_job.fit_grn, input, output, params, wildcards, log, rule, SEED)
