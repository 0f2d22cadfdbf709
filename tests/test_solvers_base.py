"""What every masked solver shares (transgrn.solvers.base, the registries of transgrn.solvers)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Lasso, Ridge
from sklearn.preprocessing import StandardScaler
from solver_problems import masked_problem, sklearn_per_target

from transgrn.solvers import CV_SOLVERS, SOLVERS, MaskedRidge, MaskedRidgeCV, make_cv_solver, make_solver

@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_exact_zeros_outside_mask_and_common_params(name):
    x, y, mask = masked_problem(n=60, p=6, t=10)
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

def test_cross_validated_siblings_take_the_same_parameters_but_the_penalty():
    x, y, mask = masked_problem(n=60, p=6, t=10)
    for name in CV_SOLVERS:
        model = make_cv_solver(name, fit_intercept=True, device="cpu", dtype="float64", cv_seed=3).fit(x, y, mask)
        plain = make_solver(name, alpha=model.alpha_, fit_intercept=True, device="cpu", dtype="float64").fit(x, y, mask)
        np.testing.assert_allclose(model.coef_, plain.coef_, rtol=1e-9, atol=1e-12)
        assert np.all(model.coef_[~mask] == 0.0) and "alpha" not in model.get_params()
    with pytest.raises(ValueError, match="no cross-validated penalty"):
        make_cv_solver("adam")

@pytest.mark.parametrize("name", sorted(CV_SOLVERS))
def test_a_penalty_given_as_text_is_refused_naming_the_cross_validated_sibling(name):
    x, y, mask = masked_problem(n=30, p=4, t=3)
    with pytest.raises(ValueError, match=f"{type(make_cv_solver(name)).__name__} chooses it by cross-validation"):
        make_solver(name, alpha="auto").fit(x, y, mask)

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("name,make", [
    ("ridge", lambda fi: Ridge(alpha=5.0, fit_intercept=fi)),
    ("lasso", lambda fi: Lasso(alpha=0.05, fit_intercept=fi, tol=1e-12, max_iter=100_000)),
])
def test_standardize_matches_sklearn_on_scaled_columns(name, make, fit_intercept):
    x, y, mask = masked_problem()
    params = {"alpha": 5.0} if name == "ridge" else {"alpha": 0.05, "tol": 1e-12, "max_iter": 100_000}
    model = make_solver(name, standardize=True, fit_intercept=fit_intercept, **params).fit(x, y, mask)
    xs = StandardScaler(with_mean=fit_intercept).fit_transform(x)
    coef, intercept = sklearn_per_target(lambda: make(fit_intercept), xs, y, mask, fit_intercept)
    np.testing.assert_allclose(model.predict(x), xs @ coef + intercept, atol=1e-6, rtol=0)
    assert np.all(model.coef_[~mask] == 0.0)
    # standardizing changes the penalty's meaning, so the fit differs from the unscaled one
    plain = make_solver(name, fit_intercept=fit_intercept, **params).fit(x, y, mask)
    assert np.abs(plain.coef_ - model.coef_).max() > 1e-3

def test_float32_close_to_float64():
    x, y, mask = masked_problem()
    for name, params in (("ridge", {"alpha": 1.0}), ("lasso", {"alpha": 0.05})):
        a = make_solver(name, dtype="float32", **params).fit(x, y, mask)
        b = make_solver(name, dtype="float64", **params).fit(x, y, mask)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-3)

def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()

@pytest.mark.skipif(not _cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("make,name,params", [(make_solver, "ridge", {"alpha": 1.0}), (make_cv_solver, "ridge", {}),
                                              (make_cv_solver, "ridge", {"cv": "loo"}),
                                              (make_cv_solver, "ridge", {"cv": 5}),
                                              (make_solver, "lasso", {"alpha": 0.05}),
                                              (make_solver, "elasticnet", {"alpha": 0.05}),
                                              (make_solver, "adam", {"alpha": 1.0, "epochs": 50})])
def test_cuda_matches_cpu(make, name, params):
    x, y, mask = masked_problem()
    gpu = make(name, device="cuda", **params).fit(x, y, mask)
    cpu = make(name, device="cpu", **params).fit(x, y, mask)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, atol=1e-6)
    assert np.all(gpu.coef_[~mask] == 0.0)

def test_without_any_edge_a_fit_predicts_the_means():
    """A fit whose targets have no estimable edge (e.g. borrowing's residual refit of targets whose
    only TF is constant in the transition) gives each target its mean, not an error."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2)) + 4.0
    for model in (MaskedRidge(alpha=1.0, device="cpu"), MaskedRidgeCV(device="cpu")):
        model.fit(x, y, np.zeros((3, 2), bool))
        np.testing.assert_allclose(model.intercept_, y.mean(0))
        np.testing.assert_allclose(model.predict(x), np.tile(y.mean(0), (30, 1)))
