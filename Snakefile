# transgrn: a signed GRN for every transition between cell clusters.
# Run: snakemake --cores 2   (see README.md)
from snakemake.utils import min_version

min_version("8.20")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/transition.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        RESULTS / "transitions.tsv",
        RESULTS / "edges.parquet",
        RESULTS / "grn_tensor.h5ad",
        RESULTS / "report.html",
    default_target: True
