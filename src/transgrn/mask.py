"""Which prior edges of a transition can be estimated on the rows its design fits: the mapping stage's mask
of each transition, and the pooled fit's (transgrn.pooled) on the pooled rows."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cells import CellSet
from .options import SAME_CELL_METHODS

log = logging.getLogger(__name__)


def _varies(*matrices) -> np.ndarray:
    """Per gene: does it vary over the rows of all ``matrices`` stacked (one cluster, or both pooled)?"""
    matrices = [m for m in matrices if m.shape[0]]
    if not matrices:
        return np.zeros(0, dtype=bool)
    n = sum(m.shape[0] for m in matrices)
    total = sum(np.asarray(m.sum(0)).ravel() for m in matrices)
    total_sq = sum(np.asarray((m.multiply(m) if sp.issparse(m) else np.square(m)).sum(0)).ravel() for m in matrices)
    mean = total / n
    return total_sq / n - mean**2 > 1e-12


# Why an edge is not estimable (``mask.parquet``'s ``reason``; empty where active).
REASON_TF_CONSTANT = "TF constant"
REASON_TARGET_CONSTANT = "target constant"
REASON_NO_ROWS = "no rows"
REASON_SELF_LOOP = "self-loop in a same-cell design"


def design_rows(method: str, source: CellSet, target: CellSet) -> tuple[list, list]:
    """The expression matrices whose rows a design's inputs and outputs come from.

    Same-cell designs (``lagged``, ``joint``, ``hybrid``) fit on the cells of A and B together, so
    a TF that is off in A and switches on in B is estimable there; mapped designs take their inputs
    from A and their outputs from B.
    """
    if method in SAME_CELL_METHODS:
        both = [source.matrix, target.matrix]
        return both, both
    return [source.matrix], [target.matrix]


def _reason_text(reasons: pd.DataFrame) -> np.ndarray:
    """Each row's reasons joined with "; " ("" when active). Built once per distinct combination of
    reasons (a handful) and gathered: a string per row in Python took 5 s for 500,000 prior edges,
    and finding the combinations as unique rows 0.5 s, as unique integers (bit i: reason i) 0.03 s."""
    flags = reasons.to_numpy(dtype=bool)
    if flags.shape[1] == 0:
        return np.full(len(reasons), "", dtype=object)
    codes = flags @ (1 << np.arange(flags.shape[1], dtype=np.int64))
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    texts = np.array(["; ".join(reasons.columns[flags[row]]) for row in first], dtype=object)
    return texts[inverse.reshape(-1)]


def build_mask(prior: pd.DataFrame, source: CellSet, target: CellSet, genes: pd.Index,
               method: str = "lagged") -> pd.DataFrame:
    """The transition's edges: every prior edge, ``active`` where it can be estimated on the rows
    that ``method``'s design fits (:func:`design_rows`), otherwise inactive with a ``reason``.

    In same-cell designs a self-loop (a TF listed as its own target) would regress a gene on
    itself and fit the identity, so it is inactive there.
    """
    inputs, outputs = design_rows(method, source, target)
    no_rows = sum(m.shape[0] for m in inputs) == 0 or sum(m.shape[0] for m in outputs) == 0
    mask = prior[["tf", "target_gene", "sign"]].copy()
    reasons = pd.DataFrame(index=mask.index)
    if no_rows:
        reasons[REASON_NO_ROWS] = True
    else:
        tf_varies = pd.Series(_varies(*inputs), index=genes)
        target_varies = pd.Series(_varies(*outputs), index=genes)
        reasons[REASON_TF_CONSTANT] = ~tf_varies[mask["tf"]].to_numpy()
        reasons[REASON_TARGET_CONSTANT] = ~target_varies[mask["target_gene"]].to_numpy()
    if method in SAME_CELL_METHODS:
        reasons[REASON_SELF_LOOP] = (mask["tf"] == mask["target_gene"]).to_numpy()
    mask["active"] = ~reasons.any(axis=1).to_numpy()
    mask["reason"] = _reason_text(reasons)
    for reason in reasons.columns:
        if reasons[reason].any():
            log.info("%d of %d prior edges inactive: %s", int(reasons[reason].sum()), len(mask), reason)
    return mask


def pooled_mask(prior: pd.DataFrame, cells: CellSet, genes: pd.Index) -> pd.DataFrame:
    """The prior's edges estimable over one pool of cells (the pooled network's, transgrn.pooled): a
    same-cell design, so self-loops are left out (they would fit the identity)."""
    mask = build_mask(prior, cells, cells, genes, "joint")  # both "clusters" are the pool: the same rows
    return mask[mask["active"]]
