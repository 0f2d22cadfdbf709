"""The bootstrap standard error (``se_method: bootstrap``, the default): a cell bootstrap, joint for
both fits, and the pair test on its replicates.

Two transitions that share a cluster fit on the same cells (siblings ``A -> B, A -> C`` share
A; consecutive ``A -> B, B -> C`` share B), so their weights covary and
``var(w2 - w1) = var(w1) + var(w2) - 2 cov(w1, w2)``; treating the fits as independent would
get the variance wrong (too large for siblings, whose shared cells pull both weights the same
way). So cells, not pairs, are resampled, and jointly for both fits:

* every cluster's cells get ``n_boot`` bootstrap counts (a stratified bootstrap: ``n`` draws with
  replacement from the cluster's ``n`` cells), from a stream seeded by the config seed and the
  cluster label alone (:func:`cluster_counts`). Every transition that uses a cluster therefore
  sees the same counts in replicate ``b``, whichever job refits it;
* a regression row is weighted by the count of its cell: in the same-cell designs (``lagged``,
  ``joint``, ``hybrid``) the row's own cell; in the mapped designs (``ot``, ``knn``,
  ``pseudotime``, ``random``) its source cell -- the input, and the unit the train/test split
  holds out. All pairs of one source cell then move together (a cluster bootstrap, which also
  removes the optimism of resampling pairs that share a cell). The target cells of a mapped
  design are not resampled, so there the covariance through a shared *target* cluster (B in a
  consecutive ``A -> B, B -> C``) is not captured, and the target cells' own sampling error is
  left out (``ot`` siblings: 6% of null edges at p < 0.05, ``benchmarks/differential.py``); the
  default ``lagged`` design has neither problem;
* each transition is refitted on these row weights (:meth:`MaskedRidge.fit_weightings`,
  all replicates at once; other solvers one refit at a time) at the penalty its fit chose
  (``fit.json``'s ``alpha``: ``alpha: auto`` is cross-validated once, by the fit, as
  :mod:`transgrn.confidence` does), and the standard deviation ``s`` over replicates of
  ``w2_b - w1_b`` is the bootstrap's standard error, which ``std_error`` moderates
  (:mod:`.moderation`). In the workflow the transition's own fit job refits them
  (:func:`fit_replicates`, ``differential_replicates.npy``), where the cells, the design, the
  chosen alpha and the solver are loaded already; the test's job reads them
  (:func:`read_replicates`) and loads neither cells nor solver.

The bootstrap keeps the design's choices fixed (the lag of a lagged design, alpha): it measures
the sampling error of the weights given those choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..confidence import _refit_weights, bootstrap_counts
from ..design import EVERY_PAIR, TransitionData, split_rows
from ..errors import InputError
from ..fit import make_transition_solver, role_seed
from ..options import FitOptions
from ..seeds import derive_seed
from ..solvers import values_at
from .fitted import FittedNetwork, edge_column, mask_rows, read_coefficients, same_edges, tested_edges
from .moderation import DEFAULT_MODERATION, ModeratedVariances, moderate_variances
from .table import check_same_edges, pair_table


def cluster_counts(n_cells: int, n_boot: int, seed: int, cluster: str) -> np.ndarray:
    """Bootstrap counts of a cluster's cells (``n_boot x n_cells`` float32, in the cluster's cell
    order): the same in every job that uses the cluster, since the stream depends only on
    ``seed`` and the cluster's label."""
    return bootstrap_counts(n_cells, n_boot, derive_seed(seed, "differential", str(cluster))).astype(np.float32)


def row_weights(mapping: pd.DataFrame, data: TransitionData, source_counts: np.ndarray, target_counts: np.ndarray,
                split: str = EVERY_PAIR) -> np.ndarray:
    """Bootstrap weight of each regression row of ``split`` (``n_boot x rows`` float32, in the row
    order of :meth:`TransitionData.design`: pairs sorted by id): the count of the pair's source
    cell -- in a same-cell design the row's own cell, in a mapped design its input.

    Weighting a mapped pair by its target cell's count too (Owen's pigeonhole bootstrap of the
    crossed source x target design) was tried: with pairs sampled sparsely from the coupling it
    counts the residual variance about three times, and null p-values pile up near 1 (0.3% below
    0.05 for ``ot``, where the source count alone gives about 6%).
    """
    return np.hstack([source_counts, target_counts])[:, row_cells(mapping, data, split)]


def row_cells(mapping: pd.DataFrame, data: TransitionData, split: str = EVERY_PAIR) -> np.ndarray:
    """Index of the resampled cell of each regression row of ``split`` (row order of
    :meth:`TransitionData.design`) in the source cells followed by the target cells: the row's
    own cell in a same-cell design, its source cell in a mapped design (:func:`row_weights`)."""
    part = split_rows(mapping, split)
    _, pair_row = np.unique(part["pair"].to_numpy(), return_inverse=True)
    first = np.unique(pair_row, return_index=True)[1]
    return _positions(part["source_cell"].to_numpy()[first], data.source.names, data.target.names)


def _positions(cells: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Index of each cell in ``first`` followed by ``second`` (``first`` searched first)."""
    position = pd.Index(first).get_indexer(cells)
    other = pd.Index(second).get_indexer(cells)
    missing = (position < 0) & (other < 0)
    if missing.any():
        raise InputError(f"the mapping names {int(missing.sum())} cell(s) that are in neither cluster of the "
                         f"transition (e.g. {cells[missing][0]!r}); rerun the mapping for this transition")
    return np.where(position >= 0, position, len(first) + other)


@dataclass
class Replicates:
    """One transition's main-fit weights and bootstrap replicates over its prior edges (the mask's
    rows, in order; NaN where the edge is not tested)."""

    tf: np.ndarray
    target_gene: np.ndarray
    weight: np.ndarray  # (E,) float64
    replicates: np.ndarray  # (B, E) float32, possibly memory-mapped
    active: np.ndarray  # (E,) bool


def replicate_weights(data: TransitionData, mapping: pd.DataFrame, fit: FitOptions, source_counts: np.ndarray,
                      target_counts: np.ndarray, solver_seed: int) -> np.ndarray:
    """The weights of every prior edge (mask rows; NaN where inactive) refitted on the network's rows
    (every pair) weighted by the cell counts (:func:`row_weights`), ``n_boot x edges`` float32, with
    the fit's options as given (``alpha`` resolved: the main fit's)."""
    mask = data.design_mask(fit.self_term)
    x, y = data.design(mapping, EVERY_PAIR, fit.self_term, dense=False)
    weights = row_weights(mapping, data, source_counts, target_counts)
    replicates, _ = _refit_weights(lambda: make_transition_solver(fit, solver_seed), x, y, mask,
                                   weights.astype(np.float64), dtype=np.float32)
    # position of each prior edge among the mask's edges (np.nonzero order); inactive -> -1
    position = values_at(mask, np.arange(1, int(mask.sum()) + 1, dtype=np.float64), data.edge_tf,
                         data.edge_target).astype(np.int64) - 1
    active = data.edge_active & (position >= 0)
    out = np.full((len(weights), len(active)), np.nan, dtype=np.float32)
    columns = position[active]
    for b in range(len(out)):  # a row at a time: all rows at once is a (B x edges) temporary
        out[b, active] = replicates[b, columns]
    return out


def fit_replicates(data: TransitionData, mapping: pd.DataFrame, fit: FitOptions,
                   coefficients: pd.DataFrame, alpha: float, clusters: tuple[str, str], n_boot: int, seed: int = 0,
                   transition: str = "") -> np.ndarray:
    """The replicates a fit job writes for the differential test (rule fit_grn with
    ``differential.enabled``, ``differential_replicates.npy``): :func:`replicate_weights` of the
    edges the test compares (:func:`~.fitted.tested_edges` of the fit's ``coefficients``), at the
    fit's ``alpha``, with the counts of ``clusters`` (the source's and target's labels;
    :func:`cluster_counts` depends on nothing else, so every job draws a shared cluster's counts
    alike). The fit job has the cells, the design and the solver loaded already: the test's refits
    cost it little, and the differential job then needs neither the cells nor the solver
    (:func:`read_replicates`). ``fit``: the fit's options."""
    tested = data.with_active(tested_edges(mask_rows(data), coefficients)["active"])
    counts = [cluster_counts(len(cells.names), n_boot, seed, cluster)
              for cells, cluster in zip((data.source, data.target), clusters)]
    at_alpha = replace(fit, alpha=alpha)
    return replicate_weights(tested, mapping, at_alpha, *counts, role_seed(seed, transition))


def transition_replicates(data: TransitionData, mapping: pd.DataFrame, network: FittedNetwork, fit: FitOptions,
                          clusters: tuple[str, str], n_boot: int, seed: int = 0, transition: str = "") -> Replicates:
    """A transition's :class:`Replicates` refitted here (:func:`fit_replicates`) around its fitted
    ``network``: what :func:`read_replicates` gives when its fit job wrote them."""
    refits = fit_replicates(data, mapping, fit, network.coefficients, network.alpha, clusters, n_boot, seed, transition)
    return fitted_replicates(mask_rows(data), network.coefficients, refits)


def fitted_replicates(mask: pd.DataFrame, coefficients: pd.DataFrame, refits: np.ndarray) -> Replicates:
    """:class:`Replicates` of the tested edges of ``mask`` (:func:`~.fitted.tested_edges`): the fit's
    ``weight`` from ``coefficients`` and the ``refits`` (``n_boot x`` mask rows)."""
    active = tested_edges(mask, coefficients)["active"].to_numpy(dtype=bool)
    weight = np.where(active, edge_column(mask, coefficients, "weight").to_numpy(dtype=np.float64), np.nan)
    return Replicates(mask["tf"].to_numpy(), mask["target_gene"].to_numpy(), weight, refits, active)


def read_replicates(mask_path: str | Path, coefficients_path: str | Path, replicates_path: str | Path) -> Replicates:
    """A transition's :class:`Replicates` from its fit's files: the mask's edges, the
    ``coefficients.parquet`` weights and the replicates that :func:`fit_replicates` wrote
    (memory-mapped)."""
    mask = pd.read_parquet(mask_path)
    coefficients = read_coefficients(coefficients_path)
    replicates = np.load(replicates_path, mmap_mode="r")
    if replicates.ndim != 2 or replicates.shape[1] != len(mask) or not same_edges(mask, coefficients):
        raise InputError(f"{replicates_path} ({replicates.shape}) does not match the {len(mask)} prior edges of "
                         f"{mask_path} and {coefficients_path}; rerun the fit (snakemake --forcerun fit_grn)")
    return fitted_replicates(mask, coefficients, replicates)


def se_method(n_boot: int, prior_df: float | None = None, factors: Sequence[str] = DEFAULT_MODERATION) -> str:
    """What ``std_error`` is, as recorded in the output's ``se_method`` column: ``prior_df`` None
    when it was not moderated."""
    method = f"cell bootstrap, joint for both transitions, {n_boot} replicates"
    if prior_df is None:
        return method
    over = " + ".join("target" if f == "target_gene" else f for f in factors) or "global"
    df = "infinite" if np.isinf(prior_df) else f"{prior_df:.0f}"
    return f"{method}; moderated (empirical Bayes, prior over {over}, prior df {df})"


def _difference_variance(first: np.ndarray, second: np.ndarray, columns: np.ndarray,
                         block: int = 2**16) -> np.ndarray:
    """Variance over replicates (rows) of ``second - first`` at ``columns``, a block of columns at a
    time: the whole (B x edges) float64 difference is 80 MB at atlas scale. Per column, so the
    blocking does not change the values."""
    out = np.empty(len(columns))
    for start in range(0, len(columns), block):
        part = columns[start:start + block]
        out[start:start + block] = (np.asarray(second[:, part], dtype=np.float64) - first[:, part]).var(0, ddof=1)
    return out


def pair_test(transition_1: str, first: Replicates, transition_2: str, second: Replicates,
              moderation: Sequence[str] | None = DEFAULT_MODERATION) -> pd.DataFrame:
    """The differential table of one pair (:data:`~.table.DIFFERENTIAL_COLUMNS`), over the edges
    active in both, with the bootstrap's standard error; ``first`` and ``second`` must come from the
    same counts (the same seed) to be joint.

    ``moderation``: the columns (``tf``, ``target_gene``) of the prior's model in
    :func:`~.moderation.moderate_variances` over the pair's edges, ``()`` for one global prior, None
    for the bootstrap's own standard error and a t on ``n_boot - 1`` df.
    """
    check_same_edges(transition_1, first, transition_2, second)
    n_boot = first.replicates.shape[0]
    if second.replicates.shape[0] != n_boot or n_boot < 2:
        raise ValueError("both transitions need the same n_boot >= 2 bootstrap replicates")
    both = np.flatnonzero(first.active & second.active)
    edges = {"tf": first.tf[both], "target_gene": first.target_gene[both]}
    variance = _difference_variance(first.replicates, second.replicates, both)
    moderated = ModeratedVariances(variance, None) if moderation is None else \
        moderate_variances(variance, n_boot - 1, [edges[column] for column in moderation])
    return pair_table(transition_1, first, transition_2, second, both, moderated.variance,
                      moderated.test_df(n_boot - 1), se_method(n_boot, moderated.prior_df, moderation or ()))
