"""The lagged same-cell design: each cell's TF input shifted back along pseudotime.

A target measured at pseudotime ``t`` responds to its regulators' levels some time earlier. The
same-cell (``joint``) design regresses it on the TF levels at ``t``; the ``lagged`` design
keeps the cell's own deviation from the trajectory's mean TF levels (the per-cell evidence
that identifies regulators) but moves the mean part to ``t - lag``::

    x_lagged(cell) = x(cell) - trend(t) + trend(t - lag)

``trend`` is the kernel-smoothed mean TF expression of the transition's cells as a function of
pseudotime -- the barycentric pseudotime mapping of each cell onto the cells ``lag`` earlier. The
shift points towards the source cluster, so ``A -> B`` takes its trend from A's side. ``lag`` is
chosen per transition by K-fold cross-validation on the training cells (:func:`choose_lag`):
``0`` (the plain same-cell design) competes with every other lag of the grid, so the data decide
whether a lag carries signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cells import CellSet
from .mapping_file import NO_LAG, LagSpec
from .solvers import ridge_cv_r2

log = logging.getLogger(__name__)

CV_FOLDS = 5
CV_MAX_TARGETS = 300  # targets a lag's cross-validation is scored on (a random subset beyond; also transgrn.mapping)
CV_ALPHA = 1.0
# training rows a lag's cross-validation is scored on (a random subset beyond; transgrn.mapping): 5 folds of
# 400 rows over CV_MAX_TARGETS targets rank the lags as all rows do (benchmarks/lag_rows.py), and an atlas
# transition's 4,000 rows took 5 of its mapping job's 8 s
CV_MAX_ROWS = 2000


@dataclass(frozen=True)
class Trend:
    """Mean expression (columns of ``x``) as a smooth function of pseudotime, tabulated on a grid."""

    grid: np.ndarray
    values: np.ndarray  # len(grid) x columns

    @classmethod
    def fit(cls, x: np.ndarray, pseudotime: np.ndarray, bandwidth: float, reach: float) -> "Trend":
        """Nadaraya-Watson (Gaussian kernel of width ``bandwidth``) on a grid of step ``bandwidth / 4``
        anchored at the earliest cell and extending ``reach`` beyond the observed pseudotimes (where the
        kernel mean levels off to the edge cells' mean). Grid points do not depend on ``reach``, so
        trends fitted with different reaches agree where they overlap."""
        step = bandwidth / 4
        before = int(np.ceil(reach / step))
        after = int(np.ceil((pseudotime.max() - pseudotime.min()) / step)) + before
        grid = pseudotime.min() + step * np.arange(-before, after + 1)
        log_kernel = -0.5 * ((grid[:, None] - pseudotime[None, :]) / bandwidth) ** 2
        kernel = np.exp(log_kernel - log_kernel.max(axis=1, keepdims=True))  # stable far from every cell
        kernel /= kernel.sum(axis=1, keepdims=True)
        return cls(grid, kernel @ np.asarray(x, dtype=np.float64))

    def at(self, times: np.ndarray) -> np.ndarray:
        """Trend values (len(times) x columns), linear between grid points."""
        position = np.interp(times, self.grid, np.arange(len(self.grid)))
        low = np.minimum(np.floor(position).astype(int), len(self.grid) - 2)
        frac = (position - low)[:, None]
        values = self.values[low + 1] - self.values[low]  # in place from here: cells x TFs can be large
        values *= frac
        values += self.values[low]
        return values

    def shift(self, x: np.ndarray, times: np.ndarray, lag: float, now: np.ndarray | None = None) -> np.ndarray:
        """``x`` with its trend part moved from ``times`` to ``times - lag``. ``now`` is ``self.at(times)``
        where the caller has it: the lag's cross-validation shifts the same rows by every lag of its grid."""
        if lag == 0:
            return x
        shifted = self.at(times - lag)
        shifted -= self.at(times) if now is None else now
        shifted += x
        return shifted


def lag_direction(source_time: np.ndarray, target_time: np.ndarray) -> float:
    """+1 when the source cluster lies earlier in pseudotime than the target (inputs from earlier
    times), -1 when later: the shift always points towards the source."""
    return 1.0 if np.median(source_time) <= np.median(target_time) else -1.0


def cv_score(x: np.ndarray, y: np.ndarray, mask: np.ndarray, folds: np.ndarray) -> float:
    """Pooled held-out R^2 of a masked ridge over the folds (1 - total SSE / total SS about the training mean),
    from the folds' sums (:func:`transgrn.solvers.ridge_cv_r2`: the values of refitting per fold)."""
    return ridge_cv_r2(x, y, mask, [np.flatnonzero(folds == fold) for fold in np.unique(folds)], CV_ALPHA)


def choose_lag(x: np.ndarray, y: np.ndarray, times: np.ndarray, mask: np.ndarray, trend: Trend, lags: list[float],
               rng: np.random.Generator) -> tuple[float, dict[float, float]]:
    """The lag of ``lags`` (signed, in pseudotime units) whose shifted inputs predict ``y`` best in
    K-fold cross-validation over the rows, on at most ``CV_MAX_TARGETS`` targets with a prior TF.

    Returns the chosen lag and every lag's score; ties go to the smaller ``|lag|``."""
    estimable = np.flatnonzero(mask.any(axis=0) & (y.var(axis=0) > 1e-12))
    if len(estimable) == 0 or len(x) < 2 * CV_FOLDS:
        return 0.0, {}
    columns = np.sort(rng.permutation(estimable)[:CV_MAX_TARGETS])
    folds = rng.permutation(np.arange(len(x)) % CV_FOLDS)
    now = trend.at(times) if any(lags) else None
    scores = {lag: cv_score(trend.shift(x, times, lag, now), y[:, columns], mask[:, columns], folds) for lag in lags}
    best = max(sorted(scores, key=abs), key=lambda lag: np.nan_to_num(scores[lag], nan=-np.inf))
    return float(best), scores


def pair_times(part: pd.DataFrame, inputs: CellSet) -> np.ndarray:
    """Pseudotime of each design row's input cell, rows in :func:`transgrn.mapping.paired_design` order."""
    first = part.drop_duplicates("pair").sort_values("pair", kind="stable")
    return inputs.pseudotime[pd.Index(inputs.names).get_indexer(first["source_cell"])]


def input_trend(inputs: CellSet, bandwidth: float, reach: float) -> Trend:
    """The TF trend of every input cell of a same-cell design (both clusters, all splits: inputs only)."""
    matrix = inputs.matrix.toarray() if sp.issparse(inputs.matrix) else np.asarray(inputs.matrix)
    return Trend.fit(matrix, inputs.pseudotime, bandwidth, reach)


def candidate_lags(source_time: np.ndarray, target_time: np.ndarray, fractions: list[float]) -> tuple[list[float], float]:
    """Signed lags (pseudotime units, towards the source) for ``fractions`` of both clusters' pseudotime
    range, and that range."""
    both = np.concatenate([source_time, target_time])
    span = float(both.max() - both.min())
    direction = lag_direction(source_time, target_time)
    return [direction * f * span + 0.0 for f in sorted(set(fractions))], span  # + 0.0: no negative zero


# --------------------------------------------------------------------------------------------
# The lagged design as a value: chosen once per transition, stored with its mapping, applied once
# --------------------------------------------------------------------------------------------

def choose_lag_spec(x: np.ndarray, y: np.ndarray, times: np.ndarray, mask: np.ndarray, inputs: CellSet,
                    source_time: np.ndarray, target_time: np.ndarray, lag_grid: list[float], lag_bandwidth: float,
                    rng: np.random.Generator) -> LagSpec:
    """The lagged design of a transition: the lag of ``lag_grid`` (fractions of both clusters'
    pseudotime range) whose shifted TF inputs ``x`` (training rows, input cells ``inputs`` at
    ``times``) predict ``y`` best in cross-validation (:func:`choose_lag`)."""
    lags, span = candidate_lags(source_time, target_time, list(lag_grid))
    if span <= 0:
        return NO_LAG
    bandwidth = float(lag_bandwidth) * span
    trend = input_trend(inputs, bandwidth, reach=max(abs(lag) for lag in lags))
    lag, scores = choose_lag(x, y, times, mask, trend, lags, rng)
    log.info("lagged design: held-out R^2 by lag %s -> lag %.4g (pseudotime range %.4g)",
                                     {round(k, 4): round(v, 4) for k, v in scores.items()}, lag, span)
    return LagSpec(lag, bandwidth)


def apply_lag(spec: LagSpec | None, x: np.ndarray, part: pd.DataFrame, inputs: CellSet, trends: dict) -> np.ndarray:
    """TF inputs ``x`` of the rows ``part`` shifted as ``spec`` says (unchanged without a lag).
    ``trends`` caches one trend over every input cell per (inputs, spec), shared by all splits."""
    if spec is None or not spec.lag or part.empty:  # lag 0, or None after the fallback to joint: no shift
        return x
    key = (id(inputs), spec)
    if key not in trends:
        trends[key] = input_trend(inputs, spec.bandwidth, abs(spec.lag))
    return trends[key].shift(x, pair_times(part, inputs), spec.lag)
