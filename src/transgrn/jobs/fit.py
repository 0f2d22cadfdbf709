"""Jobs of rules fit_pooled and fit_grn: the masked regression of each transition, and the
network pooled over every cluster that the transitions borrow from."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def fit_pooled(slices: list, prior: str, network: str, tf_variance: str, *, fit: dict, seed: int = 0,
               smooth: int = 0, record: dict | None = None) -> None:
    """One network over the cells of every cluster of the run's transitions (at most
    fit.pooled_max_cells, an equal share of each), for the TFs a transition's own cells cannot inform."""
    import pandas as pd

    from ..fit import fit_pooled as fit_pooled_network
    from ..options import FitOptions
    from ..pooled import load_pooled_cells, write_pooled

    options = FitOptions.from_config(fit)
    paths = [slices] if isinstance(slices, str) else list(slices)
    cells, genes = load_pooled_cells(paths, options.pooled_max_cells, seed, int(smooth or 0))
    write_pooled(fit_pooled_network(cells, genes, pd.read_parquet(prior), options, seed), network, tf_variance, record)


def fit_grn(mask: str, mapping_main: str, mapping_null: str, source: str, target: str, coefficients: str,
            intercepts: str, info: str, pooled_network: str = "", pooled_tf_variance: str = "",
            differential_replicates: str = "", *, fit: dict, transition: str = "", seed: int = 0, smooth: int = 0,
            differential_n_boot: int = 0, record: dict | None = None) -> None:
    """The masked regression on the mapping's pairs and on the null's, with bootstrap confidence
    (fit.bootstrap), borrowing from the pooled network (fit.borrow_below), and the differential
    test's replicates where it asks for them (transgrn.fit, transgrn.differential)."""
    from ..design import load_transition_data, read_mappings
    from ..differential import fit_replicates
    from ..fit import fit_transition
    from ..io import write_json, write_npy, write_parquet
    from ..options import FitOptions
    from ..pooled import read_pooled

    data = load_transition_data(source, target, mask, smooth)
    mappings = read_mappings(mapping_main, mapping_null)
    pooled = read_pooled(pooled_network, pooled_tf_variance) if pooled_network else None
    start = time.perf_counter()
    options = FitOptions.from_config(fit)
    weights, offsets, details = fit_transition(data, mappings, options, seed, transition, pooled)
    # wall time goes to the log only: results stay byte-identical
    log.info("fitted %d edges for %d targets (main and null) with %s in %.3f s", data.mask.sum(),
             len(data.targets), details, time.perf_counter() - start)
    if differential_replicates:  # differential.enabled: the test's refits, here where cells and solver are loaded
        main_mapping = mappings["main"]
        del mappings, pooled  # the null's pairs and the pooled network (64 MB at 500,000 edges) are done with
        start = time.perf_counter()
        write_npy(fit_replicates(data, main_mapping, options, weights, details["alpha"], tuple(transition.split("__")),
                                 differential_n_boot, seed, transition), differential_replicates)
        log.info("refitted %d differential-test replicates in %.3f s", differential_n_boot,
                 time.perf_counter() - start)
    write_json(details, info)
    write_parquet(weights, coefficients, record)
    write_parquet(offsets, intercepts, record)
