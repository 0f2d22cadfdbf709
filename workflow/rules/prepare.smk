# The checkpoint: read and check inputs once, align the prior, enumerate transitions, slice clusters.
# Job transgrn.jobs.prepare; science transgrn.prepare.
from transgrn.jobs import prepare as prepare_job


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
        config={**{k: config[k] for k in ("data", "reference", "transitions")},
                "mapping": {"method": config["mapping"]["method"]}},
        seed=SEED,  # PAGA (transitions.mode: paga) is seeded
    threads: 1
    resources:
        mem_mb=mem_mb(1000, per_input_mb=2),
        runtime=runtime_min(60),
    log:
        LOGS / "prepare.log",
        times=LOGS / "benchmarks/prepare.tsv",
    run:
        run_job(prepare_job.prepare, input, output, params, wildcards, log, rule, SEED, alone=True)
