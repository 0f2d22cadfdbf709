import numpy as np
import pandas as pd
import pytest

from transgrn.mapping import CellSet, map_cells, ot_coupling, paired_design, random_mapping, split_by_source_cell


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
    mapping = map_cells("ot", source, target, n_pairs=500, rng=np.random.default_rng(0), n_pcs=6)
    # the PCA is fitted on both clusters; after centring each cell's counterpart is its nearest match
    correct = (mapping["target_cell"].to_numpy() == truth[mapping["source_cell"]].to_numpy()).mean()
    assert correct > 0.95
    baseline = random_mapping(source, target, 500, np.random.default_rng(0))
    assert (baseline["target_cell"].to_numpy() == truth[baseline["source_cell"]].to_numpy()).mean() < 0.1


def test_random_mapping_is_uniform_and_seeded():
    source, target, _ = shifted_clusters(n=20)
    first = random_mapping(source, target, 4000, np.random.default_rng(7))
    again = random_mapping(source, target, 4000, np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, again)
    counts = first["target_cell"].value_counts()
    assert len(counts) == 20 and counts.min() > 120  # ~200 each


def test_split_holds_out_whole_source_cells():
    source, target, _ = shifted_clusters(n=50)
    mapping = split_by_source_cell(random_mapping(source, target, 1000, np.random.default_rng(0)), 0.2, np.random.default_rng(1))
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
