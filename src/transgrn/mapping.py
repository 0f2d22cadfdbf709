"""Mappings: which cells' TF expression is the input for which cells' target expression.

A mapping is a table with one row per (pair, target cell): ``pair`` numbers the regression
samples, ``source_cell`` gives the cell whose TF expression is the input, and the output is the
``weight``-ed mean of the ``target_cell`` rows of that pair (one row of weight 1 for a sampled
partner, several rows for a barycentric pair). ``split`` marks train/test pairs, and the
optional ``cost`` is the pair's squared distance in a PCA fitted on both clusters divided by
the mean over all (source, target) cell pairs -- so a random pair costs about 1 and a good
match much less; same-cell pairs cost 0.

Every method except ``joint`` builds a *coupling* between the two clusters (a non-negative
``n_source x n_target`` matrix, :data:`COUPLINGS`), then either draws ``n_pairs`` pairs from it
(:func:`sample_pairs`) or, with ``barycentric=True``, regresses each source cell onto the
coupling-weighted mean of its target cells (:func:`barycentric_table`). ``joint`` pairs every
cell of both clusters with itself (the CellOracle-style same-cell regression), and ``hybrid``
puts same-cell pairs and barycentric OT pairs into one design.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cells import CellSet, _dense
from .design import TransitionData, paired_design, split_by_source_cell
from .errors import InputError
from .lagged import CV_MAX_ROWS, CV_MAX_TARGETS, choose_lag_spec, pair_times
from .mapping_file import NO_LAG, with_lag_spec
from .options import SAME_CELL_METHODS, MappingOptions
from .seeds import rng_for



# --------------------------------------------------------------------------------------------
# Geometry shared by the couplings: a PCA of both clusters and a normalized cost
# --------------------------------------------------------------------------------------------


def shared_pca(source: CellSet, target: CellSet, n_pcs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Project both clusters onto principal components fitted on their union.

    The exact SVD is used up to 3,000 cells; beyond, the randomized one (seeded, so still
    reproducible), whose cost grows linearly with the number of cells.
    """
    if len(source) + len(target) <= 3000:
        union = np.vstack([_dense(source.matrix), _dense(target.matrix)]).astype(np.float64)
        scores = exact_pca_scores(union, max(1, min(n_pcs, union.shape[0] - 1, union.shape[1])))
        return scores[: len(source)], scores[len(source):]
    from sklearn.decomposition import PCA

    if sp.issparse(source.matrix) and sp.issparse(target.matrix):
        # atlas-sized sparse clusters: ARPACK centres implicitly, so no dense cells x genes copy
        # (5,000 cells x 20,000 genes would take 0.8 GB in float64; benchmarks/scale.py)
        union = sp.vstack([source.matrix, target.matrix], format="csr", dtype=np.float64)
        n_components = max(1, min(n_pcs, union.shape[0] - 1, union.shape[1] - 1))
        scores = PCA(n_components=n_components, svd_solver="arpack", random_state=seed).fit_transform(union)
        return scores[: len(source)], scores[len(source):]
    union = np.vstack([_dense(source.matrix), _dense(target.matrix)]).astype(np.float64)
    n_components = max(1, min(n_pcs, union.shape[0] - 1, union.shape[1]))
    scores = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit_transform(union)
    return scores[: len(source)], scores[len(source):]


def exact_pca_scores(matrix: np.ndarray, n_components: int) -> np.ndarray:
    """Principal component scores by the exact SVD, the values of scikit-learn's
    ``PCA(svd_solver="full").fit_transform`` bit for bit (same LAPACK call, same sign convention:
    each component's largest loading positive; tests/test_mapping.py checks). Written out because
    importing sklearn costs a mapping job about a second, for a transition that needs only this."""
    from scipy.linalg import svd

    u, s, vt = svd(matrix - matrix.mean(axis=0), full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    return u[:, :n_components] * signs[:n_components] * s[:n_components]


def mean_pair_cost(zs: np.ndarray, zt: np.ndarray) -> float:
    """Mean squared distance over all (source, target) pairs, in closed form (no n_s x n_t matrix)."""
    value = (zs**2).sum(1).mean() + (zt**2).sum(1).mean() - 2.0 * zs.mean(0) @ zt.mean(0)
    return float(max(value, np.finfo(float).tiny))


def pair_costs(zs: np.ndarray, zt: np.ndarray, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
    """Normalized cost of the given pairs: squared distance over the mean of all pairs (random ~ 1)."""
    return ((zs[src] - zt[tgt]) ** 2).sum(1) / mean_pair_cost(zs, zt)


# --------------------------------------------------------------------------------------------
# Couplings: non-negative (n_source x n_target) matrices, total mass 1
# --------------------------------------------------------------------------------------------


def random_coupling(n_source: int, n_target: int) -> np.ndarray:
    """The independent coupling: both marginals uniform, no information about who goes where."""
    return np.full((n_source, n_target), 1.0 / (n_source * n_target))


def ot_coupling(
    source_points: np.ndarray,
    target_points: np.ndarray,
    exact_max_cells: int = 3000,
    entropic_reg: float = 0.01,
    unbalanced_reg: float | None = None,
) -> np.ndarray:
    """Optimal-transport coupling with uniform marginals (rows sum to 1/n_source, columns to 1/n_target).

    The squared-Euclidean cost is divided by its maximum so that ``entropic_reg`` means the
    same on every data set. Exact EMD up to ``exact_max_cells`` cells per side; beyond, where
    EMD's cubic cost is too slow, log-domain Sinkhorn -- or, with ``unbalanced_reg`` (the KL
    weight of the marginal constraints), unbalanced Sinkhorn, which lets cells with no
    counterpart (proliferation, death, a branch going elsewhere) carry less mass.
    """
    import ot

    a = np.full(len(source_points), 1.0 / len(source_points))
    b = np.full(len(target_points), 1.0 / len(target_points))
    cost = ot.dist(source_points, target_points, metric="sqeuclidean")
    cost /= max(cost.max(), np.finfo(float).tiny)
    if max(len(a), len(b)) <= exact_max_cells:
        return ot.emd(a, b, cost, numItermax=10_000_000)
    if unbalanced_reg is not None:
        return ot.unbalanced.sinkhorn_unbalanced(a, b, cost, entropic_reg, unbalanced_reg,
                                                 method="sinkhorn_stabilized", numItermax=2000, stopThr=1e-7)
    return ot.sinkhorn(a, b, cost, entropic_reg, method="sinkhorn_log", numItermax=2000, stopThr=1e-7)


def knn_coupling(source_points: np.ndarray, target_points: np.ndarray, k: int = 10) -> sp.csr_matrix:
    """Each source cell spreads its mass 1/n_source evenly over its ``k`` nearest target cells.

    Unlike OT, nothing forces every target cell to be used: a source cell's partners are
    simply the most similar cells of the other cluster.
    """
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(k, len(target_points)))
    index = NearestNeighbors(n_neighbors=k).fit(target_points).kneighbors(source_points, return_distance=False)
    rows = np.repeat(np.arange(len(source_points)), k)
    values = np.full(rows.size, 1.0 / (len(source_points) * k))
    return sp.csr_matrix((values, (rows, index.ravel())), shape=(len(source_points), len(target_points)))


def pseudotime_coupling(source_time: np.ndarray, target_time: np.ndarray, lag: float = 0.05,
                        bandwidth: float = 0.05) -> np.ndarray:
    """Each source cell to target cells about ``lag`` later in pseudotime, by a Gaussian kernel on the gap.

    ``lag`` and ``bandwidth`` are fractions of the pseudotime range of both clusters, so they
    mean the same whatever the pseudotime's units. Each row is normalized (a softmax, stable
    where the clusters do not overlap in time and every raw kernel value underflows), so every
    source cell carries mass 1/n_source even when the nearest target cells are far.
    """
    times = np.concatenate([source_time, target_time])
    span = max(float(times.max() - times.min()), np.finfo(float).eps)
    gap = (target_time[None, :] - source_time[:, None]) / span
    logits = -0.5 * ((gap - lag) / max(bandwidth, np.finfo(float).eps)) ** 2
    logits -= logits.max(1, keepdims=True)
    kernel = np.exp(logits)
    return kernel / kernel.sum(1, keepdims=True) / len(source_time)


# --------------------------------------------------------------------------------------------
# From a coupling to a mapping table
# --------------------------------------------------------------------------------------------


def sample_pairs(coupling, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` (source, target) index pairs with probability proportional to the coupling."""
    if sp.issparse(coupling):
        coo = coupling.tocoo()
        keep = coo.data > 0
        rows, cols, prob = coo.row[keep], coo.col[keep], coo.data[keep]
        order = np.lexsort((cols, rows))  # a fixed order, whatever the sparse format did
        rows, cols, prob = rows[order], cols[order], prob[order]
    else:
        rows, cols = np.nonzero(coupling > 0)
        prob = coupling[rows, cols]
    pick = rng.choice(len(rows), size=n_pairs, replace=True, p=prob / prob.sum())
    return rows[pick], cols[pick]


def barycentric_pairs(coupling, max_targets: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pair per source cell with mass: its ``max_targets`` heaviest target cells and their masses.

    Returns ``(pair, source, target, weight)`` row arrays. Ties (e.g. the flat rows of the
    random coupling) are broken at random in every row, so a truncated row is a random, not
    the first, subset of equally weighted cells.
    """
    dense = _dense(coupling)
    k = min(max_targets, dense.shape[1])
    # a relative jitter far below any real difference in mass orders exact ties at random, per row
    ranked = dense * (1.0 + 1e-9 * rng.random(dense.shape))
    top = np.argpartition(-ranked, k - 1, axis=1)[:, :k] if k < dense.shape[1] else np.tile(np.arange(k), (len(dense), 1))
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(ranked, top, axis=1), axis=1, kind="stable"), axis=1)
    rows = np.repeat(np.arange(len(dense)), k)
    cols = top.ravel()
    weights = dense[rows, cols]
    keep = weights > 0
    rows, cols, weights = rows[keep], cols[keep], weights[keep]
    pair = np.unique(rows, return_inverse=True)[1]
    return pair.astype(np.int64), rows, cols, weights


def same_cell_table(source: CellSet, target: CellSet) -> pd.DataFrame:
    """Every cell of both clusters paired with itself: the same-cell (CellOracle-style) design."""
    names = np.concatenate([source.names, target.names])
    return pd.DataFrame({"pair": np.arange(len(names), dtype=np.int64), "source_cell": names, "target_cell": names,
                         "weight": np.ones(len(names)), "cost": np.zeros(len(names))})


CouplingFunction = Callable[..., "np.ndarray | sp.spmatrix"]


def _random(source: CellSet, target: CellSet, zs, zt, options: MappingOptions):
    return random_coupling(len(source), len(target))


def _ot(source: CellSet, target: CellSet, zs, zt, options: MappingOptions):
    return ot_coupling(zs, zt, options.exact_max_cells, options.entropic_reg, options.unbalanced_reg)


def _knn(source: CellSet, target: CellSet, zs, zt, options: MappingOptions):
    return knn_coupling(zs, zt, options.knn_k)


def _pseudotime(source: CellSet, target: CellSet, zs, zt, options: MappingOptions):
    if source.pseudotime is None or target.pseudotime is None:
        raise InputError("mapping.method 'pseudotime' needs a pseudotime: set data.pseudotime_key to the obs "
                         "column that holds it, or choose another mapping.method")
    return pseudotime_coupling(source.pseudotime, target.pseudotime, options.pseudotime_lag,
                               options.pseudotime_bandwidth)


COUPLINGS: dict[str, CouplingFunction] = {"random": _random, "ot": _ot, "knn": _knn, "pseudotime": _pseudotime}
METHODS = sorted([*COUPLINGS, *SAME_CELL_METHODS])


def coupling_table(method: str, source: CellSet, target: CellSet, rng: np.random.Generator,
                   options: MappingOptions) -> pd.DataFrame:
    """Pairs from a registered coupling, sampled (``options.n_pairs``) or barycentric, with each row's normalized cost."""
    n_pairs = options.n_pairs
    pca_seed = int(rng.integers(2**31))  # drawn even where unused: the pairs drawn after it stay the same
    if method == "random" and not options.barycentric:
        # The null: the uniform coupling need not be built to sample from it, nor the PCA computed
        # (6.5 s a transition at atlas scale), since a random pair's normalized cost is 1 by
        # construction; so the null's mapping has no "cost" column (the report reads the main one's).
        src, tgt = rng.integers(0, len(source), n_pairs), rng.integers(0, len(target), n_pairs)
        return pd.DataFrame({"pair": np.arange(n_pairs, dtype=np.int64), "source_cell": source.names[src],
                             "target_cell": target.names[tgt], "weight": np.ones(n_pairs)})
    zs, zt = shared_pca(source, target, options.n_pcs, seed=pca_seed)
    coupling = COUPLINGS[method](source, target, zs, zt, options)
    if options.barycentric:
        pair, src, tgt, weight = barycentric_pairs(coupling, options.max_targets, rng)
    else:
        src, tgt = sample_pairs(coupling, n_pairs, rng)
        pair, weight = np.arange(n_pairs, dtype=np.int64), np.ones(n_pairs)
    return pd.DataFrame({"pair": pair, "source_cell": source.names[src], "target_cell": target.names[tgt],
                         "weight": weight, "cost": pair_costs(zs, zt, src, tgt)})


def _typed(options: MappingOptions | None) -> MappingOptions:
    """The options as given, the schema's defaults for None; a plain mapping is refused (typed options are
    the only currency: :meth:`MappingOptions.from_config` builds them from a config section)."""
    if options is None:
        return MappingOptions.from_config({})
    if not isinstance(options, MappingOptions):
        raise TypeError(f"mapping options must be a MappingOptions, not {type(options).__name__}: "
                        "build them once with MappingOptions.from_config(config['mapping'])")
    return options


def pair_cells(method: str, source: CellSet, target: CellSet, rng: np.random.Generator,
               options: MappingOptions | None = None) -> pd.DataFrame:
    """Run a mapping method (``method`` overrides ``options.method``) and add the train/test split.

    ``options`` (:class:`~transgrn.options.MappingOptions`; None: the schema's defaults): ``n_pairs``,
    ``test_fraction``, ``barycentric``, ``max_targets``, ``n_pcs`` and the couplings' parameters.
    ``joint`` and ``lagged`` pair every cell of both clusters with itself (``n_pairs`` does not apply);
    ``hybrid`` adds barycentric OT pairs to the same-cell pairs.
    """
    options = _typed(options)
    if method not in METHODS:
        raise ValueError(f"mapping.method: unknown method {method!r}; choose one of {METHODS}")
    if method in ("joint", "lagged"):  # lagged: map_transition adds the lag chosen for the transition
        mapping = same_cell_table(source, target)
    elif method == "hybrid":
        mapped = coupling_table("ot", source, target, rng, replace(options, barycentric=True))
        same = same_cell_table(source, target)
        mapping = pd.concat([same, mapped.assign(pair=mapped["pair"] + len(same))], ignore_index=True)
    else:
        mapping = coupling_table(method, source, target, rng, options)
    return split_by_source_cell(mapping, options.test_fraction, rng)


# --------------------------------------------------------------------------------------------
# A transition's mappings: the configured one and the random null
# --------------------------------------------------------------------------------------------

NULL_METHOD = "random"


def map_transition(source: CellSet, target: CellSet, role: str, transition: str,
                   options: MappingOptions, seed: int, data: TransitionData | None = None) -> pd.DataFrame:
    """Pair cells for the transition. ``role`` is ``main`` (the configured method) or ``null``
    (random pairing with its own stream, the baseline every transition is compared with).

    The null keeps the main mapping's ``barycentric`` choice, so that both fits see outputs
    averaged the same way; after a same-cell method (``lagged``, ``joint``, ``hybrid``) it samples
    pairs. ``lagged`` needs ``data`` (the transition's cells and mask) to choose its
    :class:`~transgrn.mapping_file.LagSpec`, which the mapping carries in ``attrs``.
    """
    options = _typed(options)
    method = options.method if role == "main" else NULL_METHOD
    rng = rng_for(seed, transition, "mapping", role)
    if role != "main" and options.method in SAME_CELL_METHODS:
        options = replace(options, barycentric=False)
    if role == "main":  # settings these cells cut down (transgrn check says them for the whole run)
        for message in options.clipped_by([len(source)], [len(target)], source.matrix.shape[1], [transition]):
            logging.getLogger(__name__).warning(message)
    mapping = pair_cells(method, source, target, rng, options)
    if method == "lagged":
        if data is None:
            raise ValueError("mapping.method 'lagged' chooses its lag on the transition's data: pass data=TransitionData(...)")
        mapping = with_lag_spec(mapping, lag_spec(mapping, data, options, rng))
    return mapping


def lag_spec(mapping: pd.DataFrame, data: TransitionData, options: MappingOptions, rng: np.random.Generator):
    """The lagged design of a same-cell mapping (:func:`transgrn.lagged.choose_lag_spec`), chosen on
    at most :data:`CV_MAX_ROWS` of its training pairs and :data:`CV_MAX_TARGETS` targets with a prior TF
    (random subsets beyond)."""
    if data.source.pseudotime is None or data.target.pseudotime is None:
        # the checkpoint warns once for the run (summary.json's mapping_method); here it is only noted
        logging.getLogger(__name__).info("mapping.method 'lagged' needs a pseudotime (data.pseudotime_key); without "
                                         "one the design is the same-cell 'joint' design (no lag: NA in transitions.tsv)")
        return NO_LAG
    train = mapping[mapping["split"] == "train"]
    inputs, outputs = data.cells_for(train)
    columns = np.sort(rng.permutation(np.flatnonzero(data.mask.any(axis=0)))[:CV_MAX_TARGETS])
    if train["pair"].nunique() > CV_MAX_ROWS:  # drawn only beyond the cap: smaller transitions keep their stream
        pairs = np.sort(train["pair"].unique())
        train = train[train["pair"].isin(rng.permutation(pairs)[:CV_MAX_ROWS])]
    x, y = paired_design(train, inputs, CellSet(outputs.names, outputs.matrix[:, columns], outputs.pseudotime))
    return choose_lag_spec(x, y, pair_times(train, inputs), data.mask[:, columns], inputs, data.source.pseudotime,
                           data.target.pseudotime, options.lag_grid, options.lag_bandwidth, rng)
