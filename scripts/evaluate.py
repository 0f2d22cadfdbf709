"""Rule evaluate_grn (stage evaluate): held-out R^2 of the fit and of its null, per gene and
overall, and recovery of the reference (transgrn.evaluate)."""
import json
from pathlib import Path

import pandas as pd

from transgrn.design import load_transition_data, read_mappings
from transgrn.evaluate import evaluate_transition
from transgrn.io import PROVENANCE_KEY, write_json, write_parquet
from transgrn.lagged import lag_of
from transgrn.script import run_script


def main(mask: str, mapping_main: str, mapping_null: str, coefficients: str, intercepts: str, info: str, source: str,
         target: str, reference: str, metrics: str, gene_r2: str, predictions: str, *, smooth: int = 0,
         record: dict | None = None) -> None:
    data = load_transition_data(source, target, mask, smooth)
    mappings = read_mappings(mapping_main, mapping_null)
    values, per_gene, extremes = evaluate_transition(data, mappings, pd.read_parquet(coefficients),
                                                     pd.read_parquet(intercepts), pd.read_parquet(reference))
    values.update(json.loads(Path(info).read_text()))  # solver, chosen alpha, iterations
    if (spec := lag_of(mappings["main"])) is not None:  # the lagged design's pseudotime lag
        values["lag"] = spec.lag
    write_json({**values, PROVENANCE_KEY: record}, metrics)
    write_parquet(per_gene, gene_r2, record)
    write_parquet(extremes, predictions, record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
