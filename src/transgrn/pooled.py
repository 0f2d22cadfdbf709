"""The pooled network of rule fit_pooled: one network over the cells of every cluster of the run,
for the per-transition fits to borrow from (fit.borrow_below).

A TF that is (nearly) constant over a transition's cells -- a master regulator switched off in both
of its clusters -- leaves that transition's data with nothing to say about its edges: its own fit
gives them weight 0 (inactive) or noise. :func:`transgrn.fit.fit_pooled` fits the same-cell masked
regression of every target on its prior TFs over the cells of all clusters, where such a TF does
vary; the per-transition fit (:func:`transgrn.fit.fit_transition`) then takes the pooled weights as
the prior mean of the TFs its own rows cannot inform (:func:`borrowing_prior`) and fits the rest
on the residual, so that an informative TF's edges stay the transition's own. This module holds
the cells, files and arithmetic; the fits are in the fit stage. Measured in README "Hill-kinetics
track" (issue #10).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cells import CellSet, _dense, gene_columns, knn_smooth, load_cluster, pool
from .seeds import rng_for

# weight: the pooled fit's; marginal: the covariance of TF and target over the pooled cells (the sign of the
# run-wide marginal association, which the transitions' sign confidence checks against)
NETWORK_COLUMNS = ["tf", "target_gene", "weight", "marginal"]
VARIANCE_COLUMNS = ["tf", "variance"]


@dataclass(frozen=True)
class PooledNetwork:
    """The pooled fit's weight and marginal covariance of every estimable prior edge (self-loops left
    out: a same-cell design would fit the identity) and each TF's variance over the pooled cells."""

    weights: pd.DataFrame  # NETWORK_COLUMNS
    tf_variance: pd.Series  # indexed by TF


def subsample(cells: CellSet, max_cells: int, rng: np.random.Generator) -> CellSet:
    """At most ``max_cells`` of ``cells`` (all when 0 or fewer than that), drawn without replacement, in order."""
    if max_cells <= 0 or len(cells) <= max_cells:
        return cells
    keep = np.sort(rng.choice(len(cells), size=max_cells, replace=False))
    pseudotime = None if cells.pseudotime is None else cells.pseudotime[keep]
    return CellSet(cells.names[keep], cells.matrix[keep], pseudotime)


def cluster_share(max_cells: int, n_clusters: int) -> int:
    """Cells drawn from each cluster so that ``n_clusters`` give at most about ``max_cells`` in all
    (fit.pooled_max_cells; 0 = every cell): an equal share, which keeps the pooled fit's memory
    bounded however many clusters an atlas has."""
    return 0 if max_cells <= 0 else max(1, math.ceil(max_cells / max(n_clusters, 1)))


def pooled_cells(clusters: Iterable[tuple[str, CellSet]], max_cells: int, seed: int) -> CellSet:
    """The cells of every ``(cluster id, cells)``, at most ``max_cells`` per cluster, each cluster drawn
    with its own stream of the config seed (so adding a cluster changes no other's draw). Each
    cluster is cut down as it comes, so a generator that loads them keeps one whole cluster in memory."""
    return pool(*(subsample(cells, max_cells, rng_for(seed, "pooled", cluster)) for cluster, cells in clusters))


def load_pooled_cells(paths: Sequence[str | Path], max_cells: int, seed: int,
                      smooth: int = 0) -> tuple[CellSet, pd.Index]:
    """:func:`pooled_cells` of the checkpoint's cluster slices (``clusters/<cluster id>.h5ad``), at
    most ``max_cells`` in all (:func:`cluster_share` of each), and their genes. With ``smooth > 1``
    (data.smooth) each cluster is smoothed over its own nearest neighbours first, as the transitions'
    cells are, so that a TF's variance in a transition is compared with a pooled variance on the
    same scale (smoothing shrinks variances)."""
    genes: list[pd.Index] = []

    def clusters() -> Iterator[tuple[str, CellSet]]:
        for path in paths:
            cells, cluster_genes = load_cluster(path)
            genes.append(cluster_genes)
            if smooth > 1:
                cells = CellSet(cells.names, knn_smooth(cells.matrix, smooth).astype(np.float32), cells.pseudotime)
            yield Path(path).stem, cells

    cells = pooled_cells(clusters(), cluster_share(max_cells, len(paths)), seed)
    return cells, genes[0]


def expression(cells: CellSet, genes: pd.Index, wanted: pd.Index, dense: bool = True) -> np.ndarray | sp.csc_matrix:
    """The ``wanted`` genes' columns of ``cells`` as float64: dense, or CSC where stored sparse and
    ``dense`` is False (the solvers read sparse outputs a block of targets at a time)."""
    matrix = gene_columns(cells, genes, wanted).matrix
    if sp.issparse(matrix) and not dense:
        return matrix.tocsc().astype(np.float64)
    return _dense(matrix).astype(np.float64)


def write_pooled(network: PooledNetwork, weights_path: str | Path, variance_path: str | Path,
                 record: dict | None = None) -> None:
    from .io import write_parquet

    write_parquet(network.weights[NETWORK_COLUMNS], weights_path, record)
    write_parquet(network.tf_variance.rename_axis("tf").reset_index()[VARIANCE_COLUMNS], variance_path, record)


def read_pooled(weights_path: str | Path, variance_path: str | Path) -> PooledNetwork:
    import pyarrow.parquet as pq

    variance = pd.read_parquet(variance_path)
    # a pooled network written before it had the marginal column still reads (its sign checks are skipped)
    present = set(pq.read_schema(weights_path).names)
    return PooledNetwork(pd.read_parquet(weights_path, columns=[c for c in NETWORK_COLUMNS if c in present]),
                         pd.Series(variance["variance"].to_numpy(), index=variance["tf"].to_numpy(), name="variance"))


def tf_information(x: np.ndarray, tfs: pd.Index, tf_variance: pd.Series) -> np.ndarray:
    """Per TF (columns of ``x``, named ``tfs``): its variance over the design rows ``x`` relative to
    its variance over the pooled cells. ``inf`` where the pooled cells do not vary either (nothing
    to borrow) or the TF is not in the pooled fit."""
    pooled = tf_variance.reindex(tfs).to_numpy(dtype=np.float64)
    own = np.asarray(x[:, : len(tfs)], dtype=np.float64).var(axis=0) if len(x) else np.zeros(len(tfs))
    usable = np.isfinite(pooled) & (pooled > 0)
    return np.divide(own, pooled, out=np.full(len(tfs), np.inf), where=usable)


def borrowing_prior(tfs: pd.Index, targets: pd.Index, edge_tf: np.ndarray, edge_target: np.ndarray,
                    information: np.ndarray, pooled: PooledNetwork, borrow_below: float
                    ) -> tuple[sp.csc_matrix, np.ndarray]:
    """The prior mean W0 (``tfs x targets``, sparse) and, per transition edge (``edge_tf``,
    ``edge_target`` positions), whether it is borrowed: a TF with ``information < borrow_below``
    takes the pooled weight on every one of its prior edges that the pooled fit estimated, active in
    the transition or not (a TF constant over the transition's rows is inactive there and would
    otherwise stay 0)."""
    rows, cols = tfs.get_indexer(pooled.weights["tf"]), targets.get_indexer(pooled.weights["target_gene"])
    known = (rows >= 0) & (cols >= 0)
    rows, cols = rows[known], cols[known]
    values = pooled.weights["weight"].to_numpy(dtype=np.float64)[known]
    take = (information < borrow_below)[rows]
    w0 = sp.csc_matrix((values[take], (rows[take], cols[take])), shape=(len(tfs), len(targets)))
    keys = rows[take].astype(np.int64) * len(targets) + cols[take]
    borrowed = np.isin(np.asarray(edge_tf, dtype=np.int64) * len(targets) + edge_target, keys)
    return w0, borrowed
