"""Rule map_cells: pair source with target cells (configured method, or the random null)."""
import pandas as pd

from transgrn.grn import TransitionData, load_transition, map_transition
from transgrn.io import job_provenance, write_parquet
from transgrn.script import run


def main(smk):
    source, target, genes = load_transition(smk.input.source, smk.input.target, smk.params.smooth)
    data = TransitionData(source, target, genes, pd.read_parquet(smk.input.mask))
    mapping = map_transition(source, target, smk.wildcards.role, smk.wildcards.transition, smk.params.mapping,
                             smk.params.seed, data)
    write_parquet(mapping, smk.output.mapping, job_provenance(smk))


run(main, snakemake)  # noqa: F821
