"""MaskedRidgeCV and the ridge penalty's cross-validation (transgrn.solvers.ridge_cv) against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from solver_problems import masked_problem, sklearn_per_target

from transgrn.confidence import bootstrap_counts
from transgrn.solvers import MaskedRidge, MaskedRidgeCV, block_budget, kfold_indices, ridge_cv_r2, select_alpha_ridge

def _manual_cv(x, y, mask, alphas, folds, make):
    """CV MSE per alpha from sklearn fitted per target per fold (the slow, obvious way)."""
    sse = np.zeros(len(alphas))
    for val in folds:
        train = np.setdiff1d(np.arange(len(x)), val)
        for i, alpha in enumerate(alphas):
            coef, intercept = sklearn_per_target(lambda: make(alpha), x[train], y[train], mask)
            sse[i] += ((y[val] - x[val] @ coef - intercept) ** 2).sum()
    return sse / y.size

@pytest.mark.parametrize("standardize", [False, True])
def test_select_alpha_ridge_matches_manual_cv(standardize):
    x, y, mask = masked_problem(n=103, t=12)
    alphas = [0.1, 3.0, 30.0, 300.0]
    best, scores = select_alpha_ridge(x, y, mask, alphas, cv=4, seed=7, standardize=standardize)

    def make(alpha):
        return make_pipeline(StandardScaler(), Ridge(alpha=alpha)) if standardize else Ridge(alpha=alpha)

    if standardize:  # pipeline has no coef_: compare predictions instead
        sse = np.zeros(len(alphas))
        for val in kfold_indices(len(x), 4, 7):
            train = np.setdiff1d(np.arange(len(x)), val)
            for i, alpha in enumerate(alphas):
                for t in range(mask.shape[1]):
                    cols = mask[:, t]
                    pred = (make(alpha).fit(x[train][:, cols], y[train, t]).predict(x[val][:, cols]) if cols.any()
                            else np.full(len(val), y[train, t].mean()))
                    sse[i] += ((y[val, t] - pred) ** 2).sum()
        expected = sse / y.size
    else:
        expected = _manual_cv(x, y, mask, alphas, kfold_indices(len(x), 4, 7), make)
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    assert best == alphas[int(np.argmin(expected))]

def test_ridge_cv_finds_the_bayes_optimal_order_of_magnitude():
    # w ~ N(0, tau^2), noise ~ N(0, sigma^2): the posterior mean is ridge with alpha = sigma^2 / tau^2 = 100
    rng = np.random.default_rng(11)
    n, p, t = 100, 8, 400
    x = rng.normal(size=(n, p))
    mask = rng.random((p, t)) < 0.7
    y = x @ (0.1 * rng.normal(size=(p, t)) * mask) + rng.normal(size=(n, t))
    alphas = np.logspace(0, 4, 17)
    model = MaskedRidgeCV(alphas=alphas).fit(x, y, mask)
    assert 30 <= model.alpha_ <= 300
    assert model.alpha_ == select_alpha_ridge(x, y, mask, alphas)[0]
    np.testing.assert_allclose(model.coef_, MaskedRidge(alpha=model.alpha_).fit(x, y, mask).coef_)
    default_grid = MaskedRidgeCV().fit(x, y, mask)  # grid relative to mean(diag(X'X)) ~ n
    assert 10 <= default_grid.alpha_ <= 1000

@pytest.mark.parametrize("cv", ["gcv", "loo", 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_ridge_cv_fits_from_the_cross_validation_sums(cv, fit_intercept, standardize, sparse):
    """MaskedRidgeCV takes the whole design's moments from those its penalty's choice computed (for
    K-fold, the folds' sums) instead of a second pass over Y, and with GCV its weights from the
    decompositions that scored the penalties: the same weights and intercepts as a plain fit at the
    chosen alpha."""
    x, y, mask = masked_problem()
    y = sp.csr_matrix(np.where(np.abs(y) > 2, y, 0.0)) if sparse else y
    params = {"fit_intercept": fit_intercept, "standardize": standardize, "device": "cpu"}
    auto = MaskedRidgeCV(cv=cv, **params).fit(x, y, mask)
    plain = MaskedRidge(alpha=auto.alpha_, **params).fit(x, y, mask)
    np.testing.assert_allclose(auto.coef_, plain.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(auto.intercept_, plain.intercept_, rtol=1e-9, atol=1e-12)

def test_ridge_cv_weighted_batch_is_the_ridges_at_the_chosen_penalty():
    """The bootstrap's refits with a cross-validated penalty: chosen once on the unweighted rows."""
    x, y, mask = masked_problem(n=60, t=8)
    counts = bootstrap_counts(len(x), 3, seed=1)
    model = MaskedRidgeCV(cv=4, cv_seed=2, device="cpu")
    weights, intercepts = model.fit_weightings(x, y, mask, counts)
    assert model.alpha_ == select_alpha_ridge(x, y, mask, cv=4, seed=2, device="cpu")[0]
    expected = MaskedRidge(alpha=model.alpha_, device="cpu").fit_weightings(x, y, mask, counts)
    np.testing.assert_array_equal(weights, expected[0])
    np.testing.assert_array_equal(intercepts, expected[1])

def test_ridge_cv_takes_the_least_of_its_own_scores():
    """select_alpha_ridge's choice is the least of the CV curve it returns (RidgeCV's rule)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 6))
    y = x[:, :2] @ np.array([[1.0, 0.0], [0.5, -1.0]]) + rng.normal(scale=2.0, size=(120, 2))
    mask = np.ones((6, 2), dtype=bool)
    alphas = np.logspace(-2, 3, 8)
    alpha, scores = select_alpha_ridge(x, y, mask, alphas, device="cpu")
    assert alpha == alphas[np.argmin(scores)]
    assert 0 < np.argmin(scores) < len(alphas) - 1  # an interior optimum, not an end of the grid

@pytest.mark.parametrize("alpha", [2.5, 0.3])
def test_ridge_cv_r2_equals_refitting_each_fold(alpha):
    """The lag's cross-validation from fold sums gives the R^2 of refitting on each fold's
    training rows and predicting its held-out rows (SS about the training mean)."""
    rng = np.random.default_rng(4)
    x, mask = rng.normal(size=(90, 7)), rng.uniform(size=(7, 5)) < 0.5
    mask[:, 0] = False  # a target without prior TFs: predicted by its training mean
    y = x @ (rng.normal(size=(7, 5)) * mask) + rng.normal(size=(90, 5)) + 3.0
    folds = [np.sort(f) for f in np.array_split(rng.permutation(90), 4)]
    sse = sst = 0.0
    for rows in folds:
        train = np.setdiff1d(np.arange(90), rows)
        model = MaskedRidge(alpha=alpha, device="cpu").fit(x[train], y[train], mask)
        sse += ((y[rows] - model.predict(x[rows])) ** 2).sum()
        sst += ((y[rows] - y[train].mean(0)) ** 2).sum()
    assert ridge_cv_r2(x, y, mask, folds, alpha, device="cpu") == pytest.approx(1 - sse / sst, rel=1e-10)
    # the same from sparse outputs, and a few targets at a time (blocks of the gathered TF columns)
    with block_budget(8 * 90 * 7 * 2):
        assert ridge_cv_r2(x, sp.csr_matrix(y), mask, folds, alpha, device="cpu") == pytest.approx(1 - sse / sst,
                                                                                                 rel=1e-10)

def _loo_reference(x, y, mask, alphas, fit_intercept=True, scale=None):
    """Per target: scikit-learn's ``RidgeCV(cv=None)`` on the target's prior TFs (``x`` scaled by
    ``scale`` first, if given) -- its chosen alpha and its squared leave-one-out errors per alpha
    (``cv_results_``, rows x alphas); a target without prior TFs is predicted by the mean of the
    other rows (or 0 without intercept)."""
    xs = x if scale is None else scale.fit_transform(x)
    chosen, errors = [], []
    for t in range(mask.shape[1]):
        cols = mask[:, t]
        if cols.any():
            ridge = RidgeCV(alphas=alphas, fit_intercept=fit_intercept, store_cv_results=True).fit(xs[:, cols], y[:, t])
            chosen.append(ridge.alpha_)
            errors.append(ridge.cv_results_)
        else:
            n = len(y)
            loo_mean = (y[:, t].sum() - y[:, t]) / (n - 1) if fit_intercept else 0.0
            chosen.append(None)
            errors.append(np.tile(((y[:, t] - loo_mean) ** 2)[:, None], (1, len(alphas))))
    return chosen, np.stack(errors, axis=1)  # rows x targets x alphas

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
def test_loo_matches_ridgecv_per_target(fit_intercept, standardize):
    """cv="loo": each target's alpha and leave-one-out errors are scikit-learn's RidgeCV(cv=None)
    on that target's masked columns (of the scaled design with standardize), and the transition's
    curve is their mean over rows and targets, which is what a multi-output RidgeCV minimizes."""
    x, y, mask = masked_problem(n=70, t=14)
    alphas = [0.03, 1.0, 10.0, 100.0, 3000.0]
    scale = StandardScaler(with_mean=fit_intercept) if standardize else None
    chosen, errors = _loo_reference(x, y, mask, alphas, fit_intercept, scale)
    params = {"cv": "loo", "fit_intercept": fit_intercept, "standardize": standardize, "device": "cpu"}
    for t in range(mask.shape[1]):
        alpha, scores = select_alpha_ridge(x, y[:, [t]], mask[:, [t]], alphas, **params)
        np.testing.assert_allclose(scores, errors[:, t].mean(0), rtol=1e-9)
        if chosen[t] is not None:
            assert alpha == chosen[t]
    alpha, scores = select_alpha_ridge(x, y, mask, alphas, **params)
    np.testing.assert_allclose(scores, errors.mean((0, 1)), rtol=1e-9)
    assert alpha == alphas[int(np.argmin(errors.mean((0, 1))))]
    assert len({a for a in chosen if a is not None}) > 1  # the targets disagree: the pooling matters

def test_loo_with_every_tf_is_a_multi_output_ridgecv():
    x, y, _ = masked_problem(n=80, t=9)
    mask = np.ones((x.shape[1], y.shape[1]), dtype=bool)
    alphas = np.logspace(-2, 4, 9)
    ridge = RidgeCV(alphas=alphas, store_cv_results=True).fit(x, y)
    alpha, scores = select_alpha_ridge(x, y, mask, alphas, cv="loo", device="cpu")
    np.testing.assert_allclose(scores, ridge.cv_results_.mean((0, 1)), rtol=1e-9)
    assert alpha == ridge.alpha_

@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gcv_is_loo_with_the_mean_leverage(fit_intercept):
    """cv="gcv": per target ``mean(e_i^2) / (1 - tr(H) / n)^2`` with ``e`` the residuals of
    scikit-learn's Ridge on the target's masked columns and ``H`` its hat matrix (intercept
    unpenalized), averaged over targets."""
    x, y, mask = masked_problem(n=60, t=12)
    alphas = [0.1, 3.0, 30.0, 300.0]
    n = len(x)
    expected = np.zeros(len(alphas))
    for t in range(mask.shape[1]):
        xs = x[:, mask[:, t]]
        for i, alpha in enumerate(alphas):
            residual = y[:, t] - Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(xs, y[:, t]).predict(xs) \
                if xs.shape[1] else y[:, t] - (y[:, t].mean() if fit_intercept else 0.0)
            design = np.hstack([np.ones((n, 1)), xs]) if fit_intercept else xs
            penalty = np.diag([0.0] * fit_intercept + [alpha] * xs.shape[1])
            hat = design @ np.linalg.pinv(design.T @ design + penalty) @ design.T
            expected[i] += (residual ** 2).mean() / (1 - np.trace(hat) / n) ** 2
    expected /= mask.shape[1]
    alpha, scores = select_alpha_ridge(x, y, mask, alphas, cv="gcv", fit_intercept=fit_intercept, device="cpu")
    np.testing.assert_allclose(scores, expected, rtol=1e-9)
    assert alpha == alphas[int(np.argmin(expected))]

@pytest.mark.parametrize("cv", ["gcv", "loo"])
def test_penalty_choice_same_from_sparse_outputs_in_small_blocks(cv):
    x, y, mask = masked_problem(n=90, t=30)
    y = np.where(np.abs(y) > 2, y, 0.0)
    alphas = np.logspace(-1, 3, 7)
    expected = select_alpha_ridge(x, y, mask, alphas, cv=cv, device="cpu")
    with block_budget(8 * 90 * 3):  # a few targets a block, and small groups of padded Gram matrices
        alpha, scores = select_alpha_ridge(x, sp.csc_matrix(y), mask, alphas, cv=cv, device="cpu",
                                           max_group_elements=40)
    assert alpha == expected[0]
    np.testing.assert_allclose(scores, expected[1], rtol=1e-10)

@pytest.mark.parametrize("cv", ["gcv", "loo"])
def test_penalty_choice_in_float32(cv):
    x, y, mask = masked_problem()
    alphas = np.logspace(-1, 3, 7)
    single = select_alpha_ridge(x, y, mask, alphas, cv=cv, dtype="float32", device="cpu")
    double = select_alpha_ridge(x, y, mask, alphas, cv=cv, dtype="float64", device="cpu")
    np.testing.assert_allclose(single[1], double[1], rtol=1e-4)
    assert single[0] == double[0]

@pytest.mark.parametrize("cv", ["kfold", 1, True, 2.5])
def test_unknown_cv_is_refused(cv):
    x, y, mask = masked_problem(n=30, t=4)
    with pytest.raises(ValueError, match="cv must be"):
        select_alpha_ridge(x, y, mask, [1.0], cv=cv)


def test_sign_constrained_cv_chooses_the_free_penalty_and_fits_the_constrained_weights_at_it():
    x, y, mask = masked_problem()
    free = MaskedRidgeCV(device="cpu").fit(x, y, mask)
    signed = MaskedRidgeCV(sign="correlation", device="cpu").fit(x, y, mask)
    assert signed.alpha_ == free.alpha_
    np.testing.assert_array_equal(signed.cv_scores_, free.cv_scores_)
    at = MaskedRidge(signed.alpha_, sign="correlation", device="cpu").fit(x, y, mask)
    np.testing.assert_allclose(signed.coef_, at.coef_, atol=1e-12)
    assert signed.at(1.0).sign == "correlation"
