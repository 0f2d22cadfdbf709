"""Per-transition TF scores on hand-made networks, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from transgrn.cells import CellSet
from transgrn.design import TransitionData
from transgrn.mapping import pair_cells
from transgrn.mask import build_mask
from transgrn.network_scores import (TARGET_SCORE_COLUMNS, TF_SCORE_COLUMNS, centralities, design_tf_variance,
                                     explained_variance_share, target_scores, tf_scores, transition_scores)


def _coefficients() -> pd.DataFrame:
    """T1 -> T2 -> {G1, G2}, T1 -> G3, a weak T3 -> G4, and edges that are not confident."""
    return pd.DataFrame({
        "tf": ["T1", "T1", "T2", "T2", "T3", "T3", "T1"],
        "target_gene": ["T2", "G3", "G1", "G2", "G4", "G1", "G4"],
        "weight": [1.0, -0.5, 2.0, 0.25, 0.1, 0.0, 3.0],  # T3 -> G1 inactive (weight 0)
        "qvalue": [0.01, 0.02, 0.001, 0.04, 0.03, np.nan, 0.5],  # T1 -> G4 strong but not confident
    })


def test_degrees_over_confident_edges():
    table = tf_scores("t", _coefficients(), min_confidence=0.95, top_k=0)
    assert list(table.columns) == TF_SCORE_COLUMNS
    scores = table.set_index("tf")
    assert scores["out_degree"].to_dict() == {"T1": 2, "T2": 2, "T3": 1}
    np.testing.assert_allclose(scores["weighted_out_degree"], [0.5, 2.25, 0.1])
    np.testing.assert_allclose(scores["weighted_out_degree_abs"], [1.5, 2.25, 0.1])
    # top_k keeps the strongest confident edges only: T3 -> G4 (0.1) drops out at top_k=4
    top = tf_scores("t", _coefficients(), 0.95, top_k=4).set_index("tf")
    assert top["out_degree"].to_dict() == {"T1": 2, "T2": 2, "T3": 0}
    assert top.loc["T3", "betweenness"] == 0 and top.loc["T3", "eigenvector"] == 0
    targets = target_scores("t", _coefficients(), 0.95, 0)
    assert list(targets.columns) == TARGET_SCORE_COLUMNS
    targets = targets.set_index("target_gene")
    assert targets["in_degree"].to_dict() == {"T2": 1, "G3": 1, "G1": 1, "G2": 1, "G4": 1}
    np.testing.assert_allclose(targets.loc[["G3", "G4"], "weighted_in_degree"], [-0.5, 0.1])


def test_without_qvalues_top_k_decides():
    plain = _coefficients().drop(columns="qvalue")
    scores = tf_scores("t", plain, 0.95, top_k=2).set_index("tf")  # the two largest |w|: T1 -> G4, T2 -> G1
    assert scores["out_degree"].to_dict() == {"T1": 1, "T2": 1, "T3": 0}


def test_centralities_by_hand():
    confident = _coefficients().iloc[:5]
    central = centralities(confident)
    # directed shortest paths through T2: T1 -> G1 and T1 -> G2, of (7 - 1)(7 - 2) ordered pairs
    assert central.loc["T2", "betweenness"] == pytest.approx(2 / 30)
    assert (central.drop("T2")["betweenness"] == 0).all()
    # eigenvector: the leading eigenvector of the undirected |w| adjacency, max 1
    nodes = list(central.index)
    adjacency = np.zeros((len(nodes), len(nodes)))
    for tf, target, w in confident[["tf", "target_gene", "weight"]].itertuples(index=False):
        i, j = nodes.index(tf), nodes.index(target)
        adjacency[i, j] = adjacency[j, i] = abs(w)
    values, vectors = np.linalg.eigh(adjacency)
    expected = np.abs(vectors[:, -1]) / np.abs(vectors[:, -1]).max()
    np.testing.assert_allclose(central["eigenvector"], expected, atol=1e-12)
    assert central.loc["T2", "eigenvector"] == 1.0
    # T3 -> G4 is its own component with a smaller eigenvalue (0.1 < the main one): 0, as in igraph
    assert central.loc["T3", "eigenvector"] == pytest.approx(0.0, abs=1e-12)


def test_networkx_agrees_on_a_connected_network():
    import networkx as nx

    confident = _coefficients().iloc[:4]
    graph = nx.Graph()
    graph.add_weighted_edges_from(zip(confident["tf"], confident["target_gene"], confident["weight"].abs()))
    reference = pd.Series(nx.eigenvector_centrality_numpy(graph, weight="weight"))
    ours = centralities(confident)["eigenvector"]
    np.testing.assert_allclose(ours, (reference / reference.max()).reindex(ours.index), atol=1e-9)


def test_explained_variance_share_by_hand():
    edges = pd.DataFrame({"tf": ["A", "A", "B", "C"], "target_gene": ["g1", "g2", "g1", "g2"],
                          "weight": [1.0, -2.0, 0.5, 0.0]})
    variance = pd.Series({"A": 0.5, "B": 4.0, "C": 9.0})
    share = explained_variance_share(edges, variance)
    # A: (1 + 4) * 0.5 = 2.5; B: 0.25 * 4 = 1; C: 0 -> shares of 3.5
    np.testing.assert_allclose(share[["A", "B", "C"]], [2.5 / 3.5, 1 / 3.5, 0.0])
    assert explained_variance_share(edges.assign(weight=0.0), variance).isna().all()


def test_transition_scores_from_the_design():
    rng = np.random.default_rng(0)
    genes = pd.Index(["T1", "T2", "G1", "G2"])
    source = CellSet(np.array([f"a{i}" for i in range(40)]), rng.normal(size=(40, 4)) * [1, 3, 1, 1])
    target = CellSet(np.array([f"b{i}" for i in range(30)]), rng.normal(size=(30, 4)))
    prior = pd.DataFrame({"tf": ["T1", "T1", "T2"], "target_gene": ["G1", "G2", "G1"], "sign": 0})
    mask = build_mask(prior, source, target, genes, method="joint")
    data = TransitionData(source, target, genes, mask)
    mapping = pair_cells("joint", source, target, rng)
    coefficients = mask[["tf", "target_gene"]].assign(weight=[1.0, 1.0, 1.0])
    tfs, targets = transition_scores("t", data, mapping, coefficients, 0.95, 0)
    rows = mapping["source_cell"]  # the network's rows: every pair
    both = np.vstack([source.matrix, target.matrix])[pd.Index([*source.names, *target.names]).get_indexer(rows)]
    variance = both[:, :2].var(0)
    np.testing.assert_allclose(design_tf_variance(data, mapping), variance)
    expected = np.array([2 * variance[0], variance[1]]) / (2 * variance[0] + variance[1])
    np.testing.assert_allclose(tfs["explained_variance_share"], expected)
    assert tfs["out_degree"].tolist() == [2, 1] and targets["in_degree"].tolist() == [2, 1]


def test_scores_of_every_transition_are_gathered_into_one_tsv_in_order(tmp_path):
    """aggregate's write_tables: one header, the transitions' tables in the given order, labels kept as text."""
    from transgrn.aggregate import write_tables

    parts = []
    for i, name in enumerate(["t2", "t1"]):
        frame = pd.DataFrame({"transition": name, "tf": ["NA", f"TF{i}"], "out_degree": [i, i + 1],
                              "weighted_out_degree": [0.5 * i, -1.25]})
        frame.to_parquet(tmp_path / f"{name}.parquet")
        parts.append(frame)
    write_tables([tmp_path / "t2.parquet", tmp_path / "t1.parquet"], tmp_path / "tf_scores.tsv")
    lines = (tmp_path / "tf_scores.tsv").read_text().splitlines()
    assert lines[0] == "transition\ttf\tout_degree\tweighted_out_degree" and len(lines) == 5
    back = pd.read_csv(tmp_path / "tf_scores.tsv", sep="\t", dtype={"tf": str}, keep_default_na=False)
    pd.testing.assert_frame_equal(back, pd.concat(parts, ignore_index=True))
