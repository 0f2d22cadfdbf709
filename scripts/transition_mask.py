"""Rule transition_mask: the prior edges of one transition, flagged active where estimable."""
import pandas as pd

from transgrn.grn import build_mask, load_cluster
from transgrn.io import atomic_path
from transgrn.script import run


def main(smk):
    source, genes = load_cluster(smk.input.source)
    target, _ = load_cluster(smk.input.target)
    mask = build_mask(pd.read_parquet(smk.input.prior), source, target, genes)
    with atomic_path(smk.output.mask) as tmp:
        mask.to_parquet(tmp, index=False)


run(main, snakemake)  # noqa: F821
