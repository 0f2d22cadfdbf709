"""Job of rule aggregate: the run's tables and GRN tensor from every transition's files."""

from __future__ import annotations

from pathlib import Path


def aggregate(transitions: str, summary: str, prior: str, reference: str, metrics: list, coefficients: list, table: str,
              edges: str, edges_filtered: str, tensor: str, provenance: str, network: str, network_metrics: str, *,
              mapping: str, with_reference: bool, filter: dict,
              config: dict, mlp_metrics: list = (), mlp_attribution: list = (), tf_scores: list = (),
              target_scores: list = (), tf_scores_table: str = "", target_scores_table: str = "",
              record: dict | None = None) -> None:
    """transitions.tsv, edges.parquet, edges_filtered.parquet, grn_tensor.h5ad, tf_scores.tsv,
    target_scores.tsv and the run-level network (network.parquet, network_metrics.json), streamed one
    transition at a time (transgrn.aggregate)."""
    import json

    from ..aggregate import aggregate as aggregate_transitions
    from ..options import FilterOptions
    from ..prepare import read_transitions

    checkpoint = json.loads(Path(summary).read_text())
    options = FilterOptions.from_config(filter)
    aggregate_transitions(
        read_transitions(transitions), metrics, coefficients, prior,
        {"table": table, "edges": edges, "edges_filtered": edges_filtered, "tensor": tensor, "provenance": provenance,
         "tf_scores": tf_scores_table, "target_scores": target_scores_table, "network": network,
         "network_metrics": network_metrics},
        config=config, inputs=checkpoint["inputs"],
        # the design that ran: "joint (no pseudotime)" where lagged had no pseudotime
        mapping=checkpoint.get("mapping_method", mapping), with_reference=with_reference,
        min_confidence=options.min_confidence, top_k=options.top_k, reference=reference,
        attributions=list(mlp_attribution) or None, mlp_metrics=list(mlp_metrics) or None,
        tf_scores=list(tf_scores) or None, target_scores=list(target_scores) or None,
    )
