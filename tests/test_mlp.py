"""transgrn.mlp: the masked MLP (the nonlinear comparison) on toys with a known answer."""
import numpy as np
import pytest

from transgrn.metrics import r2_overall
from transgrn.mlp import MaskedMLP, MLPConfig
from transgrn.solvers import MaskedRidge

CONFIG = MLPConfig(max_epochs=400, patience=30)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def toy(kind: str, seed: int = 0, n: int = 900, p: int = 5, t: int = 8):
    rng = np.random.default_rng(seed)
    mask = rng.random((p, t)) < 0.5
    mask[rng.integers(0, p, t), np.arange(t)] = True  # every target has a TF
    w = rng.uniform(0.5, 1.5, (p, t)) * rng.choice([-1, 1], (p, t)) * mask
    x = rng.normal(size=(n, p))
    signal = x @ w if kind == "linear" else (np.abs(x) - 0.8) @ np.abs(w) * 1.5  # V-shaped: no linear trend
    y = signal + 0.5 * rng.normal(size=(n, t))
    return x, y, mask, w


def fit_both(x, y, mask):
    fit, val, test = slice(0, 500), slice(500, 650), slice(650, None)
    mlp = MaskedMLP(CONFIG, seed=3, device="cpu").fit(x[fit], y[fit], mask, x[val], y[val])
    linear = MaskedRidge(alpha=1.0, device="cpu").fit(x[:650], y[:650], mask)
    return mlp, r2_overall(y[test], mlp.predict(x[test])), r2_overall(y[test], linear.predict(x[test]))


def test_mlp_matches_linear_on_linear_data_and_its_attribution_is_the_weight():
    x, y, mask, w = toy("linear")
    mlp, r2_mlp, r2_linear = fit_both(x, y, mask)
    assert r2_linear > 0.8 and r2_mlp == pytest.approx(r2_linear, abs=0.02)
    attribution = mlp.attribution(x[:500])
    assert (attribution[~mask] == 0).all()
    np.testing.assert_allclose(attribution[mask], w[mask], atol=0.15)


def test_mlp_beats_linear_on_nonlinear_data():
    x, y, mask, _ = toy("nonlinear")
    _, r2_mlp, r2_linear = fit_both(x, y, mask)
    assert r2_linear < 0.05 and r2_mlp > 0.5


def test_mlp_fit_is_deterministic_given_the_seed():
    x, y, mask, _ = toy("nonlinear", n=300)
    fits = [MaskedMLP(MLPConfig(max_epochs=50), seed=7, device="cpu").fit(x[:200], y[:200], mask, x[200:], y[200:])
            for _ in range(2)]
    assert np.array_equal(fits[0].predict(x), fits[1].predict(x))
