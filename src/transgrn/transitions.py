"""Which cluster-to-cluster transitions to model, and file-safe ids for them."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .columns import TRANSITION_COLUMNS, TRANSITION_SEPARATOR
from .errors import InputError

if TYPE_CHECKING:
    import anndata as ad

log = logging.getLogger(__name__)

SLUG_LENGTH = 40
# What a transition id looks like (``c00_stem_cell__c01_progenitor``); the Snakemake wildcard
# constraint in workflow/rules/common.smk must be the same pattern.


def cluster_ids(labels: Sequence[str]) -> dict[str, str]:
    """Map each cluster label to a file- and wildcard-safe id such as ``c03_fate_A``.

    The index prefix keeps ids unique when labels differ only in punctuation or script;
    the slug keeps them readable. Slugs never contain the transition separator ``__`` nor end in
    ``_`` (truncation can cut just after an underscore), so every id matches :data:`TRANSITION_PATTERN`.
    """
    width = max(2, len(str(len(labels) - 1)))
    ids = {}
    for index, label in enumerate(labels):
        ascii_label = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_label).strip("_")[:SLUG_LENGTH].rstrip("_")
        ids[label] = _without_periodic_tail(f"c{index:0{width}d}" + (f"_{slug}" if slug else ""))
    return ids


# Snakemake refuses a wildcard value that ends in a piece repeated 20 times or more (PeriodicWildcardError,
# its guard against endless recursion), and a transition id ends in its target cluster's id: a label such
# as 'AAAA...' or 'ab ab ab ...' keeps at most MAX_TAIL_REPEATS of its repeated piece. The index prefix
# keeps the ids unique.
MAX_TAIL_REPEATS = 9  # Snakemake refuses 20; a label ending in 10 or more repeats is cut to 9 of them
PERIODIC_TAIL = re.compile(rf"(.+?)\1{{{MAX_TAIL_REPEATS},}}$")


def _without_periodic_tail(cluster_id: str) -> str:
    match = PERIODIC_TAIL.search(cluster_id)
    if match is None:
        return cluster_id
    return (cluster_id[:match.start()] + match.group(1) * MAX_TAIL_REPEATS).rstrip("_")


def transition_id(source_id: str, target_id: str) -> str:
    return f"{source_id}{TRANSITION_SEPARATOR}{target_id}"


def listed(names: Iterable, limit: int = 10) -> str:
    """``a, b, c and 7 more``: names for a message, at most ``limit`` of them (a continuous column
    used as cluster labels would otherwise print hundreds)."""
    names = [str(n) for n in names]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _ordered_by_pseudotime(pseudotime_medians: Mapping[str, float]) -> list[str]:
    """The clusters by median pseudotime (equal medians by name; :func:`_warn_unordered` names them).
    All equal is an error: a constant pseudotime would chain the clusters alphabetically."""
    medians = pd.Series({str(c): float(m) for c, m in pseudotime_medians.items()})
    if len(medians) > 1 and medians.nunique() == 1:
        raise InputError(
            f"transitions.mode 'pseudotime': every cluster has the same median pseudotime ({medians.iloc[0]:g}), "
            "so the pseudotime does not order them (is data.pseudotime_key constant?). Give a pseudotime that "
            "differs between clusters (e.g. scanpy.tl.dpt) or list the transitions with transitions.mode: explicit")
    return sorted(pseudotime_medians, key=lambda c: (pseudotime_medians[c], str(c)))


def _pseudotime_chain(order: Sequence[str], small: Collection[str]) -> list[tuple[str, str]]:
    """Each cluster to the next in ``order`` (by median pseudotime), stepping over the ``small`` ones
    (below transitions.min_cells) so that one small cluster does not cut the chain in two. The links a
    small cluster would have had follow, so that they are listed as skipped with the reason."""
    kept = [c for c in order if c not in small]
    stepped_over = [(a, b) for a, b in zip(order[:-1], order[1:]) if a in small or b in small]
    return list(zip(kept[:-1], kept[1:])) + stepped_over


def _warn_unlinked_chain(order: Sequence[str], connectivities: pd.DataFrame, threshold: float) -> None:
    """Name the links of the pseudotime chain whose clusters are not neighbours in the cell graph
    (PAGA connectivity at most ``threshold``, where mode paga would not pair them): on a branching
    trajectory the chain runs from the end of one branch to the end of its sibling."""
    far = [f"'{a}' -> '{b}' ({float(connectivities.loc[a, b]):.2g})" for a, b in zip(order[:-1], order[1:])
           if float(connectivities.loc[a, b]) <= threshold]
    if far:
        log.warning("transitions.mode 'pseudotime': consecutive clusters of the pseudotime chain are not neighbours "
                    "in the cell graph (PAGA connectivity <= transitions.paga_threshold=%g): %s. A branching "
                    "trajectory's chain joins sibling branches; use transitions.mode: trajectory (a tree over the "
                    "cell graph, oriented by pseudotime), or list the transitions with transitions.mode: explicit",
                    threshold, listed(far))


# Below this probability that a cell of the later cluster is later in pseudotime than a cell of the earlier
# one (Vargha and Delaney's A, 2000, J Educ Behav Stat 25:101; 0.5 = no order, 1 = every cell later), the
# pseudotime does not order two clusters: 0.64 is their bound of a 'medium' effect. Unlike a test, it does
# not pass any small difference of many cells (clusters spread like the myoblast set's 24 h / 48 h / 72 h,
# medians 0.629, 0.629 and 0.622, give about 0.5: tests/test_transitions.py), and unlike a gap of medians
# it reads the spread within the clusters.
ORDER_MIN_PROBABILITY = 0.64


def later_probability(earlier: np.ndarray, later: np.ndarray) -> float:
    """How often a cell of ``later`` has a later pseudotime than a cell of ``earlier`` (ties count
    half): the Mann-Whitney U of ``later`` over the number of cell pairs."""
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(later, earlier).statistic) / (len(later) * len(earlier))


def _unordered(a: str, b: str, medians: Mapping[str, float], pseudotimes: Mapping[str, np.ndarray] | None) -> str:
    """Why the pseudotime does not order transition ``a -> b``, or '' where it does."""
    if medians[a] == medians[b]:
        return f"'{a}' -> '{b}' (the same median pseudotime, {medians[a]:.3g}: ordered by name)"
    if pseudotimes is None or not (len(pseudotimes[a]) and len(pseudotimes[b])):
        return ""
    probability = later_probability(pseudotimes[a], pseudotimes[b])
    if probability >= ORDER_MIN_PROBABILITY:
        return ""
    return (f"'{a}' -> '{b}' (median pseudotime {medians[a]:.3g} and {medians[b]:.3g}; a cell of '{b}' is later "
            f"than one of '{a}' in {probability:.0%} of pairs)")


def unordered_transitions(pairs: Iterable[tuple[str, str]], medians: Mapping[str, float],
                          pseudotimes: Mapping[str, np.ndarray] | None) -> list[str]:
    """The transitions whose direction the pseudotime does not give, each with why: equal medians,
    or (with the cells' ``pseudotimes``) a later cell in less than :data:`ORDER_MIN_PROBABILITY` of pairs."""
    return [reason for a, b in pairs if (reason := _unordered(a, b, medians, pseudotimes))]


def _warn_unordered(mode: str, pairs: Iterable[tuple[str, str]], medians: Mapping[str, float],
                    pseudotimes: Mapping[str, np.ndarray] | None) -> None:
    """One warning naming the :func:`unordered_transitions`."""
    reasons = unordered_transitions(pairs, medians, pseudotimes)
    if reasons:
        log.warning("transitions.mode '%s': the pseudotime does not order the clusters of %d transition(s), so "
                    "their direction%s is a guess: %s. Check data.pseudotime_key (e.g. scanpy.tl.dpt rooted in the "
                    "earliest cluster), merge clusters that are one state, or list the transitions with "
                    "transitions.mode: explicit", mode, len(reasons),
                    " and the chain's order" if mode == "pseudotime" else "", listed(reasons))


def _oriented(a: str, b: str, pseudotime_medians: Mapping[str, float]) -> tuple[str, str]:
    """Earlier -> later by median pseudotime; equal medians keep the given order."""
    return (b, a) if pseudotime_medians[b] < pseudotime_medians[a] else (a, b)


def _paga_pairs(clusters: Sequence[str], connectivities: pd.DataFrame, threshold: float,
                pseudotime_medians: Mapping[str, float] | None) -> list[tuple[str, str]]:
    """Cluster pairs connected in PAGA above ``threshold``: earlier -> later by median pseudotime
    when one is given (ties keep the clusters' order), otherwise both directions."""
    pairs = []
    for i, a in enumerate(clusters):
        for b in clusters[i + 1:]:
            if float(connectivities.loc[a, b]) <= threshold:
                continue
            if pseudotime_medians is None:
                pairs += [(a, b), (b, a)]
            else:
                pairs.append(_oriented(a, b, pseudotime_medians))
    return pairs


def _spanning_tree(clusters: Sequence[str], connectivities: pd.DataFrame,
                   pseudotime_medians: Mapping[str, float]) -> list[tuple[str, str]]:
    """The maximum spanning tree of the cluster graph (a forest where no edge joins its parts), as
    unordered pairs. Equal connectivities -- PAGA's are capped at 1, so a whole stretch of a branch
    ties -- go to the pair closer in median pseudotime (a trajectory steps to the next time, not over
    it), then by the clusters' order; so the tree is one and the same on every run."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    weight = connectivities.loc[list(clusters), list(clusters)].to_numpy(dtype=float)
    medians = np.array([pseudotime_medians[c] for c in clusters], dtype=float)
    i, j = np.triu_indices(len(clusters), k=1)
    linked = weight[i, j] > 0
    i, j = i[linked], j[linked]
    # Kruskal's tree depends only on the edges' order: strongest first, ties as above; ranks as weights
    order = np.lexsort((j, i, np.abs(medians[i] - medians[j]), -weight[i, j]))
    rank = np.empty(len(order))
    rank[order] = np.arange(1, len(order) + 1)
    tree = minimum_spanning_tree(sp.coo_matrix((rank, (i, j)), shape=(len(clusters),) * 2)).tocoo()
    return [(clusters[a], clusters[b]) for a, b in sorted(zip(tree.row, tree.col))]  # in the clusters' order


def _warn_parts(clusters: Sequence[str], connectivities: pd.DataFrame) -> None:
    """Name the parts of the cluster graph that no neighbour edge joins (no transition runs between them)."""
    from scipy.sparse.csgraph import connected_components

    n_parts, part = connected_components(
        sp.csr_matrix(connectivities.loc[list(clusters), list(clusters)].to_numpy(dtype=float) > 0), directed=False)
    if n_parts > 1:
        parts = [listed(repr(c) for c, p in zip(clusters, part) if p == k) for k in range(n_parts)]
        log.warning("transitions.mode 'trajectory': no neighbour edge joins the clusters' %d parts (%s), so no "
                    "transition runs between them. Check data.cluster_key and the neighbour graph, or add the "
                    "transitions with transitions.mode: explicit", n_parts, "; ".join(f"[{p}]" for p in parts))


def _second_starts(clusters: Sequence[str], tree: Sequence[tuple[str, str]], connectivities: pd.DataFrame,
                   pseudotime_medians: Mapping[str, float]) -> list[tuple[str, str]]:
    """Where branches converge, the cluster graph has a loop and the tree cuts its weakest link; the
    cluster past the cut then has no earlier cluster in the oriented tree, as if a trajectory started
    there (bifurcating_converging on the Boolean track: the first link of one branch). Each such
    cluster that has a connected earlier cluster gets one transition from the most connected one
    (ties: the closer in median pseudotime, then the clusters' order)."""
    targets = {b for _, b in tree}
    added = []
    for late in clusters:
        earlier = [c for c in clusters if pseudotime_medians[c] < pseudotime_medians[late]
                   and float(connectivities.loc[c, late]) > 0]
        if late in targets or not earlier:
            continue
        added.append((min(earlier, key=lambda c: (-float(connectivities.loc[c, late]),
                                                  pseudotime_medians[late] - pseudotime_medians[c])), late))
    return added


def _without_small(edges: Sequence[tuple[str, str]], small: Sequence[str]) -> list[tuple[str, str]]:
    """The oriented tree without the ``small`` clusters, each one's earlier tree neighbours linked to its
    later ones, as the pseudotime chain steps over them (one small cluster does not cut a branch)."""
    edges = list(edges)
    for cluster in small:
        into = [a for a, b in edges if b == cluster]
        out = [b for a, b in edges if a == cluster]
        edges = [(a, b) for a, b in edges if cluster not in (a, b)] + [(a, b) for a in into for b in out]
    return edges


def _trajectory_pairs(clusters: Sequence[str], connectivities: pd.DataFrame,
                      pseudotime_medians: Mapping[str, float], small: Collection[str]) -> list[tuple[str, str]]:
    """The spanning tree of the clusters, each edge earlier -> later by median pseudotime (as Slingshot
    and PAGA orient their trees), so sibling branch ends are not chained, with the :func:`_second_starts`
    of converging branches; clusters below transitions.min_cells stepped over. Their own edges follow,
    to be listed as skipped."""
    tree = [_oriented(a, b, pseudotime_medians) for a, b in _spanning_tree(clusters, connectivities,
                                                                           pseudotime_medians)]
    if not tree:
        raise InputError("transitions.mode 'trajectory': no neighbour edge joins two clusters, so the cluster "
                         "graph has no tree. Check data.cluster_key and the neighbour graph (scanpy.pp.neighbors), "
                         "or list the transitions with transitions.mode: explicit")
    _warn_parts(clusters, connectivities)
    tree += _second_starts(clusters, tree, connectivities, pseudotime_medians)
    stepped_over = [(a, b) for a, b in tree if a in small or b in small]
    return _without_small(tree, [c for c in clusters if c in small]) + stepped_over


PAGA_GROUPS = "_transgrn_cluster"
GRAPH_KEYS = ("connectivities", "distances")  # scanpy.pp.neighbors' obsp matrices; PAGA reads both


def _paga_input(obs_names: pd.Index, clusters: pd.Categorical, obsp: Mapping, neighbors: Mapping) -> ad.AnnData:
    """A bare AnnData with only what ``sc.tl.paga`` reads: the clusters (obs), the neighbour graph
    (``obsp['distances']``, whose edges PAGA counts, and ``obsp['connectivities']``) and
    ``uns['neighbors']['params']['n_neighbors']``.
    Whatever else the data carries (e.g. ``obsm['X_diffmap']`` without ``uns['diffmap_evals']``,
    which scanpy's Neighbors then looks up) cannot break PAGA."""
    import anndata as ad

    params = neighbors.get("params") if isinstance(neighbors, Mapping) else None
    # a number, or a one-element array in files written by older scanpy; anything else is left out
    # (scanpy then estimates n_neighbors from the graph)
    n_neighbors = np.asarray(params.get("n_neighbors") if isinstance(params, Mapping) else None).ravel()
    known = n_neighbors.size == 1 and np.issubdtype(n_neighbors.dtype, np.number)
    uns = {"neighbors": {"params": {"n_neighbors": int(n_neighbors[0])}} if known else {}}
    graph = {k: obsp[k] for k in GRAPH_KEYS}
    return ad.AnnData(obs=pd.DataFrame({PAGA_GROUPS: clusters}, index=obs_names), obsp=graph, uns=uns)


def _built_graph(adata, labelled: np.ndarray, matrix, seed: int):
    """scanpy's neighbour graph of the labelled cells: PCA of ``matrix`` (the expression in use), then
    ``pp.neighbors``. Returns the AnnData holding it (obsp and uns['neighbors'])."""
    import anndata as ad
    import scanpy as sc

    source = adata.X if matrix is None else matrix
    sub = ad.AnnData(X=source[np.flatnonzero(labelled)], obs=pd.DataFrame(index=adata.obs_names[labelled]))
    n_comps = max(1, min(50, sub.n_obs - 1, sub.n_vars - 1))
    sc.pp.pca(sub, n_comps=n_comps, random_state=seed)
    # Gaussian-kernel connectivities: the same kNN graph as scanpy's default (umap) weighting
    # for PAGA's purpose, without umap's numba compilation (~20 s in every checkpoint run)
    sc.pp.neighbors(sub, n_neighbors=min(15, sub.n_obs - 1), method="gauss", random_state=seed)
    return sub


def has_graph(adata) -> bool:
    """Whether the AnnData carries scanpy's neighbour graph (``uns['neighbors']``, both obsp matrices)."""
    return "neighbors" in adata.uns and all(k in adata.obsp for k in GRAPH_KEYS)


def paga_connectivities(adata, labels: pd.Series, matrix=None, seed: int = 0) -> pd.DataFrame:
    """scanpy's PAGA connectivities between clusters (clusters x clusters, 0 to 1).

    Uses the AnnData's neighbour graph where it has one (``uns['neighbors']`` and both ``obsp``
    matrices of ``pp.neighbors``); otherwise builds one with scanpy (PCA of ``matrix`` -- the
    expression in use -- then ``pp.neighbors``).
    Unlabelled cells (NaN in ``labels``) are left out. A failure inside scanpy is an InputError.
    """
    import scanpy as sc

    try:
        import igraph  # noqa: F401  (scanpy's PAGA needs it)
    except ImportError as exc:
        raise InputError("transitions.mode 'paga' and 'trajectory' need the Python package igraph: "
                         "pip install igraph") from exc
    labelled = labels.notna().to_numpy()
    own_graph = has_graph(adata)
    if own_graph:
        keep = np.flatnonzero(labelled)
        obsp = {k: adata.obsp[k][keep][:, keep] for k in GRAPH_KEYS}
        neighbors = adata.uns["neighbors"]
    else:
        built = _built_graph(adata, labelled, matrix, seed)
        obsp, neighbors = built.obsp, built.uns["neighbors"]
    clusters = pd.Categorical(labels[labelled]).remove_unused_categories()  # keeps the data's cluster order
    names = list(clusters.categories)
    graph = sp.coo_matrix(obsp["connectivities"])
    if not (clusters.codes[graph.row] != clusters.codes[graph.col]).any():
        # no neighbour edge joins two clusters (igraph then fails inside scanpy): nothing is connected
        return pd.DataFrame(0.0, index=names, columns=names)
    sub = _paga_input(adata.obs_names[labelled], clusters, obsp, neighbors)
    try:
        sc.tl.paga(sub, groups=PAGA_GROUPS)
    except Exception as exc:  # scanpy's own errors name its internals, not the setting to change
        where = ("the data's neighbour graph (obsp['connectivities'], uns['neighbors'])" if own_graph
                 else "the neighbour graph the checkpoint built")
        fix = ("recompute it with scanpy.pp.neighbors, or delete uns['neighbors'] so that the checkpoint builds "
               "one, or " if own_graph else "")
        raise InputError(f"transitions.mode 'paga': scanpy's PAGA failed on {where}: {type(exc).__name__}: {exc}. "
                         f"Fix: {fix}list the transitions with transitions.mode: explicit") from exc
    dense = np.asarray(sub.uns["paga"]["connectivities"].todense())
    return pd.DataFrame(dense, index=names, columns=names)


def _explicit_pairs(explicit: Sequence[Sequence], clusters: Sequence[str]) -> list[tuple[str, str]]:
    known = {str(c): c for c in clusters}
    pairs = []
    for pair in explicit:
        source, target = (str(x) for x in pair)
        unknown = [name for name in (source, target) if name not in known]
        if unknown:
            raise InputError(
                f"transitions.explicit: cluster(s) {', '.join(repr(u) for u in unknown)} in [{source}, {target}] "
                f"are not in the data (clusters: {listed(clusters)}); fix the names in config.yaml"
            )
        if source == target:
            raise InputError(f"transitions.explicit: [{source}, {target}] goes from a cluster to itself; "
                             "a transition needs two different clusters")
        pairs.append((known[source], known[target]))
    return list(dict.fromkeys(pairs))


GRAPH_MODES = ("paga", "trajectory")  # modes built on the cluster graph
ORIENTED_MODES = ("pseudotime", "paga", "trajectory")  # modes that take a transition's direction from the pseudotime


def cluster_graph(mode: str, adata, labels: pd.Series, matrix=None, seed: int = 0) -> pd.DataFrame | None:
    """The PAGA connectivities a transitions mode uses (:func:`paga_connectivities`): modes paga and
    trajectory are built on them (from the data's neighbour graph, or one built from the expression);
    mode pseudotime checks its chain against them where the data has a graph of its own (building one,
    a PCA and a neighbour search, is more than the chain needs), and goes on without where PAGA cannot
    run on it."""
    if mode in GRAPH_MODES:
        return paga_connectivities(adata, labels, matrix, seed)
    if mode != "pseudotime" or not has_graph(adata):
        return None
    try:
        return paga_connectivities(adata, labels, matrix, seed)
    except InputError as exc:
        log.warning("transitions.mode 'pseudotime': the chain is not checked against the data's neighbour graph: %s",
                    exc)
        return None


def candidate_pairs(
    clusters: Sequence[str],
    mode: str,
    explicit: Sequence[Sequence] = (),
    pseudotime_medians: Mapping[str, float] | None = None,
    paga: pd.DataFrame | None = None,
    paga_threshold: float = 0.1,
    small: Collection[str] = (),
) -> list[tuple[str, str]]:
    """Ordered (source, target) cluster pairs for a transitions mode (``paga``: the connectivities
    from :func:`cluster_graph`, needed for modes paga and trajectory, and checked against the chain of
    mode pseudotime where given; ``small``: clusters below transitions.min_cells, which the pseudotime
    chain and the trajectory tree step over)."""
    if mode == "all":
        return [(a, b) for a in clusters for b in clusters if a != b]
    if mode in ("pseudotime", "trajectory") and pseudotime_medians is None:
        raise InputError(f"transitions.mode '{mode}' needs a pseudotime to order the clusters: set "
                         "data.pseudotime_key to an obs column with one (e.g. from scanpy.tl.dpt)")
    if mode in GRAPH_MODES and paga is None:
        raise InputError(f"transitions.mode '{mode}' needs the PAGA connectivities of the clusters "
                         "(transgrn.transitions.cluster_graph)")
    if mode == "pseudotime":
        order = _ordered_by_pseudotime(pseudotime_medians)
        if paga is not None:
            _warn_unlinked_chain(order, paga, paga_threshold)
        return _pseudotime_chain(order, small)
    if mode == "explicit":
        return _explicit_pairs(explicit, clusters)
    if mode == "paga":
        return _paga_pairs(clusters, paga, paga_threshold, pseudotime_medians)
    if mode == "trajectory":
        return _trajectory_pairs(clusters, paga, pseudotime_medians, small)
    raise InputError(f"transitions.mode: unknown mode {mode!r}; use all, pseudotime, explicit, paga or trajectory")


def enumerate_transitions(
    sizes: Mapping[str, int],
    mode: str,
    min_cells: int,
    explicit: Sequence[Sequence] = (),
    pseudotime_medians: Mapping[str, float] | None = None,
    paga: pd.DataFrame | None = None,
    paga_threshold: float = 0.1,
    pseudotimes: Mapping[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transitions to model and those skipped (with the reason), as two tables.

    ``sizes`` maps each cluster label (in display order) to its number of cells; ``pseudotimes``
    (optional) each cluster's cells' pseudotimes, to warn where they do not order a transition's
    clusters (:data:`ORDER_MIN_PROBABILITY`).
    """
    clusters = list(sizes)
    ids = cluster_ids(clusters)
    rows, skipped = [], []
    small = {c for c in clusters if sizes[c] < min_cells}
    for source, target in candidate_pairs(clusters, mode, explicit, pseudotime_medians, paga, paga_threshold, small):
        small = [c for c in (source, target) if sizes[c] < min_cells]
        if small:
            reason = "; ".join(f"cluster '{c}' has {sizes[c]} cells < transitions.min_cells={min_cells}" for c in small)
            skipped.append({"source_cluster": source, "target_cluster": target, "reason": reason})
            continue
        rows.append({
            "transition": transition_id(ids[source], ids[target]),
            "source_cluster": source, "target_cluster": target,
            "source_id": ids[source], "target_id": ids[target],
            "n_source_cells": int(sizes[source]), "n_target_cells": int(sizes[target]),
        })
    table = pd.DataFrame(rows, columns=TRANSITION_COLUMNS)
    if mode in ORIENTED_MODES and pseudotime_medians is not None:
        _warn_unordered(mode, zip(table["source_cluster"], table["target_cluster"]), pseudotime_medians, pseudotimes)
    skipped_table = pd.DataFrame(skipped, columns=["source_cluster", "target_cluster", "reason"])
    return table, skipped_table
