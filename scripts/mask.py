"""Rule transition_mask (stage mask): the prior edges of one transition, flagged active where the
design can estimate them, with a reason where not (transgrn.mask)."""
import pandas as pd

from transgrn.cells import load_transition
from transgrn.io import write_parquet
from transgrn.mask import build_mask
from transgrn.script import run_script


def main(prior: str, source: str, target: str, mask: str, method: str = "lagged", smooth: int = 0,
         record: dict | None = None) -> None:
    source_cells, target_cells, genes = load_transition(source, target, smooth)
    write_parquet(build_mask(pd.read_parquet(prior), source_cells, target_cells, genes, method), mask, record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
