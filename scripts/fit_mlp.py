"""Rule fit_mlp: the masked neural network on the main mapping; held-out R^2 and edge attributions."""
import logging
import time

import pandas as pd

from transgrn.grn import fit_mlp_transition, load_transition_data
from transgrn.io import atomic_path, write_json
from transgrn.script import run


def main(smk):
    data = load_transition_data(smk.input.source, smk.input.target, smk.input.mask, smk.params.smooth)
    start = time.perf_counter()
    metrics, gene_r2, attribution = fit_mlp_transition(
        data, pd.read_parquet(smk.input.mapping_main), smk.params.seed, smk.wildcards.transition, smk.params.device)
    logging.info("MLP: %d epochs, held-out R^2 %.4f (train %.4f) in %.2f s", metrics["mlp_epochs"],
                 metrics["r2_test_mlp"], metrics["r2_train_mlp"], time.perf_counter() - start)
    write_json(metrics, smk.output.metrics)
    with atomic_path(smk.output.gene_r2) as tmp:
        gene_r2.to_parquet(tmp, index=False)
    with atomic_path(smk.output.attribution) as tmp:
        attribution.to_parquet(tmp, index=False)


run(main, snakemake)  # noqa: F821
