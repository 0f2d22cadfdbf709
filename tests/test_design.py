"""transgrn.design: the regression rows a mapping's pairs make, on hand-made cells and on a simulation."""
import numpy as np
import pandas as pd
import pytest
from helpers import transition_of

from transgrn.cells import CellSet
from transgrn.design import TransitionData, paired_design, split_by_source_cell
from transgrn.mapping import map_transition
from transgrn.options import MappingOptions


def test_a_pair_averages_its_target_cells_by_weight():
    source = CellSet(np.array(["s0", "s1"]), np.array([[1.0], [2.0]]))
    target = CellSet(np.array(["t0", "t1", "t2"]), np.array([[10.0], [20.0], [40.0]]))
    # pair 0: s0 -> t0 (weight 3) and t1 (weight 1); pair 1: s1 -> t2
    mapping = pd.DataFrame({"pair": [0, 0, 1], "source_cell": ["s0", "s0", "s1"], "target_cell": ["t0", "t1", "t2"],
                            "weight": [3.0, 1.0, 1.0]})
    x, y = paired_design(mapping, source, target)
    np.testing.assert_array_equal(x, [[1.0], [2.0]])
    np.testing.assert_allclose(y, [[(3 * 10 + 20) / 4], [40.0]])
    with pytest.raises(ValueError, match="not in the given clusters"):
        paired_design(mapping.assign(target_cell=["t0", "t1", "elsewhere"]), source, target)


def test_the_test_split_holds_out_whole_source_cells():
    mapping = pd.DataFrame({"pair": range(12), "source_cell": [f"s{i % 4}" for i in range(12)],
                            "target_cell": [f"t{i}" for i in range(12)], "weight": 1.0})
    split = split_by_source_cell(mapping, 0.25, np.random.default_rng(0))
    by_cell = split.groupby("source_cell")["split"].agg(set)
    assert all(len(splits) == 1 for splits in by_cell)  # no source cell is in both splits
    assert sum(splits == {"test"} for splits in by_cell) == 1  # a quarter of the 4 source cells
    with pytest.raises(ValueError, match="fewer than 2 source cells"):
        split_by_source_cell(mapping.assign(source_cell="s0"), 0.25, np.random.default_rng(0))


def test_joint_design_uses_each_cell_of_both_clusters_for_itself(small_simulation):
    sim = small_simulation
    source, target, mask = transition_of(sim, "stem cell", "progenitor")
    mcfg = {"method": "joint", "n_pairs": 100, "test_fraction": 0.2}
    mapping = map_transition(source, target, "main", "t", MappingOptions.from_config(mcfg), 0)
    data = TransitionData(source, target, sim.adata.var_names, mask)
    x, y = data.design(mapping, "train")
    train_cells = mapping.loc[mapping["split"] == "train", "source_cell"].to_numpy()
    expression = pd.DataFrame(np.asarray(sim.adata.X), index=sim.adata.obs_names, columns=sim.adata.var_names)
    np.testing.assert_allclose(x, expression.loc[train_cells, data.tfs].to_numpy())
    np.testing.assert_allclose(y, expression.loc[train_cells, data.targets].to_numpy())
    assert len(x) + (mapping["split"] == "test").sum() == len(source) + len(target)
    null = map_transition(source, target, "null", "t", MappingOptions.from_config(mcfg), 0)  # the null still pairs A with B at random
    assert null["source_cell"].isin(source.names).all() and null["target_cell"].isin(target.names).all()
