"""Differential edges between two transitions, with a standard error that accounts for shared cells.

For a pair of transitions ``(t1, t2)`` and every prior edge estimable (``active``) in both, the
test reports ``weight_1``, ``weight_2`` (the main fits, the ``weight`` of each transition's
``coefficients.parquet``), ``difference = weight_2 - weight_1`` (what changes from ``t1`` to
``t2``: for a consecutive pair ``A -> B, B -> C``, positive where the edge gains weight along the
path), its ``std_error``, ``z = difference / std_error``, a two-sided ``pvalue`` and the
Benjamini-Hochberg ``qvalue`` over the pair's edges.

Standard error: a cell bootstrap, joint for both fits
-----------------------------------------------------
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
  does), and ``std_error`` is the standard deviation over replicates of ``w2_b - w1_b``.

``pvalue`` compares ``z`` with a t distribution with ``n_boot - 1`` degrees of freedom rather
than the normal: the standard error is itself estimated from ``n_boot`` replicates, and with 20
of them the normal would call about a third more null edges at p < 0.05. It is the same test as
:mod:`transgrn.confidence`'s ``pvalue_z``. The bootstrap keeps the design's choices fixed (the
lag of a lagged design, alpha): it measures the sampling error of the weights given those choices.

What the test compares is the fitted weights, so a difference can also come from a change in
the cells rather than in the regulation (another TF variance changes how much ridge shrinks, or
how a correlated decoy shares the signal); ``benchmarks/differential.py`` measures how often.

Batching (the unit of work)
---------------------------
A pair is computed in the unit of one *shared cluster* (:func:`transition_pairs`'s ``unit``: the
common source of siblings, the middle cluster of a consecutive pair): the unit refits each of its
transitions once (``n_boot`` replicates, with the common counts) and then forms every pair from
those replicates (:func:`differential_unit`). Because counts depend only on the cluster, a pair
gets the same answer in any unit, so the assignment is free to follow the schedule.

Memory at atlas scale (40 clusters, ``transitions.mode: all``: 1,560 transitions, 39 outgoing
per cluster, so 40 x C(39, 2) = 29,640 unordered sibling pairs; E = 500,000 prior edges per
transition; B = 20 replicates):

* replicates of one transition: B x E float32 = 20 x 500,000 x 4 B = 40 MB (+ E float64 main
  weights, 4 MB). A sibling unit holds 39 of them, 1.6 GB; so beyond ``max_bytes`` (default
  256 MB) they are spilled to ``.npy`` files and memory-mapped (``spill_dir``), 1.6 GB of disk;
* refitting one transition (:meth:`MaskedRidge.fit_weighted_batch`) holds the design (rows x
  TFs float64, 5,000 x 1,500 x 8 B = 60 MB), B x E float64 cross-products and weights
  (2 x 80 MB), and one 32 MB block of Gram matrices -- about 300 MB by this count, but measured
  at about 1.05 GB (the cluster slices, pandas frames and allocator included), the same as
  ``fit_grn`` with ``fit.bootstrap: 20``;
* one pair: the two transitions' replicates (2 x 40 MB, read from the map), their difference
  (40 MB) and the output frame (E rows x 12 columns, about 100 MB with the two string columns):
  about 250 MB.

Measured (``benchmarks/scale.py --steps differential``, 2,500 cells a cluster, 20,000 genes,
1,500 TFs, 500,000 edges): a unit peaks at 1.35 GiB with 3 transitions and 1.56 GiB with 8 (about
40 MB more a transition until ``max_bytes``), so about 1.5 GB whatever its number of pairs: above
the 1 GB the other per-transition jobs keep to. Its time is ``T`` refits plus
``T (T - 1) / 2`` pair tests of O(B E) each. Note the output size: every active edge of every
pair is a row, 29,640 x 500,000 = 1.5e10 rows for every sibling pair of such an atlas, so at
that scale the rule should keep only rows with ``qvalue <= max_qvalue`` (:func:`differential_unit`).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .confidence import _refit_weights, _two_sided_t, benjamini_hochberg, bootstrap_counts
from .errors import ConfigError, InputError
from .design import TransitionData
from .fit import make_transition_solver
from .seeds import derive_seed, rng_for
from .solvers import values_at

PAIR_KINDS = ("siblings", "consecutive", "all", "explicit")
PAIR_COLUMNS = ["transition_1", "transition_2", "relation", "unit"]
DIFFERENTIAL_COLUMNS = ["transition_1", "transition_2", "tf", "target_gene", "weight_1", "weight_2", "difference",
                        "std_error", "z", "pvalue", "qvalue", "se_method"]
DEFAULT_MAX_BYTES = 256 * 2**20


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
                split: str = "train") -> np.ndarray:
    """Bootstrap weight of each regression row of ``split`` (``n_boot x rows`` float32, in the row
    order of :meth:`TransitionData.design`: pairs sorted by id): the count of the pair's source
    cell -- in a same-cell design the row's own cell, in a mapped design its input.

    Weighting a mapped pair by its target cell's count too (Owen's pigeonhole bootstrap of the
    crossed source x target design) was tried: with pairs sampled sparsely from the coupling it
    counts the residual variance about three times, and null p-values pile up near 1 (0.3% below
    0.05 for ``ot``, where the source count alone gives about 6%).
    """
    part = mapping[mapping["split"] == split]
    _, pair_row = np.unique(part["pair"].to_numpy(), return_inverse=True)
    first = np.unique(pair_row, return_index=True)[1]
    cells = part["source_cell"].to_numpy()[first]
    return np.hstack([source_counts, target_counts])[:, _positions(cells, data.source.names, data.target.names)]


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


def transition_replicates(data: TransitionData, mapping: pd.DataFrame, fit_config: Mapping[str, Any],
                          source_counts: np.ndarray, target_counts: np.ndarray, seed: int = 0,
                          transition: str = "") -> Replicates:
    """Refit a transition on its training rows weighted by the cell counts (``n_boot x cells`` of
    its source and target clusters, :func:`cluster_counts`), and its main fit.

    The main fit repeats :func:`~transgrn.fit.fit_transition`'s (same solver seed, so the same
    alpha and the same ``weight`` as ``coefficients.parquet``); the replicates keep its alpha.
    """
    self_term = bool(fit_config.get("self_term", False))
    mask = data.design_mask(self_term)
    x, y = data.design(mapping, "train", self_term, dense=False)
    weights = row_weights(mapping, data, source_counts, target_counts)
    role_seed = int(rng_for(seed, transition, "fit", "main").integers(2**31))
    main = make_transition_solver(dict(fit_config), role_seed).fit(x, y, mask)
    fixed = {**fit_config, "alpha": getattr(main, "alpha_", fit_config.get("alpha"))}
    replicates, _ = _refit_weights(lambda: make_transition_solver(fixed, role_seed), x, y, mask,
                                   weights.astype(np.float64))
    # position of each prior edge among the mask's edges (np.nonzero order); inactive -> -1
    position = values_at(mask, np.arange(1, int(mask.sum()) + 1, dtype=np.float64), data.edge_tf,
                         data.edge_target).astype(np.int64) - 1
    active = data.edge_active & (position >= 0)
    out = np.full((len(weights), len(active)), np.nan, dtype=np.float32)
    out[:, active] = replicates[:, position[active]]
    weight = np.where(active, main.coef_at(data.edge_tf, data.edge_target), np.nan)
    return Replicates(data.edges["tf"].to_numpy(), data.edges["target_gene"].to_numpy(), weight, out, active)


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def differential_schema():
    """The Arrow schema of :data:`DIFFERENTIAL_COLUMNS`: what a unit's file has even without rows."""
    import pyarrow as pa

    text = {"transition_1", "transition_2", "tf", "target_gene", "se_method"}
    return pa.schema([(c, pa.string() if c in text else pa.float64()) for c in DIFFERENTIAL_COLUMNS])


def se_method(n_boot: int) -> str:
    """What ``std_error`` is, as recorded in the output's ``se_method`` column."""
    return f"cell bootstrap, joint for both transitions, {n_boot} replicates"


def pair_test(transition_1: str, first: Replicates, transition_2: str, second: Replicates) -> pd.DataFrame:
    """The differential table of one pair (:data:`DIFFERENTIAL_COLUMNS`), over the edges active in
    both; ``first`` and ``second`` must come from the same counts (the same seed) to be joint."""
    if len(first.tf) != len(second.tf) or not (np.array_equal(first.tf, second.tf)
                                               and np.array_equal(first.target_gene, second.target_gene)):
        raise InputError(f"transitions {transition_1} and {transition_2} have masks over different prior edges; "
                         "rerun both from the same prepared prior")
    n_boot = first.replicates.shape[0]
    if second.replicates.shape[0] != n_boot or n_boot < 2:
        raise ValueError("both transitions need the same n_boot >= 2 bootstrap replicates")
    both = np.flatnonzero(first.active & second.active)
    w1, w2 = first.weight[both], second.weight[both]
    difference = w2 - w1
    spread = np.asarray(second.replicates[:, both], dtype=np.float64) - first.replicates[:, both]
    std_error = spread.std(0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, difference / std_error, np.sign(difference) * np.inf)
    z[(std_error == 0) & (difference == 0)] = 0.0
    pvalue = _two_sided_t(difference, std_error, n_boot - 1)
    return pd.DataFrame({
        "transition_1": transition_1, "transition_2": transition_2,
        "tf": first.tf[both], "target_gene": first.target_gene[both],
        "weight_1": w1, "weight_2": w2, "difference": difference, "std_error": std_error, "z": z,
        "pvalue": pvalue, "qvalue": benjamini_hochberg(pvalue), "se_method": se_method(n_boot),
    }, columns=DIFFERENTIAL_COLUMNS)


# --------------------------------------------------------------------------------------------
# The unit of work
# --------------------------------------------------------------------------------------------

Loader = Callable[[str], tuple[TransitionData, pd.DataFrame]]


def differential_unit(pairs: pd.DataFrame, transitions: pd.DataFrame, load: Loader, fit_config: Mapping[str, Any],
                      n_boot: int = 20, seed: int = 0, max_qvalue: float = 1.0, spill_dir: str | Path | None = None,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[pd.DataFrame]:
    """The differential tables of ``pairs`` (rows of :func:`transition_pairs`, usually those of one
    ``unit``), one pair at a time, for a streaming writer.

    ``load(transition)`` returns the transition's :class:`TransitionData` and main mapping (e.g.
    :func:`~transgrn.design.load_transition_data` and the ``mapping_main.parquet``); it is called once
    per transition, which is refitted once (:func:`transition_replicates`) whatever its number of
    pairs. Replicates are kept in memory up to ``max_bytes`` in all, beyond that written to
    ``.npy`` files in ``spill_dir`` (a temporary directory when None) and memory-mapped.
    ``max_qvalue < 1`` keeps only the rows with ``qvalue <= max_qvalue`` (after BH over all the
    pair's edges), for atlas-sized runs.
    """
    if n_boot < 2:
        raise ConfigError("differential.n_boot must be at least 2 to estimate a standard error")
    clusters = transitions.set_index("transition")[["source_cluster", "target_cluster"]]
    needed = list(dict.fromkeys([*pairs["transition_1"], *pairs["transition_2"]]))
    with tempfile.TemporaryDirectory(dir=spill_dir) as spill:
        store: dict[str, Replicates] = {}
        held = 0
        for transition in needed:
            data, mapping = load(transition)
            source, target = clusters.loc[transition]
            fitted = transition_replicates(data, mapping, fit_config,
                                           cluster_counts(len(data.source.names), n_boot, seed, source),
                                           cluster_counts(len(data.target.names), n_boot, seed, target),
                                           seed, transition)
            held += fitted.replicates.nbytes
            if held > max_bytes:
                fitted.replicates = _spilled(fitted.replicates, Path(spill) / f"{len(store)}.npy")
            store[transition] = fitted
            logging.info("differential: refitted %s (%d replicates, %d active edges)", transition, n_boot,
                         int(fitted.active.sum()))
        for pair in pairs.itertuples(index=False):
            table = pair_test(pair.transition_1, store[pair.transition_1], pair.transition_2, store[pair.transition_2])
            yield table[table["qvalue"] <= max_qvalue].reset_index(drop=True) if max_qvalue < 1 else table
        store.clear()  # release the memory maps before the directory goes


def _spilled(array: np.ndarray, path: Path) -> np.ndarray:
    np.save(path, array)
    return np.load(path, mmap_mode="r")
