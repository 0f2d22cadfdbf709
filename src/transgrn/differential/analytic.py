"""The analytic standard error (``se_method: analytic``, an option): the linearization of the joint
cell bootstrap (:mod:`.bootstrap`), with no refits.

:func:`transition_influence`, :func:`analytic_pair_test`; ridge without ``standardize`` or
``self_term``, other fits take the bootstrap (:func:`analytic_supported`). The infinitesimal
jackknife (cell-clustered sandwich) of the same joint, stratified cell bootstrap. Per target
``j`` with prior TFs ``S`` (those its fit used: borrowed ones too, below), cell ``c``'s influence
on the ridge weights is ``IF_c = (X_S'X_S + alpha I)^{-1} x_c e_c`` (``X`` centred, ``alpha`` the
fit's, ``e_c`` the summed residuals of the fitted network over the cell's rows: a same-cell design
has one row per cell, a mapped design one per pair of its source cell, all with the cell's input
``x_c``); the counts of a cluster of ``n`` cells have covariance ``I - 11'/n``, so
``var(w2 - w1) = sum_clusters sum_c (D_c - mean D)^2`` with ``D_c = IF2_c - IF1_c`` (0 for a
transition without rows in the cell), i.e. ``var(w1) + var(w2) - 2 cov`` over the shared
clusters. It matches a 200-replicate joint bootstrap to 1-2% (median ratio 0.98-0.99 on the
simulated siblings) without the bootstrap's noise, so ``pvalue`` is from the normal. Neither
standard error includes ridge's shrinkage bias (both measure the weights' sampling spread at fixed
alpha).

The network, its intercepts and alpha are the fit's (:class:`~.fitted.FittedNetwork`): nothing is
refitted. A target with a borrowed edge (``fit.borrow_below``) was fitted as
``W = W0 + ridge(X_S, Y - X W0)`` over all its active TFs, borrowed ones included; its influence
is the same formula over that ``S``, with the residuals of ``W`` (the pooled ``W0`` held fixed),
and only its own edges are tested (:func:`~.fitted.tested_edges`).

Memory: a transition keeps its TFs x TFs system and, for the clusters it shares with its pairs,
the cells' centred inputs (TFs x cells) and summed residuals (targets x cells, float32: 200 MB at
2,500 cells and 20,000 targets), spilled beyond the unit's ``max_bytes``; a pair solves each
target's system again for both transitions, a group of targets at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..design import EVERY_PAIR, TransitionData
from ..options import FitOptions
from ..solvers import _group_targets, block_bytes, target_blocks
from .bootstrap import row_cells
from .fitted import FittedNetwork, mask_rows, tested_edges
from .table import check_same_edges, pair_table


def analytic_supported(fit: FitOptions) -> bool:
    """Whether :func:`transition_influence` covers the fit: ridge without ``standardize`` (whose
    scale would depend on the resampled cells too), without ``self_term`` (one more column per
    target) and with free signs (a sign-constrained fit is not linear in the data); the other fits
    take the bootstrap."""
    return fit.solver == "ridge" and not fit.standardize and not fit.self_term and fit.sign == "free"


@dataclass
class ClusterInfluence:
    """What one transition's influence over one cluster's cells is made of (:func:`transition_influence`).

    ``cells`` indexes the cells with rows in the cluster's cell list (``size`` cells in all,
    every split: the bootstrap resamples them all); ``x`` is their centred input (TFs x cells: one
    input per cell, all rows of a cell share it) and ``residual`` the sum of the residuals of their
    rows (targets x cells, float32). Both are read a group of TFs or targets at a time, so they are
    stored that way round, possibly memory-mapped."""

    cells: np.ndarray
    x: np.ndarray
    residual: np.ndarray
    size: int


@dataclass
class Influence:
    """One transition's main-fit weights, the analytic variance of each, and what the covariance with
    another transition needs: the ridge system ``X_c'X_c + alpha I`` (TFs x TFs), the edges of each
    target's fit and the :class:`ClusterInfluence` of the clusters it shares with the transitions it
    is paired with."""

    tf: np.ndarray
    target_gene: np.ndarray
    weight: np.ndarray  # (E,) float64, NaN where not tested
    active: np.ndarray  # (E,) bool: tested (active in the fit and not borrowed)
    support: np.ndarray  # (E,) bool: in the fit (active, borrowed or not): each target's TFs S
    variance: np.ndarray  # (E,) float64: sum over clusters of the within-cluster variance of the influences
    system: np.ndarray  # (p, p) float64
    edge_tf: np.ndarray  # (E,) row of each prior edge in ``system``
    edge_target: np.ndarray  # (E,) column of each prior edge among the targets
    clusters: dict[str, ClusterInfluence]


def _cluster_parts(x: np.ndarray, y, coef, intercept: np.ndarray, row_cell: np.ndarray,
                   bounds: Mapping[str, tuple[int, int]]) -> dict[str, ClusterInfluence]:
    """Per cluster (``bounds``: label -> its range of cell indices), the cells' centred inputs and
    summed residuals ``y - intercept - x W``, one block of targets at a time."""
    xc = x - x.mean(0)
    parts, members = {}, {}
    for label, (start, stop) in bounds.items():
        in_cluster = (row_cell >= start) & (row_cell < stop)
        cells, inverse = np.unique(row_cell[in_cluster] - start, return_inverse=True)
        rows = np.flatnonzero(in_cluster)
        first = rows[np.unique(inverse, return_index=True)[1]]
        if not np.allclose(xc[rows], xc[first][inverse]):
            raise ValueError("the rows of one cell have different inputs; the analytic standard error "
                             "needs one input per cell (use differential.se_method: bootstrap)")
        sums = sparse.csr_matrix((np.ones(len(rows)), (inverse, rows)), shape=(len(cells), len(x)))
        members[label] = sums
        parts[label] = ClusterInfluence(cells, np.ascontiguousarray(xc[first].T),
                                        np.empty((y.shape[1], len(cells)), np.float32), stop - start)
    for cols, block in target_blocks(y):
        block -= intercept[cols]
        block -= (coef[:, cols].T @ x.T).T
        for label, sums in members.items():
            parts[label].residual[cols] = (sums @ block).T
    return parts


def transition_influence(data: TransitionData, mapping: pd.DataFrame, network: FittedNetwork, source_cluster: str,
                         target_cluster: str, keep: Sequence[str] = ()) -> Influence:
    """The infinitesimal-jackknife variance of each weight of a transition's fitted ``network`` (on
    every pair of ``mapping``) over the bootstrap's cells, and what its pairs' covariances need.

    For target ``j`` with prior TFs ``S``, ``w = (X_S'X_S + alpha I)^{-1} X_S'y`` (``X`` and ``y``
    centred: the intercept is not penalized). Giving cell ``c`` the weight ``1 + eps`` moves ``w`` by
    ``eps IF_c``, ``IF_c = (X_S'X_S + alpha I)^{-1} x_c e_c`` with ``e_c`` the summed residuals of the
    cell's rows (centring moves nothing: the residuals sum to 0); each cluster's counts of the
    stratified bootstrap have covariance ``I - 11'/n``, so the variance is, per cluster, the sum of
    squares of the ``IF_c`` about their mean over its ``n`` cells. ``keep``: the clusters whose cell
    influences are kept for :func:`analytic_pair_test`'s covariances."""
    x, y = data.design(mapping, EVERY_PAIR, False, dense=False)
    x = np.asarray(x, dtype=np.float64)
    # the fitted network at every prior edge: a borrowed weight filled where its edge is inactive
    # predicts too (the fit's W0), so the residuals are those of every non-zero weight
    weight = network.weights(data.edges)
    filled = np.flatnonzero(weight != 0)
    coef = sparse.csc_matrix((weight[filled], (data.edge_tf[filled], data.edge_target[filled])), shape=data.mask.shape)
    n_source = len(data.source.names)
    bounds = {source_cluster: (0, n_source), target_cluster: (n_source, n_source + len(data.target.names))}
    parts = _cluster_parts(x, y, coef, network.intercepts_of(data.targets), row_cells(mapping, data), bounds)
    xc = x - x.mean(0)
    system = xc.T @ xc
    system[np.diag_indices_from(system)] += network.alpha
    tested = tested_edges(mask_rows(data), network.coefficients)["active"].to_numpy(bool)
    influence = Influence(data.edges["tf"].to_numpy(), data.edges["target_gene"].to_numpy(),
                          np.where(tested, weight, np.nan), tested, data.edge_active.copy(),
                          np.zeros(len(tested)), system, data.edge_tf, data.edge_target, {})
    for part in parts.values():
        if len(part.cells):  # a mapped design's target cells have no rows: not resampled
            influence.variance += _influence_covariance(influence, part, influence, part)
    influence.variance[~influence.active] = np.nan
    influence.clusters = {label: parts[label] for label in keep if label in parts}
    return influence


def _target_supports(influence: Influence, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The edges of each of ``targets``' fit (ids into the prior edges), padded: ``(g, k)`` edge ids
    and whether each slot is real."""
    fitted = np.flatnonzero(influence.support & np.isin(influence.edge_target, targets))
    slot_target = pd.Index(targets).get_indexer(influence.edge_target[fitted])
    order = np.lexsort((influence.edge_tf[fitted], slot_target))
    fitted, slot_target = fitted[order], slot_target[order]
    sizes = np.bincount(slot_target, minlength=len(targets))
    k = int(sizes.max(initial=0))
    slot = np.arange(len(fitted)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    edges = np.zeros((len(targets), max(k, 1)), dtype=np.int64)
    valid = np.zeros(edges.shape, dtype=bool)
    edges[slot_target, slot], valid[slot_target, slot] = fitted, True
    return edges, valid


def _cell_influences(influence: Influence, part: ClusterInfluence, targets: np.ndarray,
                     edges: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``IF_c`` of every slot of ``edges`` (``(g, k)``, :func:`_target_supports`) over the cluster's
    cells with rows: ``(g, k, cells)``, 0 on padding slots."""
    support = influence.edge_tf[edges]
    system = influence.system[support[:, :, None], support[:, None, :]]
    system[~(valid[:, :, None] & valid[:, None, :])] = 0.0
    diagonal = system.diagonal(axis1=1, axis2=2).copy()
    diagonal[~valid] = 1.0
    system[:, np.arange(edges.shape[1]), np.arange(edges.shape[1])] = diagonal
    inputs = np.asarray(part.x[support.ravel()]).reshape(*support.shape, -1)  # (g, k, cells)
    inputs[~valid] = 0.0
    try:
        solved = np.linalg.solve(system, inputs)
    except np.linalg.LinAlgError:  # alpha = 0 with collinear TFs: the minimum-norm solution's
        solved = np.linalg.pinv(system) @ inputs
    solved *= np.asarray(part.residual[targets], dtype=np.float64)[:, None, :]
    return solved


def _influence_covariance(first: Influence, a: ClusterInfluence, second: Influence, b: ClusterInfluence,
                          budget: int | None = None) -> np.ndarray:
    """Per prior edge, the covariance over one cluster's stratified bootstrap of the two weights'
    linearizations: ``sum_c IF1_c IF2_c - (sum_c IF1_c)(sum_c IF2_c) / n`` over the cluster's ``n``
    cells (a cell without rows in a transition has influence 0 there). 0 for edges outside either
    fit. Targets are taken in groups whose influences fill about ``budget`` bytes."""
    out = np.zeros(len(first.active))
    n_targets = int(max(first.edge_target.max(initial=-1), second.edge_target.max(initial=-1))) + 1
    sizes = np.maximum(*(np.bincount(t.edge_target[t.support], minlength=n_targets) for t in (first, second)))
    width = max(a.size if a is not b else len(a.cells), 1)
    for targets in _group_targets(sizes, max((budget or block_bytes()) // (8 * 3 * width), 1), power=1):
        targets = np.sort(targets)
        e1, v1 = _target_supports(first, targets)
        u1 = _cell_influences(first, a, targets, e1, v1)
        if first is second and a is b:  # a variance: no alignment over the cluster's cells needed
            out[e1[v1]] = ((u1 ** 2).sum(-1) - u1.sum(-1) ** 2 / a.size)[v1]
            continue
        e2, v2 = _target_supports(second, targets)
        u2 = _cell_influences(second, b, targets, e2, v2)
        both = np.intersect1d(e1[v1], e2[v2])
        full = []
        for edges, valid, u, part in ((e1, v1, u1, a), (e2, v2, u2, b)):
            dense = np.zeros((len(both), a.size))
            found = np.isin(edges, both) & valid
            dense[np.ix_(np.searchsorted(both, edges[found]), part.cells)] = u[found]
            full.append(dense)
        out[both] = (full[0] * full[1]).sum(1) - full[0].sum(1) * full[1].sum(1) / a.size
    return out


def analytic_se_method() -> str:
    """What ``std_error`` is with ``differential.se_method: analytic``."""
    return ("analytic: cell-clustered infinitesimal jackknife (sandwich) of the ridge weights, joint for both "
            "transitions; normal p-values; ridge shrinkage bias not included")


def analytic_pair_test(transition_1: str, first: Influence, transition_2: str, second: Influence) -> pd.DataFrame:
    """The differential table of one pair with the analytic standard error:
    ``var(w2 - w1) = var(w1) + var(w2) - 2 cov(w1, w2)``, the covariance over the clusters the two
    transitions share (both keep their :class:`ClusterInfluence`), and a two-sided normal test."""
    check_same_edges(transition_1, first, transition_2, second)
    variance = first.variance + second.variance
    for label in sorted(set(first.clusters) & set(second.clusters)):
        variance -= 2 * _influence_covariance(first, first.clusters[label], second, second.clusters[label])
    both = np.flatnonzero(first.active & second.active)
    # a variance that rounding pushes below 0 (identical fits) is 0
    return pair_table(transition_1, first, transition_2, second, both, np.maximum(variance[both], 0.0),
                       np.inf, analytic_se_method())

