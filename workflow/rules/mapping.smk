# Stage mapping: one job per transition writes its mask (transgrn.mask: which prior edges its
# design can estimate), then pairs its cells with the configured method (role main) and with the
# random null (role null), reading the two cluster slices once; each role keeps its own random
# stream (transgrn.seeds). Job transgrn.jobs.mapping; science transgrn.mapping, transgrn.lagged.
from transgrn.jobs import MAPPING_FILES
from transgrn.jobs import mapping as mapping_job


rule map_cells:
    input:
        prior=PREPARED / "prior_edges.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        **transition_files(MAPPING_FILES),
    params:
        options=config["mapping"],  # the method also decides which edges the mask marks estimable
        seed=SEED,
        smooth=config["data"]["smooth"],
    threads: 1
    resources:
        # not from the input files' size: the value stays known inside a group job (common.smk, mem_mb)
        mem_mb=mem_mb(600, per_cluster_mb=8, design_copies=2, per_edge_bytes=200),
        runtime=runtime_min(40),
    group:
        "transition"
    log:
        TRANSITION_LOGS / "map_cells.log",
        times=TRANSITION_BENCHMARKS / "map_cells.tsv",
    run:
        run_job(mapping_job.map_cells, input, output, params, wildcards, log, rule, SEED)
