"""Rule transition_mask: the prior edges of one transition, flagged active where estimable (with a reason where not)."""
import pandas as pd

from transgrn.grn import build_mask, load_transition
from transgrn.io import job_provenance, write_parquet
from transgrn.script import run


def main(smk):
    source, target, genes = load_transition(smk.input.source, smk.input.target, smk.params.smooth)
    mask = build_mask(pd.read_parquet(smk.input.prior), source, target, genes, smk.params.method)
    write_parquet(mask, smk.output.mask, job_provenance(smk))


run(main, snakemake)  # noqa: F821
