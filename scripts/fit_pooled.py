"""Rule fit_pooled (stage fit): one network over the cells of every cluster in the run's
transitions, at most fit.pooled_max_cells in all (an equal share of each), that the per-transition fits borrow
from where their own cells cannot inform a TF (transgrn.pooled)."""
import pandas as pd

from transgrn.options import FitOptions
from transgrn.fit import fit_pooled
from transgrn.pooled import load_pooled_cells, write_pooled
from transgrn.script import run_script


def main(slices: list, prior: str, network: str, tf_variance: str, *, fit: dict, seed: int = 0, smooth: int = 0,
         record: dict | None = None) -> None:
    options = FitOptions.from_config(fit)
    paths = [slices] if isinstance(slices, str) else list(slices)
    cells, genes = load_pooled_cells(paths, options.pooled_max_cells, seed, int(smooth or 0))
    write_pooled(fit_pooled(cells, genes, pd.read_parquet(prior), options, seed), network, tf_variance, record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
