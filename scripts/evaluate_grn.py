"""Rule evaluate_grn: held-out R^2 (and null R^2), per-gene R^2, recovery of the reference."""
import json
from pathlib import Path

import pandas as pd

from transgrn.grn import evaluate_transition, load_transition_data, read_mappings
from transgrn.io import PROVENANCE_KEY, job_provenance, write_json, write_parquet
from transgrn.script import run


def main(smk):
    data = load_transition_data(smk.input.source, smk.input.target, smk.input.mask, smk.params.smooth)
    mappings = read_mappings(smk.input.mapping_main, smk.input.mapping_null)
    reference = pd.read_parquet(smk.input.reference)
    metrics, gene_r2, predictions = evaluate_transition(
        data, mappings, pd.read_parquet(smk.input.coefficients), pd.read_parquet(smk.input.intercepts), reference
    )
    metrics.update(json.loads(Path(smk.input.info).read_text()))  # solver, chosen alpha, iterations
    if "lag" in mappings["main"]:  # the lagged design's pseudotime lag, chosen per transition
        metrics["lag"] = float(mappings["main"]["lag"].iloc[0])
    if smk.input.mlp:  # models include mlp: its held-out R^2 beside the linear one
        mlp_metrics, mlp_gene_r2 = smk.input.mlp
        metrics.update(json.loads(Path(mlp_metrics).read_text()))
        gene_r2 = gene_r2.merge(pd.read_parquet(mlp_gene_r2), on="target_gene", how="left")
    write_json({**metrics, PROVENANCE_KEY: job_provenance(smk)}, smk.output.metrics)
    write_parquet(gene_r2, smk.output.gene_r2, job_provenance(smk))
    write_parquet(predictions, smk.output.predictions, job_provenance(smk))


run(main, snakemake)  # noqa: F821
