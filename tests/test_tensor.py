import numpy as np
import pandas as pd
import pytest
from reference import build_tensor

from transgrn.tensor import edge_var, read_tensor, row_values, tensor_obs, tensor_rows

EDGES = pd.DataFrame({
    "transition": ["t1"] * 3 + ["t2"] * 3,
    "tf": ["A", "A", "B"] * 2, "target_gene": ["x", "y", "y"] * 2,
    "weight": [1.0, -2.0, 0.5, 0.0, 3.0, -1.0],
})
TRANSITIONS = pd.DataFrame({"transition": ["t1", "t2"], "source_cluster": ["a", "b"], "target_cluster": ["b", "a"]})


def write_streamed(path):
    """The tensor as the workflow's aggregate writes it: row by row, never dense in memory."""
    obs, var = tensor_obs(TRANSITIONS), edge_var(EDGES[EDGES["transition"] == "t1"])
    with tensor_rows(path, obs, var) as rows:
        for row, transition in enumerate(obs.index):
            rows.write(row, row_values(EDGES[EDGES["transition"] == transition], var))


@pytest.mark.parametrize("writer", ["streamed", "reference"])
def test_tensor_round_trip(tmp_path, writer):
    path = tmp_path / "t.h5ad"
    if writer == "streamed":
        write_streamed(path)
    else:  # the in-memory pivot (tests/reference.py)
        build_tensor(EDGES, TRANSITIONS).write_h5ad(path)
    array, names, tfs, targets = read_tensor(path)
    assert names == ["t1", "t2"] and tfs == ["A", "B"] and targets == ["x", "y"]
    expected = np.array([[[1.0, -2.0], [0.0, 0.5]], [[0.0, 3.0], [0.0, -1.0]]])
    np.testing.assert_allclose(array, expected)
