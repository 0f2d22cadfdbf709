import numpy as np
import pandas as pd

from transgrn.tensor import build_tensor, read_tensor


def test_tensor_round_trip(tmp_path):
    edges = pd.DataFrame({
        "transition": ["t1"] * 3 + ["t2"] * 3,
        "tf": ["A", "A", "B"] * 2, "target_gene": ["x", "y", "y"] * 2,
        "weight": [1.0, -2.0, 0.5, 0.0, 3.0, -1.0],
    })
    transitions = pd.DataFrame({"transition": ["t1", "t2"], "source_cluster": ["a", "b"], "target_cluster": ["b", "a"]})
    build_tensor(edges, transitions).write_h5ad(tmp_path / "t.h5ad")
    array, names, tfs, targets = read_tensor(tmp_path / "t.h5ad")
    assert names == ["t1", "t2"] and tfs == ["A", "B"] and targets == ["x", "y"]
    expected = np.array([[[1.0, -2.0], [0.0, 0.5]], [[0.0, 3.0], [0.0, -1.0]]])
    np.testing.assert_allclose(array, expected)
