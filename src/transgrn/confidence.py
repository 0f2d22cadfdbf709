"""Per-edge confidence of a masked regression by bootstrapping the (source, target) pairs.

:func:`bootstrap_fit` refits a solver on ``n_boot`` resamples of the rows and summarizes every
prior edge's weights: mean, standard deviation and two p-values.

* ``pvalue`` -- CellOracle's test: a one-sample t-test of the ``n_boot`` bootstrap weights
  against 0. Its standard error is ``std / sqrt(n_boot)``, the uncertainty of the *bootstrap
  mean*, not of the weight, so it shrinks as ``n_boot`` grows and is far from uniform on pure
  noise (with 20 replicates, about 60% of null edges get p < 0.05). Kept for comparability with
  CellOracle.
* ``pvalue_z`` -- the bootstrap standard-error test: ``mean / std`` compared to a t
  distribution with ``n_boot - 1`` degrees of freedom. ``std`` estimates the sampling standard
  deviation of the weight, so this is roughly uniform under the null. Prefer it for calling edges.

Both assume independent rows; pairs that share a source cell are not independent, which makes
either test optimistic. ``qvalue``/``qvalue_z`` are Benjamini-Hochberg within the transition.

Ridge (:class:`~transgrn.solvers.MaskedRidge`) refits are batched: all resamples are solved at
once from count-weighted moments (:meth:`MaskedRidge.fit_weighted_batch`); other solvers are
refitted one by one on the same resamples. :func:`bootstrap_edges` gives the same statistics per
prior edge, without the ``n_tfs x n_targets`` arrays (what the workflow uses at scale).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import stats

from .solvers import MaskedRegressor, MaskedRidge, Outputs


def bootstrap_counts(n_rows: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """How often each row is drawn in each resample (``n_boot x n_rows``); rows drawn with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_rows, size=(n_boot, n_rows))
    return np.stack([np.bincount(d, minlength=n_rows) for d in draws]).astype(np.float64)


def _refit_weights(make_model: Callable[[], MaskedRegressor], x: np.ndarray, y: Outputs, mask: np.ndarray,
                   counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edge weights and intercepts of each resample: one batch for ridge, a loop otherwise."""
    model = make_model()
    if isinstance(model, MaskedRidge):
        return model.fit_weighted_batch(x, y, mask, counts)
    weights, intercepts = [], []
    edges = np.nonzero(mask)
    for c in counts:
        rows = np.repeat(np.arange(len(c)), c.astype(int))
        fitted = make_model().fit(x[rows], y[rows], mask)
        weights.append(fitted.coef_at(*edges))
        intercepts.append(fitted.intercept_)
    return np.array(weights), np.array(intercepts)


def _two_sided_t(statistic_num: np.ndarray, statistic_den: np.ndarray, df: int) -> np.ndarray:
    """Two-sided t p-values of ``num / den``; ``den == 0`` gives 1 where ``num == 0``, else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(statistic_num) / statistic_den
    p = 2 * stats.t.sf(t, df)
    zero = statistic_den == 0
    p[zero] = np.where(statistic_num[zero] == 0, 1.0, 0.0)
    return p


def _on_mask(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``n_tfs x n_targets`` array with ``values`` on the prior edges and NaN elsewhere."""
    out = np.full(mask.shape, np.nan)
    out[mask] = values
    return out


PER_EDGE = ("weight_mean", "weight_std", "pvalue", "qvalue", "pvalue_z", "qvalue_z")


def bootstrap_edges(make_model: Callable[[], MaskedRegressor], x: np.ndarray, y: Outputs, mask: np.ndarray,
                    n_boot: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """:func:`bootstrap_fit` with its ``PER_EDGE`` statistics as vectors over the prior edges
    (``np.nonzero(mask)`` order) rather than ``n_tfs x n_targets`` arrays."""
    mask = np.asarray(mask, dtype=bool)
    x = np.asarray(x)
    if n_boot < 2:
        raise ValueError("bootstrap_fit needs n_boot >= 2 to estimate a standard deviation")
    weights, intercepts = _refit_weights(make_model, x, y, mask, bootstrap_counts(len(x), n_boot, seed))
    mean, std = weights.mean(0), weights.std(0, ddof=1)
    pvalue = _two_sided_t(mean, std / np.sqrt(n_boot), n_boot - 1)
    pvalue_z = _two_sided_t(mean, std, n_boot - 1)
    return {"weight_mean": mean, "weight_std": std, "pvalue": pvalue, "qvalue": benjamini_hochberg(pvalue),
            "pvalue_z": pvalue_z, "qvalue_z": benjamini_hochberg(pvalue_z), "weights": weights,
            "intercept_mean": intercepts.mean(0)}


def bootstrap_fit(make_model: Callable[[], MaskedRegressor], x: np.ndarray, y: Outputs, mask: np.ndarray,
                  n_boot: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Refit ``make_model()`` on ``n_boot`` bootstrap resamples of the rows and test every prior edge.

    Returns ``n_tfs x n_targets`` arrays (NaN outside ``mask``): ``weight_mean``, ``weight_std``
    (ddof=1), ``pvalue`` (CellOracle's one-sample t-test), ``qvalue`` (its BH), ``pvalue_z``
    (bootstrap standard-error test, calibrated), ``qvalue_z``; and ``weights``
    (``n_boot x n_edges``, edges in ``np.nonzero(mask)`` order) and ``intercept_mean``
    (``n_targets``). See the module docstring for why two p-values.
    """
    mask = np.asarray(mask, dtype=bool)
    summary = bootstrap_edges(make_model, x, y, mask, n_boot, seed)
    return {k: _on_mask(v, mask) if k in PER_EDGE else v for k, v in summary.items()}


def benjamini_hochberg(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) over the finite entries; NaN stays NaN.

    Apply it to the edges of one transition: that is the family whose false discovery rate is
    controlled. Uses ``scipy.stats.false_discovery_control`` when available.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if not finite.any():
        return out
    if hasattr(stats, "false_discovery_control"):
        out[finite] = stats.false_discovery_control(p[finite], method="bh")
    else:
        out[finite] = _bh(p[finite])
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    """Step-up BH: ``q_(i) = min_{j >= i} p_(j) m / j``, capped at 1."""
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(p)
    out[order] = np.minimum(q, 1.0)
    return out
