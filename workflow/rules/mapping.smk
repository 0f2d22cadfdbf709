# Stage mapping: one job per transition writes its mask (transgrn.mask: which prior edges its
# design can estimate), then pairs its cells with the configured method (role main) and with the
# random null (role null). One job instead of three pays Python's start-up and the reading of the
# two cluster slices once (issue #11); each role keeps its own random stream (transgrn.seeds), so
# the results are those of separate jobs. Package module transgrn.mapping (the lagged design:
# transgrn.lagged), script scripts/mapping.py.


# what a transition's mapping job writes: the batch job's outputs_per_transition, the link rule's outputs
MAPPING_FILES = {"mask": "mask.parquet", "mapping_main": "mapping_main.parquet", "mapping_null": "mapping_null.parquet"}


rule map_cells:
    input:
        prior=PREPARED / "prior_edges.parquet",
        slices=member_slices,
    output:
        manifest=BATCH_DIR / "map_cells.json",
    params:
        options=config["mapping"],  # the method also decides which edges the mask marks estimable
        seed=config["seed"],
        smooth=config["data"]["smooth"],
        transitions=batch_transitions,
        inputs_per_transition=SLICE_PATTERNS,
        outputs_per_transition=MAPPING_FILES,
    benchmark:
        LOGS / "benchmarks/batches/{batch}/map_cells.tsv"
    threads: 1
    resources:
        # not from the input files' size: the value stays known inside a group job (common.smk, mem_mb)
        mem_mb=mem_mb(600, per_cluster_mb=8, design_copies=2, per_edge_bytes=200),
        runtime=runtime_min(40),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "batches/{batch}/mapping.log",
    script:
        "../../scripts/mapping.py"


rule map_cells_files:
    input:
        manifest=batch_manifest("map_cells"),
    params:
        stage="map_cells",
    output:
        **{name: TRANSITION_DIR / filename for name, filename in MAPPING_FILES.items()},
    group:
        "transition"
    log:
        LOGS / "transitions/{transition}/mapping_files.log",
    resources:
        **LINK_RESOURCES,
    conda:
        "../../envs/coreutils.yaml"
    shell:
        LINK_FROM_BATCH
