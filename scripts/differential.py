"""Rules differential_batch and differential (stage differential): the differential edges of the pairs
of a batch of units (transgrn.differential), and the gather of every batch into results/differential.parquet."""
import os
from pathlib import Path

# Before pyarrow loads: its default allocator (mimalloc) keeps the memory of the unit's freed tables
# (about 50 MB at atlas scale, 500,000 rows a pair); malloc hands it back (benchmarks/scale.py)
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pandas as pd

from transgrn.cells import load_transition
from transgrn.columns import BORROWED_COLUMN
from transgrn.design import TransitionData
from transgrn.differential import (differential_schema, differential_unit, read_replicates, tested_edges,
                                   transition_pairs, unit_ids)
from transgrn.io import parquet_stream
from transgrn.lagged import read_mapping
from transgrn.options import DifferentialOptions
from transgrn.prepare import read_transitions
from transgrn.script import run_script


def by_transition(paths: list) -> dict[str, str]:
    """Per-transition files keyed by their transition id (the parent directory's name)."""
    return {Path(p).parent.name: str(p) for p in paths}


def batch_main(transitions: str, masks: list, coefficients: list, replicates: list, mappings: list, slices: list,
               table: str, *, units: list, options: dict, fit: dict, seed: int = 0, smooth: int = 0,
               record: dict | None = None) -> None:
    """Every pair of ``units`` (cluster ids), a unit after the other: each transition's replicates
    (written by its fit) or analytic influence (computed here from its cells) once, one pair at a
    time to the stream."""
    prepared = read_transitions(transitions)
    settings = DifferentialOptions.from_config(options)
    pairs = transition_pairs(prepared, settings.pairs, settings.explicit)
    pairs = pairs.assign(unit_id=unit_ids(prepared, pairs))
    mask, mapping, fitted = by_transition(masks), by_transition(mappings), by_transition(coefficients)
    slice_of = {Path(p).stem: str(p) for p in slices}

    def load(transition: str):
        source_id, target_id = transition.split("__")
        source, target, genes = load_transition(slice_of[source_id], slice_of[target_id], smooth)
        weights = pd.read_parquet(fitted[transition], columns=["tf", "target_gene", BORROWED_COLUMN])
        edges = tested_edges(pd.read_parquet(mask[transition]), weights)
        return TransitionData(source, target, genes, edges), read_mapping(mapping[transition])

    def fitted_replicates(transition: str):
        return read_replicates(mask[transition], fitted[transition], replicates_of[transition])

    replicates_of = by_transition(replicates)
    with parquet_stream(table, record, differential_schema()) as stream:
        for unit in units:  # one unit's refits in memory at a time
            unit_pairs = pairs[pairs["unit_id"] == unit].drop(columns="unit_id")
            for frame in differential_unit(unit_pairs, prepared, load, fit, settings.n_boot, seed, settings.max_qvalue,
                                           spill_dir=Path(table).parent, method=settings.se_method,
                                           replicates=fitted_replicates if replicates else None):
                stream.write(frame)


def gather_main(batches: list, table: str, *, record: dict | None = None) -> None:
    """Concatenate the batches' tables, one row group at a time (bounded memory)."""
    import pyarrow.parquet as pq

    with parquet_stream(table, record, differential_schema()) as stream:
        for path in batches:
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                stream.write(parquet.read_row_group(group).to_pandas())


def main(table: str, *, batches: list | None = None, transitions: str = "", masks: list = (), coefficients: list = (),
         replicates: list = (), mappings: list = (), slices: list = (), units: list = (), options: dict | None = None,
         fit: dict | None = None, seed: int = 0, smooth: int = 0, record: dict | None = None) -> None:
    if batches is not None:
        gather_main(list(batches), table, record=record)
    else:
        batch_main(transitions, list(masks), list(coefficients), list(replicates), list(mappings), list(slices), table,
                   units=list(units), options=options or {}, fit=fit or {}, seed=seed, smooth=smooth, record=record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
