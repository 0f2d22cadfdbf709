"""The notebook's Adam fit (transgrn.solvers.adam), kept for comparison."""

from __future__ import annotations

import numpy as np

from transgrn.solvers import MaskedAdam, MaskedRidge

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
