"""The run-level network (transgrn.run_network): scores and signs of hand-made transitions whose answer is known."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transgrn.metrics import recovery_metrics
from transgrn.run_network import NETWORK_COLUMNS, RunNetwork, network_recovery, transition_weight

EDGES = pd.DataFrame({"tf": ["A", "A", "B"], "target_gene": ["x", "y", "x"]})


def network_of(weights: list[list[float]], r2: list[float | None], var: pd.DataFrame = EDGES) -> pd.DataFrame:
    network = RunNetwork(var)
    for w, r in zip(weights, r2):
        network.add(EDGES.assign(weight=w), r)
    return network.table().set_index(["tf", "target_gene"])


def test_score_is_the_mean_abs_weight_weighted_by_held_out_r2_and_sign_the_summed_weights():
    # t1 (R^2 0.5) counts, t2 (R^2 0) not in the score; both vote on the sign, by |weight|
    table = network_of([[1.0, -2.0, 0.0], [3.0, 1.0, 0.0]], [0.5, 0.0])
    assert table.loc[("A", "x"), "score"] == 1.0 and table.loc[("A", "y"), "score"] == 2.0
    assert table.loc[("A", "x"), "sign"] == 1 and table.loc[("A", "y"), "sign"] == -1  # -2 + 1 < 0
    assert table.loc[("A", "y"), "sign_agreement"] == pytest.approx(1 / 3)  # |-2 + 1| / (2 + 1)
    assert table.loc[("A", "x"), "sign_agreement"] == 1.0
    assert table.loc[("B", "x"), ["score", "sign"]].tolist() == [0.0, 0] and np.isnan(table.loc[("B", "x"), "sign_agreement"])
    assert table["n_transitions"].tolist() == [2, 2, 0]
    # highest score first
    assert list(table.index) == [("A", "y"), ("A", "x"), ("B", "x")]


def test_unequal_r2_weights_the_mean():
    table = network_of([[1.0, 0.0, 0.0], [4.0, 0.0, 0.0]], [0.1, 0.3])
    assert table.loc[("A", "x"), "score"] == pytest.approx((0.1 * 1 + 0.3 * 4) / 0.4)


@pytest.mark.parametrize("r2", [[-0.2, 0.0], [None, float("nan")]])
def test_without_a_transition_above_zero_r2_the_score_is_the_plain_mean(r2):
    table = network_of([[1.0, -2.0, 0.0], [3.0, 1.0, 0.0]], r2)
    assert table.loc[("A", "x"), "score"] == 2.0 and table.loc[("A", "y"), "score"] == 1.5


def test_a_transition_lacking_an_edge_or_its_weight_counts_neither_way():
    network = RunNetwork(EDGES)
    network.add(EDGES.assign(weight=[1.0, 2.0, 4.0]), 0.5)
    # another order, without B->x, and a NaN weight (no value either)
    network.add(pd.DataFrame({"tf": ["A", "A"], "target_gene": ["y", "x"], "weight": [np.nan, 3.0]}), 0.5)
    table = network.table().set_index(["tf", "target_gene"])
    assert table.loc[("B", "x"), "score"] == 4.0  # its one transition
    assert table.loc[("A", "x"), "score"] == 2.0 and table.loc[("A", "y"), "score"] == 2.0
    assert table["n_transitions"].to_dict() == {("B", "x"): 1, ("A", "x"): 2, ("A", "y"): 1}
    assert network.n_transitions == 2


def test_table_columns_types_and_tie_order():
    table = RunNetwork(EDGES).table()  # no transition added: every score 0, in the edges' order
    assert list(table.columns) == NETWORK_COLUMNS
    assert table["sign"].dtype == np.int8 and table["score"].dtype == np.float64
    assert table[["tf", "target_gene"]].equals(EDGES)


def test_transition_weight_is_r2_clipped_at_zero():
    assert [transition_weight(r) for r in (0.25, -0.5, None, float("nan"))] == [0.25, 0.0, 0.0, 0.0]


def test_recovery_scores_the_signed_score_as_a_transitions_weights():
    table = network_of([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], [0.5, 0.5]).reset_index()
    reference = pd.DataFrame({"tf": ["A", "B"], "target_gene": ["y", "x"], "sign": [-1, 1]})
    got = network_recovery(table, reference)
    # scores: A->x 2.0 > A->y 1.5 > B->x 0.75; the reference's edges are the last two
    assert got["sign_accuracy"] == 0.5  # A->y: -2 + 1 < 0, right; B->x: 0.5 - 1 < 0, wrong
    assert got["n_true_edges"] == 2
    expected = recovery_metrics(table.assign(weight=table["score"] * table["sign"]), reference)
    assert got == pytest.approx(expected, nan_ok=True)
    # precision at each true edge: A->y at rank 2 (1/2), B->x at rank 3 (2/3); AP / fraction true (2/3)
    assert got["auprc_ratio"] == pytest.approx((0.5 * 0.5 + 0.5 * 2 / 3) / (2 / 3))
