"""Gather every transition's fit and metrics into the run's result tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_COLUMNS = [
    "transition", "source_cluster", "target_cluster", "n_source_cells", "n_target_cells", "mapping",
    "n_pairs", "r2_train", "r2_test", "r2_test_null", "n_edges",
]
REFERENCE_COLUMNS = ["auprc_ratio", "auroc", "sign_accuracy"]
EDGE_COLUMNS = ["source_cluster", "target_cluster", "tf", "target_gene", "weight"]


def transitions_table(transitions: pd.DataFrame, metrics: dict[str, dict], mapping: str, with_reference: bool) -> pd.DataFrame:
    """One row per transition with its sizes, mapping and metrics (``metrics`` keyed by transition id)."""
    rows = pd.DataFrame.from_dict(metrics, orient="index")
    table = transitions.drop(columns=["source_id", "target_id"]).join(rows, on="transition")
    table["mapping"] = mapping
    columns = TABLE_COLUMNS + (REFERENCE_COLUMNS if with_reference else [])
    return table[columns].reset_index(drop=True)


def long_edges(transitions: pd.DataFrame, coefficients: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table of every prior edge's weight in every transition, in transition order."""
    frames = []
    for row in transitions.itertuples():
        frame = coefficients[row.transition][["tf", "target_gene", "weight"]].copy()
        frame.insert(0, "transition", row.transition)
        frame.insert(1, "source_cluster", row.source_cluster)
        frame.insert(2, "target_cluster", row.target_cluster)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """TSV with a fixed float format, so reruns are byte-identical."""
    table.to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def load_transition_results(directory: str | Path) -> tuple[dict, pd.DataFrame]:
    directory = Path(directory)
    metrics = json.loads((directory / "metrics.json").read_text())
    coefficients = pd.read_parquet(directory / "coefficients.parquet")
    return metrics, coefficients


def json_safe(value):
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
