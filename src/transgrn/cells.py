"""Cells of one cluster or of a transition's two clusters: what every per-transition stage reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError


@dataclass(frozen=True)
class CellSet:
    """Cells of one cluster: names, expression (cells x genes, dense or sparse), optional pseudotime."""

    names: np.ndarray
    matrix: np.ndarray | sp.spmatrix
    pseudotime: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.names)


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def pool(*cell_sets: CellSet) -> CellSet:
    """Cells of several clusters as one set (for designs whose pairs may use cells of either cluster)."""
    names = np.concatenate([c.names for c in cell_sets])
    if len(set(names)) < len(names):
        raise InputError("cell names are not unique across the two clusters, which same-cell mappings (joint, "
                         "hybrid) and data.smooth need; make obs_names unique (AnnData.obs_names_make_unique)")
    matrices = [c.matrix for c in cell_sets]
    matrix = sp.vstack(matrices, format="csr") if any(sp.issparse(m) for m in matrices) else np.vstack(matrices)
    times = [c.pseudotime for c in cell_sets]
    pseudotime = None if any(t is None for t in times) else np.concatenate(times)
    return CellSet(names, matrix, pseudotime)


def load_cluster(path: str | Path) -> tuple[CellSet, pd.Index]:
    """A per-cluster slice written by the checkpoint: its cells, gene names and pseudotime if any."""
    import anndata as ad

    try:
        adata = ad.read_h5ad(path)
    except OSError as error:  # truncated or overwritten since the checkpoint wrote it
        raise InputError(f"the cluster slice {path} cannot be read ({error}): it changed after the checkpoint "
                         "wrote it. Delete results/prepared/ and run again, so that the checkpoint writes it anew") from None
    pseudotime = adata.obs["pseudotime"].to_numpy(dtype=float) if "pseudotime" in adata.obs else None
    return CellSet(names=adata.obs_names.to_numpy(dtype=str), matrix=adata.X, pseudotime=pseudotime), adata.var_names


def load_transition(source_path: str | Path, target_path: str | Path, smooth: int = 0) -> tuple[CellSet, CellSet, pd.Index]:
    """Both clusters of a transition, smoothed over ``smooth`` nearest neighbours when ``smooth > 1``.

    Every per-transition rule loads its cells through here, so mapping, fit and evaluation
    all see the same (smoothed or raw) expression.
    """
    source, genes = load_cluster(source_path)
    target, _ = load_cluster(target_path)
    source, target = smooth_clusters(source, target, int(smooth or 0))
    return source, target, genes


def gene_columns(cells: CellSet, genes: pd.Index, wanted) -> CellSet:
    return CellSet(cells.names, cells.matrix[:, genes.get_indexer(wanted)], cells.pseudotime)


# ---------------------------------------------------------------------------------------------
# Smoothing (data.smooth)
# Nearest-neighbour smoothing of expression before fitting (CellOracle's kNN imputation).

# Each cell's expression is replaced by the mean over itself and its ``k - 1`` nearest cells in a
# PCA of the cells being smoothed. Averaging neighbours removes most of the sampling (Poisson)
# noise of single cells, which otherwise attenuates regression weights and blurs which of two
# correlated TFs drives a target. The price: neighbours share information, so a held-out cell's
# smoothed profile contains training cells' expression and held-out R^2 is optimistic.


def knn_smooth(matrix, k: int, n_pcs: int = 20, seed: int = 0) -> np.ndarray:
    """Mean over each cell and its ``k - 1`` nearest neighbours in a PCA of ``matrix`` (cells x genes)."""
    dense = _dense(matrix).astype(np.float64)
    return np.asarray(knn_averaging(dense, k, n_pcs, seed) @ dense)


def knn_averaging(matrix, k: int, n_pcs: int = 20, seed: int = 0) -> sp.csr_matrix:
    """The cells x cells operator that averages each cell with its ``k - 1`` nearest neighbours in a
    PCA of ``matrix`` (cells x genes); the identity for ``k <= 1``."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    dense = _dense(matrix).astype(np.float64)
    k = max(1, min(int(k), dense.shape[0]))
    if k == 1:
        return sp.identity(dense.shape[0], format="csr")
    n_components = max(1, min(n_pcs, dense.shape[0] - 1, dense.shape[1]))
    scores = PCA(n_components=n_components, svd_solver="full", random_state=seed).fit_transform(dense)
    neighbours = NearestNeighbors(n_neighbors=k).fit(scores).kneighbors(scores, return_distance=False)
    # the query point is its own nearest neighbour (distance 0), unless exact duplicates exist;
    # force it in so that every cell keeps its own measurement
    neighbours[:, 0] = np.arange(len(dense))
    rows = np.repeat(np.arange(len(dense)), k)
    return sp.csr_matrix((np.full(rows.size, 1.0 / k), (rows, neighbours.ravel())), shape=(len(dense),) * 2)


def smooth_clusters(source: CellSet, target: CellSet, k: int, n_pcs: int = 20) -> tuple[CellSet, CellSet]:
    """Smooth the cells of a transition's two clusters together (neighbours may come from either).

    ``k <= 1`` returns the clusters unchanged.
    """
    if k <= 1:
        return source, target
    both = pool(source, target)
    smoothed = knn_smooth(both.matrix, k, n_pcs).astype(np.float32)
    n = len(source)
    return (CellSet(source.names, smoothed[:n], source.pseudotime),
            CellSet(target.names, smoothed[n:], target.pseudotime))
