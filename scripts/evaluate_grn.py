"""Rule evaluate_grn: held-out R^2 (and null R^2), per-gene R^2, recovery of the reference."""
import json
from pathlib import Path

import pandas as pd

from transgrn.aggregate import json_safe
from transgrn.grn import TransitionData, evaluate_transition, load_cluster
from transgrn.io import atomic_path
from transgrn.script import run


def main(smk):
    source, genes = load_cluster(smk.input.source)
    target, _ = load_cluster(smk.input.target)
    data = TransitionData(source, target, genes, pd.read_parquet(smk.input.mask))
    mappings = {"main": pd.read_parquet(smk.input.mapping_main), "null": pd.read_parquet(smk.input.mapping_null)}
    reference = pd.read_parquet(smk.input.reference)
    metrics, gene_r2, predictions = evaluate_transition(
        data, mappings, pd.read_parquet(smk.input.coefficients), pd.read_parquet(smk.input.intercepts), reference
    )
    with atomic_path(smk.output.metrics) as tmp:
        Path(tmp).write_text(json.dumps(json_safe(metrics), indent=2, sort_keys=True) + "\n")
    with atomic_path(smk.output.gene_r2) as tmp:
        gene_r2.to_parquet(tmp, index=False)
    with atomic_path(smk.output.predictions) as tmp:
        predictions.to_parquet(tmp, index=False)


run(main, snakemake)  # noqa: F821
