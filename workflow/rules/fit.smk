# Stage fit: the masked regression on the mapping's training pairs (and the null's), with bootstrap confidence.
# Package module transgrn.fit, script scripts/fit.py.


# what a transition's fit writes for the later stages
FIT_FILES = {"coefficients": "coefficients.parquet", "intercepts": "intercepts.parquet", "info": "fit.json"}
# the batch job's outputs_per_transition and the link rule's outputs: with them, for the differential
# test, the replicates (common.smk differential_refits; the test reads them instead of refitting)
FIT_OUTPUTS = FIT_FILES | ({"differential_replicates": "differential_replicates.npy"} if differential_refits() else {})
# their number (0: none)
DIFFERENTIAL_REFITS = config["differential"]["n_boot"] if "differential_replicates" in FIT_OUTPUTS else 0

# fit.borrow_below > 0: every transition's fit borrows from one network pooled over all clusters
# (transgrn.pooled), for the TFs its own cells cannot inform; at 0 the pooled network is not fitted.
POOLED = RESULTS / "pooled"
POOLED_FILES = {"pooled_network": POOLED / "network.parquet", "pooled_tf_variance": POOLED / "tf_variance.parquet"}
BORROWING = config["fit"]["borrow_below"] > 0
# what a fit batch reads of the mapping's batch job (common.smk, staged_inputs)
FIT_STAGED = staged_inputs(map_cells=MAPPING_FILES)


rule fit_pooled:
    input:
        slices=run_slices,
        prior=PREPARED / "prior_edges.parquet",
    output:
        network=POOLED_FILES["pooled_network"],
        tf_variance=POOLED_FILES["pooled_tf_variance"],
    params:
        fit=config["fit"],
        seed=config["seed"],
        smooth=config["data"]["smooth"],
    threads: 1
    benchmark:
        LOGS / "benchmarks/fit_pooled.tsv"
    # every fit waits for it: started beside the first mapping, not after them, it leaves a core free
    # while the fits begin (the demo: 1-2 s of wall time)
    priority: 1
    resources:
        mem_mb=pooled_design_mb,
        runtime=runtime_min(60),
        gpu=1 if config["fit"]["device"] == "cuda" else 0,
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "fit_pooled.log",
    script:
        "../../scripts/fit_pooled.py"


rule fit_grn:
    input:
        **stage_manifests(FIT_STAGED),
        slices=member_slices,
        **(POOLED_FILES if BORROWING else {}),
    output:
        manifest=BATCH_DIR / "fit_grn.json",
    params:
        fit=config["fit"],
        smooth=config["data"]["smooth"],
        seed=config["seed"],
        transitions=batch_transitions,
        inputs_per_transition=transition_files(MAPPING_FILES) | SLICE_PATTERNS,
        staged_inputs=FIT_STAGED,
        outputs_per_transition=FIT_OUTPUTS,
        # only with the test's replicates: a run without the test keeps its params (no refit of its fits)
        **({"differential_n_boot": DIFFERENTIAL_REFITS} if DIFFERENTIAL_REFITS else {}),
    # a batch's later stages before other batches' earlier ones (evaluate 3 > fit 2 > mapping 0): each core
    # finishes the chains of transitions it started, so that no batch's long fit starts last and runs alone
    # (the 100,000-cell atlas on 2 cores: one core idle for 2.5 min at the end without them)
    priority: 2
    threads: 1
    benchmark:
        LOGS / "benchmarks/batches/{batch}/fit_grn.tsv"
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
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "batches/{batch}/fit.log",
    script:
        "../../scripts/fit.py"


rule fit_grn_files:
    input:
        manifest=batch_manifest("fit_grn"),
        # a transition's folder holds what its fit was made from (its provenance names these files)
        mapping=[TRANSITION_DIR / filename for filename in MAPPING_FILES.values()],
    params:
        stage="fit_grn",
    output:
        **{name: TRANSITION_DIR / filename for name, filename in FIT_OUTPUTS.items()},
    group:
        "transition"
    log:
        LOGS / "transitions/{transition}/fit_files.log",
    resources:
        **LINK_RESOURCES,
    conda:
        "../../envs/coreutils.yaml"
    shell:
        LINK_FROM_BATCH
