"""Stage models: the masked neural network (:mod:`transgrn.mlp`) and the co-factor tests
(:mod:`transgrn.cofactors`) on a transition's mapping, beside the linear fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .cofactors import cofactor_tests
from .design import TransitionData, split_by_source_cell
from .metrics import column_means, r2_overall, r2_per_gene
from .seeds import rng_for

if TYPE_CHECKING:
    from .mlp import MLPConfig


def fit_mlp_transition(data: TransitionData, mapping: pd.DataFrame, seed: int, transition: str,
                       device: str = "auto", config: MLPConfig | None = None):
    """Fit the masked MLP (:mod:`transgrn.mlp`) on the mapping's training pairs and score it on its test pairs.

    Early stopping uses a further split of the training source cells (whole cells, as for the
    test split). Returns ``metrics`` (``r2_test_mlp``, ``r2_train_mlp``, epochs), ``gene_r2``
    (``target_gene, r2_test_mlp``) and ``attribution`` (``tf, target_gene, attribution`` for
    every prior edge of the transition, 0 where inactive).
    """
    from .mlp import MaskedMLP, MLPConfig  # torch is imported only where the MLP is used

    config = config or MLPConfig()
    train = mapping[mapping["split"] == "train"].drop(columns="split")
    inner = split_by_source_cell(train, config.validation_fraction, rng_for(seed, transition, "mlp", "validation"))
    x_fit, y_fit = data.design(inner, "train")
    x_val, y_val = data.design(inner, "test")
    model = MaskedMLP(config, seed=int(rng_for(seed, transition, "mlp", "init").integers(2**31)), device=device)
    model.fit(x_fit, y_fit, data.mask, x_val, y_val)
    x_train, y_train = data.design(mapping, "train")
    x_test, y_test = data.design(mapping, "test")
    pred_test = model.predict(x_test)
    center = column_means(y_train)  # as for the linear fit: held-out R^2 about the training mean
    metrics = {"r2_test_mlp": r2_overall(y_test, pred_test, center),
               "r2_train_mlp": r2_overall(y_train, model.predict(x_train)), "mlp_epochs": int(model.epochs_)}
    gene_r2 = pd.DataFrame({"target_gene": data.targets, "r2_test_mlp": r2_per_gene(y_test, pred_test, center)})
    grad = model.attribution(x_train)
    attribution = data.edges.copy()
    attribution["attribution"] = np.where(data.edge_active, grad[data.edge_tf, data.edge_target], 0.0)
    return metrics, gene_r2, attribution


def cofactors_transition(data: TransitionData, mapping: pd.DataFrame, min_shared_targets: int = 2,
                         max_pairs: int = 2000, fdr: float = 0.1) -> pd.DataFrame:
    """TF pairs with a non-additive effect on shared targets (:mod:`transgrn.cofactors`), on the
    mapping's training pairs collapsed to one row per source cell so that rows are independent."""
    train = mapping[mapping["split"] == "train"]
    by_cell = train.assign(pair=pd.factorize(train["source_cell"], sort=True)[0])
    x, y = data.design(by_cell, "train")
    return cofactor_tests(x, y, data.mask, data.tfs, data.targets, min_shared_targets, max_pairs, fdr)
