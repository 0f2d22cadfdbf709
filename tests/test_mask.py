"""transgrn.mask: which prior edges a design can estimate, and why not, on hand-made clusters."""
import numpy as np
import pandas as pd
import scipy.sparse as sp

from transgrn.cells import CellSet
from transgrn.mask import REASON_NO_ROWS, REASON_TARGET_CONSTANT, REASON_TF_CONSTANT, build_mask

GENES = pd.Index(["A", "B", "x"])
PRIOR = pd.DataFrame({"tf": ["A", "B", "A"], "target_gene": ["x", "x", "A"], "sign": [1, -1, 0]})


def clusters(sparse: bool = False):
    """A is off in the source and on in the target; B varies in the source only; x varies in both."""
    source = np.array([[0.0, 1.0, 1.0], [0.0, 2.0, 3.0]])
    target = np.array([[1.0, 5.0, 2.0], [2.0, 5.0, 0.0]])
    as_matrix = sp.csr_matrix if sparse else np.asarray
    return CellSet(np.array(["s0", "s1"]), as_matrix(source)), CellSet(np.array(["t0", "t1"]), as_matrix(target))


def test_a_tf_constant_in_the_source_is_inactive_in_mapped_designs_only():
    mapped = build_mask(PRIOR, *clusters(), GENES, "ot")
    assert list(mapped["active"]) == [False, True, False]
    assert list(mapped["reason"]) == [REASON_TF_CONSTANT, "", REASON_TF_CONSTANT]
    # same-cell designs fit on both clusters' cells: A varies there; A -> A would fit the identity
    same_cell = build_mask(PRIOR, *clusters(), GENES, "joint")
    assert list(same_cell["active"]) == [True, True, False]
    assert same_cell.loc[2, "reason"] == "self-loop in a same-cell design"
    assert list(same_cell.columns) == ["tf", "target_gene", "sign", "active", "reason"]


def test_sparse_expression_gives_the_same_mask():
    for method in ("ot", "joint"):
        assert build_mask(PRIOR, *clusters(sparse=True), GENES, method).equals(build_mask(PRIOR, *clusters(), GENES, method))


def test_every_reason_of_an_edge_is_named():
    source, target = clusters()
    flat_target = CellSet(target.names, np.column_stack([target.matrix[:, :2], [4.0, 4.0]]))  # x constant in B
    mask = build_mask(PRIOR, source, flat_target, GENES, "ot")
    assert mask.loc[0, "reason"] == f"{REASON_TF_CONSTANT}; {REASON_TARGET_CONSTANT}"
    empty = CellSet(np.array([], dtype=str), np.zeros((0, 3)))
    assert (build_mask(PRIOR, empty, target, GENES, "ot")["reason"] == REASON_NO_ROWS).all()
