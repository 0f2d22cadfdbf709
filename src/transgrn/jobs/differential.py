"""Jobs of rules differential_unit and differential: the differential edges of one unit's pairs of
transitions, and the gather of every unit's table into one (transgrn.differential)."""

from __future__ import annotations

from pathlib import Path

from . import by_transition


def differential_unit(transitions: str, masks: list, coefficients: list, table: str, replicates: list = (),
                      intercepts: list = (), info: list = (), mappings: list = (), slices: list = (), *, unit: str,
                      options: dict, fit: dict, seed: int = 0, smooth: int = 0, record: dict | None = None) -> None:
    """Every pair of ``unit`` (the cluster its pairs share): each transition's replicates (written by
    its fit) or analytic influence (computed here from its cells around the fit's network, intercepts
    and chosen penalty) once, one pair at a time to the table."""
    from ..design import load_transition_data
    from ..differential import (FittedTransition, differential_schema, differential_unit as test_unit,
                                read_fitted_network, read_replicates, unit_pairs)
    from ..io import parquet_stream
    from ..lagged import read_mapping
    from ..options import DifferentialOptions, FitOptions
    from ..prepare import read_transitions

    prepared = read_transitions(transitions)
    settings = DifferentialOptions.from_config(options)
    files = {name: by_transition(paths) for name, paths in (("mask", masks), ("coefficients", coefficients),
                                                             ("intercepts", intercepts), ("info", info),
                                                             ("mapping", mappings), ("replicates", replicates))}
    slice_of = {Path(p).stem: str(p) for p in slices}

    def load(transition: str) -> FittedTransition:
        source_id, target_id = transition.split("__")
        return FittedTransition(
            load_transition_data(slice_of[source_id], slice_of[target_id], files["mask"][transition], smooth),
            read_mapping(files["mapping"][transition]),
            read_fitted_network(*(files[name][transition] for name in ("coefficients", "intercepts", "info"))))

    def fitted_replicates(transition: str):
        return read_replicates(*(files[name][transition] for name in ("mask", "coefficients", "replicates")))

    with parquet_stream(table, record, differential_schema()) as stream:
        for frame in test_unit(unit_pairs(prepared, settings, unit), prepared, settings, FitOptions.from_config(fit),
                               seed, load=load if slices else None,
                               replicates=fitted_replicates if replicates else None, spill_dir=Path(table).parent):
            stream.write(frame)


def differential(units: list, table: str, *, record: dict | None = None) -> None:
    """Concatenate the units' tables, one row group at a time (bounded memory)."""
    from ..differential import differential_schema, unit_tables
    from ..io import parquet_stream

    with parquet_stream(table, record, differential_schema()) as stream:
        for frame in unit_tables(units):
            stream.write(frame)
