"""fit.* options wired through grn.fit_transition: solvers, alpha auto, bootstrap confidence, self term."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from transgrn.edges import filter_transition_edges
from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition
from transgrn.fit import fit_transition
from transgrn.cells import CellSet
from transgrn.fit import make_transition_solver
from transgrn.options import MappingOptions, FitOptions
from transgrn.solvers import CV_SOLVERS, SOLVERS, MaskedAdam

GENES = pd.Index(["TF1", "TF2", "G1", "G2"])
FIT = FitOptions.from_config({"solver": "ridge", "alpha": 1e-6, "fit_intercept": True, "device": "cpu",
                              "dtype": "float64"})


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
    with_self, intercepts, _ = fit_transition(data, mappings, replace(FIT, self_term=True))
    assert weight(with_self, "TF2", "G1") == pytest.approx(0.0, abs=0.02)
    assert weight(with_self, "TF1", "G1") == pytest.approx(0.5, abs=0.02)
    assert intercepts.set_index("target_gene").loc["G1", "self_weight"] == pytest.approx(0.9, abs=0.02)
    metrics, _, _ = evaluate_transition(data, mappings, with_self, intercepts)
    assert metrics["r2_test"] > 0.99 > metrics["r2_test_null"]


@pytest.mark.parametrize("solver", ["lasso", "elasticnet", "adam"])
def test_every_solver_runs_through_the_transition_fit(solver):
    data, mappings = persistence_data()
    config = replace(FIT, solver=solver, alpha=1e-4, l1_ratio=0.5, epochs=300, lr=0.05)
    coefficients, _, info = fit_transition(data, mappings, config, seed=3, transition="t")
    assert info["solver"] == solver
    assert weight(coefficients, "TF2", "G2") == pytest.approx(-0.7, abs=0.1)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_alpha_auto_makes_the_cross_validated_sibling_seeded_for_the_transition(solver):
    """fit.alpha: auto is read in make_transition_solver alone: the solver's CV sibling, whose folds the
    transition's seed draws (Adam has none: it fits without a penalty); a number gives the plain solver."""
    model = make_transition_solver(replace(FIT, solver=solver, alpha="auto"), seed=7)
    assert type(model) is (MaskedAdam if solver == "adam" else CV_SOLVERS[solver])
    assert model.get_params()["seed" if solver == "adam" else "cv_seed"] == 7
    assert "alpha" not in model.get_params() or model.alpha == 0.0
    plain = make_transition_solver(replace(FIT, solver=solver, alpha=0.5), seed=7)
    assert type(plain) is SOLVERS[solver] and plain.alpha == 0.5


def test_alpha_auto_is_reported():
    data, mappings = persistence_data()
    _, _, info = fit_transition(data, mappings, replace(FIT, alpha="auto"), seed=0, transition="t")
    assert np.isfinite(info["alpha"]) and info["alpha"] >= 0


def test_bootstrap_adds_confidence_and_filter_keeps_confident_edges():
    data, mappings = persistence_data()
    coefficients, _, _ = fit_transition(data, mappings, replace(FIT, bootstrap=20), seed=0, transition="t")
    for column in ("weight_mean", "weight_std", "pvalue", "qvalue", "pvalue_celloracle"):
        assert coefficients[column].notna().all()
    assert weight(coefficients, "TF2", "G2", "qvalue") < 1e-3  # a planted, strong edge
    again, _, _ = fit_transition(data, mappings, replace(FIT, bootstrap=20), seed=0, transition="t")
    pd.testing.assert_frame_equal(coefficients, again)  # seeded: reruns are identical
    edges = coefficients.assign(transition="t")
    confident = edges[edges.qvalue <= 0.05]
    strongest = confident.loc[confident.weight.abs().nlargest(2).index]
    kept = filter_transition_edges(edges, min_confidence=0.95, top_k=2)
    assert set(zip(kept.tf, kept.target_gene)) == set(zip(strongest.tf, strongest.target_gene))
    assert ("TF2", "G2") in set(zip(kept.tf, kept.target_gene))


def test_bootstrap_gives_each_active_edge_the_share_of_refits_with_its_sign():
    data, mappings = persistence_data()
    coefficients, _, _ = fit_transition(data, mappings, replace(FIT, bootstrap=20), seed=0, transition="t")
    assert coefficients["sign_confidence"].between(0, 1).all()
    assert weight(coefficients, "TF2", "G2") < 0 and weight(coefficients, "TF2", "G2", "sign_confidence") == 1.0
    assert weight(coefficients, "TF1", "G1", "sign_confidence") == 1.0
    without, _, _ = fit_transition(data, mappings, FIT, seed=0, transition="t")
    assert "sign_confidence" not in without.columns  # no refits, nothing to count (as weight_std)


def suppression_data(n=400, seed=0):
    """G1 = TF1 - 0.3 TF2 with TF2 = TF1 + a little noise: TF2's weight is negative, its marginal
    association with G1 positive (collinear TFs turn it around)."""
    rng = np.random.default_rng(seed)
    tf1 = rng.normal(size=n)
    tf2 = tf1 + 0.3 * rng.normal(size=n)
    g1 = tf1 - 0.3 * tf2 + 0.05 * rng.normal(size=n)
    source = np.column_stack([tf1, tf2, rng.normal(size=(n, 2))])
    target = np.column_stack([rng.normal(size=(n, 2)), g1, rng.normal(size=n)])
    names_a, names_b = np.array([f"a{i}" for i in range(n)]), np.array([f"b{i}" for i in range(n)])
    mask = pd.DataFrame({"tf": ["TF1", "TF2"], "target_gene": ["G1", "G1"], "sign": 0, "active": True})
    data = TransitionData(CellSet(names_a, source), CellSet(names_b, target), GENES, mask)
    mapping = pd.DataFrame({"pair": np.arange(n), "source_cell": names_a, "target_cell": names_b, "weight": 1.0,
                            "split": np.where(np.arange(n) < 0.8 * n, "train", "test")})
    return data, {"main": mapping}


def test_sign_confidence_is_a_coin_flip_where_the_fit_turns_the_marginal_association_around():
    data, mappings = suppression_data()
    coefficients, _, _ = fit_transition(data, mappings, replace(FIT, bootstrap=20), seed=0, transition="t")
    assert weight(coefficients, "TF2", "G1") < -0.2  # the refits agree on the negative sign ...
    assert weight(coefficients, "TF2", "G1", "weight_mean") + 3 * weight(coefficients, "TF2", "G1", "weight_std") < 0
    assert weight(coefficients, "TF2", "G1", "sign_confidence") == 0.5  # ... but the marginal says positive
    assert weight(coefficients, "TF1", "G1", "sign_confidence") == 1.0


def krumsiek11_edges(bootstrap: int = 20) -> pd.DataFrame:
    """benchmarks/recovery.py's krumsiek11 track (scanpy's bundled Boolean-network simulation), fitted
    with the shipped defaults and ``bootstrap`` refits: every transition's reference edges with their
    weight, sign_confidence and true sign."""
    import sys

    from helpers import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))
    import recovery
    from transgrn.mapping import map_transition
    from transgrn.mask import build_mask

    dataset = recovery.krumsiek11()
    mapping_options, fit = recovery.shipped_defaults()
    frames = []
    for label, source, target in dataset.transitions:
        data = TransitionData(source, target, dataset.genes, build_mask(dataset.prior, source, target, dataset.genes,
                                                                        mapping_options["method"]))
        mapping = map_transition(source, target, "main", label, MappingOptions.from_config({**mapping_options, "n_pcs": 10}), 0, data)
        options = FitOptions.from_config({**fit, "bootstrap": bootstrap})
        coefficients, _, _ = fit_transition(data, {"main": mapping}, options, 0, label)
        frames.append(coefficients.merge(dataset.reference, on=["tf", "target_gene"]))
    return pd.concat(frames, ignore_index=True)


def test_sign_confidence_is_calibrated_where_collinear_tfs_flip_signs(monkeypatch):
    """krumsiek11: 16% of the defaults' signs are wrong, most of them with every refit agreeing (a bias,
    not noise); of the edges with sign_confidence >= 0.9 at least 90% have the right sign, which the
    share of refits alone (no cap where the marginal association disagrees) does not give."""
    from transgrn import confidence

    edges = krumsiek11_edges()
    right = np.sign(edges["weight"]) == edges["sign"]
    assert right.mean() < 0.9
    confident = edges["sign_confidence"] >= 0.9
    assert confident.sum() >= 40 and right[confident].mean() >= 0.9
    monkeypatch.setattr(confidence, "DISAGREEING_SIGN_CONFIDENCE", 1.0)
    uncapped = krumsiek11_edges()
    assert (uncapped["weight"] == edges["weight"]).all()
    assert right[uncapped["sign_confidence"] >= 0.9].mean() < 0.9


def test_fit_sign_correlation_reaches_the_solver_and_is_for_ridge_only():
    options = FitOptions.from_config({"sign": "correlation", "device": "cpu"})
    assert make_transition_solver(options).sign == "correlation"
    assert make_transition_solver(replace(options, alpha=1.0)).sign == "correlation"
    assert make_transition_solver(FitOptions.from_config({"device": "cpu"})).sign == "free"
    with pytest.raises(ValueError, match="fit.sign"):
        make_transition_solver(replace(options, solver="lasso"))


def test_fit_sign_correlation_keeps_every_weight_on_its_marginal_sign():
    """G1's decoy TF2 is correlated with G1 through G1's own persistence; held to the marginal signs, every
    reported weight (network and held-out sibling) agrees with its TF's association over the fit's rows."""
    data, mappings = persistence_data()
    coefficients, _, info = fit_transition(data, mappings, replace(FIT, alpha=1.0, sign="correlation"))
    x, y = data.design(mappings["main"], "all")
    covariance = (x - x.mean(0)).T @ (y - y.mean(0))
    marginal = np.sign(covariance[data.edge_tf, data.edge_target])
    weight = coefficients["weight"].to_numpy()
    assert ((np.sign(weight) == marginal) | (weight == 0)).all()
    assert info["converged"]
