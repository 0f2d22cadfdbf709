"""Per-edge confidence of a masked regression by bootstrapping the (source, target) pairs.

:func:`bootstrap_edges` refits a solver on ``n_boot`` resamples of the rows and summarizes every
prior edge's weights under the output names (:data:`~transgrn.columns.CONFIDENCE_COLUMNS`):

* ``weight_mean``, ``weight_std`` -- mean and standard deviation (ddof=1) of the refitted weights.
* ``pvalue`` -- the bootstrap standard-error test: ``mean / std`` compared to a t distribution
  with ``n_boot - 1`` degrees of freedom. ``std`` estimates the sampling standard deviation of
  the weight, so this is roughly uniform under the null. Use it (and ``qvalue``) to call edges.
* ``qvalue`` -- Benjamini-Hochberg of ``pvalue`` within the transition.
* ``pvalue_celloracle`` -- CellOracle's test: a one-sample t-test of the ``n_boot`` bootstrap
  weights against 0. Its standard error is ``std / sqrt(n_boot)``, the uncertainty of the
  *bootstrap mean*, not of the weight, so it shrinks as ``n_boot`` grows and is far from uniform
  on pure noise (with 20 replicates, about 60% of null edges get p < 0.05). Kept for
  comparability with CellOracle.

Both tests assume independent rows; pairs that share a source cell are not independent, which
makes either optimistic.

Ridge (:class:`~transgrn.solvers.MaskedRidge`, :class:`~transgrn.solvers.MaskedRidgeCV`) refits are
batched: all resamples are solved at once from count-weighted moments
(:meth:`MaskedRidge.fit_weightings <transgrn.solvers.ridge.MaskedRidge.fit_weightings>`); other solvers are
refitted one by one on the same resamples.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from .columns import CONFIDENCE_COLUMNS
from .solvers import MaskedRegressor, MaskedRidge, MaskedRidgeCV, Outputs, sparse_edge_cross, target_blocks

__all__ = ["CONFIDENCE_COLUMNS", "benjamini_hochberg", "bootstrap_counts", "bootstrap_edges", "edge_covariance",
           "sign_confidence", "sign_shares"]


def bootstrap_counts(n_rows: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """How often each row is drawn in each resample (``n_boot x n_rows``); rows drawn with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_rows, size=(n_boot, n_rows))
    return np.stack([np.bincount(d, minlength=n_rows) for d in draws]).astype(np.float64)


# a ridge refit chunk holds (resamples x edges) float64 cross-products and its result: at 500,000
# prior edges 20 resamples at once took a fit job that also refits the differential test's
# replicates to 988 MiB; in two chunks of 10 each. Each chunk is a pass over Y (+5 s there).
REFIT_CHUNK_BYTES = 128 * 2**20


def _refit_weights(make_model: Callable[[], MaskedRegressor], x: np.ndarray, y: Outputs, mask: np.ndarray,
                   counts: np.ndarray, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Edge weights (as ``dtype``) and intercepts of each resample: for ridge in as few equal chunks
    as keep each one's cross-products within :data:`REFIT_CHUNK_BYTES` (one unless the prior is
    large; one for :class:`MaskedRidgeCV`, which each chunk would cross-validate again), a loop
    otherwise."""
    model = make_model()
    if isinstance(model, (MaskedRidge, MaskedRidgeCV)):
        n_edges = int(np.count_nonzero(mask))
        chunks = 1 if isinstance(model, MaskedRidgeCV) else max(1, -(-len(counts) * n_edges * 16 // REFIT_CHUNK_BYTES))
        step = max(1, -(-len(counts) // chunks))
        if step >= len(counts):
            return model.fit_weightings(x, y, mask, counts, dtype=dtype)
        weights, intercepts = np.empty((len(counts), n_edges), dtype=dtype), []
        for start in range(0, len(counts), step):
            part, offsets = model.fit_weightings(x, y, mask, counts[start:start + step], dtype=dtype)
            weights[start:start + len(part)] = part
            intercepts.append(offsets)
            del part
        return weights, np.concatenate(intercepts)
    weights, intercepts = [], []
    edges = np.nonzero(mask)
    for c in counts:
        rows = np.repeat(np.arange(len(c)), c.astype(int))
        fitted = make_model().fit(x[rows], y[rows], mask)
        weights.append(fitted.coef_at(*edges))
        intercepts.append(fitted.intercept_)
    return np.array(weights, dtype=dtype), np.array(intercepts)


def _two_sided_t(statistic_num: np.ndarray, statistic_den: np.ndarray, df: float) -> np.ndarray:
    """Two-sided t p-values of ``num / den``; ``den == 0`` gives 1 where ``num == 0``, else 0."""
    # scipy.special's stdtr is what scipy.stats.t.sf calls (same values, bit for bit), without
    # importing scipy.stats: 0.65 s of start-up in every fit job (issue #11)
    from scipy.special import stdtr

    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(statistic_num) / statistic_den
    p = 2 * stdtr(df, -t)
    zero = statistic_den == 0
    p[zero] = np.where(statistic_num[zero] == 0, 1.0, 0.0)
    return p


def bootstrap_edges(make_model: Callable[[], MaskedRegressor], x: np.ndarray, y: Outputs, mask: np.ndarray,
                    n_boot: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Refit ``make_model()`` on ``n_boot`` bootstrap resamples of the rows and test every prior edge.

    Returns the :data:`CONFIDENCE_COLUMNS` as vectors over the prior edges (``np.nonzero(mask)``
    order; the module docstring says what each is), plus ``weights`` (``n_boot x n_edges``) and
    ``intercept_mean`` (``n_targets``).
    """
    mask = np.asarray(mask, dtype=bool)
    x = np.asarray(x)
    if n_boot < 2:
        raise ValueError("bootstrap_edges needs n_boot >= 2 to estimate a standard deviation")
    weights, intercepts = _refit_weights(make_model, x, y, mask, bootstrap_counts(len(x), n_boot, seed))
    mean, std = weights.mean(0), weights.std(0, ddof=1)
    pvalue = _two_sided_t(mean, std, n_boot - 1)
    return {"weight_mean": mean, "weight_std": std, "pvalue": pvalue, "qvalue": benjamini_hochberg(pvalue),
            "pvalue_celloracle": _two_sided_t(mean, std / np.sqrt(n_boot), n_boot - 1), "weights": weights,
            "intercept_mean": intercepts.mean(0)}


def sign_shares(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per edge (columns of ``weights``, the refits' weights, ``n_boot x n_edges``), the share of refits
    with a positive and with a negative weight."""
    weights = np.asarray(weights)
    return (weights > 0).mean(0), (weights < 0).mean(0)


def edge_covariance(x: np.ndarray, y: Outputs, mask: np.ndarray) -> np.ndarray:
    """The covariance of each prior edge's TF input (column of ``x``) with its target (column of ``y``)
    over the rows, in ``np.nonzero(mask)`` order: the sign of the marginal association. One block of
    targets at a time (:func:`~transgrn.solvers.target_blocks`), keeping only the block's prior edges, so
    neither Y nor a TFs x targets matrix is ever dense as a whole."""
    mask = np.asarray(mask, dtype=bool)
    xc = np.asarray(x, dtype=np.float64)[:, : mask.shape[0]]
    xc = xc - xc.mean(0)
    tf, target = np.nonzero(mask)
    if sp.issparse(y):  # from Y's non-zeros, as the fit's moments (transgrn.solvers.moments)
        return sparse_edge_cross(xc, sp.csc_matrix(y, dtype=np.float64), tf, target) / max(len(xc) - 1, 1)
    by_target = np.argsort(target, kind="stable")  # the edges of a block of targets are a run of these
    starts = np.searchsorted(target[by_target], np.arange(mask.shape[1] + 1))
    out = np.zeros(len(tf))
    for cols, block in target_blocks(y, height=mask.shape[0]):
        edges = np.concatenate([by_target[starts[c]:starts[c + 1]] for c in cols])
        if len(edges):
            cross = xc.T @ block  # xc is centred, so the block's own mean drops out
            out[edges] = cross[tf[edges], np.searchsorted(cols, target[edges])]
    return out / max(len(xc) - 1, 1)


# The sign confidence of a weight whose marginal association with its target has the other sign: the
# multivariate fit has turned the association around, which collinear TFs do with either sign, so the
# sign is a coin flip as far as the data can say. Measured on krumsiek11: without this cap 83% of the edges
# with a share >= 0.9 had the right sign, with it 96% (benchmarks/signs.py --calibration).
DISAGREEING_SIGN_CONFIDENCE = 0.5


def sign_confidence(weight: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                    marginal: np.ndarray | None = None) -> np.ndarray:
    """How sure we are of ``weight``'s sign: the share of the refits with that sign (:func:`sign_shares`),
    at most :data:`DISAGREEING_SIGN_CONFIDENCE` where the ``marginal`` association (e.g.
    :func:`edge_covariance`; NaN = not known, no cap) has the opposite sign. NaN where ``weight`` is 0 or
    not finite (no sign to be sure of) or the edge had no refits (NaN shares)."""
    weight = np.asarray(weight, dtype=np.float64)
    confidence = np.where(weight > 0, positive, np.where(weight < 0, negative, np.nan))
    if marginal is not None:
        opposite = np.sign(np.asarray(marginal, dtype=np.float64)) == -np.sign(weight)
        confidence = np.where(opposite & (weight != 0), np.minimum(confidence, DISAGREEING_SIGN_CONFIDENCE), confidence)
    return np.where(np.isfinite(weight), confidence, np.nan)


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) over the finite entries; NaN stays NaN.

    Apply it to the edges of one transition: that is the family whose false discovery rate is
    controlled. The values are those of ``scipy.stats.false_discovery_control(p, method="bh")``
    (tests/test_confidence.py checks them bit for bit), computed here because importing
    scipy.stats costs every fit job 0.65 s.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        out[finite] = _bh(p[finite])
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    """Step-up BH, ``q_(i) = min_{j >= i} p_(j) m / j`` capped at 1, in scipy's order of operations."""
    order = np.argsort(p)
    ranked = p[order] * (len(p) / np.arange(1, len(p) + 1, dtype=np.float64))
    np.minimum.accumulate(ranked[::-1], out=ranked[::-1])
    out = np.empty_like(ranked)
    out[order] = ranked
    return np.clip(out, 0.0, 1.0)
