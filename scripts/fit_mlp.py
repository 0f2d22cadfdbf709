"""Rule fit_mlp: the masked neural network on the main mapping; held-out R^2 and edge attributions."""
import json
import logging
import time
from pathlib import Path

import pandas as pd

from transgrn.aggregate import json_safe
from transgrn.grn import TransitionData, fit_mlp_transition, load_transition
from transgrn.io import atomic_path
from transgrn.script import run


def main(smk):
    source, target, genes = load_transition(smk.input.source, smk.input.target, smk.params.smooth)
    data = TransitionData(source, target, genes, pd.read_parquet(smk.input.mask))
    start = time.perf_counter()
    metrics, gene_r2, attribution = fit_mlp_transition(
        data, pd.read_parquet(smk.input.mapping_main), smk.params.seed, smk.wildcards.transition, smk.params.device)
    logging.info("MLP: %d epochs, held-out R^2 %.4f (train %.4f) in %.2f s", metrics["mlp_epochs"],
                 metrics["r2_test_mlp"], metrics["r2_train_mlp"], time.perf_counter() - start)
    with atomic_path(smk.output.metrics) as tmp:
        Path(tmp).write_text(json.dumps(json_safe(metrics), indent=2, sort_keys=True) + "\n")
    with atomic_path(smk.output.gene_r2) as tmp:
        gene_r2.to_parquet(tmp, index=False)
    with atomic_path(smk.output.attribution) as tmp:
        attribution.to_parquet(tmp, index=False)


run(main, snakemake)  # noqa: F821
