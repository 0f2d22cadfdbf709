"""Masked solvers against sklearn fitted per target on the same masked columns."""

from __future__ import annotations


import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, Lasso, Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from transgrn.solvers import (
    SOLVERS,
    block_budget,
    ConvergenceWarning,
    MaskedAdam,
    MaskedElasticNet,
    MaskedLasso,
    MaskedRidge,
    kfold_indices,
    make_solver,
    select_alpha_enet,
    select_alpha_ridge,
)


def _data(n: int = 120, p: int = 12, t: int = 25, density: float = 0.5, seed: int = 0):
    """Correlated, off-centre, unevenly scaled TFs; a planted W inside the mask; an empty target."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 3)) @ rng.normal(size=(3, p)) + rng.normal(size=(n, p))) * rng.uniform(0.3, 3, p) + 2
    mask = rng.random((p, t)) < density
    mask[:, 0] = False
    mask[:, 1] = True
    w = rng.normal(size=(p, t)) * mask
    y = x @ w + rng.normal(size=(n, t)) + rng.normal(size=t) * 3
    return x, y, mask


def _reference(make, x, y, mask, fit_intercept: bool = True):
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


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-6, 3.0, 300.0])
def test_ridge_matches_sklearn(fit_intercept, alpha):
    x, y, mask = _data()
    model = MaskedRidge(alpha=alpha, fit_intercept=fit_intercept, device="cpu").fit(x, y, mask)
    coef, intercept = _reference(lambda: Ridge(alpha=alpha, fit_intercept=fit_intercept), x, y, mask, fit_intercept)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-8, rtol=0)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-8, rtol=0)


def test_ridge_small_batches_same_answer():
    x, y, mask = _data()
    big = MaskedRidge(alpha=2.0).fit(x, y, mask)
    small = MaskedRidge(alpha=2.0, max_batch_elements=50).fit(x, y, mask)
    np.testing.assert_allclose(small.coef_, big.coef_, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha,l1_ratio", [(0.05, 1.0), (0.3, 1.0), (0.05, 0.3), (0.5, 0.7)])
def test_enet_matches_sklearn(fit_intercept, alpha, l1_ratio):
    x, y, mask = _data()
    strict = dict(tol=1e-12, max_iter=100_000)
    if l1_ratio == 1.0:
        model = MaskedLasso(alpha=alpha, fit_intercept=fit_intercept, **strict)
        make = lambda: Lasso(alpha=alpha, fit_intercept=fit_intercept, **strict)  # noqa: E731
    else:
        model = MaskedElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, **strict)
        make = lambda: ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, **strict)  # noqa: E731
    model.fit(x, y, mask)
    coef, intercept = _reference(make, x, y, mask, fit_intercept)
    assert model.converged_ and 0 < model.n_iter_ < strict["max_iter"]
    np.testing.assert_allclose(model.coef_, coef, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-5, rtol=0)
    if alpha >= 0.3:
        assert (model.coef_[mask] == 0).any(), "a large enough alpha zeroes some prior edges exactly"


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_exact_zeros_outside_mask_and_common_params(name):
    x, y, mask = _data(n=60, p=6, t=10)
    extra = {"epochs": 20} if name == "adam" else {}
    # grn.fit_transition passes exactly these four to every solver
    model = make_solver(name, alpha=0.1, fit_intercept=True, device="cpu", dtype="float64", **extra).fit(x, y, mask)
    assert model.coef_.dtype == np.float64 and model.coef_.shape == mask.shape
    assert np.all(model.coef_[~mask] == 0.0)
    assert model.intercept_.shape == (mask.shape[1],)
    assert model.predict(x).shape == y.shape


def test_unknown_solver():
    with pytest.raises(ValueError, match="unknown solver"):
        make_solver("sgd")


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name,make", [
    ("ridge", lambda fi: Ridge(alpha=5.0, fit_intercept=fi)),
    ("lasso", lambda fi: Lasso(alpha=0.05, fit_intercept=fi, tol=1e-12, max_iter=100_000)),
])
def test_standardize_matches_sklearn_on_scaled_columns(name, make, fit_intercept):
    x, y, mask = _data()
    params = {"alpha": 5.0} if name == "ridge" else {"alpha": 0.05, "tol": 1e-12, "max_iter": 100_000}
    model = make_solver(name, standardize=True, fit_intercept=fit_intercept, **params).fit(x, y, mask)
    xs = StandardScaler(with_mean=fit_intercept).fit_transform(x)
    coef, intercept = _reference(lambda: make(fit_intercept), xs, y, mask, fit_intercept)
    np.testing.assert_allclose(model.predict(x), xs @ coef + intercept, atol=1e-6, rtol=0)
    assert np.all(model.coef_[~mask] == 0.0)
    # standardizing changes the penalty's meaning, so the fit differs from the unscaled one
    plain = make_solver(name, fit_intercept=fit_intercept, **params).fit(x, y, mask)
    assert np.abs(plain.coef_ - model.coef_).max() > 1e-3


def test_float32_close_to_float64():
    x, y, mask = _data()
    for name, params in (("ridge", {"alpha": 1.0}), ("lasso", {"alpha": 0.05})):
        a = make_solver(name, dtype="float32", **params).fit(x, y, mask)
        b = make_solver(name, dtype="float64", **params).fit(x, y, mask)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-3)


def test_lasso_warns_when_not_converged():
    x, y, mask = _data()
    with pytest.warns(ConvergenceWarning):
        model = MaskedLasso(alpha=0.01, tol=1e-14, max_iter=5).fit(x, y, mask)
    assert not model.converged_ and model.n_iter_ == 5


def test_adam_decreases_loss_and_approaches_ridge():
    rng = np.random.default_rng(3)
    n, p, t = 200, 6, 15
    x = rng.normal(size=(n, p))
    mask = rng.random((p, t)) < 0.6
    y = x @ (rng.normal(size=(p, t)) * mask) + 0.1 * rng.normal(size=(n, t))
    adam = MaskedAdam(alpha=1.0, lr=0.05, epochs=600, seed=0, dtype="float64").fit(x, y, mask)
    ridge = MaskedRidge(alpha=1.0).fit(x, y, mask)
    assert adam.loss_history_[-1] < 0.05 * adam.loss_history_[0]
    assert np.all(adam.coef_[~mask] == 0.0)
    np.testing.assert_allclose(adam.coef_, ridge.coef_, atol=0.02)
    again = MaskedAdam(alpha=1.0, lr=0.05, epochs=600, seed=0, dtype="float64").fit(x, y, mask)
    np.testing.assert_array_equal(again.coef_, adam.coef_)  # seeded init: reproducible


def _manual_cv(x, y, mask, alphas, folds, make):
    """CV MSE per alpha from sklearn fitted per target per fold (the slow, obvious way)."""
    sse = np.zeros(len(alphas))
    for val in folds:
        train = np.setdiff1d(np.arange(len(x)), val)
        for i, alpha in enumerate(alphas):
            coef, intercept = _reference(lambda: make(alpha), x[train], y[train], mask)
            sse[i] += ((y[val] - x[val] @ coef - intercept) ** 2).sum()
    return sse / y.size


@pytest.mark.parametrize("standardize", [False, True])
def test_select_alpha_ridge_matches_manual_cv(standardize):
    x, y, mask = _data(n=103, t=12)
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


def test_select_alpha_matches_gridsearchcv_full_mask():
    x, y, _ = _data(n=150, t=20)
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


def test_alpha_auto_finds_bayes_optimal_order_of_magnitude():
    # w ~ N(0, tau^2), noise ~ N(0, sigma^2): the posterior mean is ridge with alpha = sigma^2 / tau^2 = 100
    rng = np.random.default_rng(11)
    n, p, t = 100, 8, 400
    x = rng.normal(size=(n, p))
    mask = rng.random((p, t)) < 0.7
    y = x @ (0.1 * rng.normal(size=(p, t)) * mask) + rng.normal(size=(n, t))
    alphas = np.logspace(0, 4, 17)
    model = MaskedRidge(alpha="auto", alphas=alphas).fit(x, y, mask)
    assert 30 <= model.alpha_ <= 300
    assert model.alpha_ == select_alpha_ridge(x, y, mask, alphas)[0]
    np.testing.assert_allclose(model.coef_, MaskedRidge(alpha=model.alpha_).fit(x, y, mask).coef_)
    default_grid = MaskedRidge(alpha="auto").fit(x, y, mask)  # grid relative to mean(diag(X'X)) ~ n
    assert 10 <= default_grid.alpha_ <= 1000


@pytest.mark.parametrize("cv", ["gcv", "loo", 5])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_alpha_auto_fits_from_the_cross_validation_sums(cv, fit_intercept, standardize, sparse):
    """alpha="auto" takes the whole design's moments from those its penalty's choice computed (for
    K-fold, the folds' sums) instead of a second pass over Y: the same weights and intercepts as a
    plain fit at the chosen alpha."""
    x, y, mask = _data()
    y = sp.csr_matrix(np.where(np.abs(y) > 2, y, 0.0)) if sparse else y
    params = {"fit_intercept": fit_intercept, "standardize": standardize, "device": "cpu"}
    auto = MaskedRidge(alpha="auto", cv=cv, **params).fit(x, y, mask)
    plain = MaskedRidge(alpha=auto.alpha_, **params).fit(x, y, mask)
    np.testing.assert_allclose(auto.coef_, plain.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(auto.intercept_, plain.intercept_, rtol=1e-9, atol=1e-12)


def test_lasso_auto_prefers_sparse_truth():
    rng = np.random.default_rng(5)
    n, p, t = 120, 15, 40
    x = rng.normal(size=(n, p))
    mask = np.ones((p, t), dtype=bool)
    w = np.where(rng.random((p, t)) < 0.15, 2.0, 0.0)
    y = x @ w + rng.normal(size=(n, t))
    model = MaskedLasso(alpha="auto").fit(x, y, mask)
    scores = model.cv_scores_
    assert np.argmin(scores) not in (0, len(scores) - 1)  # interior optimum on the default path
    assert 0.01 < model.alpha_ < 1.0


def test_groups_keep_rows_together():
    groups = np.repeat(np.arange(20), 5)
    folds = kfold_indices(len(groups), 4, seed=0, groups=groups)
    assert sorted(np.concatenate(folds)) == list(range(len(groups)))
    for f in folds:
        assert not set(groups[f]) & set(groups[np.setdiff1d(np.arange(len(groups)), f)])


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("name,params", [("ridge", {"alpha": 1.0}), ("ridge", {"alpha": "auto"}),
                                         ("ridge", {"alpha": "auto", "cv": "loo"}),
                                         ("ridge", {"alpha": "auto", "cv": 5}),
                                         ("lasso", {"alpha": 0.05}), ("elasticnet", {"alpha": 0.05}),
                                         ("adam", {"alpha": 1.0, "epochs": 50})])
def test_cuda_matches_cpu(name, params):
    x, y, mask = _data()
    gpu = make_solver(name, device="cuda", **params).fit(x, y, mask)
    cpu = make_solver(name, device="cpu", **params).fit(x, y, mask)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, atol=1e-6)
    assert np.all(gpu.coef_[~mask] == 0.0)


def test_the_penalty_with_the_least_held_out_error_is_chosen():
    from transgrn.solvers import least_cv_error

    alphas = np.array([0.1, 1.0, 10.0, 100.0])
    assert least_cv_error(np.array([1.40, 1.05, 1.00, 1.60]), alphas) == 10.0
    assert least_cv_error(np.array([1.40, 1.05, 1.10, 1.60]), alphas) == 1.0
    assert least_cv_error(np.ones(4), alphas) == 0.1  # the first of equals


def test_ridge_cv_takes_the_least_of_its_own_scores():
    """select_alpha_ridge's choice is the least of the CV curve it returns (RidgeCV's rule)."""
    from transgrn.solvers import select_alpha_ridge

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
    from transgrn.solvers import ridge_cv_r2

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


def test_ridge_without_any_edge_predicts_the_means():
    """A fit whose targets have no estimable edge (e.g. borrowing's residual refit of targets whose
    only TF is constant in the transition) gives each target its mean, not an error."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2)) + 4.0
    for alpha in (1.0, "auto"):
        model = MaskedRidge(alpha=alpha, device="cpu").fit(x, y, np.zeros((3, 2), bool))
        np.testing.assert_allclose(model.intercept_, y.mean(0))
        np.testing.assert_allclose(model.predict(x), np.tile(y.mean(0), (30, 1)))


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
    x, y, mask = _data(n=70, t=14)
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
    x, y, _ = _data(n=80, t=9)
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
    x, y, mask = _data(n=60, t=12)
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
    x, y, mask = _data(n=90, t=30)
    y = np.where(np.abs(y) > 2, y, 0.0)
    alphas = np.logspace(-1, 3, 7)
    expected = select_alpha_ridge(x, y, mask, alphas, cv=cv, device="cpu")
    with block_budget(8 * 90 * 3):  # a few targets a block, and small groups of padded Gram matrices
        alpha, scores = select_alpha_ridge(x, sp.csc_matrix(y), mask, alphas, cv=cv, device="cpu",
                                           max_batch_elements=40)
    assert alpha == expected[0]
    np.testing.assert_allclose(scores, expected[1], rtol=1e-10)


@pytest.mark.parametrize("cv", ["gcv", "loo"])
def test_penalty_choice_in_float32(cv):
    x, y, mask = _data()
    alphas = np.logspace(-1, 3, 7)
    single = select_alpha_ridge(x, y, mask, alphas, cv=cv, dtype="float32", device="cpu")
    double = select_alpha_ridge(x, y, mask, alphas, cv=cv, dtype="float64", device="cpu")
    np.testing.assert_allclose(single[1], double[1], rtol=1e-4)
    assert single[0] == double[0]


@pytest.mark.parametrize("cv", ["kfold", 1, True, 2.5])
def test_unknown_cv_is_refused(cv):
    x, y, mask = _data(n=30, t=4)
    with pytest.raises(ValueError, match="cv must be"):
        select_alpha_ridge(x, y, mask, [1.0], cv=cv)
