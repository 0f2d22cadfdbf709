import numpy as np
import pandas as pd
from helpers import transition_of

from transgrn.cells import CellSet
from transgrn.design import TransitionData
from transgrn.mapping import map_transition
from transgrn.inputs import tf_activity, tf_inputs
from transgrn.options import MappingOptions


def test_tf_activity_recovers_planted_activities_and_keeps_expression_without_targets():
    rng = np.random.default_rng(0)
    activity = rng.normal(size=(50, 3))
    prior = np.array([[1, 1, 0, 0, 1], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool)  # TF 3 has no targets
    targets = activity @ prior
    expression = rng.normal(size=(50, 3))
    found = tf_activity(expression, targets, prior)
    np.testing.assert_allclose(found[:, :2], activity[:, :2], atol=1e-10)
    np.testing.assert_array_equal(found[:, 2], expression[:, 2])


def test_tf_inputs_average_over_neighbours_within_the_cluster():
    # two tight groups of 5 cells: with 5 neighbours each cell's TF input is its group's mean
    rng = np.random.default_rng(1)
    centre = np.repeat([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]], 5, axis=0)
    matrix = centre + rng.normal(0, 0.1, centre.shape)
    genes = pd.Index(["tf1", "tf2", "target"])
    cells = CellSet(np.array([f"c{i}" for i in range(10)]), matrix)
    inputs = tf_inputs(cells, genes, pd.Index(["tf1", "tf2"]), pd.Index(["target"]), np.ones((2, 1), bool), 5)
    group_mean = np.repeat([matrix[:5, :2].mean(0), matrix[5:, :2].mean(0)], 5, axis=0)
    np.testing.assert_allclose(inputs.matrix, group_mean)
    unchanged = tf_inputs(cells, genes, pd.Index(["tf1", "tf2"]), pd.Index(["target"]), np.ones((2, 1), bool), 0)
    np.testing.assert_allclose(unchanged.matrix, matrix[:, :2])


def test_transition_data_changes_the_inputs_only(small_simulation):
    source, target, mask = transition_of(small_simulation, "stem cell", "progenitor")
    genes = small_simulation.adata.var_names
    mapping = map_transition(source, target, "main", "t", MappingOptions.from_config({"method": "joint", "n_pairs": 100, "test_fraction": 0.2}), 0)
    x, y = TransitionData(source, target, genes, mask).design(mapping, "train")
    for options in ({"input_neighbours": 10}, {"tf_activity": True}):
        x_other, y_other = TransitionData(source, target, genes, mask, **options).design(mapping, "train")
        np.testing.assert_array_equal(y_other, y)
        assert x_other.shape == x.shape and not np.allclose(x_other, x)
        # averaging over neighbours removes noise: the inputs vary less about their cluster's trend
        if "input_neighbours" in options:
            assert x_other.var(axis=0).mean() < x.var(axis=0).mean()
