"""MaskedElasticNetCV and MaskedLassoCV (transgrn.solvers.elastic_net_cv)."""

from __future__ import annotations

import numpy as np
from solver_problems import masked_problem

from transgrn.solvers import MaskedElasticNet, MaskedElasticNetCV, MaskedLassoCV, select_alpha_enet

def test_lasso_cv_prefers_sparse_truth():
    rng = np.random.default_rng(5)
    n, p, t = 120, 15, 40
    x = rng.normal(size=(n, p))
    mask = np.ones((p, t), dtype=bool)
    w = np.where(rng.random((p, t)) < 0.15, 2.0, 0.0)
    y = x @ w + rng.normal(size=(n, t))
    model = MaskedLassoCV().fit(x, y, mask)
    scores = model.cv_scores_
    assert np.argmin(scores) not in (0, len(scores) - 1)  # interior optimum on the default path
    assert 0.01 < model.alpha_ < 1.0

def test_elastic_net_cv_fits_at_the_penalty_its_cross_validation_chose():
    x, y, mask = masked_problem(n=80, t=8)
    model = MaskedElasticNetCV(l1_ratio=0.5, n_folds=4, cv_seed=1, device="cpu").fit(x, y, mask)
    alpha, scores = select_alpha_enet(x, y, mask, l1_ratio=0.5, n_folds=4, seed=1, device="cpu")
    assert model.alpha_ == alpha
    np.testing.assert_array_equal(model.cv_scores_, scores)
    plain = MaskedElasticNet(alpha=alpha, l1_ratio=0.5, device="cpu").fit(x, y, mask)
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    assert model.converged_ and model.n_iter_ == plain.n_iter_
