"""Jobs of rules differential_unit and differential: the differential edges of one unit's pairs of
transitions, and the gather of every unit's table into one."""

from __future__ import annotations

from pathlib import Path

from . import by_transition


def differential_unit(transitions: str, masks: list, coefficients: list, table: str, replicates: list = (),
                      mappings: list = (), slices: list = (), *, unit: str, options: dict, fit: dict, seed: int = 0,
                      smooth: int = 0, record: dict | None = None) -> None:
    """Every pair of ``unit`` (the cluster its pairs share): each transition's replicates (written by
    its fit) or analytic influence (computed here from its cells) once, one pair at a time to the table."""
    import pandas as pd

    from ..cells import load_transition
    from ..columns import BORROWED_COLUMN
    from ..design import TransitionData
    from ..differential import differential_schema, read_replicates, tested_edges, transition_pairs, unit_ids
    from ..io import parquet_stream
    from ..lagged import read_mapping
    from ..options import DifferentialOptions
    from ..prepare import read_transitions

    prepared = read_transitions(transitions)
    settings = DifferentialOptions.from_config(options)
    pairs = transition_pairs(prepared, settings.pairs, settings.explicit)
    pairs = pairs[unit_ids(prepared, pairs).to_numpy() == unit]
    mask, mapping, fitted = by_transition(masks), by_transition(mappings), by_transition(coefficients)
    replicates_of = by_transition(replicates)
    slice_of = {Path(p).stem: str(p) for p in slices}

    def load(transition: str):
        source_id, target_id = transition.split("__")
        source, target, genes = load_transition(slice_of[source_id], slice_of[target_id], smooth)
        weights = pd.read_parquet(fitted[transition], columns=["tf", "target_gene", BORROWED_COLUMN])
        edges = tested_edges(pd.read_parquet(mask[transition]), weights)
        return TransitionData(source, target, genes, edges), read_mapping(mapping[transition])

    def fitted_replicates(transition: str):
        return read_replicates(mask[transition], fitted[transition], replicates_of[transition])

    from ..differential import differential_unit as test_unit

    with parquet_stream(table, record, differential_schema()) as stream:
        for frame in test_unit(pairs, prepared, load, fit, settings.n_boot, seed, settings.max_qvalue,
                               spill_dir=Path(table).parent, method=settings.se_method,
                               replicates=fitted_replicates if replicates else None):
            stream.write(frame)


def differential(units: list, table: str, *, record: dict | None = None) -> None:
    """Concatenate the units' tables, one row group at a time (bounded memory)."""
    import pyarrow.parquet as pq

    from ..differential import differential_schema
    from ..io import parquet_stream

    with parquet_stream(table, record, differential_schema()) as stream:
        for path in units:
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                stream.write(parquet.read_row_group(group).to_pandas())
