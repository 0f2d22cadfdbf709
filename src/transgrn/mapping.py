"""Mappings: which source-cluster cell is paired with which target-cluster cell(s).

A mapping is a table with one row per (pair, target cell): ``pair`` numbers the
regression samples, ``source_cell`` gives the cell whose TF expression is the input,
and the output is the ``weight``-ed mean of the ``target_cell`` rows of that pair
(one row of weight 1 for a sampled partner). ``split`` marks train/test pairs.

A new mapping is one function with the signature of :func:`random_mapping` registered
in :data:`MAPPINGS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

MAPPING_COLUMNS = ["pair", "source_cell", "target_cell", "weight", "split"]


@dataclass(frozen=True)
class CellSet:
    """Cells of one cluster: names and expression (cells x genes, dense or sparse)."""

    names: np.ndarray
    matrix: np.ndarray | sp.spmatrix

    def __len__(self) -> int:
        return len(self.names)


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def _pairs_table(source: CellSet, target: CellSet, src: np.ndarray, tgt: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "pair": np.arange(len(src), dtype=np.int64),
        "source_cell": source.names[src],
        "target_cell": target.names[tgt],
        "weight": np.ones(len(src)),
    })


def random_mapping(source: CellSet, target: CellSet, n_pairs: int, rng: np.random.Generator, **_) -> pd.DataFrame:
    """Uniform, independent pairing (the original notebook's method): the null baseline."""
    src = rng.integers(0, len(source), n_pairs)
    tgt = rng.integers(0, len(target), n_pairs)
    return _pairs_table(source, target, src, tgt)


def shared_pca(source: CellSet, target: CellSet, n_pcs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Project both clusters onto principal components fitted on their union."""
    from sklearn.decomposition import PCA

    union = np.vstack([_dense(source.matrix), _dense(target.matrix)]).astype(np.float64)
    n_components = max(1, min(n_pcs, union.shape[0] - 1, union.shape[1]))
    scores = PCA(n_components=n_components, svd_solver="full", random_state=seed).fit_transform(union)
    return scores[: len(source)], scores[len(source):]


def ot_coupling(
    source_points: np.ndarray,
    target_points: np.ndarray,
    exact_max_cells: int = 3000,
    entropic_reg: float = 0.01,
) -> np.ndarray:
    """Optimal-transport coupling with uniform marginals (rows sum to 1/n_source, columns to 1/n_target).

    The squared-Euclidean cost is divided by its maximum so that ``entropic_reg`` means the
    same on every data set. Exact EMD up to ``exact_max_cells`` cells per side; log-domain
    Sinkhorn beyond, where EMD's cubic cost is too slow.
    """
    import ot

    a = np.full(len(source_points), 1.0 / len(source_points))
    b = np.full(len(target_points), 1.0 / len(target_points))
    cost = ot.dist(source_points, target_points, metric="sqeuclidean")
    cost /= max(cost.max(), np.finfo(float).tiny)
    if max(len(a), len(b)) <= exact_max_cells:
        return ot.emd(a, b, cost, numItermax=10_000_000)
    return ot.sinkhorn(a, b, cost, entropic_reg, method="sinkhorn_log", numItermax=2000, stopThr=1e-7)


def sample_pairs(coupling: np.ndarray, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` (source, target) index pairs with probability proportional to the coupling."""
    rows, cols = np.nonzero(coupling > 0)
    prob = coupling[rows, cols]
    pick = rng.choice(len(rows), size=n_pairs, replace=True, p=prob / prob.sum())
    return rows[pick], cols[pick]


def ot_mapping(
    source: CellSet,
    target: CellSet,
    n_pairs: int,
    rng: np.random.Generator,
    n_pcs: int = 20,
    exact_max_cells: int = 3000,
    entropic_reg: float = 0.01,
    **_,
) -> pd.DataFrame:
    """Pairs drawn from the OT coupling between the two clusters in a shared PCA."""
    zs, zt = shared_pca(source, target, n_pcs, seed=int(rng.integers(2**31)))
    coupling = ot_coupling(zs, zt, exact_max_cells, entropic_reg)
    src, tgt = sample_pairs(coupling, n_pairs, rng)
    return _pairs_table(source, target, src, tgt)


MappingFunction = Callable[..., pd.DataFrame]
MAPPINGS: dict[str, MappingFunction] = {"random": random_mapping, "ot": ot_mapping}


def map_cells(method: str, source: CellSet, target: CellSet, n_pairs: int, rng: np.random.Generator,
              test_fraction: float = 0.2, **options) -> pd.DataFrame:
    """Run a registered mapping and add the train/test split."""
    if method not in MAPPINGS:
        raise ValueError(f"mapping.method: unknown method {method!r}; choose one of {sorted(MAPPINGS)}")
    mapping = MAPPINGS[method](source, target, n_pairs, rng, **options)
    return split_by_source_cell(mapping, test_fraction, rng)


def split_by_source_cell(mapping: pd.DataFrame, test_fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    """Hold out whole source cells, so that no test pair shares its input with a training pair."""
    cells = np.sort(mapping["source_cell"].unique())
    if len(cells) < 2:
        raise ValueError("the mapping uses fewer than 2 source cells; cannot hold any out for testing")
    n_test = min(len(cells) - 1, max(1, int(round(test_fraction * len(cells)))))
    test_cells = set(rng.permutation(cells)[:n_test])
    mapping = mapping.copy()
    mapping["split"] = np.where(mapping["source_cell"].isin(test_cells), "test", "train")
    return mapping[MAPPING_COLUMNS]


def paired_design(mapping: pd.DataFrame, source: CellSet, target: CellSet) -> tuple[np.ndarray, np.ndarray]:
    """Regression inputs X (pairs x source genes) and outputs Y (pairs x target genes).

    ``mapping`` may hold any subset of pairs (e.g. one split); pairs keep their order.
    """
    pairs, pair_row = np.unique(mapping["pair"].to_numpy(), return_inverse=True)
    src_pos = pd.Index(source.names).get_indexer(mapping["source_cell"])
    tgt_pos = pd.Index(target.names).get_indexer(mapping["target_cell"])
    if (src_pos < 0).any() or (tgt_pos < 0).any():
        raise ValueError("the mapping names cells that are not in the given clusters")
    weights = mapping["weight"].to_numpy(dtype=float)
    totals = np.bincount(pair_row, weights=weights, minlength=len(pairs))
    averaging = sp.csr_matrix((weights / totals[pair_row], (pair_row, tgt_pos)), shape=(len(pairs), len(target)))
    first_row = np.unique(pair_row, return_index=True)[1]
    x = _dense(source.matrix[src_pos[first_row]])
    y = averaging @ target.matrix
    return x.astype(np.float64), _dense(y).astype(np.float64)
