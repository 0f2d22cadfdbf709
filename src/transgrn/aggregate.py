"""Gather every transition's fit and metrics into the run's result tables.

:func:`aggregate` streams: it reads, writes and forgets one transition at a time, so its memory is
bounded by a few transitions' edges, not by transitions x edges (the former in-memory version is
kept in ``benchmarks/aggregate_scale.py`` to compare against).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .columns import (BORROWED_COLUMN, CONFIDENCE_COLUMNS, OPTIONAL_COLUMNS, REFERENCE_COLUMNS,
                      SIGN_CONFIDENCE_COLUMN, TABLE_COLUMNS, TEXT_COLUMNS, own_edges)
from .io import (PROVENANCE_KEY, arrow_schema, atomic_path, parquet_stream, provenance, provenance_json, sha256,
                 write_json, write_parquet)
from .run_network import RunNetwork, network_recovery
from .tensor import edge_var, row_values, tensor_obs, tensor_rows, value_columns

PathLike = str | os.PathLike

def transitions_table(transitions: pd.DataFrame, metrics: dict[str, dict], mapping: str, with_reference: bool) -> pd.DataFrame:
    """One row per transition with its sizes, mapping and metrics (``metrics`` keyed by transition id).

    A metric that is empty (JSON null) in every transition -- sign accuracy against an unsigned
    reference, say -- stays a float column of NaN, so that the tensor's obs can be written.
    """
    rows = pd.DataFrame.from_dict(metrics, orient="index")
    table = transitions.drop(columns=["source_id", "target_id"]).join(rows, on="transition")
    table["mapping"] = mapping
    optional = [c for c in OPTIONAL_COLUMNS if c in table.columns]
    columns = TABLE_COLUMNS + optional + (REFERENCE_COLUMNS if with_reference else [])
    table = table.reindex(columns=columns).reset_index(drop=True)
    for column in set(columns) - set(TEXT_COLUMNS) - {"above_null"}:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    table["above_null"] = table["above_null"].astype(bool)
    return table


# per-edge columns of coefficients.parquet that edges.parquet carries when a transition's file has them
OPTIONAL_EDGE_COLUMNS = (*CONFIDENCE_COLUMNS, SIGN_CONFIDENCE_COLUMN, BORROWED_COLUMN)


def _edge_frame(row, values: pd.DataFrame, optional: Sequence[str]) -> pd.DataFrame:
    """One transition's rows of the long edge table (NaN for an optional column ``values`` lacks)."""
    frame = values.reindex(columns=["tf", "target_gene", "weight", *optional])
    frame.insert(0, "transition", row.transition)
    frame.insert(1, "source_cluster", row.source_cluster)
    frame.insert(2, "target_cluster", row.target_cluster)
    return frame


def optional_edge_columns(coefficients: Sequence[PathLike]) -> list[str]:
    """The confidence columns, ``sign_confidence`` and ``borrowed`` where any of the coefficient files holds them (read
    from their schemas only)."""
    import pyarrow.parquet as pq

    present = set()
    for path in coefficients:
        present.update(pq.read_schema(path).names)
    return [c for c in OPTIONAL_EDGE_COLUMNS if c in present]


def transition_edges(row, coefficients: PathLike, optional: Sequence[str], attribution: PathLike | None = None
                     ) -> pd.DataFrame:
    """One transition's rows of the long edge table, read from its ``coefficients.parquet`` (only the
    columns used), with the MLP's ``attribution`` as ``mlp_attribution`` when given. ``row`` has ``transition, source_cluster, target_cluster``."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(coefficients).names)
    values = pd.read_parquet(coefficients, columns=["tf", "target_gene", "weight", *(c for c in optional if c in names)])
    frame = _edge_frame(row, values, optional)
    if attribution is not None:
        extra = pd.read_parquet(attribution, columns=["tf", "target_gene", "attribution"])
        frame = frame.merge(extra.rename(columns={"attribution": "mlp_attribution"}), on=["tf", "target_gene"], how="left")
    return frame


def iter_edges(transitions: pd.DataFrame, coefficients: Sequence[PathLike],
               attributions: Sequence[PathLike] | None = None) -> Iterator[pd.DataFrame]:
    """The long edge table one transition at a time, in ``transitions`` order (``coefficients`` and
    ``attributions`` are paths in that order)."""
    optional = optional_edge_columns(coefficients)
    for row, path, attribution in zip(transitions.itertuples(), coefficients, attributions or repeat(None)):
        yield transition_edges(row, path, optional, attribution)


TSV_FORMAT = {"sep": "\t", "index": False, "float_format": "%.6g", "na_rep": "NA"}


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """TSV with a fixed float format, so reruns are byte-identical."""
    table.to_csv(path, **TSV_FORMAT)


def write_tables(paths: Sequence[PathLike], path: str | Path) -> None:
    """The Parquet tables ``paths`` (one per transition, same columns) as one TSV, in order, written
    atomically one table at a time (a target table per transition is genes x transitions rows in all)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        for i, part in enumerate(paths):
            pd.read_parquet(part).to_csv(handle, header=i == 0, **TSV_FORMAT)


def load_metrics(path: PathLike) -> dict:
    return json.loads(Path(path).read_text())


def filter_transition_edges(edges: pd.DataFrame, min_confidence: float, top_k: int) -> pd.DataFrame:
    """Confident, strong edges of one transition: its own (not ``borrowed``), ``1 - qvalue >=
    min_confidence`` (when the fit was bootstrapped) and, of those, the ``top_k`` largest ``|weight|``
    (0 = all). Rows keep their order."""
    edges = own_edges(edges)
    weight = edges["weight"].to_numpy(dtype=np.float64)
    keep = weight != 0
    if "qvalue" in edges.columns:
        keep &= 1.0 - edges["qvalue"].to_numpy(dtype=np.float64) >= min_confidence
    index = np.flatnonzero(keep)
    if top_k > 0:
        index = index[strongest(np.abs(weight[index]), top_k)]
    return edges.iloc[index].reset_index(drop=True)


def strongest(strength: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest values of ``strength``, ties in position order (rank method
    "first"), in position order; NaN never ranks. A partition, not a sort: an atlas transition has
    500,000 edges and keeps 100 (a stable argsort took 2.6 of an atlas aggregate's 25 s)."""
    ranked = np.flatnonzero(~np.isnan(strength))
    if len(ranked) <= k:
        return ranked
    values = strength[ranked]
    kth = -np.partition(-values, k - 1)[k - 1]  # the k-th largest
    tied = values == kth
    # every value above the k-th, and of those equal to it the first ones up to k in all
    chosen = (values > kth) | (tied & (np.cumsum(tied) <= k - np.count_nonzero(values > kth)))
    return ranked[chosen]


def filter_edges(edges: pd.DataFrame, min_confidence: float, top_k: int) -> pd.DataFrame:
    """:func:`filter_transition_edges` of every transition of a long edge table; rows keep their order."""
    parts = [filter_transition_edges(part, min_confidence, top_k) for _, part in edges.groupby("transition", sort=False)]
    return pd.concat(parts, ignore_index=True) if parts else edges.iloc[:0].reset_index(drop=True)


def prior_signs(var: pd.DataFrame, prior: PathLike) -> pd.Series:
    """The prior's sign (+1/-1, 0 = unsigned or absent) of each of ``var``'s edges, as int8."""
    signs = pd.read_parquet(prior, columns=["tf", "target_gene", "sign"]).set_index(["tf", "target_gene"])["sign"]
    keys = pd.MultiIndex.from_frame(var[["tf", "target_gene"]])
    return pd.Series(signs.reindex(keys).fillna(0).astype("int8").to_numpy(), index=var.index)


def write_run_network(network: RunNetwork, outputs: Mapping[str, PathLike], record: Mapping[str, Any],
                      reference: PathLike | None) -> None:
    """The run-level network as ``outputs["network"]`` and, beside it, ``outputs["network_metrics"]``: its
    number of transitions and edges and, against ``reference`` (None: no reference configured), the
    recovery metrics a transition's metrics.json has."""
    table = network.table()
    write_parquet(table, outputs["network"], record)
    metrics = {"n_transitions": network.n_transitions, "n_edges": len(table)}
    if reference is not None:
        metrics.update(network_recovery(table, pd.read_parquet(reference, columns=["tf", "target_gene", "sign"])))
    write_json({**metrics, PROVENANCE_KEY: record}, outputs["network_metrics"])


def aggregate(transitions: pd.DataFrame, metrics: Sequence[PathLike], coefficients: Sequence[PathLike], prior: PathLike,
              outputs: Mapping[str, PathLike], *, config: Mapping[str, Any], inputs: Mapping[str, Any], mapping: str,
              with_reference: bool, min_confidence: float, top_k: int, reference: PathLike | None = None,
              attributions: Sequence[PathLike] | None = None,
              mlp_metrics: Sequence[PathLike] | None = None, tf_scores: Sequence[PathLike] | None = None,
              target_scores: Sequence[PathLike] | None = None) -> dict[str, Any]:
    """Write the run's result tables from every transition's files, streaming one transition at a time.

    ``transitions`` is the prepared transitions table; ``metrics``, ``coefficients`` and (when the
    run fitted the MLP) ``attributions`` and ``mlp_metrics`` are each transition's files, in its order. ``outputs`` maps
    ``table`` (transitions.tsv), ``edges`` (long table, one or a few transitions per row group, in
    transition order), ``edges_filtered`` (:func:`filter_transition_edges`, one transition at a time), ``tensor``
    (grn_tensor.h5ad, filled row by row) and ``provenance`` (provenance.json) to their paths. Every
    output is written atomically and byte-identically on a rerun. ``tf_scores`` and ``target_scores``
    (each transition's :mod:`transgrn.network_scores` tables, when given) are gathered into the
    outputs of the same names (tf_scores.tsv, target_scores.tsv). ``network`` (network.parquet) is the
    run-level network (:mod:`transgrn.run_network`) and ``network_metrics`` (network_metrics.json) its
    size and, with ``with_reference``, its recovery of ``reference`` (the prepared reference.parquet).
    Returns the provenance record.
    """
    if len(transitions) == 0:
        raise ValueError("no transitions to aggregate")
    if not len(transitions) == len(metrics) == len(coefficients) or (attributions and len(attributions) != len(transitions)):
        raise ValueError("one metrics, coefficients (and attribution) file per transition is needed")
    values = {t: load_metrics(p) for t, p in zip(transitions["transition"], metrics)}
    for t, path in zip(transitions["transition"], mlp_metrics or ()):  # the MLP's held-out R^2 beside the linear one
        values[t]["r2_test_mlp"] = load_metrics(path)["r2_test_mlp"]
    table = transitions_table(transitions, values, mapping, with_reference)
    # what produced these results: the whole config, the data's checksums, versions and seed
    record = provenance(config, inputs, config.get("seed"), rule="aggregate", n_transitions=len(transitions))
    uns = {"config": json.dumps(config, sort_keys=True), "inputs": json.dumps(inputs, sort_keys=True),
           PROVENANCE_KEY: provenance_json(record)}
    frames = iter_edges(transitions, coefficients, attributions)
    first = next(frames)
    var = edge_var(first)
    # the prior's sign (+1/-1, 0 = unsigned) of every edge, kept as edge metadata
    var["prior_sign"] = prior_signs(var, prior)
    schema = arrow_schema(first.drop(columns="transition"), record)  # both edge tables, even if none passes the filter
    network = RunNetwork(var)
    with contextlib.ExitStack() as stack:
        edges = stack.enter_context(parquet_stream(outputs["edges"], record, schema))
        filtered = stack.enter_context(parquet_stream(outputs["edges_filtered"], record, schema))
        tensor_path = stack.enter_context(atomic_path(outputs["tensor"]))
        layers = [c for c in value_columns(first) if c != "weight"]
        tensor = stack.enter_context(tensor_rows(tensor_path, tensor_obs(table), var, layers, uns))
        for i, frame in enumerate(chain([first], frames)):
            edges.write(frame.drop(columns="transition"))
            filtered.write(filter_transition_edges(frame, min_confidence, top_k).drop(columns="transition"))
            tensor.write(i, row_values(frame, var))
            network.add(frame, values[frame["transition"].iat[0]]["r2_test"])
    with atomic_path(outputs["table"]) as tmp:
        write_table(table, tmp)
    write_run_network(network, outputs, record, reference if with_reference else None)
    for name, parts in (("tf_scores", tf_scores), ("target_scores", target_scores)):
        if parts:
            if len(parts) != len(transitions):
                raise ValueError(f"one {name} file per transition is needed")
            write_tables(parts, outputs[name])
    hashes = {name: {"path": str(outputs[name]), "sha256": sha256(outputs[name])}
              for name in ("table", "edges", "tensor", "network")}
    with atomic_path(outputs["provenance"]) as tmp:
        Path(tmp).write_text(json.dumps({**record, "outputs": hashes}, indent=2, sort_keys=True) + "\n")
    return record
