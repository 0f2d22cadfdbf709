"""What the test takes from each transition's fit (rule ``fit_grn``'s outputs): the network it
compares, and the penalty it resamples or linearizes at.

The test repeats neither the penalty's cross-validation nor the network's fit: it reads
``coefficients.parquet`` (the network's ``weight`` at every prior edge, in the mask's row order,
and which edges are ``borrowed``), ``intercepts.parquet`` (the network's ``intercept`` per target)
and ``fit.json`` (``alpha``, the penalty the fit chose on its training pairs and fitted the network
at). Borrowed edges (``fit.borrow_below``) are not tested (:func:`tested_edges`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..columns import BORROWED_COLUMN
from ..errors import InputError

if TYPE_CHECKING:
    from ..design import TransitionData

# the columns of coefficients.parquet the test reads (not the bootstrap's confidence columns)
NETWORK_COLUMNS = ("tf", "target_gene", "weight", BORROWED_COLUMN)


@dataclass(frozen=True)
class FittedNetwork:
    """A transition's network as its fit wrote it: ``coefficients`` (tf, target_gene, weight[,
    borrowed]; 0 where an edge is inactive and not borrowed), ``intercepts`` (target_gene, intercept)
    and the chosen penalty ``alpha``."""

    coefficients: pd.DataFrame
    intercepts: pd.DataFrame
    alpha: float

    def weights(self, edges: pd.DataFrame) -> np.ndarray:
        """The network's weight at each of ``edges`` (tf, target_gene: a mask's rows), float64."""
        return edge_column(edges, self.coefficients, "weight").to_numpy(dtype=np.float64)

    def intercepts_of(self, targets: pd.Index) -> np.ndarray:
        """The network's intercept of each of ``targets``, float64."""
        position = pd.Index(self.intercepts["target_gene"]).get_indexer(targets)
        if (position < 0).any():
            raise InputError(f"the fit's intercepts have no row for target gene(s) {list(targets[position < 0][:5])}; "
                             "rerun the fit (snakemake --forcerun fit_grn)")
        return self.intercepts["intercept"].to_numpy(dtype=np.float64)[position]


def read_coefficients(path: str | Path) -> pd.DataFrame:
    """The network's columns of a ``coefficients.parquet`` (:data:`NETWORK_COLUMNS` that it has)."""
    import pyarrow.parquet as pq

    return pd.read_parquet(path, columns=[c for c in pq.read_schema(path).names if c in NETWORK_COLUMNS])


def read_fitted_network(coefficients: str | Path, intercepts: str | Path, info: str | Path) -> FittedNetwork:
    """A transition's :class:`FittedNetwork` from its fit's files."""
    details = json.loads(Path(info).read_text())
    alpha = details["alpha"] if isinstance(details, dict) and "alpha" in details else None
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):  # null: a penalty that was NaN
        raise InputError(f"{info} records no chosen penalty ('alpha'); rerun the fit (snakemake --forcerun fit_grn)")
    offsets = pd.read_parquet(intercepts, columns=["target_gene", "intercept"])
    return FittedNetwork(read_coefficients(coefficients), offsets, float(alpha))


def tested_edges(mask: pd.DataFrame, coefficients: pd.DataFrame) -> pd.DataFrame:
    """A transition's ``mask.parquet`` with its ``borrowed`` edges (``coefficients.parquet``; see
    ``fit.borrow_below``) made inactive, so that they are neither refitted nor tested: their weights
    are the pooled network's, which the transition's own cells did not inform, so a difference in
    them would be no evidence. The bootstrap's refits then leave out the borrowed TFs, which vary
    little in the transition by definition: the replicates of a target with a borrowed edge centre on
    weights that may differ from ``coefficients.parquet`` in the last digits."""
    if BORROWED_COLUMN not in coefficients:
        return mask
    borrowed = edge_column(mask, coefficients, BORROWED_COLUMN)
    return mask.assign(active=mask["active"].to_numpy(dtype=bool) & ~borrowed.fillna(False).to_numpy(dtype=bool))


def mask_rows(data: TransitionData) -> pd.DataFrame:
    """A transition's mask rows (tf, target_gene, active), as its ``mask.parquet`` has them."""
    return data.edges.assign(active=data.edge_active)


def edge_column(edges: pd.DataFrame, table: pd.DataFrame, column: str) -> pd.Series:
    """``table[column]`` in the row order of ``edges`` (both keyed by tf, target_gene; NaN where
    ``table`` has no row). The fit's tables have the mask's rows (:func:`~transgrn.fit.fit_transition`):
    then no merge."""
    if same_edges(edges, table):
        return table[column].reset_index(drop=True)
    return edges[["tf", "target_gene"]].merge(table[["tf", "target_gene", column]], on=["tf", "target_gene"],
                                              how="left")[column]


def same_edges(first: pd.DataFrame, second: pd.DataFrame) -> bool:
    """Whether two edge tables list the same (tf, target_gene) in the same order."""
    return len(first) == len(second) and all(
        np.array_equal(first[column].to_numpy(), second[column].to_numpy()) for column in ("tf", "target_gene"))
