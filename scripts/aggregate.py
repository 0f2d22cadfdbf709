"""Rule aggregate: transitions.tsv, edges.parquet, edges_filtered.parquet and grn_tensor.h5ad from
every transition, streamed one transition at a time (transgrn.aggregate.aggregate)."""
import json
from pathlib import Path

from transgrn.aggregate import aggregate
from transgrn.prepare import read_transitions
from transgrn.script import run


def main(smk):
    summary = json.loads(Path(smk.input.summary).read_text())
    aggregate(
        read_transitions(smk.input.transitions), smk.input.metrics, smk.input.coefficients, smk.input.prior,
        {name: smk.output[name] for name in ("table", "edges", "edges_filtered", "tensor", "provenance")},
        config=smk.params.config, inputs=summary["inputs"],
        # the design that ran: "joint (no pseudotime)" where lagged had no pseudotime
        mapping=summary.get("mapping_method", smk.params.mapping), with_reference=smk.params.with_reference,
        min_confidence=smk.params.filter["min_confidence"], top_k=smk.params.filter["top_k"],
        # models include mlp: its per-edge attribution beside the weight
        attributions=list(smk.input.mlp_attribution) or None,
    )


run(main, snakemake)  # noqa: F821
