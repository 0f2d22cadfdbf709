"""Rule fit_grn: masked regression on the mapping's training pairs (and on the null mapping)."""
import logging
import time

import pandas as pd

from transgrn.grn import TransitionData, fit_transition, load_cluster
from transgrn.io import atomic_path
from transgrn.script import run


def main(smk):
    source, genes = load_cluster(smk.input.source)
    target, _ = load_cluster(smk.input.target)
    data = TransitionData(source, target, genes, pd.read_parquet(smk.input.mask))
    mappings = {"main": pd.read_parquet(smk.input.mapping_main), "null": pd.read_parquet(smk.input.mapping_null)}
    start = time.perf_counter()
    coefficients, intercepts = fit_transition(data, mappings, smk.params.fit)
    logging.info("fitted %d edges for %d targets (main and null) in %.3f s",
                 data.mask.sum(), len(data.targets), time.perf_counter() - start)
    with atomic_path(smk.output.coefficients) as tmp:
        coefficients.to_parquet(tmp, index=False)
    with atomic_path(smk.output.intercepts) as tmp:
        intercepts.to_parquet(tmp, index=False)


run(main, snakemake)  # noqa: F821
