"""Selecting from a transition's edge table: its own edges (not borrowed from the pooled network) and,
of those, the confident, strongest ones (``edges_filtered.parquet``, the network scores, the exports,
the report's tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import BORROWED_COLUMN


def own_edges(edges):
    """The rows of an edge table whose weights the transition's own cells informed: without the
    ``borrowed`` ones (a pooled network's weights are no evidence about the transition), so that the
    strongest and confident edges of a transition -- edges_filtered, its network scores, the report's
    tables and drawings -- are its own. All rows when the table has no such column."""
    if BORROWED_COLUMN not in edges.columns:
        return edges
    return edges[~edges[BORROWED_COLUMN].to_numpy(dtype=bool)]


def filter_transition_edges(edges: pd.DataFrame, min_confidence: float, top_k: int) -> pd.DataFrame:
    """Confident, strong edges of one transition: its own (not ``borrowed``), ``1 - qvalue >=
    min_confidence`` (when the fit was bootstrapped) and, of those, the ``top_k`` largest ``|weight|``
    (0 = all). Rows keep their order."""
    edges = own_edges(edges)
    weight = edges["weight"].to_numpy(dtype=np.float64)
    keep = weight != 0
    if "qvalue" in edges.columns:
        keep &= 1.0 - edges["qvalue"].to_numpy(dtype=np.float64) >= min_confidence
    index = np.flatnonzero(keep)
    if top_k > 0:
        index = index[strongest(np.abs(weight[index]), top_k)]
    return edges.iloc[index].reset_index(drop=True)


def strongest(strength: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest values of ``strength``, ties in position order (rank method
    "first"), in position order; NaN never ranks. A partition, not a sort: an atlas transition has
    500,000 edges and keeps 100 (a stable argsort took 2.6 of an atlas aggregate's 25 s)."""
    ranked = np.flatnonzero(~np.isnan(strength))
    if len(ranked) <= k:
        return ranked
    values = strength[ranked]
    kth = -np.partition(-values, k - 1)[k - 1]  # the k-th largest
    tied = values == kth
    # every value above the k-th, and of those equal to it the first ones up to k in all
    chosen = (values > kth) | (tied & (np.cumsum(tied) <= k - np.count_nonzero(values > kth)))
    return ranked[chosen]
