"""Stage fit: the masked regression of a transition on every pair of its mapping (the network), and
on its training pairs alone (the held-out sibling, and the null's)."""

from __future__ import annotations

import logging
from dataclasses import replace
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .columns import BORROWED_COLUMN, CONFIDENCE_COLUMNS, HELD_OUT_PREFIX, SIGN_CONFIDENCE_COLUMN
from .confidence import benjamini_hochberg, bootstrap_edges, edge_covariance, sign_confidence, sign_shares
from .design import EVERY_PAIR, TransitionData
from .options import FitOptions
from .cells import CellSet
from .mask import pooled_mask
from .pooled import NETWORK_COLUMNS, PooledNetwork, borrowing_prior, expression, tf_information
from .seeds import rng_for
from .solvers import MaskedRegressor, make_cv_solver, make_solver, values_at

log = logging.getLogger(__name__)

# which fit.* options each solver takes besides the penalty (fit.alpha, make_transition_solver)
SOLVER_PARAMS = {
    "ridge": ("fit_intercept", "standardize", "sign", "device", "dtype"),
    "lasso": ("fit_intercept", "standardize", "device", "dtype"),
    "elasticnet": ("l1_ratio", "fit_intercept", "standardize", "device", "dtype"),
    "adam": ("lr", "epochs", "fit_intercept", "standardize", "device", "dtype"),
}
CROSS_VALIDATED = "auto"  # fit.alpha's value that asks for the penalty to be cross-validated


def make_transition_solver(options: FitOptions, seed: int = 0) -> MaskedRegressor:
    """The configured solver with the parameters it takes (``fit.*``), seeded for the transition.

    The one place where ``fit.alpha: auto`` is read: it makes the solver's cross-validated sibling
    (:func:`~transgrn.solvers.make_cv_solver`, e.g. :class:`~transgrn.solvers.MaskedRidgeCV`, with
    K-fold folds drawn from ``seed``); Adam, which has none, then fits without a penalty."""
    if options.sign != "free" and "sign" not in SOLVER_PARAMS[options.solver]:
        raise ValueError(f"fit.sign: {options.sign!r} is for the ridge solver; fit.solver is {options.solver!r}")
    params = {k: getattr(options, k) for k in SOLVER_PARAMS[options.solver]}
    auto = options.alpha == CROSS_VALIDATED
    if options.solver == "adam":
        return make_solver("adam", alpha=0.0 if auto else options.alpha, seed=seed, **params)
    if auto:
        return make_cv_solver(options.solver, cv_seed=seed, **params)
    return make_solver(options.solver, alpha=options.alpha, **params)


def role_seed(seed: int, transition: str, role: str = "main") -> int:
    """The solver seed of a transition's fit for ``role`` (main, null): the same in every job that
    repeats that fit (its bootstrap, the differential test's refits)."""
    return int(rng_for(seed, transition, "fit", role).integers(2**31))


def fit_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], options: FitOptions,
                   seed: int = 0, transition: str = "", pooled: PooledNetwork | None = None):
    """Fit the masked regression of a transition: the network on every pair of its mapping, and for
    the held-out columns the same fit on the training pairs alone (and the null's).

    The penalty (``alpha: auto``) is cross-validated on the training pairs; the network is then
    refitted on every pair (:data:`~transgrn.design.EVERY_PAIR`) at that penalty, as scikit-learn
    refits on all the data after cross-validation: the held-out pairs are a fifth of the data, and
    leaving them out of the network cost recovery on every simulated benchmark, though not on Guo
    2010 (README, "Held-out accuracy and the network"). The held-out sibling (``train_weight``,
    ``train_intercept``) is what :func:`~transgrn.evaluate.evaluate_transition` scores on the test
    pairs.

    Returns ``coefficients`` (tf, target_gene, weight, train_weight, null_weight, with
    ``fit.bootstrap`` the network's ``weight_mean, weight_std, pvalue, qvalue``, and ``borrowed``)
    for every prior edge of the transition (0 where inactive and not borrowed), ``intercepts``
    (target_gene, intercept, train_intercept, null_intercept[, the self weights]) and ``info``
    (solver, chosen alpha, iterations, borrowed TFs).

    With ``fit.self_term`` each target also gets its own expression in the input cell as a
    predictor, so that a gene's persistence from A to B is not forced onto its TFs.

    With a ``pooled`` network and ``fit.borrow_below > 0`` a main fit borrows for the TFs whose
    variance over its rows is below ``borrow_below`` times their pooled variance
    (:func:`~transgrn.pooled.borrowing_prior`): it is ridge towards the pooled weights W0 on those
    TFs' edges, ``W = W0 + fit(X, Y - X W0)`` with the penalty the plain fit chose, so that the
    solver is unchanged and a TF the transition does inform keeps its own estimate. The network's
    borrowed edges (filled where inactive) are marked ``borrowed``; the null fit never borrows (it
    is the baseline).
    """
    self_term = options.self_term
    mask = data.design_mask(self_term)
    coefficients = data.edges.copy()
    intercepts = pd.DataFrame({"target_gene": data.targets})
    info: dict[str, Any] = {"solver": options.solver}
    for role, mapping in mappings.items():
        solver_seed = role_seed(seed, transition, role)
        x, y = data.design(mapping, "train", self_term, dense=False)
        model = make_transition_solver(options, solver_seed).fit(x, y, mask)
        prefix = HELD_OUT_PREFIX if role == "main" else f"{role}_"
        _store(coefficients, intercepts, data, model, prefix, self_term)
        if role != "main":
            continue
        info.update(_solver_info(model))
        # the network, the residual refits and the bootstrap's refits keep the penalty this fit chose
        # (alpha: auto is cross-validated once per transition, on its training pairs)
        chosen = replace(options, alpha=info["alpha"])
        w0, borrowed = _prior_mean(data, x, pooled, options)
        if borrowed.any():
            _borrow(coefficients, intercepts, data, x, y, mask, w0, chosen, solver_seed, self_term, prefix)
        del x, y  # before the network's design: two of them at once would raise the job's peak memory
        x, y = data.design(mapping, EVERY_PAIR, self_term, dense=False)
        _note_rows(x.shape[0], data.mask, transition)
        _store(coefficients, intercepts, data, make_transition_solver(chosen, solver_seed).fit(x, y, mask), "",
               self_term)
        w0, borrowed = _prior_mean(data, x, pooled, options)
        if borrowed.any():
            info["borrowed_tfs"] = sorted(set(data.edges["tf"][borrowed]))
            _borrow(coefficients, intercepts, data, x, y, mask, w0, chosen, solver_seed, self_term, "")
        if options.bootstrap >= 2:
            coefficients = _with_confidence(coefficients, data, x, y, mask, chosen, solver_seed, w0, borrowed, pooled)
        coefficients[BORROWED_COLUMN] = borrowed
    return _network_first(coefficients, "weight"), _network_first(intercepts, "intercept"), info


def training_penalty(data: TransitionData, mapping: pd.DataFrame, options: FitOptions, solver_seed: int,
                     self_term: bool = False) -> float:
    """The penalty :func:`fit_transition` chooses for a transition's network: its main fit's on the
    training pairs (cross-validated with ``alpha: auto``), for jobs that repeat the network's fit."""
    x, y = data.design(mapping, "train", self_term, dense=False)
    model = make_transition_solver(options, solver_seed).fit(x, y, data.design_mask(self_term))
    return _solver_info(model)["alpha"]


def _store(coefficients: pd.DataFrame, intercepts: pd.DataFrame, data: TransitionData, model, prefix: str,
           self_term: bool) -> None:
    """A fit's weights at every prior edge and its intercepts (and self weights), as ``<prefix>weight`` etc."""
    coefficients[f"{prefix}weight"] = model.coef_at(data.edge_tf, data.edge_target)
    intercepts[f"{prefix}intercept"] = model.intercept_
    if self_term:
        targets = np.arange(len(data.targets))
        intercepts[f"{prefix}self_weight"] = model.coef_at(len(data.tfs) + targets, targets)


def _network_first(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """``table`` with the network's ``column`` right after the key columns."""
    keys = [c for c in ("tf", "target_gene") if c in table.columns]
    return table[keys + [column] + [c for c in table.columns if c not in keys and c != column]]


def _prior_mean(data: TransitionData, x: np.ndarray, pooled: PooledNetwork | None,
                options: FitOptions) -> tuple[sp.csc_matrix, np.ndarray]:
    """W0 (TFs x targets, sparse) and the per-edge ``borrowed`` flags; empty and none without borrowing."""
    if pooled is None or options.borrow_below <= 0:
        return sp.csc_matrix(data.mask.shape), np.zeros(len(data.edges), dtype=bool)
    information = tf_information(x, data.tfs, pooled.tf_variance)
    return borrowing_prior(data.tfs, data.targets, data.edge_tf, data.edge_target, information, pooled,
                           options.borrow_below)


def _affected_targets(w0: sp.csc_matrix) -> np.ndarray:
    """Targets with a borrowed weight: only their fits change (each target is its own regression)."""
    return np.flatnonzero(np.diff((w0 != 0).tocsc().indptr))


# Dense residual outputs are made this many bytes at a time: a transition where many TFs are off can
# borrow for most of an atlas's 20,000 targets, whose residual over 5,000 rows would take 0.8 GB.
RESIDUAL_BLOCK_BYTES = 64 * 2**20


def _residual_blocks(x: np.ndarray, y, w0: sp.csc_matrix, columns: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(targets, Y - X W0 over them)`` for blocks of ``columns`` of at most RESIDUAL_BLOCK_BYTES
    each: every target is its own regression at a fixed penalty, so fitting block by block gives
    the same weights with bounded memory."""
    size = max(1, int(RESIDUAL_BLOCK_BYTES // (8 * max(x.shape[0], 1))))
    for start in range(0, len(columns), size):
        block = columns[start:start + size]
        yield block, _residual_outputs(x, y, w0, block)


def _residual_outputs(x: np.ndarray, y, w0: sp.csc_matrix, columns: np.ndarray) -> np.ndarray:
    """``Y - X W0`` over the targets ``columns`` (TF inputs only; self-term columns have no prior mean)."""
    outputs = y[:, columns]
    outputs = outputs.toarray() if sp.issparse(outputs) else np.asarray(outputs, dtype=np.float64)
    return outputs - np.asarray(w0[:, columns].T @ x[:, : w0.shape[0]].T).T


def _columns_edges(data: TransitionData, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The transition's edges into the targets ``columns`` and their targets' positions among them."""
    position = np.full(len(data.targets), -1)
    position[columns] = np.arange(len(columns))
    edges = np.flatnonzero(position[data.edge_target] >= 0)
    return edges, position[data.edge_target[edges]]


def _borrow(coefficients: pd.DataFrame, intercepts: pd.DataFrame, data: TransitionData, x: np.ndarray, y,
            mask: np.ndarray, w0: sp.csc_matrix, options: FitOptions, seed: int, self_term: bool,
            prefix: str = "") -> None:
    """Refit the targets with a borrowed weight on ``Y - X W0`` and write ``W0 +`` that fit (in place,
    as ``<prefix>weight`` etc.)."""
    weight = coefficients[f"{prefix}weight"].to_numpy(dtype=np.float64).copy()
    for columns, residual in _residual_blocks(x, y, w0, _affected_targets(w0)):
        model = make_transition_solver(options, seed).fit(x, residual, mask[:, columns])
        edges, position = _columns_edges(data, columns)
        tf = data.edge_tf[edges]
        weight[edges] = np.asarray(w0[tf, data.edge_target[edges]]).ravel() + model.coef_at(tf, position)
        intercepts.loc[columns, f"{prefix}intercept"] = model.intercept_
        if self_term:
            intercepts.loc[columns, f"{prefix}self_weight"] = model.coef_at(len(data.tfs) + columns,
                                                                            np.arange(len(columns)))
    coefficients[f"{prefix}weight"] = weight


def fit_pooled(cells: CellSet, genes: pd.Index, prior: pd.DataFrame, options: FitOptions,
               seed: int = 0) -> PooledNetwork:
    """The network that transitions borrow from (:mod:`transgrn.pooled`): the same-cell masked
    regression of every target on its prior TFs over ``cells`` (the configured solver and
    ``fit.alpha``, ``auto`` = cross-validated over the cells; no self term, no bootstrap), each edge's
    marginal covariance over the same cells (the transitions' sign confidence checks against both), and
    each prior TF's variance."""
    options = replace(options, self_term=False, bootstrap=0)
    tfs = pd.Index(pd.unique(prior["tf"]))
    x = expression(cells, genes, tfs)
    variance = pd.Series(x.var(axis=0), index=tfs, name="variance")
    edges = pooled_mask(prior, cells, genes)[["tf", "target_gene"]].reset_index(drop=True)
    targets = pd.Index(pd.unique(edges["target_gene"]))
    tf, target = tfs.get_indexer(edges["tf"]), targets.get_indexer(edges["target_gene"])
    mask = np.zeros((len(tfs), len(targets)), dtype=bool)
    mask[tf, target] = True
    weights = marginal = np.zeros(0)
    if len(edges):
        model = make_transition_solver(options, int(rng_for(seed, "pooled", "fit").integers(2**31)))
        y = expression(cells, genes, targets, dense=False)
        model.fit(x, y, mask)
        weights = model.coef_at(tf, target)
        marginal = values_at(mask, edge_covariance(x, y, mask), tf, target)
        log.info("pooled network: %d edges of %d TFs over %d cells (%s)", len(edges), len(tfs), len(cells),
                 _solver_info(model))
    return PooledNetwork(edges.assign(weight=weights, marginal=marginal)[NETWORK_COLUMNS], variance)


def _note_rows(n_rows: int, mask: np.ndarray, transition: str) -> None:
    """Note in the job's log how many rows the network's fit has per prior TF of a typical target
    (the checkpoint warns once for the run about transitions with few)."""
    per_target = mask.sum(0)
    per_target = per_target[per_target > 0]
    if len(per_target):
        log.info("transition %s: %d rows for a median of %g prior TFs per target", transition or "?",
                 n_rows, float(np.median(per_target)))


def _solver_info(model) -> dict[str, Any]:
    info = {"alpha": float(getattr(model, "alpha_", getattr(model, "alpha", float("nan"))))}
    for name in ("n_iter_", "converged_"):
        if hasattr(model, name):
            value = getattr(model, name)
            info[name.rstrip("_")] = bool(np.all(value)) if name == "converged_" else int(np.max(value))
    return info


def _with_confidence(coefficients: pd.DataFrame, data: TransitionData, x, y, mask, options: FitOptions,
                     seed: int, w0: sp.csc_matrix, borrowed: np.ndarray, pooled: PooledNetwork | None = None
                     ) -> pd.DataFrame:
    """Bootstrap the network's pairs ``fit.bootstrap`` times and add per-edge confidence (CellOracle-style)
    and the ``sign_confidence`` of each weight (:func:`~transgrn.confidence.sign_confidence`).

    Targets with a borrowed weight are bootstrapped on ``Y - X W0`` (the same resamples) and get W0
    added to ``weight_mean``; borrowed edges get no test and no sign confidence (p, q and sign_confidence
    NaN: the transition's own data did not inform them, and their refits keep W0's sign however weak the
    pooled weight is), and the q-values are over the tested edges. The sign confidence is capped where
    other evidence has the other sign (:func:`_contrary_evidence`)."""
    make = lambda: make_transition_solver(options, seed)  # noqa: E731
    values = _edge_summary(bootstrap_edges(make, x, y, mask, options.bootstrap, seed), mask, data.edge_tf,
                           data.edge_target)
    columns = _affected_targets(w0)
    for block, residual in _residual_blocks(x, y, w0, columns):
        edges, position = _columns_edges(data, block)
        tf = data.edge_tf[edges]
        refits = bootstrap_edges(make, x, residual, mask[:, block], options.bootstrap, seed)
        for column, column_values in _edge_summary(refits, mask[:, block], tf, position).items():
            values[column][edges] = column_values
        values["weight_mean"][edges] += np.asarray(w0[tf, data.edge_target[edges]]).ravel()
    coefficients = coefficients.copy()
    for column in CONFIDENCE_COLUMNS:
        coefficients[column] = np.where(data.edge_active, values[column], np.nan)
    coefficients.loc[borrowed, "weight_mean"] = values["weight_mean"][borrowed]  # W0 where filled
    if len(columns) or borrowed.any():  # q-values over the edges the transition's data tested
        for column in ("pvalue", "qvalue", "pvalue_celloracle"):
            coefficients.loc[borrowed, column] = np.nan
        coefficients["qvalue"] = benjamini_hochberg(coefficients["pvalue"].to_numpy())
    own = data.edge_active & ~borrowed
    positive = np.where(own, values["positive_share"], np.nan)
    negative = np.where(own, values["negative_share"], np.nan)
    weight = coefficients["weight"].to_numpy()
    coefficients[SIGN_CONFIDENCE_COLUMN] = sign_confidence(weight, positive, negative,
                                                           _contrary_evidence(data, x, y, mask, weight, pooled))
    return coefficients


def _contrary_evidence(data: TransitionData, x, y, mask: np.ndarray, weight: np.ndarray,
                       pooled: PooledNetwork | None) -> np.ndarray:
    """Per edge, a value whose sign :func:`~transgrn.confidence.sign_confidence` compares with the weight's:
    the marginal association over the transition's rows, replaced by the weight's opposite where the
    run-wide evidence -- the pooled network's weight or its marginal association over the pooled cells --
    has the other sign. A sign that one transition's multivariate fit gives against the marginal
    association, or against the run as a whole, comes from collinear TFs or from logic local to the
    transition: on the Boolean track, 15-25% of the edges that every refit agreed on had the wrong sign
    before these checks, 0-11% after (benchmarks/signs.py --calibration)."""
    evidence = values_at(mask, edge_covariance(x, y, mask), data.edge_tf, data.edge_target)
    evidence[~data.edge_active] = np.nan
    if pooled is not None:
        keys = pd.MultiIndex.from_frame(pooled.weights[["tf", "target_gene"]])
        at = keys.get_indexer(pd.MultiIndex.from_frame(data.edges[["tf", "target_gene"]]))
        known = at >= 0
        run_wide = np.zeros(len(at), dtype=bool)
        for column in ("weight", "marginal"):
            if column in pooled.weights.columns:
                values = pooled.weights[column].to_numpy(dtype=np.float64)[at[known]]
                run_wide[known] |= np.sign(values) == -np.sign(weight[known])
        evidence[run_wide] = -weight[run_wide]
    return evidence


def _edge_summary(summary: dict[str, np.ndarray], mask: np.ndarray, tf: np.ndarray, target: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """The bootstrap's confidence columns at the edges (``tf``, ``target`` positions in ``mask``), and
    the share of refits with a positive and with a negative weight."""
    values = {column: values_at(mask, summary[column], tf, target) for column in CONFIDENCE_COLUMNS}
    positive, negative = sign_shares(summary["weights"])
    values["positive_share"] = values_at(mask, positive, tf, target)
    values["negative_share"] = values_at(mask, negative, tf, target)
    return values
