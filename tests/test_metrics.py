"""transgrn.metrics on hand-computed values: R^2 per gene and overall, recovery and early precision."""
import numpy as np
import pandas as pd
import pytest

from transgrn.metrics import early_precision_ratio, r2_overall, r2_per_gene, recovery_metrics


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


def test_early_precision_ratios_match_hand_computed_values():
    edges = pd.DataFrame({"tf": ["A", "A", "B", "B", "C", "C"], "target_gene": ["x", "y", "x", "y", "x", "y"],
                          "weight": [0.9, -0.1, -0.5, 0.3, 0.2, -0.7]})
    reference = pd.DataFrame({"tf": ["A", "B", "C"], "target_gene": ["x", "x", "y"], "sign": [1, -1, 1]})
    metrics = recovery_metrics(edges, reference)
    # |w| ranks A-x, C-y, B-x first: the top 3 (= true edges) are all true; random precision 3/6
    assert metrics["epr"] == pytest.approx(1.0 / 0.5)
    # activations A-x, C-y (k=2) by weight: A-x (true), B-y (false) -> 0.5 / (2/6)
    assert metrics["epr_activation"] == pytest.approx(0.5 / (2 / 6))
    # repression B-x (k=1) by -weight: C-y comes first and is an activation -> 0
    assert metrics["epr_repression"] == pytest.approx(0.0)
    assert metrics["sign_accuracy"] == pytest.approx(2 / 3)  # C-y has the wrong sign


def test_early_precision_counts_ties_at_the_cutoff():
    # k = 2 true edges; the 2nd score ties with a false edge: both are in the top set -> (2/3) / (2/4)
    assert early_precision_ratio(np.array([1.0, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0], bool)) == pytest.approx(4 / 3)
    assert np.isnan(early_precision_ratio(np.array([1.0, 0.5]), np.array([0, 0], bool)))
