"""A run's result values recorded once, for the test that a change meant to leave results alone
did (tests/test_workflow.py).

What is recorded (``tests/data/workflow_outputs/``): ``transitions.tsv``, ``edges.parquet`` and
``network.parquet`` (the run-level network, recorded on 2026-12-07 when it was added) as tables, and
the tensor's ``obs``, ``var``, ``X`` and layers. ``edges.parquet`` and the tensor also
carry provenance (the sha256 of transgrn's own source among it), which changes with every edit of
the code by design, so it is left out.

Numbers are compared to a relative tolerance (:data:`RTOL`), not bit for bit: a fresh virtual
environment on another machine moves float64 results in their last bits. On 2026-12-02 a fresh
clone's run on an AVX-512 AMD EPYC gave other sha256 digests for ``edges.parquet``'s weights and
the tensor's ``obs`` than the run that recorded them, while ``transitions.tsv`` (6 significant
digits) and the tensor's float32 ``X`` were the same bytes; forcing numpy, OpenBLAS, torch and MKL
to their AVX2 paths and other numpy and scipy releases did not bring the old bits back. Reruns on
one machine stay byte-identical (``test_reruns_are_byte_identical``); a change of results shows
far above this tolerance. Labels, counts, flags and types are compared exactly.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

RECORDED = Path(__file__).parent / "data/workflow_outputs"
RTOL = 1e-6
TSV_RTOL = 1e-5  # transitions.tsv prints 6 significant digits: a last-bit change may move the last one


def output_tables(results: Path) -> dict[str, pd.DataFrame]:
    """The values of a run's results, as tables by name (the tensor's matrices as one column)."""
    import anndata as ad

    tensor = ad.read_h5ad(results / "grn_tensor.h5ad")
    tables = {"transitions": pd.read_csv(results / "transitions.tsv", sep="\t", keep_default_na=False,
                                         na_values=[""]),
              "edges": pd.read_parquet(results / "edges.parquet"),
              "network": pd.read_parquet(results / "network.parquet"),
              "tensor_obs": tensor.obs, "tensor_var": tensor.var}
    for name in ["X", *sorted(tensor.layers.keys())]:
        values = np.asarray(tensor.X if name == "X" else tensor.layers[name])
        # one row per (transition, edge), row-major: obs and var name them
        tables[f"tensor_{name}"] = pd.DataFrame({"value": values.ravel()})
    return tables


def record(results: Path) -> None:
    """Record anew (``python tests/recorded_outputs.py RESULTS_DIR``), for a change meant to change results."""
    shutil.rmtree(RECORDED, ignore_errors=True)
    RECORDED.mkdir(parents=True)
    for name, table in output_tables(results).items():
        table.to_parquet(RECORDED / f"{name}.parquet")


def differences(results: Path) -> list[str]:
    """What differs between a run's results and the recorded ones (empty: the same)."""
    found = []
    tables = output_tables(results)
    recorded_names = sorted(p.stem for p in RECORDED.glob("*.parquet"))
    if sorted(tables) != recorded_names:
        return [f"tables {sorted(tables)} against recorded {recorded_names}"]
    for name, table in tables.items():
        expected = pd.read_parquet(RECORDED / f"{name}.parquet")
        found += _table_differences(name, table, expected, TSV_RTOL if name == "transitions" else RTOL)
    return found


def _table_differences(name: str, table: pd.DataFrame, expected: pd.DataFrame, rtol: float) -> list[str]:
    if list(table.columns) != list(expected.columns) or not table.index.equals(expected.index):
        return [f"{name}: columns or rows differ"]
    found = []
    for column in table.columns:
        got, want = table[column], expected[column]
        if str(got.dtype) != str(want.dtype):
            found.append(f"{name}.{column}: dtype {got.dtype} against {want.dtype}")
        elif pd.api.types.is_float_dtype(got):
            close = np.isclose(got.to_numpy(), want.to_numpy(), rtol=rtol, atol=1e-12, equal_nan=True)
            if not close.all():
                worst = np.nanmax(np.abs(got.to_numpy() - want.to_numpy()))
                found.append(f"{name}.{column}: {int((~close).sum())} values differ (largest by {worst:.3g})")
        elif not got.equals(want):
            found.append(f"{name}.{column}: values differ")
    return found


if __name__ == "__main__":
    import sys

    record(Path(sys.argv[1]))
    print(f"wrote {RECORDED}")
