"""Rule find_cofactors: TF pairs with a non-additive effect on shared targets, FDR-controlled."""
import logging

import pandas as pd

from transgrn.aggregate import write_table
from transgrn.grn import cofactors_transition, load_transition_data
from transgrn.io import atomic_path
from transgrn.script import run


def main(smk):
    # unsmoothed even with data.smooth: the F-test needs independent rows, and smoothing shares
    # each cell's expression with its neighbours (the mapping's pairs are cell names, still valid)
    data = load_transition_data(smk.input.source, smk.input.target, smk.input.mask, smooth=0)
    options = smk.params.cofactors
    table = cofactors_transition(data, pd.read_parquet(smk.input.mapping_main), options["min_shared_targets"],
                                 options["max_pairs"], options["fdr"])
    logging.info("%d TF pairs tested, %d non-additive at FDR %.2g", len(table), int(table["significant"].sum()), options["fdr"])
    with atomic_path(smk.output.cofactors) as tmp:
        write_table(table, tmp)


run(main, snakemake)  # noqa: F821
