"""fit.* options wired through grn.fit_transition: solvers, alpha auto, bootstrap confidence, self term."""
import numpy as np
import pandas as pd
import pytest

from transgrn.aggregate import filter_edges
from transgrn.grn import TransitionData, evaluate_transition, fit_transition
from transgrn.cells import CellSet

GENES = pd.Index(["TF1", "TF2", "G1", "G2"])
FIT = {"solver": "ridge", "alpha": 1e-6, "fit_intercept": True, "device": "cpu", "dtype": "float64"}


def persistence_data(n=400, seed=0):
    """G1 in B = 0.9 * (G1 in its A partner) + 0.5 * TF1; G1 in A is correlated with TF2 (a decoy)."""
    rng = np.random.default_rng(seed)
    tf = rng.normal(size=(n, 2))
    g1_a = 0.8 * tf[:, 1] + 0.6 * rng.normal(size=n)
    g2_a = rng.normal(size=n)
    source = np.column_stack([tf, g1_a, g2_a])
    g1_b = 0.9 * g1_a + 0.5 * tf[:, 0] + 0.05 * rng.normal(size=n)
    g2_b = -0.7 * tf[:, 1] + 0.05 * rng.normal(size=n)
    target = np.column_stack([rng.normal(size=(n, 2)), g1_b, g2_b])
    names_a, names_b = np.array([f"a{i}" for i in range(n)]), np.array([f"b{i}" for i in range(n)])
    mask = pd.DataFrame({"tf": ["TF1", "TF2", "TF1", "TF2"], "target_gene": ["G1", "G1", "G2", "G2"], "sign": 0, "active": True})
    data = TransitionData(CellSet(names_a, source), CellSet(names_b, target), GENES, mask)
    split = np.where(np.arange(n) < 0.8 * n, "train", "test")
    mapping = pd.DataFrame({"pair": np.arange(n), "source_cell": names_a, "target_cell": names_b, "weight": 1.0, "split": split})
    null = mapping.assign(target_cell=np.random.default_rng(1).permutation(names_b))
    return data, {"main": mapping, "null": null}


def weight(coefficients, tf, target, column="weight"):
    return coefficients.set_index(["tf", "target_gene"]).loc[(tf, target), column]


def test_self_term_takes_persistence_off_the_tfs():
    data, mappings = persistence_data()
    without, _, _ = fit_transition(data, mappings, FIT)
    assert weight(without, "TF2", "G1") > 0.5  # persistence leaks onto the correlated decoy TF
    with_self, intercepts, _ = fit_transition(data, mappings, {**FIT, "self_term": True})
    assert weight(with_self, "TF2", "G1") == pytest.approx(0.0, abs=0.02)
    assert weight(with_self, "TF1", "G1") == pytest.approx(0.5, abs=0.02)
    assert intercepts.set_index("target_gene").loc["G1", "self_weight"] == pytest.approx(0.9, abs=0.02)
    metrics, _, _ = evaluate_transition(data, mappings, with_self, intercepts)
    assert metrics["r2_test"] > 0.99 > metrics["r2_test_null"]


@pytest.mark.parametrize("solver", ["lasso", "elasticnet", "adam"])
def test_every_solver_runs_through_the_transition_fit(solver):
    data, mappings = persistence_data()
    config = {**FIT, "solver": solver, "alpha": 1e-4, "l1_ratio": 0.5, "epochs": 300, "lr": 0.05}
    coefficients, _, info = fit_transition(data, mappings, config, seed=3, transition="t")
    assert info["solver"] == solver
    assert weight(coefficients, "TF2", "G2") == pytest.approx(-0.7, abs=0.1)


def test_alpha_auto_is_reported():
    data, mappings = persistence_data()
    _, _, info = fit_transition(data, mappings, {**FIT, "alpha": "auto"}, seed=0, transition="t")
    assert np.isfinite(info["alpha"]) and info["alpha"] >= 0


def test_bootstrap_adds_confidence_and_filter_keeps_confident_edges():
    data, mappings = persistence_data()
    coefficients, _, _ = fit_transition(data, mappings, {**FIT, "bootstrap": 20}, seed=0, transition="t")
    for column in ("weight_mean", "weight_std", "pvalue", "qvalue", "pvalue_celloracle"):
        assert coefficients[column].notna().all()
    assert weight(coefficients, "TF2", "G2", "qvalue") < 1e-3  # a planted, strong edge
    again, _, _ = fit_transition(data, mappings, {**FIT, "bootstrap": 20}, seed=0, transition="t")
    pd.testing.assert_frame_equal(coefficients, again)  # seeded: reruns are identical
    edges = coefficients.assign(transition="t")
    confident = edges[edges.qvalue <= 0.05]
    strongest = confident.loc[confident.weight.abs().nlargest(2).index]
    kept = filter_edges(edges, min_confidence=0.95, top_k=2)
    assert set(zip(kept.tf, kept.target_gene)) == set(zip(strongest.tf, strongest.target_gene))
    assert ("TF2", "G2") in set(zip(kept.tf, kept.target_gene))
