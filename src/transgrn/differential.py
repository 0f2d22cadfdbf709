"""Differential edges between two transitions, with a standard error that accounts for shared cells.

For a pair of transitions ``(t1, t2)`` and every prior edge estimable (``active``) in both, the
test reports ``weight_1``, ``weight_2`` (the main fits, the ``weight`` of each transition's
``coefficients.parquet``), ``difference = weight_2 - weight_1`` (what changes from ``t1`` to
``t2``: for a consecutive pair ``A -> B, B -> C``, positive where the edge gains weight along the
path), its ``std_error``, ``z = difference / std_error``, a two-sided ``pvalue`` and the
Benjamini-Hochberg ``qvalue`` over the pair's edges.

Standard error: analytic (an option), the linearization of the joint cell bootstrap
----------------------------------------------------------------------------------
``se_method: analytic`` (:func:`transition_influence`, :func:`analytic_pair_test`; ridge without
``standardize`` or ``self_term``, other fits take the bootstrap below): the infinitesimal jackknife
(cell-clustered sandwich) of the same joint, stratified cell bootstrap, with no refits. Per target
``j`` with prior TFs ``S``, cell ``c``'s influence on the ridge weights is
``IF_c = (X_S'X_S + alpha I)^{-1} x_c e_c`` (``X`` centred, ``alpha`` the main fit's, ``e_c`` the
summed residuals of the cell's rows: a same-cell design has one row per cell, a mapped design one
per pair of its source cell, all with the cell's input ``x_c``); the counts of a cluster of ``n``
cells have covariance ``I - 11'/n``, so ``var(w2 - w1) = sum_clusters sum_c (D_c - mean D)^2`` with
``D_c = IF2_c - IF1_c`` (0 for a transition without rows in the cell), i.e. ``var(w1) + var(w2) -
2 cov`` over the shared clusters. It matches a 200-replicate joint bootstrap to 1-2% (median ratio
0.98-0.99 on the simulated siblings) without the bootstrap's noise, so ``pvalue`` is from the normal.
Neither standard error includes ridge's shrinkage bias (both measure the weights' sampling spread
at fixed alpha). Memory: a transition keeps its TFs x TFs system and, for the clusters it shares
with its pairs, the cells' centred inputs (TFs x cells) and summed residuals (targets x cells,
float32: 200 MB at 2,500 cells and 20,000 targets), spilled beyond ``max_bytes``; a pair solves
each target's system again for both transitions, a group of targets at a time.

``se_method: bootstrap`` (the default): a cell bootstrap, joint for both fits
----------------------------------------------------------------------------
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
* each transition is refitted on these row weights (:meth:`MaskedRidge.fit_weighted_batch`,
  one batch for all replicates; other solvers one refit at a time) with the alpha of its main
  fit (``alpha: auto`` is resolved once on the unweighted data, as :mod:`transgrn.confidence`
  does), and the standard deviation ``s`` over replicates of ``w2_b - w1_b`` is the bootstrap's
  standard error, which ``std_error`` moderates (below). In the workflow the transition's own fit
  job refits them (:func:`fit_replicates`, ``differential_replicates.npy``), where the cells,
  the design, the chosen alpha and the solver are loaded already; the test's job reads them
  (:func:`read_replicates`) and loads neither cells nor solver.

The bootstrap keeps the design's choices fixed (the lag of a lagged design, alpha): it measures
the sampling error of the weights given those choices.

Moderated standard error (empirical Bayes)
------------------------------------------
A variance from ``n_boot = 20`` replicates is itself noisy (``d = n_boot - 1`` degrees of freedom),
and a test that uses it as is must compare ``z`` with a t on ``d`` df: with 20 replicates the
normal would call about a third more null edges at p < 0.05. The pair's thousands of edges say
what a typical variance is, so each edge's ``s^2`` is shrunk towards it, as limma does for genes
(Smyth 2004, Stat Appl Genet Mol Biol 3:3, "Linear models and empirical Bayes methods for
assessing differential expression in microarray experiments"; limma's ``squeezeVar`` /
``fitFDist`` with a covariate-dependent prior, :func:`moderate_variances`):

* the model: ``s^2 ~ sigma^2 chi^2_d / d`` around the edge's true variance ``sigma^2``, and a
  prior ``1 / sigma^2 ~ chi^2_d0 / (d0 s0^2)`` whose ``s0^2`` depends on the edge's TF (an
  additive model of ``log s^2`` with one level per TF with at least :data:`MIN_LEVEL_EDGES` edges
  -- the TF's variance and collinearity set its weights' sampling error), fitted by least
  squares after correcting the log's bias
  (``digamma(d/2) - log(d/2)``); the prior df ``d0`` from the residual variance left after the
  chi-square's own (``trigamma(d/2)``), by limma's inversion of the trigamma function;
* ``std_error = sqrt((d0 s0^2 + d s^2) / (d0 + d))`` and ``pvalue`` from a t on ``d + d0`` df
  (the normal when ``d0`` is infinite: no spread beyond chi-square noise, every edge gets the
  fitted ``s0^2``). ``se_method`` records ``d0``.

On the simulated siblings (``benchmarks/differential.py``, 40 planted branch edges, 1,600 cells)
this raises the recall at q <= 0.1 from 0.37 to 0.45 (0.59 to 0.73 at 3,000 cells), with the null
p-values as uniform as before; ``d0`` is 35-85. A global prior recalls about as much (0.44); a
TF + target prior no more (0.45): each target's few edges (9 there) fit their own noise, and
``d0`` jumps to the hundreds or infinity. Pairs with too few edges to estimate the
prior (fewer than :data:`MIN_RESIDUAL_DF` residual df) keep the unmoderated t on ``d`` df. Zero
variances are left out of the fit but shrunk like the others.

What the test compares is the fitted weights, so a difference can also come from a change in
the cells rather than in the regulation (another TF variance changes how much ridge shrinks, or
how a correlated decoy shares the signal); ``benchmarks/differential.py`` measures how often.

Batching (the unit of work)
---------------------------
A pair is computed in the unit of one *shared cluster* (:func:`transition_pairs`'s ``unit``: the
common source of siblings, the middle cluster of a consecutive pair): the unit takes each of its
transitions' replicates once (written by the fits, or refitted here by :func:`differential_unit`
when it is given cells instead) and then forms every pair from them. Because counts depend only on
the cluster, a pair gets the same answer in any unit, so the assignment is free to follow the
schedule.

Memory at atlas scale (40 clusters, ``transitions.mode: all``: 1,560 transitions, 39 outgoing
per cluster, so 40 x C(39, 2) = 29,640 unordered sibling pairs; E = 500,000 prior edges per
transition; B = 20 replicates):

* replicates of one transition: B x E float32 = 20 x 500,000 x 4 B = 40 MB, a file of that size
  per transition (62 GB for the 1,560 transitions: the price of refitting each transition once
  instead of once per unit). The unit memory-maps them, anew for each pair, so that the pages a
  pair reads leave its memory when the pair is done;
* refitting one transition (:meth:`MaskedRidge.fit_weighted_batch`, in the fit job) holds the
  design (rows x TFs float64, 5,000 x 1,500 x 8 B = 60 MB), float64 cross-products and float32
  weights of the resamples (80 + 40 MB for all 20; :func:`~transgrn.confidence._refit_weights`
  takes them in two batches at this size) and one 32 MB block of Gram matrices;
* one pair: the two transitions' replicates (2 x 40 MB, from maps opened for the pair), their
  difference in blocks of edges and the output frame (E rows x 12 columns, about 100 MB with the
  two string columns): about 200 MB. Measured (``benchmarks/scale.py --steps differential``) in
  the README, *Differential edges and TF scores*.

A unit's time is ``T (T - 1) / 2`` pair tests of O(B E) each (and, when it refits, ``T`` refits).
Note the output size: every active edge of every pair is a row, 29,640 x 500,000 = 1.5e10 rows for
every sibling pair of such an atlas, so at that scale the rule should keep only rows with
``qvalue <= max_qvalue`` (:func:`differential_unit`).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .columns import BORROWED_COLUMN
from .confidence import _refit_weights, _two_sided_t, benjamini_hochberg, bootstrap_counts
from .errors import ConfigError, InputError
from .design import EVERY_PAIR, TransitionData, split_rows
from .fit import make_transition_solver, role_seed, training_penalty
from .options import FitOptions
from .seeds import derive_seed
from .solvers import values_at

PAIR_KINDS = ("siblings", "consecutive", "all", "explicit")
PAIR_COLUMNS = ["transition_1", "transition_2", "relation", "unit"]
DIFFERENTIAL_COLUMNS = ["transition_1", "transition_2", "tf", "target_gene", "weight_1", "weight_2", "difference",
                        "std_error", "z", "pvalue", "qvalue", "se_method"]
DEFAULT_MAX_BYTES = 64 * 2**20
# the factors of the prior's additive model of log s^2 (see the module docstring); () is one global
# prior, None no moderation
DEFAULT_MODERATION: tuple[str, ...] = ("tf",)
# levels with fewer edges get no effect of their own (the overall prior): a level of one edge would
# fit that edge's own variance (leverage 1), and its "shrunk" variance be tested on d + d0 df
MIN_LEVEL_EDGES = 5
# the prior's df needs this many residual df (edges minus the fit's parameters) to be estimated
MIN_RESIDUAL_DF = 10


# --------------------------------------------------------------------------------------------
# Which pairs
# --------------------------------------------------------------------------------------------


def _relation(a, b) -> tuple[str, str] | None:
    """How transitions ``a`` and ``b`` (rows with source_cluster, target_cluster) are related, and the
    cluster they share (the pair's unit of work); None when they share none."""
    if a.source_cluster == b.source_cluster:
        return "siblings", a.source_cluster
    if a.target_cluster == b.source_cluster and b.target_cluster == a.source_cluster:
        return "reverse", a.target_cluster
    if a.target_cluster == b.source_cluster:
        return "consecutive", a.target_cluster
    if b.target_cluster == a.source_cluster:
        return "consecutive", b.target_cluster
    if a.target_cluster == b.target_cluster:
        return "converging", a.target_cluster
    return None


def transition_pairs(transitions: pd.DataFrame, kind: str,
                     explicit: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """The pairs of transitions to compare, one row each: ``transition_1, transition_2, relation, unit``.

    ``transitions`` has ``transition, source_cluster, target_cluster`` (the run's transitions table).

    * ``siblings``: transitions with the same source (``A -> B, A -> C``), in table order;
    * ``consecutive``: ``A -> B`` then ``B -> C`` (``C != A``), the earlier one first;
    * ``all``: every pair that shares a cluster -- siblings, consecutive, converging (``A -> C,
      B -> C``) and reverse (``A -> B, B -> A``) -- each once. Pairs without a shared cluster share
      no cells; compare them with ``explicit``;
    * ``explicit``: the given ``[transition_1, transition_2]`` ids, in that order.

    ``relation`` names how the two are related (``unrelated`` for an explicit pair sharing no
    cluster) and ``unit`` the cluster whose unit of work computes the pair (the shared cluster;
    for an unrelated pair, the source of ``transition_1``).
    """
    if kind not in PAIR_KINDS:
        raise ConfigError(f"differential.pairs: unknown kind {kind!r}; choose one of {list(PAIR_KINDS)}")
    table = transitions[["transition", "source_cluster", "target_cluster"]].reset_index(drop=True)
    rows = list(table.itertuples(index=False))
    if kind == "explicit":
        return _explicit_pairs(table, explicit)
    pairs = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            related = _relation(a, b)
            if related is None:
                continue
            relation, unit = related
            first, second = (b, a) if relation == "consecutive" and b.target_cluster == a.source_cluster else (a, b)
            if kind == "all" or kind == relation:
                pairs.append((first.transition, second.transition, relation, unit))
    return pd.DataFrame(pairs, columns=PAIR_COLUMNS)


def unit_ids(transitions: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """The cluster id (``c03_name``, safe in a file name) of each pair's ``unit`` label, from the
    transitions table's ``source_id``/``target_id``: the workflow names a unit's file by it."""
    ids = {**dict(zip(transitions["target_cluster"], transitions["target_id"])),
           **dict(zip(transitions["source_cluster"], transitions["source_id"]))}
    return pairs["unit"].map(ids).astype(str)


def _explicit_pairs(table: pd.DataFrame, explicit: Sequence[Sequence[str]]) -> pd.DataFrame:
    by_id = {row.transition: row for row in table.itertuples(index=False)}
    unknown = sorted({str(t) for pair in explicit for t in pair} - set(by_id))
    if unknown:
        known = ", ".join(list(by_id)[:10]) + (" ..." if len(by_id) > 10 else "")
        raise ConfigError(f"differential.explicit: unknown transition id(s) {unknown}; use ids of the run's "
                          f"transitions table (results/transitions.tsv), e.g. {known}")
    pairs = []
    for pair in explicit:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"differential.explicit: {list(pair)} is not a pair of two different transition ids")
        a, b = by_id[pair[0]], by_id[pair[1]]
        relation, unit = _relation(a, b) or ("unrelated", a.source_cluster)
        pairs.append((a.transition, b.transition, relation, unit))
    return pd.DataFrame(pairs, columns=PAIR_COLUMNS)


# --------------------------------------------------------------------------------------------
# Joint cell bootstrap
# --------------------------------------------------------------------------------------------


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
    return np.hstack([source_counts, target_counts])[:, _row_cells(mapping, data, split)]


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
    rows, in order; NaN where the edge is inactive)."""

    tf: np.ndarray
    target_gene: np.ndarray
    weight: np.ndarray  # (E,) float64
    replicates: np.ndarray  # (B, E) float32, possibly memory-mapped
    active: np.ndarray  # (E,) bool


def tested_edges(mask: pd.DataFrame, coefficients: pd.DataFrame) -> pd.DataFrame:
    """A transition's ``mask.parquet`` with its ``borrowed`` edges (``coefficients.parquet``; see
    ``fit.borrow_below``) made inactive, so that they are neither refitted nor tested: their weights
    are the pooled network's, which the transition's own cells did not inform, so a difference in
    them would be no evidence. The refits then leave out the borrowed TFs, which vary little in
    the transition by definition: the weights of a target with a borrowed edge may differ from
    ``coefficients.parquet`` in the last digits."""
    if BORROWED_COLUMN not in coefficients:
        return mask
    if _same_edges(mask, coefficients):  # the fit's rows are the mask's (fit_transition): no merge
        borrowed = coefficients[BORROWED_COLUMN]
    else:
        borrowed = mask[["tf", "target_gene"]].merge(coefficients[["tf", "target_gene", BORROWED_COLUMN]],
                                                     on=["tf", "target_gene"], how="left")[BORROWED_COLUMN]
    return mask.assign(active=mask["active"].to_numpy(dtype=bool) & ~borrowed.fillna(False).to_numpy(dtype=bool))


def _same_edges(first: pd.DataFrame, second: pd.DataFrame) -> bool:
    """Whether two edge tables list the same (tf, target_gene) in the same order."""
    return len(first) == len(second) and all(
        np.array_equal(first[column].to_numpy(), second[column].to_numpy()) for column in ("tf", "target_gene"))


def transition_replicates(data: TransitionData, mapping: pd.DataFrame, fit_config: Mapping[str, Any],
                          source_counts: np.ndarray, target_counts: np.ndarray, seed: int = 0,
                          transition: str = "") -> Replicates:
    """Refit a transition's network on its rows weighted by the cell counts (``n_boot x cells`` of
    its source and target clusters, :func:`cluster_counts`), and its network fit.

    The network's fit repeats :func:`~transgrn.fit.fit_transition`'s (same solver seed, so the same
    alpha, chosen on the training pairs, and the same ``weight`` as ``coefficients.parquet``, fitted
    on every pair); the replicates keep its alpha.
    """
    solver_seed = role_seed(seed, transition)
    fixed, main = _network_fit(data, mapping, fit_config, solver_seed)
    replicates = replicate_weights(data, mapping, fixed, source_counts, target_counts, solver_seed)
    weight = np.where(data.edge_active, main.coef_at(data.edge_tf, data.edge_target), np.nan)
    return Replicates(data.edges["tf"].to_numpy(), data.edges["target_gene"].to_numpy(), weight, replicates,
                      data.edge_active.copy())


def _network_fit(data: TransitionData, mapping: pd.DataFrame, fit_config: Mapping[str, Any],
                 solver_seed: int) -> tuple[dict, Any]:
    """The fit options with the network's penalty resolved (:func:`~transgrn.fit.training_penalty`)
    and the network's fit on every pair at it, without borrowing."""
    self_term = bool(fit_config.get("self_term", False))
    options = FitOptions.from_config(dict(fit_config))
    fixed = {**fit_config, "alpha": training_penalty(data, mapping, options, solver_seed, self_term)}
    x, y = data.design(mapping, EVERY_PAIR, self_term, dense=False)
    model = make_transition_solver(replace(options, alpha=fixed["alpha"]), solver_seed)
    return fixed, model.fit(x, y, data.design_mask(self_term))


def replicate_weights(data: TransitionData, mapping: pd.DataFrame, fit_config: Mapping[str, Any],
                      source_counts: np.ndarray, target_counts: np.ndarray, solver_seed: int) -> np.ndarray:
    """The weights of every prior edge (mask rows; NaN where inactive) refitted on the network's rows
    (every pair) weighted by the cell counts (:func:`row_weights`), ``n_boot x edges`` float32, with
    the fit's options as given (``alpha`` resolved: the main fit's)."""
    self_term = bool(fit_config.get("self_term", False))
    mask = data.design_mask(self_term)
    x, y = data.design(mapping, EVERY_PAIR, self_term, dense=False)
    weights = row_weights(mapping, data, source_counts, target_counts)
    options = FitOptions.from_config(dict(fit_config))
    replicates, _ = _refit_weights(lambda: make_transition_solver(options, solver_seed), x, y, mask,
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


def fit_replicates(data: TransitionData, mapping: pd.DataFrame, fit_config: Mapping[str, Any],
                   coefficients: pd.DataFrame, alpha: float, clusters: tuple[str, str], n_boot: int, seed: int = 0,
                   transition: str = "") -> np.ndarray:
    """The replicates a fit job writes for the differential test (rule fit_grn with
    ``differential.enabled``, ``differential_replicates.npy``): :func:`replicate_weights` of the
    edges the test compares (:func:`tested_edges` of the fit's ``coefficients``), at the
    fit's ``alpha``, with the counts of ``clusters`` (the source's and target's ids;
    :func:`cluster_counts` depends on nothing else, so every fit job draws a shared cluster's counts
    alike). The fit job has the cells, the design and the solver loaded already: the test's refits
    cost it little, and the differential job then needs neither the cells nor the solver
    (:func:`read_replicates`)."""
    tested = data.with_active(tested_edges(data.edges.assign(active=data.edge_active), coefficients)["active"])
    counts = [cluster_counts(len(cells.names), n_boot, seed, cluster)
              for cells, cluster in zip((data.source, data.target), clusters)]
    return replicate_weights(tested, mapping, {**fit_config, "alpha": alpha}, *counts, role_seed(seed, transition))


def read_replicates(mask_path: str | Path, coefficients_path: str | Path, replicates_path: str | Path) -> Replicates:
    """A transition's :class:`Replicates` from its fit's files: the mask's edges, the
    ``coefficients.parquet`` weights and the replicates that :func:`fit_replicates` wrote
    (memory-mapped)."""
    import pyarrow.parquet as pq

    mask = pd.read_parquet(mask_path)
    wanted = ("tf", "target_gene", "weight", BORROWED_COLUMN)  # not the confidence columns
    coefficients = pd.read_parquet(coefficients_path,
                                   columns=[c for c in pq.read_schema(coefficients_path).names if c in wanted])
    replicates = np.load(replicates_path, mmap_mode="r")
    if replicates.ndim != 2 or replicates.shape[1] != len(mask) or not _same_edges(mask, coefficients):
        raise InputError(f"{replicates_path} ({replicates.shape}) does not match the {len(mask)} prior edges of "
                         f"{mask_path} and {coefficients_path}; rerun the fit (snakemake --forcerun fit_grn)")
    active = tested_edges(mask, coefficients)["active"].to_numpy(dtype=bool)
    weight = np.where(active, coefficients["weight"].to_numpy(dtype=np.float64), np.nan)
    return Replicates(mask["tf"].to_numpy(), mask["target_gene"].to_numpy(), weight, replicates, active)


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def differential_schema():
    """The Arrow schema of :data:`DIFFERENTIAL_COLUMNS`: what a unit's file has even without rows."""
    import pyarrow as pa

    text = {"transition_1", "transition_2", "tf", "target_gene", "se_method"}
    return pa.schema([(c, pa.string() if c in text else pa.float64()) for c in DIFFERENTIAL_COLUMNS])


def se_method(n_boot: int, prior_df: float | None = None, factors: Sequence[str] = DEFAULT_MODERATION) -> str:
    """What ``std_error`` is, as recorded in the output's ``se_method`` column: ``prior_df`` None
    when it was not moderated."""
    method = f"cell bootstrap, joint for both transitions, {n_boot} replicates"
    if prior_df is None:
        return method
    over = " + ".join("target" if f == "target_gene" else f for f in factors) or "global"
    df = "infinite" if np.isinf(prior_df) else f"{prior_df:.0f}"
    return f"{method}; moderated (empirical Bayes, prior over {over}, prior df {df})"


@dataclass(frozen=True)
class ModeratedVariances:
    """Posterior variances of :func:`moderate_variances`: ``prior_df`` is ``d0`` (``inf``: no
    spread beyond chi-square noise), None when the edges were too few to moderate."""

    variance: np.ndarray
    prior_df: float | None

    def test_df(self, df: float) -> float:
        """Degrees of freedom of the t test on the moderated variance: ``d + d0``."""
        return df + (self.prior_df or 0.0)


def moderate_variances(variance: np.ndarray, df: float, factors: Sequence[np.ndarray] = ()) -> ModeratedVariances:
    """Empirical-Bayes moderated variances (Smyth 2004, Stat Appl Genet Mol Biol 3:3; limma's
    ``squeezeVar`` with a covariate-dependent prior): ``(d0 s0^2 + d s^2) / (d0 + d)``.

    ``variance`` holds the ``s^2`` estimated on ``df`` degrees of freedom each; ``factors`` are
    labels per entry (e.g. the TF of each edge) of an additive model of the prior mean of
    ``log s^2`` (none: one global prior; levels with fewer than :data:`MIN_LEVEL_EDGES` entries get
    no effect of their own). Non-finite variances stay NaN; zero ones are left out of the fit but
    moderated. Returns the input unchanged (``prior_df`` None) when fewer than
    :data:`MIN_RESIDUAL_DF` residual df are left for the prior.
    """
    from scipy import special  # lazily: about a second of start-up for the jobs that never test

    s2 = np.asarray(variance, dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(s2))
    in_fit = s2[finite] > 0  # log(0): zero variances get the prior of their levels, not a say in it
    codes = [_pooled_levels(np.asarray(f)[finite], np.asarray(f)[finite][in_fit]) for f in factors]
    residual_df = int(in_fit.sum()) - _parameter_count([c[in_fit] for c in codes])
    if residual_df < MIN_RESIDUAL_DF:
        return ModeratedVariances(s2.copy(), None)
    # E[log s^2] = log sigma^2 + digamma(d/2) - log(d/2): remove the bias so the fit is of log sigma^2
    z = np.log(s2[finite][in_fit]) - special.digamma(df / 2) + np.log(df / 2)
    mean = _additive_fit(z, codes, in_fit)
    # what is left beyond the chi-square's own spread of log s^2 (trigamma(d/2)) is the prior's
    excess = ((z - mean[in_fit]) ** 2).sum() / residual_df - special.polygamma(1, df / 2)
    prior_df = 2 * _trigamma_inverse(excess) if excess > 0 else np.inf
    out = np.full(len(s2), np.nan)
    if np.isinf(prior_df):
        out[finite] = np.exp(mean)
    else:
        prior = np.exp(mean + special.digamma(prior_df / 2) - np.log(prior_df / 2))
        out[finite] = (prior_df * prior + df * s2[finite]) / (prior_df + df)
    return ModeratedVariances(out, float(prior_df))


def _pooled_levels(labels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Integer codes of ``labels`` (e.g. TF names): ``1..`` for the levels with at least
    :data:`MIN_LEVEL_EDGES` entries in ``reference``, 0 for the rest (no effect of their own)."""
    levels, counts = np.unique(reference, return_counts=True)
    return pd.Index(levels[counts >= MIN_LEVEL_EDGES]).get_indexer(labels) + 1


def _parameter_count(codes: Sequence[np.ndarray]) -> int:
    """Parameters of the additive model: the mean and one effect per level (codes > 0) present.
    With two crossed factors that is above the rank by their connected components (usually one),
    which errs on the safe side: fewer residual df, a larger spread, a smaller prior df."""
    return 1 + sum(len(np.unique(c[c > 0])) for c in codes)


def _additive_fit(z: np.ndarray, codes: Sequence[np.ndarray], used: np.ndarray, tol: float = 1e-10,
                  max_iter: int = 200) -> np.ndarray:
    """Fit ``z ~ mean + factor effects`` on the entries ``used`` (``z`` holds only those) by
    backfitting, and return the fitted values of all entries.

    The mean is that of ``z``, and level 0 (the small levels pooled by :func:`_pooled_levels`) and
    levels no used entry has get effect 0, so their entries get the overall prior rather than one
    fitted to their own few variances. With one factor a level's fit is its mean (one pass).
    """
    mean = z.mean()
    fit_codes = [c[used] for c in codes]
    effects = [np.zeros(int(c.max(initial=0)) + 1) for c in codes]
    counts = [np.maximum(np.bincount(c, minlength=len(e)), 1) for c, e in zip(fit_codes, effects)]
    fitted = np.full(len(z), mean)
    for _ in range(max_iter):
        previous = fitted
        for k, c in enumerate(fit_codes):
            others = sum((e[o] for j, (e, o) in enumerate(zip(effects, fit_codes)) if j != k), np.zeros(len(z)))
            effects[k] = np.bincount(c, z - mean - others, minlength=len(effects[k])) / counts[k]
            effects[k][0] = 0.0
        fitted = mean + sum((e[c] for e, c in zip(effects, fit_codes)), np.zeros(len(z)))
        if len(codes) < 2 or np.abs(fitted - previous).max() < tol:
            break
    return mean + sum((e[c] for e, c in zip(effects, codes)), np.zeros(len(used)))


def _trigamma_inverse(x: float) -> float:
    """``y`` with ``trigamma(y) = x``: limma's Newton iteration (Smyth 2004, appendix), from
    ``0.5 + 1/x``, on which it converges monotonically."""
    from scipy import special

    if x > 1e7:
        return 1 / np.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(50):
        trigamma = special.polygamma(1, y)
        step = trigamma * (1 - trigamma / x) / special.polygamma(2, y)
        y += step
        if -step / y < 1e-8:
            break
    return float(y)


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


def _check_same_edges(transition_1: str, first, transition_2: str, second) -> None:
    if len(first.tf) != len(second.tf) or not (np.array_equal(first.tf, second.tf)
                                               and np.array_equal(first.target_gene, second.target_gene)):
        raise InputError(f"transitions {transition_1} and {transition_2} have masks over different prior edges; "
                         "rerun both from the same prepared prior")


def _pair_table(transition_1: str, first, transition_2: str, second, both: np.ndarray, variance: np.ndarray,
                df: float, method: str) -> pd.DataFrame:
    """:data:`DIFFERENTIAL_COLUMNS` over the edges ``both`` given the variance of each difference and
    the df of its t test (``inf``: the normal)."""
    w1, w2 = first.weight[both], second.weight[both]
    difference = w2 - w1
    std_error = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, difference / std_error, np.sign(difference) * np.inf)
    z[(std_error == 0) & (difference == 0)] = 0.0
    pvalue = _two_sided_t(difference, std_error, df)
    return pd.DataFrame({
        "transition_1": transition_1, "transition_2": transition_2, "tf": first.tf[both],
        "target_gene": first.target_gene[both], "weight_1": w1, "weight_2": w2, "difference": difference,
        "std_error": std_error, "z": z, "pvalue": pvalue, "qvalue": benjamini_hochberg(pvalue), "se_method": method,
    }, columns=DIFFERENTIAL_COLUMNS)


def pair_test(transition_1: str, first: Replicates, transition_2: str, second: Replicates,
              moderation: Sequence[str] | None = DEFAULT_MODERATION) -> pd.DataFrame:
    """The differential table of one pair (:data:`DIFFERENTIAL_COLUMNS`), over the edges active in
    both, with the bootstrap's standard error; ``first`` and ``second`` must come from the same
    counts (the same seed) to be joint.

    ``moderation``: the columns (``tf``, ``target_gene``) of the prior's model in
    :func:`moderate_variances` over the pair's edges, ``()`` for one global prior, None for the
    bootstrap's own standard error and a t on ``n_boot - 1`` df.
    """
    _check_same_edges(transition_1, first, transition_2, second)
    n_boot = first.replicates.shape[0]
    if second.replicates.shape[0] != n_boot or n_boot < 2:
        raise ValueError("both transitions need the same n_boot >= 2 bootstrap replicates")
    both = np.flatnonzero(first.active & second.active)
    edges = {"tf": first.tf[both], "target_gene": first.target_gene[both]}
    variance = _difference_variance(first.replicates, second.replicates, both)
    moderated = ModeratedVariances(variance, None) if moderation is None else \
        moderate_variances(variance, n_boot - 1, [edges[column] for column in moderation])
    return _pair_table(transition_1, first, transition_2, second, both, moderated.variance,
                       moderated.test_df(n_boot - 1), se_method(n_boot, moderated.prior_df, moderation or ()))


# --------------------------------------------------------------------------------------------
# Analytic standard error: the cell-clustered infinitesimal jackknife
# --------------------------------------------------------------------------------------------


def analytic_supported(fit_config: Mapping[str, Any]) -> bool:
    """Whether :func:`transition_influence` covers the fit: ridge without ``standardize`` (whose
    scale would depend on the resampled cells too) and without ``self_term`` (one more column per
    target); the other fits take the bootstrap."""
    from .options import FitOptions

    options = FitOptions.from_config(dict(fit_config))
    return options.solver == "ridge" and not options.standardize and not options.self_term


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
    another transition needs: the ridge system ``X_c'X_c + alpha I`` (TFs x TFs), the mask and the
    :class:`ClusterInfluence` of the clusters it shares with the transitions it is paired with."""

    tf: np.ndarray
    target_gene: np.ndarray
    weight: np.ndarray  # (E,) float64, NaN where inactive
    active: np.ndarray  # (E,) bool
    variance: np.ndarray  # (E,) float64: sum over clusters of the within-cluster variance of the influences
    system: np.ndarray  # (p, p) float64
    edge_tf: np.ndarray  # (E,) row of each prior edge in ``system``
    edge_target: np.ndarray  # (E,) column of each prior edge among the targets
    clusters: dict[str, ClusterInfluence]


def _row_cells(mapping: pd.DataFrame, data: TransitionData, split: str = EVERY_PAIR) -> np.ndarray:
    """Index of the resampled cell of each regression row of ``split`` (row order of
    :meth:`TransitionData.design`) in the source cells followed by the target cells: the row's
    own cell in a same-cell design, its source cell in a mapped design (:func:`row_weights`)."""
    part = split_rows(mapping, split)
    _, pair_row = np.unique(part["pair"].to_numpy(), return_inverse=True)
    first = np.unique(pair_row, return_index=True)[1]
    return _positions(part["source_cell"].to_numpy()[first], data.source.names, data.target.names)


def _cluster_parts(x: np.ndarray, y, coef, intercept: np.ndarray, row_cell: np.ndarray,
                   bounds: Mapping[str, tuple[int, int]]) -> dict[str, ClusterInfluence]:
    """Per cluster (``bounds``: label -> its range of cell indices), the cells' centred inputs and
    summed residuals ``y - intercept - x W``, one block of targets at a time."""
    from scipy import sparse

    from .solvers import target_blocks

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


def transition_influence(data: TransitionData, mapping: pd.DataFrame, fit_config: Mapping[str, Any],
                         source_cluster: str, target_cluster: str, keep: Sequence[str] = (), seed: int = 0,
                         transition: str = "") -> Influence:
    """The network's ridge fit of a transition (as :func:`~transgrn.fit.fit_transition`: same solver
    seed, so the same alpha and ``weight``; every pair) and the infinitesimal-jackknife variance of
    each weight over the bootstrap's cells.

    For target ``j`` with prior TFs ``S``, ``w = (X_S'X_S + alpha I)^{-1} X_S'y`` (``X`` and ``y``
    centred: the intercept is not penalized). Giving cell ``c`` the weight ``1 + eps`` moves ``w`` by
    ``eps IF_c``, ``IF_c = (X_S'X_S + alpha I)^{-1} x_c e_c`` with ``e_c`` the summed residuals of the
    cell's rows (centring moves nothing: the residuals sum to 0); each cluster's counts of the
    stratified bootstrap have covariance ``I - 11'/n``, so the variance is, per cluster, the sum of
    squares of the ``IF_c`` about their mean over its ``n`` cells. ``keep``: the clusters whose cell
    influences are kept for :func:`analytic_pair_test`'s covariances."""
    from scipy import sparse

    mask = data.design_mask(False)
    _, main = _network_fit(data, mapping, {**fit_config, "self_term": False}, role_seed(seed, transition))
    x, y = data.design(mapping, EVERY_PAIR, False, dense=False)
    x = np.asarray(x, dtype=np.float64)
    coef = sparse.csc_matrix((main.edge_coef_, np.nonzero(mask)), shape=mask.shape)
    n_source = len(data.source.names)
    bounds = {source_cluster: (0, n_source), target_cluster: (n_source, n_source + len(data.target.names))}
    parts = _cluster_parts(x, y, coef, np.asarray(main.intercept_, np.float64), _row_cells(mapping, data), bounds)
    xc = x - x.mean(0)
    system = xc.T @ xc
    system[np.diag_indices_from(system)] += main.alpha_
    influence = Influence(data.edges["tf"].to_numpy(), data.edges["target_gene"].to_numpy(),
                          np.where(data.edge_active, main.coef_at(data.edge_tf, data.edge_target), np.nan),
                          data.edge_active.copy(), np.zeros(len(data.edge_active)), system, data.edge_tf,
                          data.edge_target, {})
    for part in parts.values():
        if len(part.cells):  # a mapped design's target cells have no rows: not resampled
            influence.variance += _influence_covariance(influence, part, influence, part)
    influence.variance[~influence.active] = np.nan
    influence.clusters = {label: parts[label] for label in keep if label in parts}
    return influence


def _target_supports(influence: Influence, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The active edges of each of ``targets`` (ids into the prior edges), padded: ``(g, k)`` edge ids
    and whether each slot is real."""
    active = np.flatnonzero(influence.active & np.isin(influence.edge_target, targets))
    slot_target = pd.Index(targets).get_indexer(influence.edge_target[active])
    order = np.lexsort((influence.edge_tf[active], slot_target))
    active, slot_target = active[order], slot_target[order]
    sizes = np.bincount(slot_target, minlength=len(targets))
    k = int(sizes.max(initial=0))
    slot = np.arange(len(active)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    edges = np.zeros((len(targets), max(k, 1)), dtype=np.int64)
    valid = np.zeros(edges.shape, dtype=bool)
    edges[slot_target, slot], valid[slot_target, slot] = active, True
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
    cells (a cell without rows in a transition has influence 0 there). 0 for edges inactive in
    either. Targets are taken in groups whose influences fill about ``budget`` bytes."""
    from .solvers import _group_targets, block_bytes

    out = np.zeros(len(first.active))
    n_targets = int(max(first.edge_target.max(initial=-1), second.edge_target.max(initial=-1))) + 1
    sizes = np.maximum(*(np.bincount(t.edge_target[t.active], minlength=n_targets) for t in (first, second)))
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
    _check_same_edges(transition_1, first, transition_2, second)
    variance = first.variance + second.variance
    for label in sorted(set(first.clusters) & set(second.clusters)):
        variance -= 2 * _influence_covariance(first, first.clusters[label], second, second.clusters[label])
    both = np.flatnonzero(first.active & second.active)
    # a variance that rounding pushes below 0 (identical fits) is 0
    return _pair_table(transition_1, first, transition_2, second, both, np.maximum(variance[both], 0.0),
                       np.inf, analytic_se_method())


# --------------------------------------------------------------------------------------------
# The unit of work
# --------------------------------------------------------------------------------------------

Loader = Callable[[str], tuple[TransitionData, pd.DataFrame]]


SE_METHODS = ("analytic", "bootstrap")


def differential_unit(pairs: pd.DataFrame, transitions: pd.DataFrame, load: Loader, fit_config: Mapping[str, Any],
                      n_boot: int = 20, seed: int = 0, max_qvalue: float = 1.0, spill_dir: str | Path | None = None,
                      max_bytes: int = DEFAULT_MAX_BYTES, method: str = "bootstrap",
                      replicates: Callable[[str], Replicates] | None = None) -> Iterator[pd.DataFrame]:
    """The differential tables of ``pairs`` (rows of :func:`transition_pairs`, e.g. those of one or
    several units), one pair at a time, for a streaming writer.

    ``load(transition)`` returns the transition's :class:`TransitionData` and main mapping (e.g.
    :func:`~transgrn.design.load_transition_data` and the ``mapping_main.parquet``); it is called once
    per transition, which is fitted once (:func:`transition_influence` for ``method="analytic"``, when
    :func:`analytic_supported`; :func:`transition_replicates` otherwise) whatever its number of
    pairs. What a transition keeps for its pairs is held in memory up to ``max_bytes`` in all, beyond
    that written to ``.npy`` files in ``spill_dir`` (a temporary directory when None) and
    memory-mapped. ``max_qvalue < 1`` keeps only the rows with ``qvalue <= max_qvalue`` (after BH over
    all the pair's edges), for atlas-sized runs.

    ``replicates(transition)``, when given, returns the transition's bootstrap replicates as the fit
    job wrote them (:func:`read_replicates`, the workflow's way): the bootstrap then refits nothing
    and ``load`` is not called.
    """
    if method not in SE_METHODS:
        raise ConfigError(f"differential.se_method: unknown method {method!r}; choose one of {list(SE_METHODS)}")
    analytic = method == "analytic" and analytic_supported(fit_config)
    if method == "analytic" and not analytic:
        logging.info("differential: the analytic standard error covers ridge without standardize or self_term; "
                     "using the joint cell bootstrap")
    if not analytic and n_boot < 2:
        raise ConfigError("differential.n_boot must be at least 2 to estimate a standard error")
    clusters = transitions.set_index("transition")[["source_cluster", "target_cluster"]]
    shared = _shared_clusters(pairs, clusters)
    needed = list(dict.fromkeys([*pairs["transition_1"], *pairs["transition_2"]]))
    with tempfile.TemporaryDirectory(dir=spill_dir) as spill:
        store: dict[str, Any] = {}
        held = 0
        for transition in needed:
            if replicates is not None and not analytic:  # memory-mapped from the fit's file already
                store[transition] = replicates(transition)
                continue
            data, mapping = load(transition)
            source, target = clusters.loc[transition]
            if analytic:
                fitted = transition_influence(data, mapping, fit_config, source, target, shared[transition], seed,
                                              transition)
            else:
                fitted = transition_replicates(data, mapping, fit_config,
                                               cluster_counts(len(data.source.names), n_boot, seed, source),
                                               cluster_counts(len(data.target.names), n_boot, seed, target),
                                               seed, transition)
            del data, mapping  # before the next transition loads: two transitions' data at once otherwise
            held += _held_bytes(fitted)
            if held > max_bytes:
                _spill(fitted, Path(spill) / str(len(store)))
            store[transition] = fitted
            logging.info("differential: fitted %s (%d active edges)", transition, int(fitted.active.sum()))
        test = analytic_pair_test if analytic else pair_test
        for pair in pairs.itertuples(index=False):
            table = test(pair.transition_1, _mapped_anew(store[pair.transition_1]),
                         pair.transition_2, _mapped_anew(store[pair.transition_2]))
            yield table[table["qvalue"] <= max_qvalue].reset_index(drop=True) if max_qvalue < 1 else table
        store.clear()  # release the memory maps before the directory goes


def _shared_clusters(pairs: pd.DataFrame, clusters: pd.DataFrame) -> dict[str, list[str]]:
    """Per transition, the clusters it shares with a transition it is paired with (sorted): those
    whose cell influences its pairs' covariances need."""
    shared: dict[str, set] = {}
    for pair in pairs.itertuples(index=False):
        common = set(clusters.loc[pair.transition_1]) & set(clusters.loc[pair.transition_2])
        for transition in (pair.transition_1, pair.transition_2):
            shared.setdefault(transition, set()).update(common)
    return {transition: sorted(labels) for transition, labels in shared.items()}


def _held_bytes(fitted) -> int:
    if isinstance(fitted, Replicates):
        return fitted.replicates.nbytes
    return fitted.system.nbytes + sum(part.x.nbytes + part.residual.nbytes for part in fitted.clusters.values())


def _spill(fitted, stem: Path) -> None:
    """Write the large arrays of ``fitted`` (replicates, or an influence's system and cluster arrays) to
    ``.npy`` files named from ``stem`` and replace them by memory maps."""
    if isinstance(fitted, Replicates):
        fitted.replicates = _spilled(fitted.replicates, stem.with_suffix(".npy"))
        return
    fitted.system = _spilled(fitted.system, Path(f"{stem}_system.npy"))
    for index, label in enumerate(fitted.clusters):
        part = fitted.clusters[label]
        part.x = _spilled(part.x, Path(f"{stem}_{index}_x.npy"))
        part.residual = _spilled(part.residual, Path(f"{stem}_{index}_residual.npy"))


def _spilled(array: np.ndarray, path: Path) -> np.ndarray:
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def _anew(array: np.ndarray) -> np.ndarray:
    return np.load(array.filename, mmap_mode="r") if isinstance(array, np.memmap) else array


def _mapped_anew(fitted):
    """``fitted`` with its spilled arrays in memory maps of their own, unmapped when the pair is
    done: the pages a pair reads then leave the job's resident memory, instead of every spilled
    transition's staying there (+140 MB at 8 transitions, benchmarks/scale.py)."""
    if isinstance(fitted, Replicates):
        return replace(fitted, replicates=_anew(fitted.replicates))
    clusters = {label: replace(part, x=_anew(part.x), residual=_anew(part.residual))
                for label, part in fitted.clusters.items()}
    return replace(fitted, system=_anew(fitted.system), clusters=clusters)
