"""transgrn.differential.moderation: the empirical-Bayes moderated variance and the pair test on it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from transgrn.differential import MIN_RESIDUAL_DF, Replicates, moderate_variances, pair_test
from transgrn.differential.moderation import _additive_fit


def _limma_variances(rng: np.random.Generator, prior_df: float = 50.0, df: int = 19, n_tfs: int = 30,
                     per_tf: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smyth's model with a TF-dependent prior: ``sigma^2 = s0_tf^2 d0 / chi^2_d0`` (scaled
    inverse chi-square around a TF's level, the levels far apart), ``s^2 = sigma^2 chi^2_d / d``.
    Returns the TF of each edge, sigma^2 and s^2."""
    tf = np.repeat([f"TF{i}" for i in range(n_tfs)], per_tf)
    level = np.exp(np.repeat(rng.normal(0.0, 1.0, n_tfs), per_tf))
    sigma2 = level * prior_df / rng.chisquare(prior_df, len(tf))
    return tf, sigma2, sigma2 * rng.chisquare(df, len(tf)) / df


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moderation_estimates_the_prior_df(seed):
    """With a known TF-dependent prior (d0 = 50) the prior df is recovered; a global prior, blind to
    the TF levels, mistakes their spread for a wide prior (small d0)."""
    tf, _, s2 = _limma_variances(np.random.default_rng(seed))
    assert 38 < moderate_variances(s2, 19, [tf]).prior_df < 65
    assert moderate_variances(s2, 19).prior_df < 10


def _model_replicates(rng: np.random.Generator, sigma2: np.ndarray, tf: np.ndarray, shift: np.ndarray,
                      n_boot: int = 20) -> tuple[Replicates, Replicates]:
    """Replicates drawn from Smyth's model: transition 2's replicates and main weight normal with the
    edge's sigma^2 (the main weight shifted by ``shift``), transition 1's zero."""
    sd, active = np.sqrt(sigma2), np.ones(len(tf), bool)
    zero = Replicates(tf, tf, np.zeros(len(tf)), np.zeros((n_boot, len(tf)), np.float32), active)
    second = Replicates(tf, tf, rng.normal(0, sd) + shift, rng.normal(0, sd, (n_boot, len(tf))).astype(np.float32),
                        active)
    return zero, second


@pytest.mark.parametrize("seed", [0, 1])
def test_moderated_pvalues_are_uniform_under_the_null(seed):
    rng = np.random.default_rng(seed)
    tf, sigma2, _ = _limma_variances(rng)
    first, second = _model_replicates(rng, sigma2, tf, np.zeros(len(tf)))
    table = pair_test("t1", first, "t2", second)
    assert "moderated (empirical Bayes, prior over tf, prior df" in table["se_method"].iloc[0]
    assert stats.kstest(table["pvalue"], "uniform").statistic < 0.03
    assert 0.04 < (table["pvalue"] < 0.05).mean() < 0.06
    assert (table["qvalue"] <= 0.1).mean() < 0.005


def test_moderation_gains_power_and_keeps_the_fdr():
    """150 true differences of 3.5 sigma among 3,000 edges: the moderated test calls more of them than
    the t on the bootstrap's own 19 df, on the same replicates, and its false discovery proportion
    averages at most 0.1 (BH's bound) over simulations."""
    recall, plain_recall, false_share = [], [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        tf, sigma2, _ = _limma_variances(rng)
        shift = np.where(np.arange(len(tf)) % 20 == 0, 3.5 * np.sqrt(sigma2), 0.0)
        first, second = _model_replicates(rng, sigma2, tf, shift)
        called = pair_test("t1", first, "t2", second)["qvalue"].to_numpy() <= 0.1
        plain = pair_test("t1", first, "t2", second, moderation=None)
        assert "moderated" not in plain["se_method"].iloc[0]
        recall.append(called[shift > 0].mean())
        plain_recall.append((plain["qvalue"].to_numpy() <= 0.1)[shift > 0].mean())
        false_share.append(called[shift == 0].sum() / max(called.sum(), 1))
    assert np.mean(recall) > np.mean(plain_recall) + 0.05, (recall, plain_recall)
    assert np.mean(false_share) <= 0.1, false_share


def test_moderation_edge_cases():
    rng = np.random.default_rng(3)
    tf, _, s2 = _limma_variances(rng)
    d = 19
    base = moderate_variances(s2, d, [tf])
    # zero variances: left out of the fit, shrunk to d0 s0^2 / (d0 + d) (s0^2 of their TF);
    # non-finite ones stay NaN; neither changes the others
    odd = moderate_variances(np.r_[s2, 0.0, np.nan, np.inf], d, [np.concatenate([tf, ["TF0"] * 3])])
    assert odd.prior_df == pytest.approx(base.prior_df)
    np.testing.assert_allclose(odd.variance[:len(s2)], base.variance)
    d0, v = base.prior_df, base.variance[0]  # edge 0 is one of TF0's
    np.testing.assert_allclose(odd.variance[-3], v - d * s2[0] / (d0 + d))
    assert odd.variance[-3] > 0 and np.isnan(odd.variance[-2:]).all()
    # too few edges for the prior: unchanged, and pair_test keeps the t on n_boot - 1 df
    few = moderate_variances(s2[:MIN_RESIDUAL_DF], d)
    assert few.prior_df is None and np.array_equal(few.variance, s2[:MIN_RESIDUAL_DF])
    # a TF of one edge gets no level of its own (it would fit its own variance): shrunk to the overall prior
    lonely = moderate_variances(np.r_[s2, 30 * s2.max()], d, [np.append(tf, "lonely")])
    assert lonely.variance[-1] < 0.5 * 30 * s2.max()
    # no spread beyond the chi-square's (here none at all): d0 infinite, one common variance (log-bias
    # corrected: exp(E log s^2) is below E s^2)
    same = moderate_variances(np.full(200, 2.0), d, [np.repeat(["a", "b"], 100)])
    assert same.prior_df == np.inf and np.ptp(same.variance) < 1e-12
    assert same.variance[0] == pytest.approx(2.0, rel=0.1)


def test_infinite_prior_df_tests_on_the_normal():
    n, n_boot = 300, 10
    draws = np.random.default_rng(0).normal(size=(n_boot, 1))
    tf = np.array([f"TF{i % 3}" for i in range(n)])
    active = np.ones(n, bool)
    first = Replicates(tf, tf, np.zeros(n), np.zeros((n_boot, n), np.float32), active)
    # every edge has the same replicates, so the same s^2: nothing to learn a prior's spread from
    weight = np.linspace(-3, 3, n)
    second = Replicates(tf, tf, weight, np.repeat(draws, n, axis=1).astype(np.float32), active)
    table = pair_test("t1", first, "t2", second)
    assert table["se_method"].iloc[0].endswith("prior df infinite)")
    np.testing.assert_allclose(table["pvalue"], 2 * stats.norm.sf(np.abs(weight) / table["std_error"]), rtol=1e-6)


def test_backfitting_is_least_squares_for_two_factors():
    rng = np.random.default_rng(1)
    a, b = rng.integers(1, 6, 400), rng.integers(1, 9, 400)
    z = 0.5 * a - 0.2 * b + rng.normal(size=400)
    fitted = _additive_fit(z, [a, b], np.ones(400, bool))
    design = np.hstack([np.eye(6)[a][:, 1:], np.eye(9)[b][:, 1:]])  # full rank: mean in both
    coef = np.linalg.lstsq(design, z, rcond=None)[0]
    np.testing.assert_allclose(fitted, design @ coef, atol=1e-6)

