"""The masked elastic net and lasso (transgrn.solvers.elastic_net) against scikit-learn fitted per target."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso
from solver_problems import masked_problem, sklearn_per_target

from transgrn.solvers import ConvergenceWarning, MaskedElasticNet, MaskedLasso

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha,l1_ratio", [(0.05, 1.0), (0.3, 1.0), (0.05, 0.3), (0.5, 0.7)])
def test_enet_matches_sklearn(fit_intercept, alpha, l1_ratio):
    x, y, mask = masked_problem()
    strict = dict(tol=1e-12, max_iter=100_000)
    if l1_ratio == 1.0:
        model = MaskedLasso(alpha=alpha, fit_intercept=fit_intercept, **strict)
        make = lambda: Lasso(alpha=alpha, fit_intercept=fit_intercept, **strict)  # noqa: E731
    else:
        model = MaskedElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, **strict)
        make = lambda: ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, **strict)  # noqa: E731
    model.fit(x, y, mask)
    coef, intercept = sklearn_per_target(make, x, y, mask, fit_intercept)
    assert model.converged_ and 0 < model.n_iter_ < strict["max_iter"]
    np.testing.assert_allclose(model.coef_, coef, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-5, rtol=0)
    if alpha >= 0.3:
        assert (model.coef_[mask] == 0).any(), "a large enough alpha zeroes some prior edges exactly"

def test_lasso_warns_when_not_converged():
    x, y, mask = masked_problem()
    with pytest.warns(ConvergenceWarning):
        model = MaskedLasso(alpha=0.01, tol=1e-14, max_iter=5).fit(x, y, mask)
    assert not model.converged_ and model.n_iter_ == 5
