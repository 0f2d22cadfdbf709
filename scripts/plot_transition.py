"""Rule plot_transition: one transition's network, per-gene R^2 and prediction figures."""
import pandas as pd

from transgrn.report import write_transition_figures
from transgrn.script import run


def main(smk):
    write_transition_figures(
        pd.read_parquet(smk.input.coefficients), pd.read_parquet(smk.input.gene_r2),
        pd.read_parquet(smk.input.predictions), smk.params.title, dict(smk.output.items()), smk.params.n_edges,
    )


run(main, snakemake)  # noqa: F821
