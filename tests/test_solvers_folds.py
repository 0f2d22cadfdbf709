"""K-fold cross-validation from per-fold sums (transgrn.solvers.folds), for the ridge and the lasso alike."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Lasso, Ridge
from sklearn.model_selection import GridSearchCV
from solver_problems import masked_problem

from transgrn.solvers import kfold_indices, least_cv_error, select_alpha_enet, select_alpha_ridge

def test_select_alpha_matches_gridsearchcv_full_mask():
    x, y, _ = masked_problem(n=150, t=20)
    mask = np.ones((x.shape[1], y.shape[1]), dtype=bool)
    folds = kfold_indices(len(x), 5, seed=1)
    cv = [(np.setdiff1d(np.arange(len(x)), f), f) for f in folds]
    alphas = [0.01, 1.0, 100.0, 1000.0]
    _, scores = select_alpha_ridge(x, y, mask, alphas, cv=5, seed=1)
    grid = GridSearchCV(Ridge(), {"alpha": alphas}, cv=cv, scoring="neg_mean_squared_error").fit(x, y)
    np.testing.assert_allclose(scores, -grid.cv_results_["mean_test_score"], rtol=1e-9)
    lasso_alphas = [0.5, 0.1, 0.02]
    _, lasso_scores = select_alpha_enet(x, y, mask, lasso_alphas, n_folds=5, seed=1, tol=1e-12, max_iter=100_000)
    grid = GridSearchCV(Lasso(tol=1e-12, max_iter=100_000), {"alpha": lasso_alphas}, cv=cv,
                        scoring="neg_mean_squared_error").fit(x, y)
    np.testing.assert_allclose(lasso_scores, -grid.cv_results_["mean_test_score"], rtol=1e-6)

def test_groups_keep_rows_together():
    groups = np.repeat(np.arange(20), 5)
    folds = kfold_indices(len(groups), 4, seed=0, groups=groups)
    assert sorted(np.concatenate(folds)) == list(range(len(groups)))
    for f in folds:
        assert not set(groups[f]) & set(groups[np.setdiff1d(np.arange(len(groups)), f)])

def test_the_penalty_with_the_least_held_out_error_is_chosen():
    alphas = np.array([0.1, 1.0, 10.0, 100.0])
    assert least_cv_error(np.array([1.40, 1.05, 1.00, 1.60]), alphas) == 10.0
    assert least_cv_error(np.array([1.40, 1.05, 1.10, 1.60]), alphas) == 1.0
    assert least_cv_error(np.ones(4), alphas) == 0.1  # the first of equals
