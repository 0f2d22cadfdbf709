"""Bootstrap edge confidence and Benjamini-Hochberg."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from transgrn.confidence import (CONFIDENCE_COLUMNS, DISAGREEING_SIGN_CONFIDENCE, _bh, benjamini_hochberg, bootstrap_counts,
                                 bootstrap_edges, edge_covariance, sign_confidence, sign_shares)
from transgrn.solvers import MaskedLasso, MaskedRidge


def _noise(n: int = 150, p: int = 10, t: int = 40, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, p) + 2
    mask = rng.random((p, t)) < 0.5
    return x, rng.normal(size=(n, t)) + 1, mask


@pytest.mark.parametrize("standardize", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_batched_ridge_bootstrap_equals_refits_on_resampled_rows(standardize, fit_intercept):
    x, y, mask = _noise(n=80, t=15)
    counts = bootstrap_counts(len(x), 4, seed=3)
    make = lambda: MaskedRidge(alpha=2.0, standardize=standardize, fit_intercept=fit_intercept)  # noqa: E731
    weights, intercepts = make().fit_weightings(x, y, mask, counts)
    for b, c in enumerate(counts):
        rows = np.repeat(np.arange(len(x)), c.astype(int))
        model = make().fit(x[rows], y[rows], mask)
        np.testing.assert_allclose(weights[b], model.coef_[mask], atol=1e-10)
        np.testing.assert_allclose(intercepts[b], model.intercept_, atol=1e-10)


@pytest.mark.parametrize("make", [lambda: MaskedRidge(alpha=2.0), lambda: MaskedLasso(alpha=0.05)],
                         ids=["ridge", "loop"])
def test_refits_in_float32_are_the_float64_ones_rounded(make):
    """The differential test keeps its replicates in float32 (half the memory of the refits' result at
    atlas scale): the same weights, rounded."""
    from transgrn.confidence import _refit_weights

    x, y, mask = _noise(n=80, t=15)
    counts = bootstrap_counts(len(x), 5, seed=3)
    full, full_intercepts = _refit_weights(make, x, y, mask, counts)
    single, intercepts = _refit_weights(make, x, y, mask, counts, dtype=np.float32)
    assert full.dtype == np.float64 and single.dtype == np.float32 and single.shape == full.shape
    np.testing.assert_array_equal(single, full.astype(np.float32))
    np.testing.assert_array_equal(intercepts, full_intercepts)


def test_ridge_refits_in_batches_of_resamples_equal_one_batch(monkeypatch):
    """A large prior refits its resamples in a few batches (REFIT_CHUNK_BYTES, the fit job's memory at
    atlas scale): the weights of one batch."""
    import transgrn.confidence as confidence

    x, y, mask = _noise(n=80, t=15)
    counts = bootstrap_counts(len(x), 7, seed=3)
    make = lambda: MaskedRidge(alpha=2.0)  # noqa: E731
    whole, whole_intercepts = make().fit_weightings(x, y, mask, counts)
    monkeypatch.setattr(confidence, "REFIT_CHUNK_BYTES", 16 * int(mask.sum()) * 3)  # 3 batches: 3, 3 and 1
    batched, intercepts = confidence._refit_weights(make, x, y, mask, counts)
    np.testing.assert_allclose(batched, whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(intercepts, whole_intercepts, rtol=1e-12, atol=1e-12)


def test_one_value_per_prior_edge_under_the_output_names():
    x, y, mask = _noise(n=60, t=8)
    res = bootstrap_edges(lambda: MaskedRidge(alpha=1.0), x, y, mask, n_boot=5, seed=0)
    assert set(res) == {*CONFIDENCE_COLUMNS, "weights", "intercept_mean"}
    for key in CONFIDENCE_COLUMNS:
        assert res[key].shape == (mask.sum(),) and np.isfinite(res[key]).all()
    assert res["weights"].shape == (5, mask.sum())
    np.testing.assert_allclose(res["weight_mean"], res["weights"].mean(0))
    np.testing.assert_allclose(res["weight_std"], res["weights"].std(0, ddof=1))
    again = bootstrap_edges(lambda: MaskedRidge(alpha=1.0), x, y, mask, n_boot=5, seed=0)
    np.testing.assert_array_equal(again["weights"], res["weights"])


def test_pvalues_on_pure_noise():
    x, y, mask = _noise()
    res = bootstrap_edges(lambda: MaskedRidge(alpha=1.0), x, y, mask, n_boot=40, seed=0)
    p_z, p_t = res["pvalue"], res["pvalue_celloracle"]
    # the bootstrap standard-error test is calibrated ...
    assert stats.kstest(p_z, "uniform").pvalue > 0.01
    assert 0.01 < (p_z < 0.05).mean() < 0.10
    # ... CellOracle's t-test over replicates divides the spread by sqrt(n_boot): anti-conservative
    assert (p_t < 0.05).mean() > 0.4
    np.testing.assert_array_equal(res["qvalue"], benjamini_hochberg(p_z))


def test_pvalues_small_for_planted_edges():
    rng = np.random.default_rng(4)
    n, p, t = 150, 8, 20
    x = rng.normal(size=(n, p))
    mask = rng.random((p, t)) < 0.5
    strong = mask & (rng.random((p, t)) < 0.3)
    y = x @ np.where(strong, 1.0, 0.0) + rng.normal(size=(n, t))
    res = bootstrap_edges(lambda: MaskedRidge(alpha=1.0), x, y, mask, n_boot=20, seed=1)
    strong = strong[mask]  # the edges in np.nonzero(mask) order
    assert res["pvalue"][strong].max() < 1e-4 and res["qvalue"][strong].max() < 1e-3
    assert res["pvalue_celloracle"][strong].max() < 1e-6
    assert np.median(res["pvalue"][~strong]) > 0.2


def test_generic_path_and_zero_std_edges():
    x, y, mask = _noise(n=60, t=6)
    # alpha above alpha_max: every bootstrap weight is exactly 0 -> std 0, mean 0 -> p = 1
    res = bootstrap_edges(lambda: MaskedLasso(alpha=10.0), x, y, mask, n_boot=4, seed=0)
    assert np.all(res["weight_std"] == 0) and np.all(res["pvalue_celloracle"] == 1.0)
    assert np.all(res["pvalue"] == 1.0) and np.all(res["qvalue"] == 1.0)


def test_generic_path_matches_batched_ridge():
    x, y, mask = _noise(n=60, t=6)

    class LoopedRidge(MaskedLasso):  # not a MaskedRidge: forces the refit loop, same resamples
        def fit(self, x, y, mask):
            fitted = MaskedRidge(alpha=1.0).fit(x, y, mask)
            self.coef_, self.intercept_ = fitted.coef_, fitted.intercept_
            return self

    fast = bootstrap_edges(lambda: MaskedRidge(alpha=1.0), x, y, mask, n_boot=3, seed=2)
    slow = bootstrap_edges(LoopedRidge, x, y, mask, n_boot=3, seed=2)
    np.testing.assert_allclose(fast["weights"], slow["weights"], atol=1e-10)
    np.testing.assert_allclose(fast["intercept_mean"], slow["intercept_mean"], atol=1e-10)


def test_benjamini_hochberg_hand_values_and_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.5, np.nan, 0.02])
    # sorted finite p: .01 .02 .03 .04 .5 (m = 5) -> .05 .05 .05 .05 .5
    expected = np.array([0.05, 0.05, 0.05, 0.5, np.nan, 0.05])
    np.testing.assert_allclose(benjamini_hochberg(p), expected)
    np.testing.assert_allclose(_bh(p[np.isfinite(p)]), expected[np.isfinite(expected)])
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-3, size=20)])
    p = np.concatenate([p, p[:30], np.ones(5)])  # ties too
    # bit for bit: the workflow's q-values (and the recorded output digests) must not move
    np.testing.assert_array_equal(_bh(p), stats.false_discovery_control(p))
    np.testing.assert_allclose(benjamini_hochberg(p.reshape(5, -1)).ravel(), _bh(p))
    assert np.isnan(benjamini_hochberg(np.full(3, np.nan))).all()


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device")
def test_batched_bootstrap_on_cuda_matches_cpu():
    x, y, mask = _noise(n=80, t=15)
    gpu = bootstrap_edges(lambda: MaskedRidge(alpha=1.0, device="cuda"), x, y, mask, n_boot=5, seed=0)
    cpu = bootstrap_edges(lambda: MaskedRidge(alpha=1.0, device="cpu"), x, y, mask, n_boot=5, seed=0)
    np.testing.assert_allclose(gpu["weights"], cpu["weights"], atol=1e-8)


def test_t_pvalues_are_scipy_stats_bit_for_bit():
    """_two_sided_t avoids importing scipy.stats (start-up of every fit job) but must give its values."""
    from transgrn.confidence import _two_sided_t

    rng = np.random.default_rng(3)
    num, den = rng.normal(size=500) * 3, rng.uniform(0.1, 2, size=500)
    for df in (19, 57.25):
        np.testing.assert_array_equal(_two_sided_t(num, den, df), 2 * stats.t.sf(np.abs(num) / den, df))
    zero = _two_sided_t(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 5)
    np.testing.assert_array_equal(zero, [1.0, 0.0])


def test_sign_shares_count_the_refits_of_each_sign():
    weights = np.array([[1.0, -1.0, 0.0, 0.2], [2.0, -0.5, 0.0, -0.1], [-1.0, -2.0, 0.0, 0.3], [3.0, 1.0, 0.0, 0.1]])
    positive, negative = sign_shares(weights)
    np.testing.assert_array_equal(positive, [0.75, 0.25, 0.0, 0.75])
    np.testing.assert_array_equal(negative, [0.25, 0.75, 0.0, 0.25])


def test_sign_confidence_is_the_share_with_the_weights_sign_capped_where_the_marginal_disagrees():
    weight = np.array([0.5, -0.5, 0.0, 0.3, np.nan, 0.2])
    positive = np.array([0.95, 0.1, 0.5, 1.0, 0.5, np.nan])
    negative = 1 - positive
    np.testing.assert_array_equal(sign_confidence(weight, positive, negative), [0.95, 0.9, np.nan, 1.0, np.nan, np.nan])
    marginal = np.array([1.0, 2.0, 1.0, -0.1, 1.0, 1.0])  # the second and fourth disagree with the weight
    np.testing.assert_array_equal(sign_confidence(weight, positive, negative, marginal),
                                  [0.95, DISAGREEING_SIGN_CONFIDENCE, np.nan, DISAGREEING_SIGN_CONFIDENCE, np.nan, np.nan])
    # an unknown marginal (NaN) or a zero one caps nothing
    unknown = np.array([np.nan, 0.0, np.nan, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(sign_confidence(weight, positive, negative, unknown),
                                  sign_confidence(weight, positive, negative))


@pytest.mark.parametrize("sparse", [False, True])
def test_edge_covariance_is_numpys_covariance_at_the_prior_edges(sparse):
    import scipy.sparse as sp

    from transgrn import solvers

    x, y, mask = _noise(n=60, p=6, t=25)
    y[y < 1] = 0
    with solvers.block_budget(8 * 60 * 4):  # blocks of 4 targets: the blocks are stitched in order
        got = edge_covariance(x, sp.csc_matrix(y) if sparse else y, mask)
    full = np.cov(np.hstack([x, y]), rowvar=False)[: x.shape[1], x.shape[1]:]
    np.testing.assert_allclose(got, full[mask], rtol=1e-10, atol=1e-12)
