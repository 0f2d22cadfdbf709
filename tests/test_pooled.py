"""Borrowing from the pooled network (fit.borrow_below, transgrn.pooled): a TF that does not vary over
a transition's cells takes the weights of the network fitted over every cluster; the others keep
their own fit."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from transgrn.cells import CellSet
from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition
from transgrn.fit import fit_pooled, fit_transition
from transgrn.mapping import map_transition
from transgrn.mask import build_mask
from transgrn.options import MappingOptions, FitOptions
from transgrn.pooled import pooled_cells, read_pooled, write_pooled

GENES = pd.Index(["Master", "Other", "T1", "T2", "T3"])
PRIOR = pd.DataFrame({"tf": ["Master", "Master", "Master", "Other", "Other"],
                      "target_gene": ["T1", "T2", "Master", "T3", "T1"], "sign": np.int8(0)})
FIT = FitOptions.from_config({"alpha": "auto", "device": "cpu"})
MAPPING = {"method": "joint", "n_pairs": 300, "test_fraction": 0.2}


def cluster(prefix: str, master: str, rng: np.random.Generator, n: int = 150) -> CellSet:
    """``Master`` drives T1 (+) and T2 (-), ``Other`` drives T3 and T1. ``master``: "on" (varies),
    "off" (0 in every cell) or "leak" (0 but in a few cells, far below its variance elsewhere)."""
    on = rng.gamma(2.0, 1.0, n)
    levels = {"on": on, "off": np.zeros(n), "leak": np.where(rng.random(n) < 0.05, 0.05, 0.0)}
    master_values, other = levels[master], rng.gamma(2.0, 1.0, n)
    targets = np.column_stack([1 + master_values + 0.5 * other, 5 - master_values, 1 + other]) + rng.normal(0, 0.3, (n, 3))
    return CellSet(np.array([f"{prefix}{i}" for i in range(n)]), np.column_stack([master_values, other, targets]),
                   np.linspace(0, 1, n))


def setting(master: str = "off", seed: int = 0):
    """A transition (A -> B) in which Master is ``master``, and the pooled network over A, B and
    a cluster where Master is on."""
    rng = np.random.default_rng(seed)
    a, b, elsewhere = cluster("a", master, rng), cluster("b", master, rng), cluster("c", "on", rng)
    pooled = fit_pooled(pooled_cells([("A", a), ("B", b), ("C", elsewhere)], 0, seed), GENES, PRIOR, FIT, seed)
    data = TransitionData(a, b, GENES, build_mask(PRIOR, a, b, GENES, "joint"))
    mappings = {role: map_transition(a, b, role, "A__B", MappingOptions.from_config(MAPPING), seed, data) for role in ("main", "null")}
    return data, mappings, pooled


def by_edge(coefficients: pd.DataFrame, column: str = "weight") -> pd.Series:
    return coefficients.set_index(["tf", "target_gene"])[column]


@pytest.mark.parametrize("master", ["off", "leak"])
def test_a_tf_silent_in_the_transition_takes_its_pooled_weight(master):
    data, mappings, pooled = setting(master)
    own = by_edge(fit_transition(data, mappings, replace(FIT, borrow_below=0), pooled=pooled)[0])
    coefficients = fit_transition(data, mappings, FIT, pooled=pooled)[0]
    weight, borrowed = by_edge(coefficients), by_edge(coefficients, "borrowed")
    pooled_weight = by_edge(pooled.weights)
    assert pooled_weight[("Master", "T1")] > 0.8 and pooled_weight[("Master", "T2")] < -0.8  # right-signed where Master is on
    assert weight[("Master", "T1")] > 0.8 and weight[("Master", "T2")] < -0.8
    assert abs(own[("Master", "T1")]) < 0.5 and abs(own[("Master", "T2")]) < 0.5  # the transition's own data cannot tell
    assert borrowed[("Master", "T1")] and borrowed[("Master", "T2")]
    assert not borrowed[("Master", "Master")] and weight[("Master", "Master")] == 0  # self-loops are not pooled
    assert not borrowed[("Other", "T3")] and not borrowed[("Other", "T1")]


def test_an_informative_tf_keeps_its_own_fit():
    data, mappings, pooled = setting("off")
    own = fit_transition(data, mappings, replace(FIT, borrow_below=0), pooled=pooled)[0]
    borrowing = fit_transition(data, mappings, FIT, pooled=pooled)[0]
    assert by_edge(borrowing)[("Other", "T3")] == by_edge(own)[("Other", "T3")]  # a target without borrowed edges: same fit
    # T1 also has a borrowed edge; Master is constant here, so X W0 is a constant the intercept takes
    assert by_edge(borrowing)[("Other", "T1")] == pytest.approx(by_edge(own)[("Other", "T1")], rel=1e-9)


def test_borrow_below_zero_is_the_plain_fit():
    data, mappings, pooled = setting("leak")
    plain = fit_transition(data, mappings, FIT)
    off = fit_transition(data, mappings, replace(FIT, borrow_below=0), pooled=pooled)
    pd.testing.assert_frame_equal(off[0], plain[0])
    pd.testing.assert_frame_equal(off[1], plain[1])
    assert not plain[0]["borrowed"].any()
    assert not by_edge(fit_transition(data, mappings, FIT, pooled=pooled)[0]).equals(by_edge(plain[0]))


def test_evaluation_scores_the_borrowed_weights():
    data, mappings, pooled = setting("off")
    reference = pd.DataFrame({"tf": ["Master", "Master", "Other"], "target_gene": ["T1", "T2", "T3"], "sign": [1, -1, 1]})
    scores = {}
    for name, options in (("own", replace(FIT, borrow_below=0)), ("borrowing", FIT)):
        coefficients, intercepts, _ = fit_transition(data, mappings, options, pooled=pooled)
        scores[name] = evaluate_transition(data, mappings, coefficients, intercepts, reference)[0]
    assert scores["borrowing"]["sign_accuracy"] == 1.0 and scores["own"]["sign_accuracy"] < 1.0
    # Master is constant here, so its borrowed weights add a constant that the intercept takes back
    assert scores["borrowing"]["r2_test"] == pytest.approx(scores["own"]["r2_test"], abs=1e-9)


def test_bootstrap_leaves_borrowed_edges_untested():
    data, mappings, pooled = setting("leak")
    coefficients = fit_transition(data, mappings, replace(FIT, bootstrap=10), pooled=pooled)[0]
    borrowed = coefficients["borrowed"].to_numpy()
    assert borrowed.any()
    assert coefficients.loc[borrowed, ["pvalue", "qvalue"]].isna().all().all()
    tested = ~borrowed & (coefficients["tf"] != coefficients["target_gene"]).to_numpy()
    assert coefficients.loc[tested, ["pvalue", "qvalue"]].notna().all().all()
    # W0 is in the mean of the refits: the borrowed weights stay near the point estimate
    np.testing.assert_allclose(coefficients.loc[borrowed, "weight_mean"], coefficients.loc[borrowed, "weight"], atol=0.1)
    # no sign confidence either (every refit keeps W0's sign, which says nothing about the transition);
    # the edges the transition's own rows estimated have one
    assert coefficients.loc[borrowed, "sign_confidence"].isna().all()
    assert coefficients.loc[tested, "sign_confidence"].notna().all()


def test_pooled_cells_are_capped_per_cluster_and_seeded(tmp_path):
    rng = np.random.default_rng(0)
    clusters = [("A", cluster("a", "on", rng, 300)), ("B", cluster("b", "on", rng, 40))]
    cells = pooled_cells(clusters, 100, seed=0)
    assert len(cells) == 140 and sum(name.startswith("a") for name in cells.names) == 100
    assert np.array_equal(cells.names, pooled_cells(clusters, 100, seed=0).names)
    assert not np.array_equal(cells.names, pooled_cells(clusters, 100, seed=1).names)
    network = fit_pooled(cells, GENES, PRIOR, FIT)
    write_pooled(network, tmp_path / "network.parquet", tmp_path / "tf_variance.parquet")
    back = read_pooled(tmp_path / "network.parquet", tmp_path / "tf_variance.parquet")
    pd.testing.assert_frame_equal(back.weights, network.weights)
    pd.testing.assert_series_equal(back.tf_variance, network.tf_variance, check_names=False, check_index_type=False)


def test_borrowed_edges_are_not_a_transitions_strongest_or_confident_edges():
    """edges_filtered (and so the network scores) and the report's strongest edges keep the
    transition's own edges: a borrowed weight, however large, is the pooled network's."""
    from transgrn.edges import filter_transition_edges
    from transgrn.report.summaries import strongest_edges

    edges = pd.DataFrame({"tf": ["A", "B", "C", "D"], "target_gene": ["x", "x", "y", "y"],
                          "weight": [3.0, 0.5, -2.0, -0.4], "borrowed": [True, False, True, False]})
    assert filter_transition_edges(edges, 0.95, 1)["tf"].tolist() == ["B"]
    assert filter_transition_edges(edges, 0.95, 0)["tf"].tolist() == ["B", "D"]
    assert strongest_edges(edges, 1)["tf"].tolist() == ["B", "D"]
    assert filter_transition_edges(edges.drop(columns="borrowed"), 0.95, 1)["tf"].tolist() == ["A"]


def test_cluster_slices_are_pooled_within_the_cap_and_smoothed_like_the_transitions(tmp_path):
    """load_pooled_cells reads the checkpoint's slices: an equal share of fit.pooled_max_cells from
    each, and with data.smooth each cluster smoothed over its own neighbours first, so that the
    transitions' (smoothed) TF variances are compared with pooled variances on the same scale."""
    import anndata as ad

    from transgrn.cells import knn_smooth
    from transgrn.pooled import cluster_share, load_pooled_cells

    rng = np.random.default_rng(2)
    paths = []
    for name, n in (("c00_a", 60), ("c01_b", 20)):
        cells = cluster(name, "on", rng, n)
        path = tmp_path / f"{name}.h5ad"
        adata = ad.AnnData(cells.matrix.astype(np.float32))
        adata.obs_names, adata.var_names = cells.names, GENES
        adata.write_h5ad(path)
        paths.append(path)
    assert cluster_share(50, 2) == 25 and cluster_share(0, 2) == 0
    cells, genes = load_pooled_cells(paths, 50, seed=0)
    assert list(genes) == list(GENES) and len(cells) == 25 + 20
    raw, _ = load_pooled_cells(paths, 0, seed=0)
    smoothed, _ = load_pooled_cells(paths, 0, seed=0, smooth=5)
    first = ad.read_h5ad(paths[0]).X
    np.testing.assert_allclose(smoothed.matrix[:60], knn_smooth(first, 5).astype(np.float32))
    assert (np.var(smoothed.matrix, axis=0) < np.var(raw.matrix, axis=0)).all()


def test_borrowing_block_by_block_gives_the_same_weights(monkeypatch):
    """The residual refit runs a block of targets at a time (bounded memory at atlas scale): blocks
    of one target give the weights, intercepts and bootstrap summaries of a single block."""
    import transgrn.fit as fit_module

    data, mappings, pooled = setting("off")
    options = replace(FIT, bootstrap=5)
    whole, whole_intercepts, _ = fit_transition(data, mappings, options, 0, "A__B", pooled=pooled)
    assert whole["borrowed"].any()
    monkeypatch.setattr(fit_module, "RESIDUAL_BLOCK_BYTES", 1)  # one target per block
    made = []
    outputs = fit_module._residual_outputs
    monkeypatch.setattr(fit_module, "_residual_outputs", lambda *a: made.append(len(a[3])) or outputs(*a))
    blocks, block_intercepts, _ = fit_transition(data, mappings, options, 0, "A__B", pooled=pooled)
    assert len(made) >= 4 and set(made) == {1}  # the fit's and the bootstrap's blocks, a target each
    pd.testing.assert_frame_equal(blocks, whole, check_exact=False, rtol=1e-10, atol=1e-12)
    pd.testing.assert_frame_equal(block_intercepts, whole_intercepts, check_exact=False, rtol=1e-10, atol=1e-12)


def test_sign_confidence_is_capped_where_the_run_wide_network_has_the_other_sign():
    """A weight every refit agrees on is still a coin flip (0.5) where the pooled network's weight, or the
    marginal association over the pooled cells, has the other sign: logic local to the transition."""
    from test_fit_options import persistence_data

    from transgrn.pooled import PooledNetwork

    data, mappings = persistence_data()
    options = FitOptions.from_config({"alpha": 1e-6, "bootstrap": 20, "device": "cpu"})
    variance = pd.Series(1.0, index=["TF1", "TF2"])  # both TFs vary in the transition: nothing is borrowed

    def confidence(weight, marginal):
        pooled = PooledNetwork(pd.DataFrame({"tf": ["TF1", "TF2"], "target_gene": ["G1", "G2"], "weight": weight,
                                             "marginal": marginal}), variance)
        coefficients = fit_transition(data, mappings, options, pooled=pooled)[0]
        assert not coefficients["borrowed"].any()
        return coefficients.set_index(["tf", "target_gene"])["sign_confidence"]

    agreeing = confidence([0.5, -0.7], [1.0, -1.0])  # TF1 -> G1 is +, TF2 -> G2 is -
    assert agreeing[("TF1", "G1")] == 1.0 and agreeing[("TF2", "G2")] == 1.0
    weight_disagrees = confidence([0.5, 0.7], [1.0, -1.0])
    assert weight_disagrees[("TF1", "G1")] == 1.0 and weight_disagrees[("TF2", "G2")] == 0.5
    marginal_disagrees = confidence([0.5, -0.7], [-1.0, -1.0])
    assert marginal_disagrees[("TF1", "G1")] == 0.5 and marginal_disagrees[("TF2", "G2")] == 1.0


def test_a_pooled_network_without_the_marginal_column_still_reads(tmp_path):
    data, mappings, pooled = setting("leak")
    write_pooled(pooled, tmp_path / "network.parquet", tmp_path / "tf_variance.parquet")
    pd.read_parquet(tmp_path / "network.parquet").drop(columns="marginal").to_parquet(tmp_path / "network.parquet")
    older = read_pooled(tmp_path / "network.parquet", tmp_path / "tf_variance.parquet")
    assert "marginal" not in older.weights.columns
    coefficients = fit_transition(data, mappings, replace(FIT, bootstrap=5), pooled=older)[0]
    assert coefficients["borrowed"].any() and coefficients["sign_confidence"].notna().any()
