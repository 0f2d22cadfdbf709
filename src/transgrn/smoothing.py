"""Nearest-neighbour smoothing of expression before fitting (CellOracle's kNN imputation).

Each cell's expression is replaced by the mean over itself and its ``k - 1`` nearest cells in a
PCA of the cells being smoothed. Averaging neighbours removes most of the sampling (Poisson)
noise of single cells, which otherwise attenuates regression weights and blurs which of two
correlated TFs drives a target. The price: neighbours share information, so a held-out cell's
smoothed profile contains training cells' expression and held-out R^2 is optimistic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .mapping import CellSet, _dense, pool


def knn_smooth(matrix, k: int, n_pcs: int = 20, seed: int = 0) -> np.ndarray:
    """Mean over each cell and its ``k - 1`` nearest neighbours in a PCA of ``matrix`` (cells x genes)."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    dense = _dense(matrix).astype(np.float64)
    k = max(1, min(int(k), dense.shape[0]))
    if k == 1:
        return dense
    n_components = max(1, min(n_pcs, dense.shape[0] - 1, dense.shape[1]))
    scores = PCA(n_components=n_components, svd_solver="full", random_state=seed).fit_transform(dense)
    neighbours = NearestNeighbors(n_neighbors=k).fit(scores).kneighbors(scores, return_distance=False)
    # the query point is its own nearest neighbour (distance 0), unless exact duplicates exist;
    # force it in so that every cell keeps its own measurement
    neighbours[:, 0] = np.arange(len(dense))
    rows = np.repeat(np.arange(len(dense)), k)
    averaging = sp.csr_matrix((np.full(rows.size, 1.0 / k), (rows, neighbours.ravel())), shape=(len(dense),) * 2)
    return np.asarray(averaging @ dense)


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
