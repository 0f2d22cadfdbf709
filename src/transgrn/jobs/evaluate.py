"""Job of rule evaluate_grn: held-out accuracy, recovery of the reference and network scores."""

from __future__ import annotations

from pathlib import Path


def evaluate_grn(mask: str, mapping_main: str, mapping_null: str, coefficients: str, intercepts: str, info: str,
                 source: str, target: str, reference: str, metrics: str, gene_r2: str, predictions: str,
                 tf_scores: str = "", target_scores: str = "", *, smooth: int = 0, filter: dict | None = None,
                 self_term: bool = False, transition: str = "", record: dict | None = None) -> None:
    """Held-out R^2 of the fit and of its null, per gene and overall, and recovery of the reference
    (transgrn.evaluate); the transition's TF and target scores (transgrn.network_scores), computed
    here where its design is already loaded."""
    import json

    import pandas as pd

    from ..design import load_transition_data, read_mappings
    from ..evaluate import evaluate_transition
    from ..io import PROVENANCE_KEY, write_json, write_parquet
    from ..mapping_file import lag_of
    from ..network_scores import transition_scores
    from ..options import FilterOptions

    data = load_transition_data(source, target, mask, smooth)
    mappings = read_mappings(mapping_main, mapping_null)
    weights = pd.read_parquet(coefficients)
    values, per_gene, extremes = evaluate_transition(data, mappings, weights, pd.read_parquet(intercepts),
                                                     pd.read_parquet(reference))
    values.update(json.loads(Path(info).read_text()))  # solver, chosen alpha, iterations
    if (spec := lag_of(mappings["main"])) is not None:  # the lagged design's pseudotime lag
        values["lag"] = spec.lag
    write_json({**values, PROVENANCE_KEY: record}, metrics)
    write_parquet(per_gene, gene_r2, record)
    write_parquet(extremes, predictions, record)
    if tf_scores or target_scores:
        options = FilterOptions.from_config(filter)
        # the transition id as in the run's tables: the output's directory when run by hand without it
        name = transition or Path(tf_scores or target_scores).parent.name
        per_tf, per_target = transition_scores(name, data, mappings["main"], weights, options.min_confidence,
                                               options.top_k, self_term)
        if tf_scores:
            write_parquet(per_tf, tf_scores, record)
        if target_scores:
            write_parquet(per_target, target_scores, record)
