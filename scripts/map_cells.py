"""Rule map_cells: pair source with target cells (configured method, or the random null)."""
from transgrn.grn import load_transition, map_transition
from transgrn.io import job_provenance, write_parquet
from transgrn.script import run


def main(smk):
    source, target, _ = load_transition(smk.input.source, smk.input.target, smk.params.smooth)
    mapping = map_transition(source, target, smk.wildcards.role, smk.wildcards.transition, smk.params.mapping, smk.params.seed)
    write_parquet(mapping, smk.output.mapping, job_provenance(smk))


run(main, snakemake)  # noqa: F821
