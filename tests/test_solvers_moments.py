"""transgrn.solvers.moments: the statistics the Gram-based solvers need, from a dense or a sparse Y."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from solver_problems import masked_problem

from transgrn.solvers import MaskedRidge
from transgrn.solvers.base import _edges
from transgrn.solvers.moments import _moments, sparse_column_moments, sparse_edge_cross


def sparse_problem(seed: int = 0):
    """The shared masked problem with most of Y set to zero, as counts-like data are."""
    x, y, mask = masked_problem(seed=seed)
    y = np.where(np.random.default_rng(seed).random(y.shape) < 0.7, 0.0, y)
    return x, y, mask


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("standardize", [False, True])
def test_sparse_y_gives_the_dense_moments(fit_intercept, standardize):
    x, y, mask = sparse_problem()
    edges = _edges(mask, torch.device("cpu"), 2**20)
    xt = torch.as_tensor(x, dtype=torch.float64)
    dense = _moments(xt, y, edges, fit_intercept, standardize)
    sparse = _moments(xt, sp.csr_matrix(y), edges, fit_intercept, standardize)
    for name in ("gram", "cross", "yy", "x_mean", "y_mean", "scale"):
        np.testing.assert_allclose(getattr(sparse, name).numpy(), getattr(dense, name).numpy(), rtol=1e-12,
                                   atol=1e-10, err_msg=name)
    assert _moments(xt, sp.csr_matrix(y), edges, fit_intercept, standardize, need_yy=False).yy is None


def test_edge_products_in_small_chunks_and_empty_columns():
    x, y, mask = sparse_problem(seed=1)
    y[:, 3] = 0.0  # a target without non-zeros
    tf, target = np.nonzero(mask)
    order = np.random.default_rng(0).permutation(len(tf))  # edges in any order
    expected = (x.T @ y)[tf[order], target[order]]
    for chunk in (1, 7, 1 << 20):
        got = sparse_edge_cross(x, sp.csc_matrix(y), tf[order], target[order], chunk=chunk)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_sparse_column_moments():
    _, y, _ = sparse_problem(seed=2)
    mean, centred = sparse_column_moments(sp.csc_matrix(y), centred=True)
    np.testing.assert_allclose(mean, y.mean(0), rtol=1e-12)
    np.testing.assert_allclose(centred, ((y - y.mean(0)) ** 2).sum(0), rtol=1e-10)
    np.testing.assert_allclose(sparse_column_moments(sp.csc_matrix(y), centred=False)[1], (y**2).sum(0), rtol=1e-12)


def test_a_ridge_fit_on_sparse_targets_equals_the_dense_fit():
    x, y, mask = sparse_problem(seed=3)
    dense = MaskedRidge(alpha=2.0).fit(x, y, mask)
    sparse = MaskedRidge(alpha=2.0).fit(x, sp.csr_matrix(y), mask)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-10, atol=1e-12)
