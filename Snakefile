# transgrn: a signed GRN for every transition between cell clusters.
# Run: snakemake --cores 2 --configfile config/demo.yaml   (the demo; see README.md)
#      snakemake --cores 2 --configfile my.yaml            (your data: start from config.yaml)
# Every rule is a run: block calling the transgrn package (transgrn.jobs); the workflow profile
# profiles/default makes Snakemake run them in its own threads, which send each job to a worker
# process that imported the libraries once (docs/execution.md, "How jobs run").
from pathlib import Path

from snakemake.utils import min_version

min_version("8.20")


# The config passed with --configfile is the whole configuration: no `configfile:` of the demo
# here, because Snakemake would merge the user's file into it (data paths, reference and
# pseudotime_key leaked from the demo into user runs). Only when no config is given at all,
# as in a plain `snakemake -n` on a fresh clone, the workflow runs the demo.
if not config:
    logger.info("No --configfile given: running the demo (config/demo.yaml). For your own data: --configfile my.yaml")

    configfile: str(Path(workflow.current_basedir) / "config/demo.yaml")


# The demo's data are simulated by a rule that exists only in a config with a `demo:` section,
# so a user's missing input is reported as missing, never simulated.
IS_DEMO = "demo" in config


include: "workflow/rules/common.smk"
if IS_DEMO:

    include: "workflow/rules/demo.smk"


include: "workflow/rules/prepare.smk"
include: "workflow/rules/mapping.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/differential.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        RESULTS / "transitions.tsv",
        RESULTS / "edges.parquet",
        RESULTS / "grn_tensor.h5ad",
        RESULTS / "network.parquet",
        RESULTS / "report.html",
        # cofactors.enabled: one table per transition (models.smk), read by people, not by aggregate
        lambda wildcards: per_transition("cofactors.tsv")(wildcards) if config["cofactors"]["enabled"] else [],
        # differential.enabled: edges that differ between pairs of transitions (differential.smk)
        RESULTS / "differential.parquet" if config["differential"]["enabled"] else [],
    default_target: True
