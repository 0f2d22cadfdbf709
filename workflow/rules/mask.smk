# Stage mask: which prior edges of a transition can be estimated on the rows its design fits.
# Per transition (ids such as c00_stem_cell__c01_progenitor); package module transgrn.mask, script scripts/mask.py.


rule transition_mask:
    input:
        prior=PREPARED / "prior_edges.parquet",
        source=cluster_slice("source"),
        target=cluster_slice("target"),
    output:
        mask=TRANSITION_DIR / "mask.parquet",
    params:
        method=config["mapping"]["method"],  # which rows the design fits decides which edges are estimable
        smooth=config["data"]["smooth"],
    benchmark:
        LOGS / "benchmarks/transitions/{transition}/transition_mask.tsv"
    threads: 1
    resources:
        mem_mb=mem_mb(500, per_input_mb=4),
        runtime=runtime_min(10),
    group:
        "transition"
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "transitions/{transition}/mask.log",
    script:
        "../../scripts/mask.py"
