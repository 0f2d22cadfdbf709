"""The gather (rule ``differential``): every unit's table into ``results/differential.parquet``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd


def unit_tables(paths: Sequence[str | Path]) -> Iterator[pd.DataFrame]:
    """The units' tables in the order of ``paths``, one Parquet row group at a time (bounded memory:
    a unit's table is every tested edge of each of its pairs)."""
    import pyarrow.parquet as pq

    for path in paths:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            yield parquet.read_row_group(group).to_pandas()
