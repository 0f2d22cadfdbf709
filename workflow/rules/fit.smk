# Stage fit: the masked regression on the mapping's training pairs (and the null's), with bootstrap confidence.
# Package module transgrn.fit, script scripts/fit.py.


# what a transition's fit writes: the batch job's outputs_per_transition, the link rule's outputs
FIT_FILES = {"coefficients": "coefficients.parquet", "intercepts": "intercepts.parquet", "info": "fit.json"}

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
        outputs_per_transition=FIT_FILES,
    threads: 1
    benchmark:
        LOGS / "benchmarks/batches/{batch}/fit_grn.tsv"
    resources:
        # bootstrap: per edge, B weights and B cross-products; alpha auto: Gram matrices of every CV fold
        mem_mb=mem_mb(500, per_cluster_mb=5, design_copies=2, per_edge_bytes=250 + 40 * config["fit"]["bootstrap"],
                      gram_copies=2 + 16 * (config["fit"]["alpha"] == "auto")),
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
        **{name: TRANSITION_DIR / filename for name, filename in FIT_FILES.items()},
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
