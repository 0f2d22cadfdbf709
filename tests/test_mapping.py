import numpy as np
import pandas as pd
import pytest

from transgrn.cells import CellSet, pool
from transgrn.design import paired_design
from transgrn.design import split_by_source_cell
from transgrn.mapping import ot_coupling, pair_cells


def shifted_clusters(n=60, shift=5.0, seed=0):
    """Target cells are the source cells moved by a constant, in shuffled order."""
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(n, 6)) * np.array([5, 4, 3, 2, 1, 1])
    order = rng.permutation(n)
    source = CellSet(np.array([f"a{i}" for i in range(n)]), points)
    target = CellSet(np.array([f"b{i}" for i in range(n)]), points[order] + shift)
    truth = pd.Series([f"b{j}" for j in np.argsort(order)], index=source.names)
    return source, target, truth


def test_ot_coupling_has_uniform_marginals():
    rng = np.random.default_rng(1)
    coupling = ot_coupling(rng.normal(size=(30, 3)), rng.normal(size=(45, 3)))
    assert np.allclose(coupling.sum(1), 1 / 30) and np.allclose(coupling.sum(0), 1 / 45)
    sinkhorn = ot_coupling(rng.normal(size=(30, 3)), rng.normal(size=(45, 3)), exact_max_cells=10, entropic_reg=0.05)
    assert np.allclose(sinkhorn.sum(1), 1 / 30, atol=1e-6) and np.allclose(sinkhorn.sum(0), 1 / 45, atol=1e-6)


def test_ot_pairs_cells_with_their_near_neighbours():
    source, target, truth = shifted_clusters()
    mapping = pair_cells("ot", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 500, "n_pcs": 6}))
    # the PCA is fitted on both clusters; after centring each cell's counterpart is its nearest match
    correct = (mapping["target_cell"].to_numpy() == truth[mapping["source_cell"]].to_numpy()).mean()
    assert correct > 0.95
    baseline = pair_cells("random", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 500, "n_pcs": 6}))
    assert (baseline["target_cell"].to_numpy() == truth[baseline["source_cell"]].to_numpy()).mean() < 0.1


def test_random_null_is_uniform_and_seeded():
    source, target, _ = shifted_clusters(n=20)
    first = pair_cells("random", source, target, np.random.default_rng(7), MappingOptions.from_config({"n_pairs": 4000, "n_pcs": 6}))
    again = pair_cells("random", source, target, np.random.default_rng(7), MappingOptions.from_config({"n_pairs": 4000, "n_pcs": 6}))
    pd.testing.assert_frame_equal(first, again)
    counts = first["target_cell"].value_counts()
    assert len(counts) == 20 and counts.min() > 120  # ~200 each


def test_split_holds_out_whole_source_cells():
    source, target, _ = shifted_clusters(n=50)
    pairs = pair_cells("random", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 1000, "n_pcs": 6}))
    mapping = split_by_source_cell(pairs, 0.2, np.random.default_rng(1))
    by_cell = mapping.groupby("source_cell")["split"].nunique()
    assert (by_cell == 1).all()
    assert mapping.drop_duplicates("source_cell")["split"].eq("test").sum() == pytest.approx(0.2 * by_cell.size, abs=1)


def test_paired_design_averages_weighted_targets():
    source = CellSet(np.array(["s0", "s1"]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    target = CellSet(np.array(["t0", "t1", "t2"]), np.array([[10.0], [20.0], [40.0]]))
    mapping = pd.DataFrame({"pair": [0, 1, 1], "source_cell": ["s1", "s0", "s0"], "target_cell": ["t2", "t0", "t1"],
                            "weight": [1.0, 1.0, 3.0], "split": "train"})
    x, y = paired_design(mapping, source, target)
    assert np.array_equal(x, [[3.0, 4.0], [1.0, 2.0]])
    assert np.allclose(y, [[40.0], [17.5]])


# ------------------------------------------------------------------ couplings and new mappings

from transgrn.mapping import (  # noqa: E402
    barycentric_pairs,
    knn_coupling,
    pair_costs,
    pseudotime_coupling,
    random_coupling,
    shared_pca,
)
from transgrn.solvers import MaskedRidge  # noqa: E402
from transgrn.options import MappingOptions


@pytest.mark.filterwarnings("ignore:Stabilized Unbalanced Sinkhorn did not converge")
def test_couplings_have_the_right_marginals():
    rng = np.random.default_rng(2)
    zs, zt = rng.normal(size=(30, 4)), rng.normal(size=(45, 4)) + 1.0
    both_uniform = {
        "random": random_coupling(30, 45),
        "emd": ot_coupling(zs, zt),
        "sinkhorn": ot_coupling(zs, zt, exact_max_cells=10, entropic_reg=0.05),
        # a large marginal weight makes unbalanced OT (nearly) balanced
        "unbalanced": ot_coupling(zs, zt, exact_max_cells=10, entropic_reg=0.05, unbalanced_reg=1e4),
    }
    for name, coupling in both_uniform.items():
        assert np.allclose(coupling.sum(1), 1 / 30, atol=1e-5), name
        assert np.allclose(coupling.sum(0), 1 / 45, atol=1e-5), name
    # knn and pseudotime spread each source cell's mass 1/n_source; the target side is free
    knn = knn_coupling(zs, zt, k=5)
    assert np.allclose(np.asarray(knn.sum(1)).ravel(), 1 / 30) and (np.diff(knn.indptr) == 5).all()
    times = pseudotime_coupling(rng.uniform(0, 1, 30), rng.uniform(1, 2, 45))
    assert np.allclose(times.sum(1), 1 / 30) and (times >= 0).all()
    # an unbalanced coupling with a weak marginal term may drop mass (cells with no counterpart)
    loose = ot_coupling(zs, zt, exact_max_cells=10, entropic_reg=0.05, unbalanced_reg=0.01)
    assert loose.sum() < 0.99


def test_barycentric_pairs_keep_each_rows_mass_and_break_ties_at_random():
    coupling = random_coupling(20, 200)
    pair, src, tgt, weight = barycentric_pairs(coupling, max_targets=10, rng=np.random.default_rng(0))
    assert np.array_equal(np.unique(pair), np.arange(20)) and np.array_equal(src, np.repeat(np.arange(20), 10))
    assert np.allclose(weight, 1 / (20 * 200))
    # rows of a flat coupling do not all pick the same (first) target cells
    assert len(np.unique(tgt)) > 100
    emd = ot_coupling(np.arange(6.0)[:, None], np.arange(6.0)[:, None] + 0.1)
    pair, src, tgt, weight = barycentric_pairs(emd, max_targets=3, rng=np.random.default_rng(0))
    assert np.array_equal(src, tgt) and np.allclose(weight, 1 / 6)  # a permutation: one partner each


def test_knn_and_pseudotime_mappings_pair_the_right_cells():
    source, target, truth = shifted_clusters(shift=0.01)  # knn, unlike OT, does not undo a shift
    mapping = pair_cells("knn", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 300, "n_pcs": 6, "knn_k": 1}))
    assert (mapping["target_cell"].to_numpy() == truth[mapping["source_cell"]].to_numpy()).mean() > 0.95
    assert mapping["cost"].mean() < 0.05  # near-identical partners cost almost nothing ...
    zs, zt = shared_pca(source, target, 6, seed=0)
    rng = np.random.default_rng(0)
    random_pairs = rng.integers(0, len(source), 300), rng.integers(0, len(target), 300)
    assert pair_costs(zs, zt, *random_pairs).mean() == pytest.approx(1.0, abs=0.2)  # ... a random pair about 1
    # so the null records none (its PCA would cost 6.5 s a transition at atlas scale), with the same pairs
    null = pair_cells("random", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 300, "n_pcs": 6}))
    assert "cost" not in null and len(null) == 300

    times_s, times_t = np.linspace(0, 1, 40), np.linspace(0, 2, 80)
    early = CellSet(np.array([f"s{i}" for i in range(40)]), np.zeros((40, 3)), times_s)
    late = CellSet(np.array([f"t{i}" for i in range(80)]), np.ones((80, 3)), times_t)
    mapping = pair_cells("pseudotime", early, late, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 2000, "pseudotime_lag": 0.1, "pseudotime_bandwidth": 0.02}))
    gap = pd.Series(times_t, late.names)[mapping["target_cell"]].to_numpy() - pd.Series(times_s, early.names)[mapping["source_cell"]].to_numpy()
    assert gap.mean() == pytest.approx(0.1 * 2.0, abs=0.03)  # lag is a fraction of the range (2)


def test_joint_pairs_every_cell_with_itself_and_hybrid_adds_mapped_pairs():
    source, target, _ = shifted_clusters(n=30)
    joint = pair_cells("joint", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 10}))
    assert (joint["source_cell"] == joint["target_cell"]).all() and len(joint) == 60
    assert set(joint["source_cell"]) == set(source.names) | set(target.names)
    x, y = paired_design(joint, pool(source, target), pool(source, target))
    assert np.allclose(x, y)  # same cell on both sides
    hybrid = pair_cells("hybrid", source, target, np.random.default_rng(0), MappingOptions.from_config({"n_pairs": 10, "n_pcs": 6}))
    same = hybrid["source_cell"] == hybrid["target_cell"]
    assert same.sum() == 60 and hybrid.loc[~same, "source_cell"].isin(source.names).all()
    # a held-out source cell takes its same-cell and its mapped pair out of training together
    assert (hybrid.groupby("source_cell")["split"].nunique() == 1).all()


@pytest.mark.parametrize("method", ["ot", "knn"])
def test_barycentric_recovers_the_planted_weights_of_noiseless_linear_dynamics(method):
    """Target cells are source cells moved by y = x W + b (each source cell has two images, in
    shuffled order); regressing source TFs on the barycentre of their target cells gives W."""
    rng = np.random.default_rng(0)
    n, p, q = 80, 4, 6
    w = rng.normal(size=(p, q)) * (rng.random((p, q)) < 0.6)
    x = rng.normal(size=(n, p))
    images = np.repeat(np.arange(n), 2)[rng.permutation(2 * n)]
    genes = lambda tf: np.hstack([tf, tf @ w + 0.5])  # noqa: E731 (TFs persist; targets follow them)
    source = CellSet(np.array([f"a{i}" for i in range(n)]), genes(x))
    target = CellSet(np.array([f"b{i}" for i in range(2 * n)]), genes(x[images]))
    mapping = pair_cells(method, source, target, np.random.default_rng(1), MappingOptions.from_config({"test_fraction": 0.2, "barycentric": True, "n_pcs": p, "knn_k": 2}))
    design_x, design_y = paired_design(mapping, CellSet(source.names, source.matrix[:, :p]),
                                       CellSet(target.names, target.matrix[:, p:]))
    fit = MaskedRidge(alpha=1e-8, device="cpu").fit(design_x, design_y, w != 0)
    np.testing.assert_allclose(fit.coef_, w, atol=1e-6)


@pytest.mark.parametrize("shape", [(600, 330, 20), (50, 300, 20), (30, 10, 9)])
def test_exact_pca_is_sklearn_bit_for_bit(shape):
    """The mapping's exact PCA skips importing sklearn (a second per job) but must give its scores:
    the mappings' costs, and so the recorded results, depend on them."""
    from sklearn.decomposition import PCA

    from transgrn.mapping import exact_pca_scores

    n, g, k = shape
    x = np.log1p(np.random.default_rng(n).poisson(1.0, (n, g))).astype(np.float64)
    expected = PCA(n_components=k, svd_solver="full", random_state=0).fit_transform(x)
    np.testing.assert_array_equal(exact_pca_scores(x, k), expected)
