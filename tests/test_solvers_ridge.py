"""The closed-form masked ridge (transgrn.solvers.ridge) against scikit-learn fitted per target on the same masked columns."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from solver_problems import masked_problem, sklearn_per_target

from transgrn.confidence import bootstrap_counts
from transgrn.solvers import MaskedRidge

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-6, 3.0, 300.0])
def test_ridge_matches_sklearn(fit_intercept, alpha):
    x, y, mask = masked_problem()
    model = MaskedRidge(alpha=alpha, fit_intercept=fit_intercept, device="cpu").fit(x, y, mask)
    coef, intercept = sklearn_per_target(lambda: Ridge(alpha=alpha, fit_intercept=fit_intercept), x, y, mask, fit_intercept)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-8, rtol=0)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-8, rtol=0)

def test_ridge_small_batches_same_answer():
    x, y, mask = masked_problem()
    big = MaskedRidge(alpha=2.0).fit(x, y, mask)
    small = MaskedRidge(alpha=2.0, max_group_elements=50).fit(x, y, mask)
    np.testing.assert_allclose(small.coef_, big.coef_, atol=1e-12)

def test_weighted_batch_is_the_fit_on_the_resampled_rows():
    """Integer row weights (bootstrap counts) give the fit on the rows repeated that often."""
    x, y, mask = masked_problem(n=50, t=8)
    counts = bootstrap_counts(len(x), 3, seed=2)
    weights, intercepts = MaskedRidge(alpha=2.0, device="cpu").fit_weightings(x, y, mask, counts)
    for b, c in enumerate(counts):
        rows = np.repeat(np.arange(len(c)), c.astype(int))
        refit = MaskedRidge(alpha=2.0, device="cpu").fit(x[rows], y[rows], mask)
        np.testing.assert_allclose(weights[b], refit.coef_[mask], atol=1e-9)
        np.testing.assert_allclose(intercepts[b], refit.intercept_, atol=1e-9)
