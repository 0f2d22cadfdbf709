"""A mapping as a value and as a file (``mapping_main.parquet``, ``mapping_null.parquet``): its pairs
(:data:`~transgrn.columns.MAPPING_COLUMNS`) and, for the lagged design, the :class:`LagSpec` chosen
with it, which travels in the file's metadata. Every stage that reads a mapping reads it here."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

import pandas as pd

from .io import parquet_metadata, write_parquet

LAG_METADATA_KEY = "transgrn_lag"  # Parquet key-value metadata of mapping_main.parquet
LAG_ATTR = "lag"  # DataFrame.attrs key of a mapping read or made in memory


@dataclass(frozen=True)
class LagSpec:
    """A transition's lagged design: TF inputs shifted by ``lag`` (pseudotime units, signed towards
    the source cluster; 0 = the plain same-cell design, chosen by cross-validation) along a trend
    smoothed with a Gaussian kernel of width ``bandwidth`` (pseudotime units). ``lag`` is None
    where no lag could be chosen and the design fell back to ``joint`` (:data:`NO_LAG`)."""

    lag: float | None
    bandwidth: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "LagSpec":
        return cls(**json.loads(text))


# The fallback to the same-cell joint design (no pseudotime, or all cells at one pseudotime): no lag was chosen,
# so transitions.tsv reports it missing (NA; null in metrics.json), not as a chosen lag of 0.
NO_LAG = LagSpec(None, 0.0)


def lag_of(mapping: pd.DataFrame) -> LagSpec | None:
    """The lagged design a mapping carries (None for other designs)."""
    return mapping.attrs.get(LAG_ATTR)


def with_lag_spec(mapping: pd.DataFrame, spec: LagSpec) -> pd.DataFrame:
    mapping.attrs[LAG_ATTR] = spec
    return mapping


def write_mapping(mapping: pd.DataFrame, path: str | os.PathLike, record=None) -> None:
    """A mapping as Parquet, its :class:`LagSpec` (if any) once in the file's metadata."""
    spec = lag_of(mapping)
    table = mapping.copy(deep=False)
    table.attrs = {}  # the spec goes in under its own key, not as pandas' attrs (which pyarrow cannot serialize)
    write_parquet(table, path, record, None if spec is None else {LAG_METADATA_KEY: spec.to_json()})


def read_mapping(path: str | os.PathLike) -> pd.DataFrame:
    """A mapping written by :func:`write_mapping`, with its :class:`LagSpec` back in ``attrs``."""
    mapping = pd.read_parquet(path)
    spec = parquet_metadata(path, LAG_METADATA_KEY)
    return mapping if spec is None else with_lag_spec(mapping, LagSpec.from_json(spec))
