"""Rule aggregate: transitions.tsv, edges.parquet and grn_tensor.h5ad from every transition."""
import json
from pathlib import Path

from transgrn.aggregate import load_transition_results, long_edges, transitions_table, write_table
from transgrn.io import atomic_path
from transgrn.prepare import read_transitions
from transgrn.script import run
from transgrn.tensor import build_tensor


def main(smk):
    transitions = read_transitions(smk.input.transitions)
    results = {t: load_transition_results(Path(m).parent) for t, m in zip(transitions["transition"], smk.input.metrics)}
    table = transitions_table(transitions, {t: r[0] for t, r in results.items()}, smk.params.mapping, smk.params.with_reference)
    edges = long_edges(transitions, {t: r[1] for t, r in results.items()})
    summary = json.loads(Path(smk.input.summary).read_text())
    tensor = build_tensor(edges, table, uns={"config": json.dumps(smk.params.config, sort_keys=True), "inputs": json.dumps(summary["inputs"], sort_keys=True)})
    with atomic_path(smk.output.table) as tmp:
        write_table(table, tmp)
    with atomic_path(smk.output.edges) as tmp:
        edges.drop(columns="transition").to_parquet(tmp, index=False)
    with atomic_path(smk.output.tensor) as tmp:
        tensor.write_h5ad(tmp)


run(main, snakemake)  # noqa: F821
