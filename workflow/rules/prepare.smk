# The checkpoint: read and check inputs once, align the prior, enumerate transitions, slice clusters.


def prepare_inputs(wildcards):
    inputs = {"adata": config["data"]["adata"], "prior": config["data"]["prior"]}
    if config["reference"]:
        inputs["reference"] = config["reference"]
    return inputs


checkpoint prepare:
    input:
        unpack(prepare_inputs),
    output:
        transitions=PREPARED / "transitions.tsv",
        skipped=PREPARED / "skipped.tsv",
        prior_edges=PREPARED / "prior_edges.parquet",
        reference_edges=PREPARED / "reference.parquet",
        summary=PREPARED / "summary.json",
        clusters=directory(PREPARED / "clusters"),
    params:
        # only the mapping method (lagged needs a pseudotime): other mapping settings must not rerun the
        # checkpoint and so every job; `transgrn check` also checks them against the data
        config={**{k: RESULT_CONFIG[k] for k in ("data", "reference", "transitions")},
                "mapping": {"method": config["mapping"]["method"]}},
        seed=config["seed"],  # PAGA (transitions.mode: paga) is seeded
    threads: 1
    resources:
        mem_mb=mem_mb(1000, per_input_mb=2),
        runtime=runtime_min(60),
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "prepare.log",
    benchmark:
        LOGS / "benchmarks/prepare.tsv"
    script:
        "../../scripts/prepare.py"
