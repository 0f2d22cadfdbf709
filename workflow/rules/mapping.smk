# Stage mapping: pair the cells of a transition, with the configured method and with the random null.
# Package module transgrn.mapping (the lagged design: transgrn.lagged), script scripts/mapping.py.


rule map_cells:
    input:
        mask=TRANSITION_DIR / "mask.parquet",  # the lagged design chooses its lag on the prior's edges
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        mapping=TRANSITION_DIR / "mapping_{role}.parquet",
    params:
        options=config["mapping"],
        seed=config["seed"],
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/transitions/{transition}/map_cells_{role}.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(600, per_cluster_mb=8, design_copies=2),  # not from the mask: the group writes it
        runtime=runtime_min(20),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/mapping_{role}.log",
    script:
        "../../scripts/mapping.py"
