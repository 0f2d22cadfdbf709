"""Rule aggregate: transitions.tsv, edges.parquet and grn_tensor.h5ad from every transition."""
import json
from pathlib import Path

import pandas as pd

from transgrn.aggregate import add_edge_values, filter_edges, load_transition_results, long_edges, transitions_table, write_table
from transgrn.io import PROVENANCE_KEY, atomic_path, provenance, provenance_json, sha256, write_parquet
from transgrn.prepare import read_transitions
from transgrn.script import run
from transgrn.tensor import build_tensor


def main(smk):
    transitions = read_transitions(smk.input.transitions)
    results = {t: load_transition_results(Path(m).parent) for t, m in zip(transitions["transition"], smk.input.metrics)}
    table = transitions_table(transitions, {t: r[0] for t, r in results.items()}, smk.params.mapping, smk.params.with_reference)
    edges = long_edges(transitions, {t: r[1] for t, r in results.items()})
    if smk.input.mlp_attribution:  # models include mlp: its per-edge attribution beside the weight
        edges = add_edge_values(edges, transitions, smk.input.mlp_attribution, "attribution", "mlp_attribution")
    summary = json.loads(Path(smk.input.summary).read_text())
    # what produced these results: the whole config, the data's checksums, versions and seed
    record = provenance(smk.params.config, summary["inputs"], smk.params.config.get("seed"), rule="aggregate",
                        n_transitions=len(transitions))
    tensor = build_tensor(edges, table, uns={"config": json.dumps(smk.params.config, sort_keys=True), "inputs": json.dumps(summary["inputs"], sort_keys=True),
                                             PROVENANCE_KEY: provenance_json(record)})
    # the prior's sign (+1/-1, 0 = unsigned) of every edge, kept as edge metadata
    signs = pd.read_parquet(smk.input.prior).set_index(["tf", "target_gene"])["sign"]
    tensor.var["prior_sign"] = signs.reindex(pd.MultiIndex.from_frame(tensor.var[["tf", "target_gene"]])).fillna(0).astype("int8").to_numpy()
    with atomic_path(smk.output.table) as tmp:
        write_table(table, tmp)
    write_parquet(edges.drop(columns="transition"), smk.output.edges, record)
    filtered = filter_edges(edges, smk.params.filter["min_confidence"], smk.params.filter["top_k"])
    write_parquet(filtered.drop(columns="transition"), smk.output.edges_filtered, record)
    with atomic_path(smk.output.tensor) as tmp:
        tensor.write_h5ad(tmp)
    outputs = {name: {"path": str(smk.output[name]), "sha256": sha256(smk.output[name])} for name in ("table", "edges", "tensor")}
    with atomic_path(smk.output.provenance) as tmp:
        Path(tmp).write_text(json.dumps({**record, "outputs": outputs}, indent=2, sort_keys=True) + "\n")


run(main, snakemake)  # noqa: F821
