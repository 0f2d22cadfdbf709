"""Reading the outputs a block of targets at a time (transgrn.solvers.block_budget) changes no result."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import edges_of

import transgrn.solvers as solvers
from transgrn.cells import CellSet
from transgrn.confidence import bootstrap_counts
from transgrn.design import paired_design
from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition
from transgrn.fit import fit_transition
from transgrn.mapping import map_transition
from transgrn.mask import build_mask
from transgrn.options import MappingOptions, FitOptions
from transgrn.solvers import MaskedElasticNet, MaskedRidge, select_alpha_ridge, target_blocks



@pytest.fixture
def blocks():
    """``blocks(nbytes)`` sets the block size for the rest of the test (:func:`transgrn.solvers.block_budget`)."""
    with contextlib.ExitStack() as stack:
        yield lambda nbytes: stack.enter_context(solvers.block_budget(nbytes))


def _problem(seed: int = 0, n: int = 90, p: int = 8, t: int = 30):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) + 1
    y = x @ rng.normal(size=(p, t)) + rng.normal(size=(n, t))
    y[rng.random(y.shape) < 0.6] = 0.0  # sparse-looking outputs
    return x, y, rng.random((p, t)) < 0.4


def test_target_blocks_cover_the_columns_within_the_budget(blocks):
    _, y, _ = _problem()
    blocks(8 * len(y) * 7)  # 7 columns per block
    for outputs in (y, sp.csr_matrix(y), y.astype(np.float32)):
        parts = list(target_blocks(outputs))
        assert [len(cols) for cols, _ in parts] == [7, 7, 7, 7, 2]
        np.testing.assert_array_equal(np.hstack([b for _, b in parts]), y.astype(outputs.dtype))
        assert all(b.dtype == np.float64 and b.flags.f_contiguous for _, b in parts)
    (cols, block), = target_blocks(y, columns=[4, 1], height=0)
    np.testing.assert_array_equal(block, y[:, [4, 1]])
    assert len(list(target_blocks(y, height=2 * len(y)))) == 10  # a taller per-block array: narrower blocks


@pytest.mark.parametrize("standardize", [False, True])
def test_solvers_read_sparse_outputs_in_blocks(blocks, standardize):
    x, y, mask = _problem()
    dense = {  # one block at the default size
        "ridge": MaskedRidge(alpha=2.0, standardize=standardize).fit(x, y, mask),
        "enet": MaskedElasticNet(alpha=0.05, standardize=standardize, tol=1e-10).fit(x, y, mask),
        "auto": select_alpha_ridge(x, y, mask, standardize=standardize),
        "boot": MaskedRidge(alpha=2.0, standardize=standardize).fit_weightings(x, y, mask, bootstrap_counts(len(x), 3)),
    }
    blocks(1)  # one target (and one bootstrap Gram) at a time
    for outputs in (y, sp.csc_matrix(y)):
        ridge = MaskedRidge(alpha=2.0, standardize=standardize).fit(x, outputs, mask)
        np.testing.assert_allclose(ridge.coef_, dense["ridge"].coef_, atol=1e-12)
        np.testing.assert_allclose(ridge.intercept_, dense["ridge"].intercept_, atol=1e-12)
        np.testing.assert_array_equal(ridge.coef_at(*np.nonzero(mask)), ridge.coef_[mask])
        enet = MaskedElasticNet(alpha=0.05, standardize=standardize, tol=1e-10).fit(x, outputs, mask)
        np.testing.assert_allclose(enet.coef_, dense["enet"].coef_, atol=1e-10)
        alpha, scores = select_alpha_ridge(x, outputs, mask, standardize=standardize)
        assert alpha == dense["auto"][0]
        np.testing.assert_allclose(scores, dense["auto"][1], rtol=1e-12)
        weights, intercepts = MaskedRidge(alpha=2.0, standardize=standardize).fit_weightings(
            x, outputs, mask, bootstrap_counts(len(x), 3))
        np.testing.assert_allclose(weights, dense["boot"][0], atol=1e-12)
        np.testing.assert_allclose(intercepts, dense["boot"][1], atol=1e-12)


def test_sparse_design_equals_the_dense_one(small_simulation):
    sim = small_simulation
    keep = (sim.adata.obs["cell_type"] == "stem cell").to_numpy()
    matrix = np.asarray(sim.adata.X[keep])
    matrix[matrix < np.quantile(matrix, 0.7)] = 0.0
    cells = CellSet(sim.adata.obs_names[keep].to_numpy(), sp.csr_matrix(matrix))
    mapping = pd.DataFrame({"pair": [0, 0, 1, 2], "source_cell": cells.names[[0, 0, 1, 2]],
                            "target_cell": cells.names[[3, 4, 5, 6]], "weight": [1.0, 3.0, 1.0, 1.0]})
    x, y = paired_design(mapping, cells, cells)
    x_sparse, y_sparse = paired_design(mapping, cells, cells, dense=False)
    assert isinstance(y, np.ndarray) and sp.isspmatrix_csc(y_sparse) and y_sparse.dtype == np.float64
    np.testing.assert_array_equal(x_sparse, x)
    np.testing.assert_array_equal(y_sparse.toarray(), y)


def _transition(sim, method: str, fit: dict):
    def cells(label):
        keep = (sim.adata.obs["cell_type"] == label).to_numpy()
        matrix = np.asarray(sim.adata.X[keep])
        matrix[matrix < np.quantile(matrix, 0.5)] = 0.0
        return CellSet(sim.adata.obs_names[keep].to_numpy(), sp.csr_matrix(matrix))

    source, target = cells("stem cell"), cells("progenitor")
    mask = build_mask(edges_of(sim.prior), source, target, sim.adata.var_names)
    data = TransitionData(source, target, sim.adata.var_names, mask)
    mcfg = {"method": method, "n_pairs": 150, "test_fraction": 0.2, "n_pcs": 5}
    mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0) for role in ("main", "null")}
    options = FitOptions.from_config({"device": "cpu", **fit})
    coefficients, intercepts, info = fit_transition(data, mappings, options, 3, "t")
    return (coefficients, intercepts, info), evaluate_transition(data, mappings, coefficients, intercepts, sim.reference)


@pytest.mark.parametrize("method, fit", [
    ("joint", {"solver": "ridge", "alpha": 1.0, "bootstrap": 4}),
    ("ot", {"solver": "ridge", "alpha": "auto", "standardize": True, "self_term": True}),
    ("random", {"solver": "lasso", "alpha": 0.01, "bootstrap": 2}),
])
def test_transition_results_do_not_depend_on_the_block_size(small_simulation, blocks, method, fit):
    (coef, intercepts, info), (metrics, gene_r2, predictions) = _transition(small_simulation, method, fit)
    blocks(1)
    (coef_b, intercepts_b, info_b), (metrics_b, gene_r2_b, predictions_b) = _transition(small_simulation, method, fit)
    assert info_b == pytest.approx(info)
    for a, b in ((coef, coef_b), (intercepts, intercepts_b), (gene_r2, gene_r2_b), (predictions, predictions_b)):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-7, atol=1e-10)
    assert metrics_b == pytest.approx(metrics, rel=1e-10, nan_ok=True)
