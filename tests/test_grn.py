import numpy as np
import pandas as pd
import pytest
from conftest import edges_of

from transgrn.evaluate import r2_overall, r2_per_gene, recovery_metrics
from transgrn.grn import TransitionData, build_mask, evaluate_transition, fit_transition, map_transition
from transgrn.mapping import CellSet
from transgrn.simulate import simulate

FIT = {"alpha": 1.0, "fit_intercept": True, "device": "cpu", "dtype": "float64"}


def cells(adata, label):
    keep = (adata.obs["cell_type"] == label).to_numpy()
    return CellSet(adata.obs_names[keep].to_numpy(), adata.X[keep])


def run_transition(sim, source_label, target_label, method, seed=0):
    source, target = cells(sim.adata, source_label), cells(sim.adata, target_label)
    mask = build_mask(edges_of(sim.prior), source, target, sim.adata.var_names)
    mcfg = {"method": method, "n_pairs": 2000, "test_fraction": 0.2, "n_pcs": 20}
    tid = f"{source_label}->{target_label}"
    mappings = {role: map_transition(source, target, role, tid, mcfg, seed) for role in ("main", "null")}
    data = TransitionData(source, target, sim.adata.var_names, mask)
    coefficients, intercepts = fit_transition(data, mappings, FIT)
    return evaluate_transition(data, mappings, coefficients, intercepts, sim.reference)[0]


@pytest.fixture(scope="module")
def demo():
    return simulate()  # the shipped demo's parameters


@pytest.mark.parametrize("pair", [("stem cell", "progenitor"), ("progenitor", "fate A")])
def test_ot_recovers_the_true_network_better_than_random(demo, pair):
    ot = run_transition(demo, *pair, "ot")
    random = run_transition(demo, *pair, "random")
    assert ot["auprc_ratio"] > random["auprc_ratio"] + 0.5
    assert ot["sign_accuracy"] > random["sign_accuracy"] + 0.2
    assert 0.85 < random["auprc_ratio"] < 1.15 and 0.4 < random["sign_accuracy"] < 0.6  # random carries no signal
    assert ot["r2_test"] > ot["r2_test_null"]


def test_r2_definitions():
    y = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    pred = np.array([[1.0, 4.0], [2.0, 4.0], [4.0, 4.0]])
    per_gene = r2_per_gene(y, pred)
    assert per_gene[0] == pytest.approx(0.5) and np.isnan(per_gene[1])  # constant gene: undefined
    assert r2_overall(y, pred) == pytest.approx(1 - (1 + 3) / 2)


def test_recovery_metrics_match_hand_computed_values():
    edges = pd.DataFrame({"tf": ["A", "A", "B", "B"], "target_gene": ["x", "y", "x", "y"], "weight": [0.9, -0.1, -0.5, 0.3]})
    reference = pd.DataFrame({"tf": ["A", "B"], "target_gene": ["x", "x"], "sign": [1, 1]})
    metrics = recovery_metrics(edges, reference)
    # ranking by |w|: A-x (true), B-x (true), B-y, A-y -> AP = 1, positives 2/4 -> ratio 2
    assert metrics["auprc_ratio"] == pytest.approx(2.0)
    assert metrics["auroc"] == pytest.approx(1.0)
    assert metrics["sign_accuracy"] == pytest.approx(0.5)  # A-x right, B-x wrong
