"""Gather every transition's fit and metrics into the run's result tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

TABLE_COLUMNS = [
    "transition", "source_cluster", "target_cluster", "n_source_cells", "n_target_cells", "mapping",
    "n_pairs", "r2_train", "r2_test", "r2_test_null", "n_edges", "solver", "alpha",
]
REFERENCE_COLUMNS = ["auprc_ratio", "auroc", "sign_accuracy", "epr", "epr_activation", "epr_repression"]
OPTIONAL_COLUMNS = ["r2_test_mlp"]  # present when the run fitted the model (models: [linear, mlp])
EDGE_COLUMNS = ["source_cluster", "target_cluster", "tf", "target_gene", "weight"]
CONFIDENCE_COLUMNS = ["weight_mean", "weight_std", "pvalue", "qvalue", "pvalue_celloracle"]


def transitions_table(transitions: pd.DataFrame, metrics: dict[str, dict], mapping: str, with_reference: bool) -> pd.DataFrame:
    """One row per transition with its sizes, mapping and metrics (``metrics`` keyed by transition id)."""
    rows = pd.DataFrame.from_dict(metrics, orient="index")
    table = transitions.drop(columns=["source_id", "target_id"]).join(rows, on="transition")
    table["mapping"] = mapping
    optional = [c for c in OPTIONAL_COLUMNS if c in table.columns]
    columns = TABLE_COLUMNS + optional + (REFERENCE_COLUMNS if with_reference else [])
    return table[columns].reset_index(drop=True)


def add_edge_values(edges: pd.DataFrame, transitions: pd.DataFrame, paths, column: str, name: str) -> pd.DataFrame:
    """Add a per-edge value from each transition's parquet file (``tf, target_gene, <column>``,
    in ``transitions`` order) to the long edge table as column ``name``."""
    frames = []
    for transition, path in zip(transitions["transition"], paths):
        frame = pd.read_parquet(path)[["tf", "target_gene", column]].rename(columns={column: name})
        frames.append(frame.assign(transition=transition))
    return edges.merge(pd.concat(frames, ignore_index=True), on=["transition", "tf", "target_gene"], how="left")


def long_edges(transitions: pd.DataFrame, coefficients: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table of every prior edge's weight in every transition, in transition order."""
    frames = []
    for row in transitions.itertuples():
        values = coefficients[row.transition]
        # confidence columns exist when the fit was bootstrapped (fit.bootstrap)
        frame = values[["tf", "target_gene", "weight"] + [c for c in CONFIDENCE_COLUMNS if c in values.columns]].copy()
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


def filter_edges(edges: pd.DataFrame, min_confidence: float, top_k: int) -> pd.DataFrame:
    """Confident, strong edges per transition: ``1 - qvalue >= min_confidence`` (when the fit was
    bootstrapped) and, of those, the ``top_k`` largest ``|weight|`` of each transition (0 = all).
    Rows keep the order of ``edges``."""
    kept = edges[edges["weight"] != 0]
    if "qvalue" in kept.columns:
        kept = kept[1.0 - kept["qvalue"] >= min_confidence]
    if top_k > 0:
        rank = kept["weight"].abs().groupby(kept["transition"]).rank(method="first", ascending=False)
        kept = kept[rank <= top_k]
    return kept.reset_index(drop=True)
