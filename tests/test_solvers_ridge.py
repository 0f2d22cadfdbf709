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


# --- fit.sign: correlation, the sign-constrained ridge ------------------------------------------------------


def _sign_constrained_reference(x, y, mask, alpha, fit_intercept=True, standardize=False):
    """Per target, scipy's NNLS on the design flipped by the sign of X_S'y (centred, scaled as the solver) and
    augmented by sqrt(alpha) I: the ridge with every weight held to its marginal association's sign."""
    from scipy.optimize import nnls

    coef, intercept = np.zeros(mask.shape), np.zeros(mask.shape[1])
    x_mean = x.mean(0) if fit_intercept else np.zeros(x.shape[1])
    scale = x.std(0) if standardize else np.ones(x.shape[1])
    for t in range(mask.shape[1]):
        cols = np.flatnonzero(mask[:, t])
        y_mean = y[:, t].mean() if fit_intercept else 0.0
        if len(cols) == 0:
            intercept[t] = y_mean
            continue
        xs, yc = (x[:, cols] - x_mean[cols]) / scale[cols], y[:, t] - y_mean
        sign = np.sign(xs.T @ yc)
        design = np.vstack([xs * sign, np.sqrt(alpha) * np.eye(len(cols))])
        v, _ = nnls(design, np.concatenate([yc, np.zeros(len(cols))]), maxiter=10_000)
        coef[cols, t] = sign * v / scale[cols]
        intercept[t] = y_mean - x_mean[cols] @ coef[cols, t]
    return coef, intercept


@pytest.mark.parametrize("fit_intercept,standardize", [(True, False), (False, False), (True, True)])
@pytest.mark.parametrize("alpha", [1e-3, 3.0, 300.0])
def test_sign_constrained_ridge_matches_nnls(alpha, fit_intercept, standardize):
    x, y, mask = masked_problem(n=150, p=20, t=40, density=0.6, seed=3)
    model = MaskedRidge(alpha=alpha, fit_intercept=fit_intercept, standardize=standardize, sign="correlation",
                        device="cpu").fit(x, y, mask)
    coef, intercept = _sign_constrained_reference(x, y, mask, alpha, fit_intercept, standardize)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-10, rtol=0)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-10, rtol=0)
    assert model.converged_ and model.n_iter_ >= 0


def test_sign_constrained_weights_take_the_correlation_sign_or_zero():
    """Correlated TFs make the free ridge flip signs; the constrained fit never does, and sets those weights to 0
    or shrinks them, leaving the fit's other weights as the ridge on the rest."""
    x, y, mask = masked_problem(n=150, p=20, t=40, density=0.6, seed=3)
    free = MaskedRidge(alpha=3.0, device="cpu").fit(x, y, mask)
    signed = MaskedRidge(alpha=3.0, sign="correlation", device="cpu").fit(x, y, mask)
    correlation = np.sign((x - x.mean(0)).T @ (y - y.mean(0)))
    assert ((np.sign(free.coef_) == -correlation) & mask).sum() > 20  # the problem has flips to remove
    assert not ((np.sign(signed.coef_) == -correlation) & mask).any()
    assert ((signed.coef_ == 0) & mask).sum() > 0
    agreeing = [t for t in range(mask.shape[1]) if not ((np.sign(free.coef_[:, t]) == -correlation[:, t]) & mask[:, t]).any()]
    np.testing.assert_allclose(signed.coef_[:, agreeing], free.coef_[:, agreeing], atol=1e-10)  # no flip: the ridge


def test_sign_constrained_ridge_is_deterministic_and_independent_of_grouping():
    x, y, mask = masked_problem(n=150, p=20, t=40, density=0.6, seed=3)
    first = MaskedRidge(alpha=0.1, sign="correlation", device="cpu").fit(x, y, mask)
    again = MaskedRidge(alpha=0.1, sign="correlation", device="cpu").fit(x, y, mask)
    small = MaskedRidge(alpha=0.1, sign="correlation", device="cpu", max_group_elements=50).fit(x, y, mask)
    np.testing.assert_array_equal(first.coef_, again.coef_)
    np.testing.assert_allclose(small.coef_, first.coef_, atol=1e-10)


def test_sign_constrained_weighted_batch_is_the_fit_on_the_resampled_rows():
    """Each bootstrap refit is held to the signs of its own rows' association."""
    x, y, mask = masked_problem(n=60, t=8)
    counts = bootstrap_counts(len(x), 3, seed=2)
    weights, intercepts = MaskedRidge(alpha=2.0, sign="correlation", device="cpu").fit_weightings(x, y, mask, counts)
    for b, c in enumerate(counts):
        rows = np.repeat(np.arange(len(c)), c.astype(int))
        refit = MaskedRidge(alpha=2.0, sign="correlation", device="cpu").fit(x[rows], y[rows], mask)
        np.testing.assert_allclose(weights[b], refit.coef_[mask], atol=1e-9)
        np.testing.assert_allclose(intercepts[b], refit.intercept_, atol=1e-9)


def test_unknown_sign_is_refused():
    with pytest.raises(ValueError, match="sign must be one of"):
        MaskedRidge(sign="positive")


def test_sign_confident_bounds_only_the_free_weights_against_a_confident_association():
    """``sign="confident"``: the ridge with ``w_j c_j >= 0`` only where the free weight has the other sign than an
    association with Fisher's z >= 2.576; scipy's bounded least squares per target on the same slots."""
    from scipy.optimize import lsq_linear

    x, y, mask = masked_problem(n=150, p=20, t=30, density=0.6, seed=3)
    alpha = 3.0
    model = MaskedRidge(alpha=alpha, sign="confident", device="cpu").fit(x, y, mask)
    xc, yc = x - x.mean(0), y - y.mean(0)
    n_bounded = 0
    for t in np.flatnonzero(mask.any(0)):
        cols = np.flatnonzero(mask[:, t])
        xs = xc[:, cols]
        c, gram = xs.T @ yc[:, t], xs.T @ xs
        free = np.linalg.solve(gram + alpha * np.eye(len(cols)), c)
        r = c / np.sqrt(np.diag(gram) * (yc[:, t] @ yc[:, t]))
        bounded = (np.arctanh(np.abs(r)) * np.sqrt(len(x) - 3) >= 2.576) & (np.sign(free) == -np.sign(c))
        n_bounded += bounded.sum()
        design = np.vstack([xs * np.sign(c), np.sqrt(alpha) * np.eye(len(cols))])
        fit = lsq_linear(design, np.concatenate([yc[:, t], np.zeros(len(cols))]), method="bvls", tol=1e-14,
                         bounds=(np.where(bounded, 0.0, -np.inf), np.full(len(cols), np.inf)))
        np.testing.assert_allclose(model.coef_[cols, t], np.sign(c) * fit.x, atol=1e-10)
    assert n_bounded > 10
