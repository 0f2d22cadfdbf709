"""The masked regression problems the solver tests share (tests/test_solvers_*.py), and scikit-learn
fitted target by target as their reference. Importable as ``solver_problems`` (tests/ is on sys.path)."""

from __future__ import annotations

import numpy as np


def masked_problem(n: int = 120, p: int = 12, t: int = 25, density: float = 0.5, seed: int = 0):
    """Correlated, off-centre, unevenly scaled TFs; a planted W inside the mask; an empty target."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 3)) @ rng.normal(size=(3, p)) + rng.normal(size=(n, p))) * rng.uniform(0.3, 3, p) + 2
    mask = rng.random((p, t)) < density
    mask[:, 0] = False
    mask[:, 1] = True
    w = rng.normal(size=(p, t)) * mask
    y = x @ w + rng.normal(size=(n, t)) + rng.normal(size=t) * 3
    return x, y, mask


def sklearn_per_target(make, x, y, mask, fit_intercept: bool = True):
    """sklearn fitted target by target on the target's prior TFs."""
    coef, intercept = np.zeros(mask.shape), np.zeros(mask.shape[1])
    for t in range(mask.shape[1]):
        cols = mask[:, t]
        if not cols.any():
            intercept[t] = y[:, t].mean() if fit_intercept else 0.0
            continue
        est = make().fit(x[:, cols], y[:, t])
        coef[cols, t] = est.coef_
        intercept[t] = est.intercept_
    return coef, intercept
