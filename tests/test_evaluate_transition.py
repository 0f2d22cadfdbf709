"""transgrn.evaluate.evaluate_transition: on a hand-made fit whose accuracy is known, and the whole
transition (map, fit, evaluate) recovering the simulator's network per mapping method.

(tests/test_evaluate.py holds the recovery scorer's own tests.)"""
import numpy as np
import pandas as pd
import pytest
from helpers import transition_of

from transgrn.cells import CellSet
from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition, held_out_column, scored_edges
from transgrn.fit import fit_transition
from transgrn.mapping import map_transition
from transgrn.mapping_file import lag_of
from transgrn.metrics import r2_overall, recovery_metrics
from transgrn.options import MappingOptions, FitOptions
from transgrn.simulate import simulate

FIT = FitOptions.from_config({"alpha": 1.0, "fit_intercept": True, "device": "cpu", "dtype": "float64"})
# the hand-made transition: x = 2 A - B + 1 and y = -A + 0.5 exactly; the prior edge B -> y is inactive
EDGES = pd.DataFrame({"tf": ["A", "B", "A", "B"], "target_gene": ["x", "x", "y", "y"], "active": [True, True, True, False]})
TRUE_WEIGHT = np.array([2.0, -1.0, -1.0, 0.0])
INTERCEPT = {"x": 1.0, "y": 0.5}


def hand_made_transition(n: int = 8, n_test: int = 2):
    """Source cells with random TF values, each paired with a target cell that the true network
    predicts exactly; the null pairs the same cells in another order."""
    rng = np.random.default_rng(0)
    genes = pd.Index(["A", "B", "x", "y"])
    tf_values = rng.normal(size=(n, 2))
    targets = np.column_stack([2 * tf_values[:, 0] - tf_values[:, 1] + 1.0, -tf_values[:, 0] + 0.5])
    source = CellSet(np.array([f"s{i}" for i in range(n)]), np.hstack([tf_values, rng.normal(size=(n, 2))]))
    target = CellSet(np.array([f"t{i}" for i in range(n)]), np.hstack([rng.normal(size=(n, 2)), targets]))
    split = np.where(np.arange(n) < n - n_test, "train", "test")

    def mapping(order):
        return pd.DataFrame({"pair": np.arange(n), "source_cell": source.names, "target_cell": target.names[order],
                             "weight": 1.0, "split": split})

    mappings = {"main": mapping(np.arange(n)), "null": mapping(rng.permutation(n))}
    return TransitionData(source, target, genes, EDGES), mappings


def fitted_tables(network_scale: float = 3.0):
    """The true network as the held-out sibling (train_weight), a scaled copy as the reported
    network (weight; its inactive edge given a weight the evaluation must ignore), and an empty null."""
    weight = TRUE_WEIGHT * network_scale
    weight[3] = 5.0
    coefficients = EDGES[["tf", "target_gene"]].assign(weight=weight, train_weight=TRUE_WEIGHT, null_weight=0.0)
    intercepts = pd.DataFrame({"target_gene": ["x", "y"], "intercept": 0.0, "train_intercept": list(INTERCEPT.values()),
                               "null_intercept": 0.0})
    return coefficients, intercepts


def test_held_out_accuracy_is_the_training_siblings_and_recovery_the_networks():
    data, mappings = hand_made_transition()
    coefficients, intercepts = fitted_tables()
    reference = pd.DataFrame({"tf": ["A", "B"], "target_gene": ["y", "y"], "sign": [-1, 1]})
    metrics, gene_r2, _ = evaluate_transition(data, mappings, coefficients, intercepts, reference)
    # train_weight predicts every pair exactly; weight (3x too large) would not
    assert metrics["r2_test"] == pytest.approx(1.0) and metrics["r2_train"] == pytest.approx(1.0)
    np.testing.assert_allclose(gene_r2["r2_test"], 1.0)
    assert (metrics["n_pairs"], metrics["n_test_pairs"], metrics["n_edges"]) == (8, 2, 3)
    # the null predicts 0: its R^2 is about the mean of the null's own training outputs
    x_null, y_null = data.design(mappings["null"], "test")
    null_center = data.design(mappings["null"], "train")[1].mean(0)
    assert metrics["r2_test_null"] == pytest.approx(r2_overall(y_null, np.zeros_like(y_null), null_center))
    assert (gene_r2["r2_test"] > gene_r2["r2_test_null"]).all()
    assert not metrics["above_null"]  # ahead on both targets, but 2 of 2 is p = 1/4 for the sign test
    # recovery ranks the network's weights with the inactive B -> y as no call (0), not its 5.0
    assert metrics["auprc_ratio"] == pytest.approx(recovery_metrics(scored_edges(data, coefficients), reference)["auprc_ratio"])
    assert metrics["sign_accuracy"] == pytest.approx(0.5)  # A -> y right, B -> y not called


def test_scored_edges_call_inactive_edges_zero_unless_borrowed():
    data, _ = hand_made_transition()
    coefficients, _ = fitted_tables()
    assert list(scored_edges(data, coefficients)["weight"]) == [6.0, -3.0, -3.0, 0.0]
    borrowed = coefficients.assign(borrowed=[False, False, False, True])
    assert list(scored_edges(data, borrowed)["weight"]) == [6.0, -3.0, -3.0, 5.0]


def test_held_out_column_falls_back_to_the_network_without_a_sibling():
    coefficients, _ = fitted_tables()
    assert held_out_column(coefficients) == "train_weight"
    assert held_out_column(coefficients.drop(columns="train_weight")) == "weight"


def test_predictions_are_the_test_pairs_of_the_best_and_worst_genes():
    data, mappings = hand_made_transition(n=12, n_test=3)
    coefficients, intercepts = fitted_tables()
    coefficients["train_weight"] = [2.0, -1.0, 0.0, 0.0]  # y is now predicted by its intercept alone
    _, gene_r2, predictions = evaluate_transition(data, mappings, coefficients, intercepts)
    assert gene_r2.set_index("target_gene").loc["x", "r2_test"] == pytest.approx(1.0)
    assert gene_r2.set_index("target_gene").loc["y", "r2_test"] < 1.0
    # two genes: both are among the best three, none is left for the worst
    assert list(predictions.drop_duplicates("target_gene")[["kind", "target_gene"]].itertuples(index=False, name=None)) \
        == [("best", "x"), ("best", "y")]
    _, y_test = data.design(mappings["main"], "test")
    np.testing.assert_allclose(predictions.loc[predictions["target_gene"] == "x", "observed"], y_test[:, 0])
    np.testing.assert_allclose(predictions.loc[predictions["target_gene"] == "x", "predicted"], y_test[:, 0])
    np.testing.assert_allclose(predictions.loc[predictions["target_gene"] == "y", "predicted"], INTERCEPT["y"])


def evaluated_transition(sim, source_label, target_label, method, seed=0):
    """Map, fit and evaluate one simulated transition: its metrics and its main mapping."""
    source, target, mask = transition_of(sim, source_label, target_label)
    mcfg = {"method": method, "n_pairs": 2000, "test_fraction": 0.2, "n_pcs": 20}
    tid = f"{source_label}->{target_label}"
    data = TransitionData(source, target, sim.adata.var_names, mask)
    mappings = {role: map_transition(source, target, role, tid, MappingOptions.from_config(mcfg), seed, data) for role in ("main", "null")}
    coefficients, intercepts, _ = fit_transition(data, mappings, FIT)
    return evaluate_transition(data, mappings, coefficients, intercepts, sim.reference)[0], mappings["main"]


@pytest.fixture(scope="module")
def demo():
    return simulate()  # the shipped demo's parameters


@pytest.mark.parametrize("pair", [("stem cell", "progenitor"), ("progenitor", "fate A")])
def test_ot_recovers_the_true_network_better_than_random(demo, pair):
    ot, _ = evaluated_transition(demo, *pair, "ot")
    random, _ = evaluated_transition(demo, *pair, "random")
    assert ot["auprc_ratio"] > random["auprc_ratio"] + 0.5
    assert ot["sign_accuracy"] > random["sign_accuracy"] + 0.2
    assert 0.85 < random["auprc_ratio"] < 1.15 and 0.4 < random["sign_accuracy"] < 0.6  # random carries no signal


def test_joint_beats_random_on_the_demo(demo):
    joint, _ = evaluated_transition(demo, "stem cell", "progenitor", "joint")
    assert joint["auprc_ratio"] > 2.0 and joint["sign_accuracy"] > 0.9 and joint["r2_test"] > joint["r2_test_null"]


def test_lagged_design_beats_joint_forward_and_equals_it_backward():
    noisy = simulate(noise=2.0)  # the recovery benchmark's harder noise level
    lagged, lagged_mapping = evaluated_transition(noisy, "progenitor", "fate A", "lagged")
    joint, _ = evaluated_transition(noisy, "progenitor", "fate A", "joint")
    assert lagged["auprc_ratio"] > joint["auprc_ratio"] + 0.1 and lagged["sign_accuracy"] > joint["sign_accuracy"]
    assert lagged["r2_test"] > joint["r2_test"]
    assert 0.05 < lag_of(lagged_mapping).lag < 0.25  # the simulator's lag is 0.15
    # backwards the shift would point to later times, against causality: cross-validation declines it
    backward, backward_mapping = evaluated_transition(noisy, "fate A", "progenitor", "lagged")
    assert lag_of(backward_mapping).lag == 0.0
    backward_joint, _ = evaluated_transition(noisy, "fate A", "progenitor", "joint")
    assert backward["auprc_ratio"] == pytest.approx(backward_joint["auprc_ratio"])
