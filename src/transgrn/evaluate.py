"""Stage evaluate: held-out accuracy of a transition's fit and of its null, and recovery of a known network."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .columns import BORROWED_COLUMN, HELD_OUT_PREFIX
from .design import TransitionData
from .metrics import beats_null, column_means, gene_r2_summary, r2_from_sums, r2_overall_from_sums, recovery_metrics, squared_sums
from .solvers import Outputs, target_blocks

N_EXTREME_GENES = 3


class _Predictor:
    """Predictions of a fitted role (``weight``, ``train_weight`` or ``null_weight``) on the rows of
    one design ``x``, for a block of targets at a time; inputs carry the self-term columns after the
    TFs when the fit used them.

    The weights are a sparse targets x TFs matrix (the prior's edges, a few dozen per target), so a
    block of predictions costs ``rows x edges`` products: the dense ``x @ W`` over all 1,500 TFs took
    7 of an atlas evaluation's 12 s (benchmarks/scale.py --steps job)."""

    def __init__(self, data: TransitionData, coefficients: pd.DataFrame, intercepts: pd.DataFrame, column: str,
                 x: np.ndarray) -> None:
        n_tfs = len(data.tfs)
        values = coefficients[column].to_numpy(dtype=np.float64)
        called = values != 0  # an edge of weight 0 adds nothing (NaN is kept: it still spoils its target)
        self.weights = sp.csr_matrix((values[called], (data.edge_target[called], data.edge_tf[called])),
                                     shape=(len(data.targets), n_tfs))
        # TFs x rows, C order: the sparse product reads one TF's row of it per edge
        self.inputs = np.ascontiguousarray(x[:, :n_tfs].T)
        by_target = intercepts.set_index("target_gene").loc[data.targets]
        self.intercept = by_target[column.replace("weight", "intercept")].to_numpy()
        self_column = column.replace("weight", "self_weight")
        self.self_weight = by_target[self_column].to_numpy() if self_column in by_target.columns else None
        self.self_inputs = x[:, n_tfs:]

    def __call__(self, cols: np.ndarray) -> np.ndarray:
        """Predictions (rows x ``len(cols)``) of the targets at positions ``cols``."""
        cols = np.asarray(cols)
        prediction = np.asarray(self.weights[cols] @ self.inputs).T
        prediction += self.intercept[cols]
        if self.self_weight is not None:
            prediction += self.self_inputs[:, cols] * self.self_weight[cols]
        return prediction


def _squared_sums(predict: _Predictor, y: Outputs, center: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-target residual and total sums of squares (about ``center``, default the rows' own
    mean) of a role's predictions, a block of targets at a time."""
    ss_res, ss_tot = np.zeros(y.shape[1]), np.zeros(y.shape[1])
    for cols, observed in target_blocks(y):
        ss_res[cols], ss_tot[cols] = squared_sums(observed, predict(cols), None if center is None else center[cols])
    return ss_res, ss_tot


def evaluate_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], coefficients: pd.DataFrame,
                        intercepts: pd.DataFrame, reference: pd.DataFrame | None = None):
    """Held-out accuracy of the fit and of its null, per gene and overall, and recovery of ``reference``.

    Accuracy is that of the fit on the training pairs alone (``train_weight``,
    :func:`~transgrn.fit.fit_transition`'s held-out sibling of the network; ``weight`` in a table
    without it), recovery that of the network (``weight``, fitted on every pair).

    Returns ``metrics`` (dict), ``gene_r2`` (per target gene) and ``predictions`` (observed vs
    predicted test values of the best and worst predicted genes, for residual plots).
    """
    self_term = "self_weight" in intercepts.columns
    predictor = lambda column, x: _Predictor(data, coefficients, intercepts, column, x)  # noqa: E731
    fitted = held_out_column(coefficients)
    x_train, y_train = data.design(mappings["main"], "train", self_term, dense=False)
    train = _squared_sums(predictor(fitted, x_train), y_train)
    # held-out R^2 about the mean of the rows each role was fitted on: predicting nothing scores 0
    train_mean = column_means(y_train)
    null_train_mean = column_means(data.design(mappings["null"], "train", self_term, dense=False)[1])
    del x_train, y_train
    x_test, y_test = data.design(mappings["main"], "test", self_term, dense=False)
    predict = predictor(fitted, x_test)
    test = _squared_sums(predict, y_test, train_mean)
    x_null, y_null = data.design(mappings["null"], "test", self_term, dense=False)
    null = _squared_sums(predictor("null_weight", x_null), y_null, null_train_mean)
    del x_null, y_null
    gene_r2 = pd.DataFrame({
        "target_gene": data.targets,
        "r2_test": r2_from_sums(*test),
        "r2_test_null": r2_from_sums(*null),
        "n_tfs": data.mask.sum(0),
    })
    metrics = {
        "n_pairs": int(mappings["main"]["pair"].nunique()),
        "n_test_pairs": int(y_test.shape[0]),
        "r2_train": r2_overall_from_sums(*train),
        "r2_test": r2_overall_from_sums(*test),
        "r2_test_null": r2_overall_from_sums(*null),
        **gene_r2_summary(gene_r2["r2_test"], gene_r2["r2_test_null"]),
        "n_edges": int(data.mask.sum()),
    }
    metrics["above_null"] = beats_null(gene_r2["r2_test"], gene_r2["r2_test_null"])
    if reference is not None and len(reference):
        metrics.update(recovery_metrics(scored_edges(data, coefficients), reference))
    predictions = _extreme_gene_predictions(gene_r2, data.targets, y_test, predict)
    return metrics, gene_r2, predictions


def held_out_column(coefficients: pd.DataFrame) -> str:
    """The weights whose accuracy the test pairs measure: the fit on the training pairs
    (``train_weight``), or ``weight`` in a table that has no such sibling."""
    column = f"{HELD_OUT_PREFIX}weight"
    return column if column in coefficients.columns else "weight"


def scored_edges(data: TransitionData, coefficients: pd.DataFrame) -> pd.DataFrame:
    """Every prior edge of the transition with its weight, 0 (no call) where it was neither estimated
    nor borrowed from the pooled network: what :func:`~transgrn.evaluate.recovery_metrics` ranks."""
    edges = coefficients[["tf", "target_gene", "weight"]].copy()
    called = data.edge_active
    if BORROWED_COLUMN in coefficients.columns:
        called = called | coefficients[BORROWED_COLUMN].to_numpy(dtype=bool)
    edges["weight"] = np.where(called, edges["weight"].to_numpy(dtype=float), 0.0)
    return edges


def _extreme_gene_predictions(gene_r2: pd.DataFrame, targets: pd.Index, y_test: Outputs,
                              predict: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """Observed and predicted test values of the best and worst genes; ``predict(cols)`` predicts
    the targets at positions ``cols``."""
    ranked = gene_r2.dropna(subset=["r2_test"]).sort_values(["r2_test", "target_gene"], ascending=[False, True])
    chosen = [("best", g) for g in ranked["target_gene"].head(N_EXTREME_GENES)]
    chosen += [("worst", g) for g in ranked["target_gene"].tail(N_EXTREME_GENES)[::-1] if g not in set(ranked["target_gene"].head(N_EXTREME_GENES))]
    if not chosen:
        return pd.DataFrame(columns=["kind", "target_gene", "observed", "predicted"])
    cols = targets.get_indexer([gene for _, gene in chosen])
    observed = np.hstack([block for _, block in target_blocks(y_test, cols)])
    predicted = predict(cols)
    return pd.concat([pd.DataFrame({"kind": kind, "target_gene": gene, "observed": observed[:, j],
                                    "predicted": predicted[:, j]}) for j, (kind, gene) in enumerate(chosen)],
                     ignore_index=True)
