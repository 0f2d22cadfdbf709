"""transgrn.differential.analytic: the analytic standard error, the cell jackknife of the fitted
network, by brute force and on the simulated siblings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from differential_cases import assert_uniform, hand_network, network_rows, sibling_test, tiny, tiny_unit
from scipy import stats

from transgrn.differential import FittedNetwork, FittedTransition
from transgrn.options import FitOptions
from transgrn.simulate import simulate


def _hand_influences(inputs: FittedTransition, target: str, clusters: dict, prior: pd.DataFrame, alpha: float,
                     prior_mean: np.ndarray | None = None, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Per cluster, each cell's influence on the weights by brute force: the sklearn fit with that cell's
    rows weighted ``1 + eps``, minus the plain fit, over ``eps`` (cells x edges; 0 for cells without rows)."""
    cells = network_rows(inputs)
    base = hand_network(cells, clusters, prior, np.ones(len(cells)), alpha, prior_mean)[0]
    out = {}
    for name in ("A", target):
        out[name] = np.zeros((len(clusters[name]), len(prior)))
        for i, cell in enumerate(clusters[name].names):
            if (cells == cell).any():
                bumped = hand_network(cells, clusters, prior, 1.0 + eps * (cells == cell), alpha, prior_mean)[0]
                out[name][i] = (bumped - base) / eps
    return out


def _jackknife_variance(ab: dict, ac: dict) -> np.ndarray:
    """Per cluster, the sum of squares about their mean of the cells' influences on ``w_ac - w_ab``."""
    difference = {"A": ac["A"] - ab["A"], "B": -ab["B"], "C": ac["C"]}
    return sum(((d - d.mean(0)) ** 2).sum(0) for d in difference.values())


@pytest.mark.parametrize("alpha", [1.0, "auto"])
def test_analytic_standard_error_is_the_cell_jackknife_by_hand(alpha):
    """The analytic variance of ``w2 - w1`` is the stratified bootstrap's linearization: per cluster, the
    sum of squares about their mean of the cells' influences on the difference, each influence by brute
    force (a cell's rows reweighted in sklearn, at the penalty the fit chose); and it is close to a long
    joint bootstrap's."""
    fit = FitOptions.from_config({"solver": "ridge", "alpha": alpha})
    clusters, prior, loaded = tiny(fit=fit)
    chosen = loaded["ab"].network.alpha
    assert (chosen == 1.0) == (alpha == 1.0)  # auto: the fit's cross-validated penalty, read by the test
    table = tiny_unit(loaded, fit, se_method="analytic")
    assert table["se_method"].str.startswith("analytic").all()
    ab = _hand_influences(loaded["ab"], "B", clusters, prior, chosen)
    ac = _hand_influences(loaded["ac"], "C", clusters, prior, loaded["ac"].network.alpha)
    variance = _jackknife_variance(ab, ac)
    np.testing.assert_allclose(table["std_error"], np.sqrt(variance), rtol=1e-4)
    z = table["difference"] / np.sqrt(variance)
    np.testing.assert_allclose(table["pvalue"], 2 * stats.norm.sf(np.abs(z)), rtol=1e-6)
    # the shared cells' covariance is in it: treating A's influences as independent gives another answer
    shared = ((ac["A"] - ab["A"]) - (ac["A"] - ab["A"]).mean(0)) ** 2
    apart = variance - shared.sum(0) + sum(((d["A"] - d["A"].mean(0)) ** 2).sum(0) for d in (ab, ac))
    assert not np.allclose(apart, variance, rtol=0.05)
    # a joint bootstrap of 2,000 replicates agrees to within its own noise and the linearization's error
    boot = tiny_unit(loaded, fit, seed=3, n_boot=2000, se_method="bootstrap")
    np.testing.assert_allclose(table["std_error"], boot["std_error"], rtol=0.15)


def test_a_borrowing_fit_is_linearized_as_it_was_fitted():
    """A target with a borrowed edge was fitted as ``W0 + ridge(X_S, y - X W0)`` over all its TFs: the
    analytic standard error of its own edges is that fit's jackknife (by brute force), its weights
    are the fit's, and the borrowed edge is not tested."""
    clusters, prior, loaded = tiny()
    prior_mean = np.where((prior["tf"] == "T2") & (prior["target_gene"] == "G1"), 0.3, 0.0)
    inputs = loaded["ab"]
    cells = network_rows(inputs)
    weights, intercepts = hand_network(cells, clusters, prior, np.ones(len(cells)), 1.0, prior_mean)
    coefficients = prior[["tf", "target_gene"]].assign(weight=weights, borrowed=prior_mean != 0)
    network = FittedNetwork(coefficients, intercepts.rename_axis("target_gene").reset_index(name="intercept"), 1.0)
    loaded["ab"] = FittedTransition(inputs.data, inputs.mapping, network)
    table = tiny_unit(loaded, se_method="analytic")
    own = prior_mean == 0
    assert list(zip(table["tf"], table["target_gene"])) == list(zip(prior["tf"][own], prior["target_gene"][own]))
    np.testing.assert_allclose(table["weight_1"], weights[own], atol=1e-10)
    ab = _hand_influences(loaded["ab"], "B", clusters, prior, 1.0, prior_mean)
    ac = _hand_influences(loaded["ac"], "C", clusters, prior, 1.0)
    np.testing.assert_allclose(table["std_error"], np.sqrt(_jackknife_variance(ab, ac)[own]), rtol=1e-4)


def test_the_analytic_test_fits_nothing(monkeypatch):
    """The unit reads each transition's network and penalty from its fit: no solver runs."""
    from transgrn import solvers

    _, _, loaded = tiny()
    expected = tiny_unit(loaded, se_method="analytic")

    def no_fit(*args, **kwargs):
        raise AssertionError("the differential test refitted a network")

    for name in dir(solvers):
        if isinstance(getattr(solvers, name), type) and hasattr(getattr(solvers, name), "fit"):
            monkeypatch.setattr(getattr(solvers, name), "fit", no_fit)
    pd.testing.assert_frame_equal(tiny_unit(loaded, se_method="analytic"), expected)


@pytest.mark.parametrize("mapping", [{"method": "joint"}, {"method": "lagged", "lag_grid": [0.15]}])
def test_analytic_standard_error_is_calibrated(mapping):
    table = sibling_test(simulate(symmetric_branches=True, seed=1), mapping, 1, se_method="analytic")
    assert table["se_method"].str.startswith("analytic").all()
    assert (table["qvalue"] <= 0.1).mean() <= 0.1
    assert_uniform(table["pvalue"])


def test_other_fits_take_the_bootstrap():
    """The analytic standard error covers ridge without standardize or self_term; the others get the
    bootstrap, whatever se_method asks."""
    _, _, loaded = tiny()
    standardized = FitOptions.from_config({"solver": "ridge", "alpha": 1.0, "standardize": True})
    table = tiny_unit(loaded, standardized, n_boot=4, se_method="analytic")
    assert table["se_method"].str.startswith("cell bootstrap").all()
