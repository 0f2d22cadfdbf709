"""A transition's regression designs: which cells' TF expression predicts which cells' targets.

:class:`TransitionData` holds the TF columns of the source cells and the target-gene columns of the
target cells, restricted to the edges of the transition's mask, and builds the inputs and outputs
of any mapping's pairs (:func:`paired_design`), with the lagged shift (:mod:`transgrn.lagged`)
when the mapping carries one.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .columns import MAPPING_COLUMNS
from .cells import CellSet, _dense, gene_columns, load_transition, pool
from .inputs import tf_inputs
from .lagged import apply_lag
from .mapping_file import lag_of, read_mapping
from .solvers import Outputs


# The rows of the reported network's fit: every pair of the mapping. What is said of held-out
# accuracy comes from a sibling fitted on the "train" split alone (:func:`~transgrn.fit.fit_transition`),
# as scikit-learn refits on all the data after cross-validating: the network uses every pair.
EVERY_PAIR = "all"


def split_rows(mapping: pd.DataFrame, split: str) -> pd.DataFrame:
    """The pairs of ``split``: ``"train"``, ``"test"``, or :data:`EVERY_PAIR`."""
    return mapping if split == EVERY_PAIR else mapping[mapping["split"] == split]


def paired_design(mapping: pd.DataFrame, source: CellSet, target: CellSet,
                  dense: bool = True) -> tuple[np.ndarray, np.ndarray | sp.csc_matrix]:
    """Regression inputs X (pairs x source genes) and outputs Y (pairs x target genes), float64.

    ``mapping`` may hold any subset of pairs (e.g. one split); pairs keep their order. For
    same-cell pairs pass pools of both clusters (:func:`pool`) as ``source`` and ``target``.
    ``dense=False`` keeps Y sparse (CSC, for solvers that read it a block of targets at a time)
    where the target cells' matrix is sparse and sparse storage is the smaller.
    """
    pairs, pair_row = np.unique(mapping["pair"].to_numpy(), return_inverse=True)
    src_pos = pd.Index(source.names).get_indexer(mapping["source_cell"])
    tgt_pos = pd.Index(target.names).get_indexer(mapping["target_cell"])
    if (src_pos < 0).any() or (tgt_pos < 0).any():
        raise ValueError("the mapping names cells that are not in the given clusters")
    weights = mapping["weight"].to_numpy(dtype=float)
    totals = np.bincount(pair_row, weights=weights, minlength=len(pairs))
    averaging = sp.csr_matrix((weights / totals[pair_row], (pair_row, tgt_pos)), shape=(len(pairs), len(target)))
    first_row = np.unique(pair_row, return_index=True)[1]
    x = _dense(source.matrix[src_pos[first_row]]).astype(np.float64)
    y = averaging @ target.matrix
    if dense or not sp.issparse(y) or 12 * y.nnz > 8 * y.shape[0] * y.shape[1]:  # 8-byte values + 4-byte indices
        return x, _dense(y).astype(np.float64)
    return x, y.tocsc().astype(np.float64, copy=False)


def split_by_source_cell(mapping: pd.DataFrame, test_fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    """Hold out whole source cells, so that no test pair shares its input with a training pair."""
    cells = np.sort(mapping["source_cell"].unique())
    if len(cells) < 2:
        raise ValueError("the mapping uses fewer than 2 source cells; cannot hold any out for testing")
    n_test = min(len(cells) - 1, max(1, int(round(test_fraction * len(cells)))))
    test_cells = set(rng.permutation(cells)[:n_test])
    mapping = mapping.copy()
    mapping["split"] = np.where(mapping["source_cell"].isin(test_cells), "test", "train")
    return mapping[MAPPING_COLUMNS + [c for c in mapping.columns if c not in MAPPING_COLUMNS]]  # cost, lag, ...


class TransitionData:
    """TF expression of source cells and target-gene expression of target cells, by mapping split.

    A mapping may also pair a cell of either cluster with itself (same-cell designs); the cells
    of both clusters are then pooled, which needs cell names unique across the two clusters.
    """

    def __init__(self, source: CellSet, target: CellSet, genes: pd.Index, mask: pd.DataFrame,
                 input_neighbours: int = 0, tf_activity: bool = False) -> None:
        """``input_neighbours`` and ``tf_activity``: what the TF inputs are, per cluster
        (:func:`~transgrn.inputs.tf_inputs`); the targets are always the cells' own expression."""
        self.tfs = pd.Index(pd.unique(mask["tf"]))
        self.targets = pd.Index(pd.unique(mask["target_gene"]))
        self.target = gene_columns(target, genes, self.targets)
        self.edges = mask[["tf", "target_gene"]].reset_index(drop=True)
        self.edge_active = mask["active"].to_numpy(dtype=bool)
        self.edge_tf = self.tfs.get_indexer(mask["tf"])
        self.edge_target = self.targets.get_indexer(mask["target_gene"])
        self.mask = np.zeros((len(self.tfs), len(self.targets)), dtype=bool)
        self.mask[self.edge_tf[self.edge_active], self.edge_target[self.edge_active]] = True
        if input_neighbours > 1 or tf_activity:
            inputs = [tf_inputs(cells, genes, self.tfs, self.targets, self.mask, input_neighbours, tf_activity)
                      for cells in (source, target)]
        else:
            inputs = [gene_columns(cells, genes, self.tfs) for cells in (source, target)]
        self.source = inputs[0]
        self._other = (inputs[1], gene_columns(source, genes, self.targets))
        self._pools: tuple[CellSet, CellSet] | None = None
        self._trends: dict = {}

    def with_active(self, active: np.ndarray) -> "TransitionData":
        """The same cells and prior edges with another choice of active edges (``active`` per
        mask row), e.g. the differential test's, which leaves out borrowed edges."""
        other = copy.copy(self)
        other.edge_active = np.asarray(active, dtype=bool)
        other.mask = np.zeros_like(self.mask)
        other.mask[self.edge_tf[other.edge_active], self.edge_target[other.edge_active]] = True
        return other

    def cells_for(self, mapping: pd.DataFrame) -> tuple[CellSet, CellSet]:
        """Input and output cells for ``mapping``: the two clusters, or -- when a pair uses a cell
        of the other cluster (same-cell designs) -- pools of both, built once on first need."""
        if mapping["source_cell"].isin(self.source.names).all() and mapping["target_cell"].isin(self.target.names).all():
            return self.source, self.target
        if self._pools is None:
            self._pools = (pool(self.source, self._other[0]), pool(self.target, self._other[1]))
        return self._pools

    def design(self, mapping: pd.DataFrame, split: str, self_term: bool = False,
               dense: bool = True) -> tuple[np.ndarray, Outputs]:
        """Inputs and outputs of the pairs in ``split`` (:func:`split_rows`), TF inputs shifted by the
        mapping's lagged design if it carries one (:func:`~transgrn.lagged.apply_lag`). With ``self_term`` the
        inputs gain one column per target: the target gene's own expression in the input cell (see
        :func:`~transgrn.fit.fit_transition`). ``dense=False`` may give sparse outputs (:func:`paired_design`)."""
        part = split_rows(mapping, split)
        inputs, outputs = self.cells_for(part)
        x, y = paired_design(part, inputs, outputs, dense=dense)
        x = apply_lag(lag_of(mapping), x, part, inputs, self._trends)
        if self_term:
            x_self, _ = paired_design(part, self._same_cells_over_targets(inputs), outputs, dense=False)
            x = np.hstack([x, x_self])
        return x, y

    def _same_cells_over_targets(self, inputs: CellSet) -> CellSet:
        if inputs is self.source:
            return self._other[1]
        return pool(self._other[1], self.target)

    def design_mask(self, self_term: bool = False) -> np.ndarray:
        """The prior mask, extended by one self edge per target when ``self_term`` is on."""
        if not self_term:
            return self.mask
        return np.vstack([self.mask, np.eye(len(self.targets), dtype=bool)])


def load_transition_data(source_path: str | Path, target_path: str | Path, mask_path: str | Path,
                         smooth: int = 0) -> TransitionData:
    """A transition's cells (:func:`~transgrn.cells.load_transition`) restricted to the edges of its mask file."""
    source, target, genes = load_transition(source_path, target_path, smooth)
    return TransitionData(source, target, genes, pd.read_parquet(mask_path))


def read_mappings(main_path: str | Path, null_path: str | Path) -> dict[str, pd.DataFrame]:
    """The configured mapping and its random null, keyed by role as the fit and evaluation expect."""
    return {"main": read_mapping(main_path), "null": read_mapping(null_path)}


