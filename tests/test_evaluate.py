"""One scorer for every recovery metric (issue #10): every prior edge ranked, zeros are no call."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from transgrn.metrics import beats_null, gene_r2_summary, recovery_metrics
from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition
from transgrn.fit import fit_transition
from transgrn.mapping import map_transition
from transgrn.mask import build_mask
from transgrn.cells import CellSet
from transgrn.options import MappingOptions, FitOptions
from transgrn.mask import REASON_SELF_LOOP, REASON_TF_CONSTANT

ALPHA_ONE = FitOptions.from_config({"alpha": 1.0, "device": "cpu"})


def hand_made():
    # six prior edges: two were not estimated (weight 0, tied with each other), one true edge among them
    edges = pd.DataFrame({"tf": list("AAABBB"), "target_gene": list("xyzxyz"),
                          "weight": [0.9, -0.4, 0.0, 0.4, 0.0, -0.2]})
    reference = pd.DataFrame({"tf": ["A", "B", "B", "C"], "target_gene": ["x", "y", "z", "x"], "sign": [1, 1, 1, -1]})
    return edges, reference


def test_recovery_metrics_equal_sklearn_over_every_prior_edge():
    edges, reference = hand_made()
    metrics = recovery_metrics(edges, reference)
    label = np.array([1, 0, 0, 0, 1, 1], bool)  # C->x is not a prior edge: it cannot be scored
    score = edges["weight"].abs().to_numpy()
    assert metrics["n_true_edges"] == 3
    assert metrics["auprc_ratio"] == pytest.approx(average_precision_score(label, score) / label.mean())
    assert metrics["auroc"] == pytest.approx(roc_auc_score(label, score))
    # ties are fair: |-0.4| and 0.4 tie, and the zeros tie; swapping tied rows changes nothing
    swapped = recovery_metrics(edges.iloc[[0, 3, 2, 1, 5, 4]], reference)
    assert swapped["auprc_ratio"] == pytest.approx(metrics["auprc_ratio"])


@pytest.mark.parametrize("seed", range(40))
def test_ranking_metrics_equal_sklearn_with_ties(seed):
    """average_precision and roc_auc (numpy, so that evaluation jobs need not import sklearn) are
    sklearn's, on random labels with many ties (rounded scores, a block of zeros: inactive edges)."""
    from transgrn.metrics import average_precision, roc_auc

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    score = np.round(np.abs(rng.normal(size=n)), int(rng.integers(0, 3)))
    score[rng.uniform(size=n) < 0.3] = 0.0
    label = rng.uniform(size=n) < rng.uniform(0.05, 0.6)
    label[:2] = [True, False]  # both classes present
    # bit for bit: transitions.tsv and the tensor's obs must not move with the scorer's home
    assert average_precision(label, score) == average_precision_score(label, score)
    assert roc_auc(label, score) == roc_auc_score(label, score)


def test_sign_accuracy_counts_zero_weights_as_wrong():
    edges, reference = hand_made()
    metrics = recovery_metrics(edges, reference)
    # true signed edges in the prior: A-x (+, right), B-y (+, weight 0: wrong), B-z (+, wrong sign)
    assert metrics["sign_accuracy"] == pytest.approx(1 / 3)
    assert metrics["sign_accuracy_called"] == pytest.approx(1 / 2)


def test_unsigned_reference_gives_empty_sign_metrics():
    edges, reference = hand_made()
    metrics = recovery_metrics(edges, reference.assign(sign=0))
    assert np.isnan(metrics["sign_accuracy"]) and np.isnan(metrics["sign_accuracy_called"])
    assert np.isnan(metrics["epr_activation"]) and np.isnan(metrics["epr_repression"])
    assert metrics["auprc_ratio"] > 0


def test_gene_r2_summary_uses_targets_that_vary():
    summary = gene_r2_summary(np.array([0.5, 0.2, np.nan, -0.1]), np.array([0.0, 0.18, 0.0, 0.0]))
    assert summary["r2_test_median"] == pytest.approx(0.2)
    assert summary["r2_test_null_median"] == pytest.approx(0.0)
    assert summary["frac_targets_above_null"] == pytest.approx(1 / 3)  # 0.2 does not beat 0.18 by the margin


def test_above_null_is_a_sign_test_over_targets_not_the_pooled_r2():
    from scipy.stats import binomtest

    # 9 targets ahead of the null by more than the margin, 3 behind, 2 within it, one constant (NaN)
    fit = np.array([0.3] * 9 + [0.0] * 3 + [0.11, 0.1, np.nan])
    null = np.array([0.0] * 9 + [0.2] * 3 + [0.1, 0.12, 0.0])
    assert binomtest(9, 12, 0.5, alternative="greater").pvalue < 0.1
    assert beats_null(fit, null) == (binomtest(9, 12, 0.5, alternative="greater").pvalue < 0.05)
    assert beats_null(fit, null, level=0.1) and not beats_null(fit, null, level=0.05)  # p = 0.073
    assert not beats_null(np.full(5, 0.01), np.zeros(5))  # ahead everywhere, but within the margin
    assert not beats_null(np.array([np.nan]), np.array([np.nan]))
    # no signal: the fit and its null are draws of one distribution; flagged as above in ~5% at most
    rng = np.random.default_rng(0)
    flags = [beats_null(rng.normal(0, 0.1, 300), rng.normal(0, 0.1, 300)) for _ in range(400)]
    assert np.mean(flags) <= 0.08
    assert beats_null(rng.normal(0.1, 0.1, 300), rng.normal(0, 0.1, 300))  # a real, modest gain


def switch_on_transition(n=120, seed=0):
    """TF ``Master`` is silent in A and switches on in B, where it drives ``T1`` (+) and ``T2`` (-);
    TF ``Other`` varies everywhere and drives ``T3``; ``Master`` is also listed as its own target."""
    rng = np.random.default_rng(seed)
    genes = pd.Index(["Master", "Other", "T1", "T2", "T3", "T4"])

    def cells(prefix, master_on, t0):
        master = rng.gamma(2.0, 1.0, n) if master_on else np.zeros(n)
        other = rng.gamma(2.0, 1.0, n)
        noise = rng.normal(0, 0.3, (n, 4))
        targets = np.column_stack([1 + master, 5 - master, 1 + other, 1 + 0 * other]) + noise
        matrix = np.column_stack([master, other, targets])
        return CellSet(np.array([f"{prefix}{i}" for i in range(n)]), matrix, t0 + np.linspace(0, 0.5, n))

    prior = pd.DataFrame({"tf": ["Master", "Master", "Master", "Master", "Other", "Other"],
                          "target_gene": ["T1", "T2", "T4", "Master", "T3", "T1"], "sign": np.int8(0)})
    return cells("a", False, 0.0), cells("b", True, 0.5), genes, prior


@pytest.mark.parametrize("method", ["lagged", "joint", "hybrid"])
def test_a_regulator_silent_in_the_source_is_estimated_in_same_cell_designs(method):
    source, target, genes, prior = switch_on_transition()
    mask = build_mask(prior, source, target, genes, method).set_index(["tf", "target_gene"])
    assert mask.loc[("Master", "T1"), "active"] and mask.loc[("Master", "T2"), "active"]
    assert not mask.loc[("Master", "Master"), "active"] and mask.loc[("Master", "Master"), "reason"] == REASON_SELF_LOOP
    assert (mask.loc[mask["active"], "reason"] == "").all()


def test_same_cell_fit_recovers_the_switched_on_regulator():
    source, target, genes, prior = switch_on_transition()
    mask = build_mask(prior, source, target, genes, "joint")
    data = TransitionData(source, target, genes, mask)
    mcfg = {"method": "joint", "n_pairs": 200, "test_fraction": 0.2}
    mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
    coefficients, intercepts, _ = fit_transition(data, mappings, ALPHA_ONE)
    weight = coefficients.set_index(["tf", "target_gene"])["weight"]
    assert weight[("Master", "T1")] > 0.5 and weight[("Master", "T2")] < -0.5
    assert weight[("Master", "Master")] == 0  # the self-loop is not fitted
    reference = pd.DataFrame({"tf": ["Master", "Master", "Other"], "target_gene": ["T1", "T2", "T3"], "sign": [1, -1, 1]})
    metrics = evaluate_transition(data, mappings, coefficients, intercepts, reference)[0]
    assert metrics["sign_accuracy"] == 1.0 and metrics["auprc_ratio"] == pytest.approx(2.0)  # 3 true of 6, all first


def test_mapped_designs_decide_activity_on_source_inputs_and_target_outputs():
    source, target, genes, prior = switch_on_transition()
    mask = build_mask(prior, source, target, genes, "ot").set_index(["tf", "target_gene"])
    assert not mask.loc[("Master", "T1"), "active"] and mask.loc[("Master", "T1"), "reason"] == REASON_TF_CONSTANT
    assert mask.loc[("Master", "Master"), "reason"] == REASON_TF_CONSTANT  # self-loops are kept in mapped designs
    assert mask.loc[("Other", "T3"), "active"]


def test_the_default_fit_does_not_fall_below_the_null_on_small_noisy_data(schema):
    """Issue #10: with few rows per prior TF (70 cells per cluster, noise 2.0), alpha 1.0 overfit
    below the random null; the default penalty (CV) must not."""
    from helpers import cluster_cells, edges_of

    from transgrn.config import apply_defaults
    from transgrn.simulate import simulate

    defaults = apply_defaults({"data": {}}, schema)
    sim = simulate(noise=2.0, seed=1)
    rng = np.random.default_rng(0)

    def few(label):
        cells = cluster_cells(sim.adata, label)
        keep = np.sort(rng.permutation(len(cells))[:70])
        return CellSet(cells.names[keep], cells.matrix[keep], cells.pseudotime[keep])

    for pair in [("stem cell", "progenitor"), ("progenitor", "fate A")]:
        source, target = few(pair[0]), few(pair[1])
        mcfg = {**defaults["mapping"]}
        mask = build_mask(edges_of(sim.prior), source, target, sim.adata.var_names, mcfg["method"])
        data = TransitionData(source, target, sim.adata.var_names, mask)
        mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
        fit = FitOptions.from_config({**defaults["fit"], "device": "cpu"})
        metrics = evaluate_transition(data, mappings, *fit_transition(data, mappings, fit, 0, "t")[:2])[0]
        assert metrics["r2_test"] >= metrics["r2_test_null"], metrics
        assert metrics["r2_test_median"] >= metrics["r2_test_null_median"], metrics
        alpha_one = evaluate_transition(data, mappings,
                                        *fit_transition(data, mappings, replace(fit, alpha=1.0), 0, "t")[:2])[0]
        assert alpha_one["r2_test"] < metrics["r2_test"]  # the old default overfits here


def test_a_null_that_predicts_its_training_mean_scores_exactly_zero(tmp_path):
    """A null fit that shrank every weight to 0 predicts its intercept, the training mean -- summed
    in another order than the evaluation's centre, so SSE and SST differ in their last bits. Its
    held-out R^2 and their medians are 0, not rounding noise like -3e-16 in transitions.tsv."""
    import math

    from transgrn.aggregate import write_table

    source, target, genes, prior = switch_on_transition(n=301)
    data = TransitionData(source, target, genes, build_mask(prior, source, target, genes, "joint"))
    mcfg = {"method": "joint", "n_pairs": 200, "test_fraction": 0.2}
    mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
    coefficients, intercepts, _ = fit_transition(data, mappings, ALPHA_ONE)
    y = np.asarray(data.design(mappings["null"], "train", dense=True)[1], dtype=np.float64)
    coefficients["null_weight"] = 0.0
    means = pd.Series([math.fsum(column) / len(column) for column in y.T], index=data.targets)
    intercepts["null_intercept"] = intercepts["target_gene"].map(means).to_numpy()
    assert (means.to_numpy() != y.mean(0)).any()  # the case: the two means differ in their last bits
    metrics, gene_r2, _ = evaluate_transition(data, mappings, coefficients, intercepts)
    assert set(gene_r2["r2_test_null"].dropna()) == {0.0}
    assert metrics["r2_test_null"] == 0.0 and metrics["r2_test_null_median"] == 0.0
    write_table(pd.DataFrame([metrics])[["r2_test_null", "r2_test_null_median"]], tmp_path / "transitions.tsv")
    assert (tmp_path / "transitions.tsv").read_text().splitlines()[1] == "0\t0"


def test_held_out_r2_is_that_of_the_dense_predictions_of_the_coefficients():
    """The evaluation predicts from the sparse edge weights and the self term's weights: its held-out
    R^2 is that of the predictions made densely from the same coefficients, about the training mean."""
    from transgrn.metrics import r2_per_gene

    source, target, genes, prior = switch_on_transition(n=301)
    data = TransitionData(source, target, genes, build_mask(prior, source, target, genes, "joint"))
    mcfg = {"method": "joint", "n_pairs": 200, "test_fraction": 0.2}
    mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
    coefficients, intercepts, _ = fit_transition(data, mappings, replace(ALPHA_ONE, self_term=True))
    _, gene_r2, predictions = evaluate_transition(data, mappings, coefficients, intercepts)
    x, y = data.design(mappings["main"], "test", self_term=True)
    weights = np.zeros((len(data.tfs), len(data.targets)))
    weights[data.edge_tf, data.edge_target] = coefficients["train_weight"].to_numpy()
    by_target = intercepts.set_index("target_gene").loc[data.targets]
    predicted = (x[:, : len(data.tfs)] @ weights + by_target["train_intercept"].to_numpy()
                 + x[:, len(data.tfs):] * by_target["train_self_weight"].to_numpy())
    assert np.abs(by_target["train_self_weight"]).max() > 0 and np.abs(weights).max() > 0
    center = data.design(mappings["main"], "train", self_term=True)[1].mean(0)
    np.testing.assert_allclose(gene_r2["r2_test"], r2_per_gene(y, predicted, center), rtol=1e-10, atol=1e-12)
    best = predictions[predictions["kind"] == "best"].iloc[0]
    column = data.targets.get_loc(best["target_gene"])
    np.testing.assert_allclose(predictions.loc[predictions["target_gene"] == best["target_gene"], "predicted"],
                               predicted[:, column], rtol=1e-12)
