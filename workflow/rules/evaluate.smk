# Stage evaluate: held-out accuracy of the fit and of its null, and recovery of the reference.
# Package module transgrn.evaluate, script scripts/evaluate.py.


# what a transition's evaluation writes: the batch job's outputs_per_transition, the link rule's outputs.
# The network scores (transgrn.network_scores), gathered by aggregate into tf_scores.tsv and
# target_scores.tsv, are computed here, where the design is already in memory.
EVALUATE_FILES = {"metrics": "metrics.json", "gene_r2": "gene_r2.parquet", "predictions": "predictions.parquet",
                  "tf_scores": "tf_scores.parquet", "target_scores": "target_scores.parquet"}
# what an evaluation batch reads of the mapping's and the fit's batch jobs (common.smk, staged_inputs)
EVALUATE_STAGED = staged_inputs(map_cells=MAPPING_FILES, fit_grn=FIT_FILES)


rule evaluate_grn:
    input:
        **stage_manifests(EVALUATE_STAGED),
        slices=member_slices,
        reference=PREPARED / "reference.parquet",
    output:
        manifest=BATCH_DIR / "evaluate_grn.json",
    params:
        smooth=config["data"]["smooth"],
        filter=config["filter"],
        self_term=config["fit"]["self_term"],
        transitions=batch_transitions,
        inputs_per_transition=transition_files(MAPPING_FILES | FIT_FILES) | SLICE_PATTERNS,
        staged_inputs=EVALUATE_STAGED,
        outputs_per_transition=EVALUATE_FILES,
    benchmark:
        LOGS / "benchmarks/batches/{batch}/evaluate_grn.tsv"
    # after its batch's fit, before other batches' mappings and fits (fit.smk, rule fit_grn)
    priority: 3
    threads: 1
    resources:
        mem_mb=mem_mb(350, per_cluster_mb=5, design_copies=2, per_edge_bytes=300),
        runtime=runtime_min(20),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "batches/{batch}/evaluate.log",
    script:
        "../../scripts/evaluate.py"


rule evaluate_grn_files:
    input:
        manifest=batch_manifest("evaluate_grn"),
        fit=[TRANSITION_DIR / filename for filename in FIT_FILES.values()],  # as fit_grn_files' mapping
    params:
        stage="evaluate_grn",
    output:
        **{name: TRANSITION_DIR / filename for name, filename in EVALUATE_FILES.items()},
    group:
        "transition"
    log:
        LOGS / "transitions/{transition}/evaluate_files.log",
    resources:
        **LINK_RESOURCES,
    conda:
        "../../envs/coreutils.yaml"
    shell:
        LINK_FROM_BATCH
