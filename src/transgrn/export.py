"""Per-transition networks in the formats other tools read, from a run's ``results/edges.parquet``.

- ``decoupler``: a ``source, target, weight`` table per transition (TSV or Parquet), the network
  format of decoupler, which then scores that transition's regulon activity in cells::

      import decoupler as dc, pandas as pd
      net = pd.read_csv("results/exports/decoupler/c01_progenitor__c02_fate_A.tsv", sep="\\t")
      dc.mt.ulm(adata, net)   # (decoupler >= 2; dc.run_ulm(adata, net) in 1.x)

- ``graphml``: a directed graph per transition for Cytoscape (File > Import > Network from File):
  nodes are genes (``kind``: tf, target or both), edges carry ``weight``, ``abs_weight``,
  ``sign`` (activation/repression) and, where the run has them, the bootstrap confidence columns.

Each transition's own edges with a non-zero weight are exported (borrowed weights, those of the
pooled network, say nothing about the transition: :func:`transgrn.columns.own_edges`), optionally
only the confident and strongest ones (``min_confidence``, ``top_k``, as ``filter:`` in the config).
The edge table is read one transition at a time, so an atlas run's table never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .edges import filter_transition_edges
from .columns import CONFIDENCE_COLUMNS
from .errors import InputError
from .io import atomic_path

FORMATS = {"decoupler": ".tsv", "decoupler-parquet": ".parquet", "graphml": ".graphml"}
EDGES_FILE = "edges.parquet"
TRANSITIONS_FILE = "transitions.tsv"
KEY = ["source_cluster", "target_cluster"]
BATCH_ROWS = 1 << 16


def _results_file(results: Path, name: str) -> Path:
    path = results / name
    if not path.is_file():
        raise InputError(f"'{path}' does not exist: give the results folder of a finished run "
                         "(the one holding edges.parquet and transitions.tsv), e.g. `transgrn export results/`")
    return path


def transition_ids(results: str | Path) -> dict[tuple[str, str], str]:
    """(source cluster, target cluster) -> transition id, from the run's ``transitions.tsv``."""
    from .transitions import read_transitions

    table = read_transitions(_results_file(Path(results), TRANSITIONS_FILE))
    return {(row.source_cluster, row.target_cluster): row.transition for row in table.itertuples()}


def iter_transition_edges(results: str | Path) -> Iterator[tuple[str, pd.DataFrame]]:
    """(transition id, its rows of ``edges.parquet``), one transition at a time in the file's order.

    The aggregate writes each transition's rows one after the other, so a transition is a run of
    consecutive rows: batches are read in order and a run that goes on into the next batch is carried.
    """
    import pyarrow.parquet as pq

    results = Path(results)
    ids = transition_ids(results)
    seen: set[tuple[str, str]] = set()
    carried: list[pd.DataFrame] = []

    def finish(parts: list[pd.DataFrame]) -> tuple[str, pd.DataFrame]:
        edges = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        key = (edges["source_cluster"].iat[0], edges["target_cluster"].iat[0])
        if key in seen:
            raise InputError(f"{results / EDGES_FILE}: the rows of transition {key[0]} -> {key[1]} are not consecutive; "
                             "the file was not written by transgrn's aggregate step, write it again (rerun the workflow)")
        if key not in ids:
            raise InputError(f"{results / EDGES_FILE}: transition {key[0]} -> {key[1]} is not in {results / TRANSITIONS_FILE}; "
                             "the two files come from different runs, rerun the workflow's aggregate step")
        seen.add(key)
        return ids[key], edges

    for batch in pq.ParquetFile(_results_file(results, EDGES_FILE)).iter_batches(batch_size=BATCH_ROWS):
        frame = batch.to_pandas()
        if frame.empty:
            continue
        # where consecutive rows change transition: each run but the last is complete
        source, target = frame["source_cluster"].to_numpy(), frame["target_cluster"].to_numpy()
        starts = np.flatnonzero((source[1:] != source[:-1]) | (target[1:] != target[:-1])) + 1
        runs = np.split(np.arange(len(frame)), starts)
        for index, rows in enumerate(runs):
            part = frame.iloc[rows]
            if index == 0 and carried and tuple(part[KEY].iloc[0]) != tuple(carried[0][KEY].iloc[0]):
                yield finish(carried)
                carried = []
            if index < len(runs) - 1:
                yield finish([*carried, part])
                carried = []
            else:
                carried.append(part)
    if carried:
        yield finish(carried)


def decoupler_network(edges: pd.DataFrame) -> pd.DataFrame:
    """One transition's edges as decoupler's network: ``source`` (the TF), ``target``, ``weight`` (signed)."""
    return pd.DataFrame({"source": edges["tf"].astype(str).to_numpy(), "target": edges["target_gene"].astype(str).to_numpy(),
                         "weight": edges["weight"].to_numpy(dtype=np.float64)})


def network_graph(edges: pd.DataFrame, name: str = ""):
    """One transition's edges as a :class:`networkx.DiGraph` (TF -> target), ready for GraphML."""
    import networkx as nx

    graph = nx.DiGraph(name=name)
    tfs, targets = set(edges["tf"].astype(str)), set(edges["target_gene"].astype(str))
    for gene in sorted(tfs | targets):
        graph.add_node(gene, kind="both" if gene in tfs and gene in targets else ("tf" if gene in tfs else "target"))
    weight = edges["weight"].to_numpy(dtype=np.float64)
    extra = [column for column in (*CONFIDENCE_COLUMNS, "mlp_attribution") if column in edges.columns]
    for position, (tf, target) in enumerate(zip(edges["tf"].astype(str), edges["target_gene"].astype(str))):
        value = float(weight[position])
        sign = "activation" if value > 0 else "repression" if value < 0 else "none"
        attributes = {"weight": value, "abs_weight": abs(value), "sign": sign}
        for column in extra:
            value = edges[column].iat[position]
            attributes[column] = float(value)
        graph.add_edge(tf, target, **attributes)
    return graph


def write_network(edges: pd.DataFrame, path: Path, fmt: str, name: str = "") -> None:
    """One transition's edges written in ``fmt`` (a key of :data:`FORMATS`) to ``path``, atomically."""
    with atomic_path(path) as tmp:
        if fmt == "decoupler":
            decoupler_network(edges).to_csv(tmp, sep="\t", index=False)
        elif fmt == "decoupler-parquet":
            decoupler_network(edges).to_parquet(tmp, index=False)
        elif fmt == "graphml":
            import networkx as nx

            nx.write_graphml(network_graph(edges, name), tmp)
        else:
            raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")


def export_networks(results: str | Path, fmt: str, outdir: str | Path | None = None, min_confidence: float = 0.0,
                    top_k: int = 0) -> list[Path]:
    """Write every transition's network of a run's ``results`` folder in ``fmt`` to ``outdir``
    (default ``<results>/exports/<fmt>/``), one file per transition named by its id; the paths written.

    ``min_confidence`` and ``top_k`` keep only confident and strong edges, as the config's ``filter:``
    does (:func:`transgrn.edges.filter_transition_edges`); 0 and 0 keep every own non-zero edge.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    results = Path(results)
    outdir = results / "exports" / fmt if outdir is None else Path(outdir)
    written = []
    for transition, edges in iter_transition_edges(results):
        path = outdir / f"{transition}{FORMATS[fmt]}"
        write_network(filter_transition_edges(edges, min_confidence, top_k), path, fmt, name=transition)
        written.append(path)
    return written
