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
    """The clusters by median pseudotime. Equal medians give no order: all equal is an
    error (a constant pseudotime would chain the clusters alphabetically); some equal, a warning
    naming them (they are ordered by name)."""
    medians = pd.Series({str(c): float(m) for c, m in pseudotime_medians.items()})
    if len(medians) > 1 and medians.nunique() == 1:
        raise InputError(
            f"transitions.mode 'pseudotime': every cluster has the same median pseudotime ({medians.iloc[0]:g}), "
            "so the pseudotime does not order them (is data.pseudotime_key constant?). Give a pseudotime that "
            "differs between clusters (e.g. scanpy.tl.dpt) or list the transitions with transitions.mode: explicit")
    tied = medians[medians.duplicated(keep=False)]
    for value, group in tied.groupby(tied):
        log.warning("transitions.mode 'pseudotime': clusters %s have the same median pseudotime (%g); they are "
                    "chained by name. Check the pseudotime, or list the transitions with transitions.mode: explicit",
                    ", ".join(map(repr, sorted(group.index))), value)
    return sorted(pseudotime_medians, key=lambda c: (pseudotime_medians[c], str(c)))


def _pseudotime_chain(pseudotime_medians: Mapping[str, float], small: Collection[str]) -> list[tuple[str, str]]:
    """Each cluster to the next by median pseudotime, stepping over the ``small`` ones (below
    transitions.min_cells) so that one small cluster does not cut the chain in two. The links a
    small cluster would have had follow, so that they are listed as skipped with the reason."""
    order = _ordered_by_pseudotime(pseudotime_medians)
    kept = [c for c in order if c not in small]
    stepped_over = [(a, b) for a, b in zip(order[:-1], order[1:]) if a in small or b in small]
    return list(zip(kept[:-1], kept[1:])) + stepped_over


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
                pairs.append((b, a) if pseudotime_medians[b] < pseudotime_medians[a] else (a, b))
    return pairs


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
        raise InputError("transitions.mode 'paga' needs the Python package igraph: pip install igraph") from exc
    labelled = labels.notna().to_numpy()
    own_graph = "neighbors" in adata.uns and all(k in adata.obsp for k in GRAPH_KEYS)
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
    from :func:`paga_connectivities`, needed for mode ``paga``; ``small``: clusters below
    transitions.min_cells, which the pseudotime chain steps over)."""
    if mode == "all":
        return [(a, b) for a in clusters for b in clusters if a != b]
    if mode == "pseudotime":
        if pseudotime_medians is None:
            raise InputError("transitions.mode 'pseudotime' needs data.pseudotime_key")
        return _pseudotime_chain(pseudotime_medians, small)
    if mode == "explicit":
        return _explicit_pairs(explicit, clusters)
    if mode == "paga":
        if paga is None:
            raise InputError("transitions.mode 'paga' needs the PAGA connectivities of the clusters")
        return _paga_pairs(clusters, paga, paga_threshold, pseudotime_medians)
    raise InputError(f"transitions.mode: unknown mode {mode!r}; use all, pseudotime, explicit or paga")


def enumerate_transitions(
    sizes: Mapping[str, int],
    mode: str,
    min_cells: int,
    explicit: Sequence[Sequence] = (),
    pseudotime_medians: Mapping[str, float] | None = None,
    paga: pd.DataFrame | None = None,
    paga_threshold: float = 0.1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transitions to model and those skipped (with the reason), as two tables.

    ``sizes`` maps each cluster label (in display order) to its number of cells.
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
    skipped_table = pd.DataFrame(skipped, columns=["source_cluster", "target_cluster", "reason"])
    return table, skipped_table
