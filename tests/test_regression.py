"""The masked regression recovers what it should (solver-vs-sklearn checks live in test_solvers_*.py)."""
import numpy as np

from transgrn.solvers import MaskedRidge


def planted(n=400, n_tfs=15, n_targets=40, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_tfs, n_targets)) < density
    mask[:, 0] = False  # a target without prior TFs
    weights = rng.normal(size=mask.shape) * mask
    x = rng.normal(size=(n, n_tfs))
    return x, weights, mask, rng


def test_recovers_planted_weights_on_noiseless_data():
    x, weights, mask, _ = planted()
    model = MaskedRidge(alpha=0.0).fit(x, x @ weights, mask)
    np.testing.assert_allclose(model.coef_, weights, atol=1e-9)
    assert np.all(model.coef_[~mask] == 0.0)  # exact zeros outside the prior
    np.testing.assert_allclose(model.intercept_, 0.0, atol=1e-9)


def test_recovers_intercept():
    x, weights, mask, rng = planted(seed=1)
    offset = rng.normal(size=weights.shape[1]) * 5
    model = MaskedRidge(alpha=1e-8).fit(x + 3.0, (x + 3.0) @ weights + offset, mask)
    np.testing.assert_allclose(model.coef_, weights, atol=1e-6)
    np.testing.assert_allclose(model.intercept_, offset, atol=1e-6)
    without = MaskedRidge(alpha=1e-8, fit_intercept=False).fit(x, x @ weights, mask)
    np.testing.assert_allclose(without.intercept_, 0.0)
    np.testing.assert_allclose(without.coef_, weights, atol=1e-6)


def test_edges_outside_prior_get_no_weight_even_when_they_explain_the_data():
    x, weights, mask, _ = planted(seed=2)
    leaked = weights + (~mask) * 2.0  # the data depend on non-prior edges too
    model = MaskedRidge(alpha=0.1).fit(x, x @ leaked, mask)
    assert np.all(model.coef_[~mask] == 0.0)


def test_float32_and_small_batches_agree_with_float64():
    x, weights, mask, rng = planted(seed=3)
    y = x @ weights + rng.normal(size=(x.shape[0], weights.shape[1]))
    reference = MaskedRidge(alpha=2.0).fit(x, y, mask).coef_
    np.testing.assert_allclose(MaskedRidge(alpha=2.0, max_group_elements=50).fit(x, y, mask).coef_, reference, atol=1e-10)
    np.testing.assert_allclose(MaskedRidge(alpha=2.0, dtype="float32").fit(x, y, mask).coef_, reference, atol=1e-4)
