"""Jobs of rules fit_mlp and find_cofactors: the masked neural network and the co-factor tests."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def fit_mlp(mask: str, mapping_main: str, source: str, target: str, metrics: str, gene_r2: str, attribution: str, *,
            transition: str, seed: int = 0, device: str = "auto", smooth: int = 0, record: dict | None = None) -> None:
    """The masked neural network on the main mapping: held-out R^2 and edge attributions (transgrn.models)."""
    from ..design import load_transition_data
    from ..io import write_json, write_parquet
    from ..mapping_file import read_mapping
    from ..models import fit_mlp_transition

    data = load_transition_data(source, target, mask, smooth)
    start = time.perf_counter()
    values, per_gene, attributions = fit_mlp_transition(data, read_mapping(mapping_main), seed, transition, device)
    log.info("MLP: %d epochs, held-out R^2 %.4f (train %.4f) in %.2f s", values["mlp_epochs"],
             values["r2_test_mlp"], values["r2_train_mlp"], time.perf_counter() - start)
    write_json(values, metrics)
    write_parquet(per_gene, gene_r2, record)
    write_parquet(attributions, attribution, record)


def find_cofactors(mask: str, mapping_main: str, source: str, target: str, table: str, *, options: dict,
                   record: dict | None = None) -> None:
    """TF pairs with a non-additive effect on shared targets (transgrn.models)."""
    from ..aggregate import write_table
    from ..design import load_transition_data
    from ..io import atomic_path
    from ..mapping_file import read_mapping
    from ..models import cofactors_transition
    from ..options import CofactorOptions

    # unsmoothed even with data.smooth: the F-test needs independent rows, and smoothing shares
    # each cell's expression with its neighbours (the mapping's pairs are cell names, still valid)
    data = load_transition_data(source, target, mask, smooth=0)
    settings = CofactorOptions.from_config(options)
    tests = cofactors_transition(data, read_mapping(mapping_main), settings.min_shared_targets, settings.max_pairs,
                                 settings.fdr)
    log.info("%d TF pairs tested, %d non-additive at FDR %.2g", len(tests), int(tests["significant"].sum()),
             settings.fdr)
    with atomic_path(table) as tmp:
        write_table(tests, tmp)
