"""transgrn.export and `transgrn export`: per-transition networks for decoupler and Cytoscape,
read from a run's results/edges.parquet one transition at a time."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from transgrn import export
from transgrn.cli import main
from transgrn.errors import InputError
from transgrn.io import parquet_stream

# cluster labels that look like other things stay text ("NA", "1")
TRANSITIONS = pd.DataFrame({"transition": ["c00_NA__c01_1", "c01_1__c02_fate_A", "c01_1__c02_fate_B"],
                            "source_cluster": ["NA", "1", "1"], "target_cluster": ["1", "fate A", "fate B"]})


def edges_of(source: str, target: str, seed: int, n: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=n)
    weight[0] = 0.0  # an edge the fit left at zero
    return pd.DataFrame({"source_cluster": source, "target_cluster": target, "tf": [f"TF{i % 3}" for i in range(n)],
                         "target_gene": [f"G{i}" for i in range(n)], "weight": weight,
                         "qvalue": np.linspace(0.0, 0.5, n), "borrowed": np.arange(n) == 1})


@pytest.fixture
def results(tmp_path):
    """A results folder as the aggregate writes it: transitions one after another, several per row group."""
    folder = tmp_path / "results"
    folder.mkdir()
    TRANSITIONS.assign(n_edges=8).to_csv(folder / "transitions.tsv", sep="\t", index=False)
    with parquet_stream(folder / "edges.parquet", min_rows=12) as stream:
        for seed, row in enumerate(TRANSITIONS.itertuples()):
            stream.write(edges_of(row.source_cluster, row.target_cluster, seed))
    return folder


def expected_network(seed: int, source: str, target: str) -> pd.DataFrame:
    edges = edges_of(source, target, seed)
    own = edges[(edges["weight"] != 0) & ~edges["borrowed"]]
    return pd.DataFrame({"source": own["tf"], "target": own["target_gene"], "weight": own["weight"]}).reset_index(drop=True)


@pytest.mark.parametrize("batch_rows", [3, 5, 1 << 16])
def test_transitions_are_read_whole_whatever_the_batches(results, monkeypatch, batch_rows):
    monkeypatch.setattr(export, "BATCH_ROWS", batch_rows)
    read = list(export.iter_transition_edges(results))
    assert [transition for transition, _ in read] == list(TRANSITIONS["transition"])
    for seed, (row, (_, edges)) in enumerate(zip(TRANSITIONS.itertuples(), read)):
        pd.testing.assert_frame_equal(edges, edges_of(row.source_cluster, row.target_cluster, seed))


def test_decoupler_networks_hold_each_transitions_own_nonzero_edges(results):
    written = export.export_networks(results, "decoupler")
    assert [path.name for path in written] == [f"{t}.tsv" for t in TRANSITIONS["transition"]]
    for seed, (row, path) in enumerate(zip(TRANSITIONS.itertuples(), written)):
        assert path.parent == results / "exports" / "decoupler"
        network = pd.read_csv(path, sep="\t")
        pd.testing.assert_frame_equal(network, expected_network(seed, row.source_cluster, row.target_cluster))


def test_decoupler_parquet_equals_the_tsv(results, tmp_path):
    (tsv,) = export.export_networks(results, "decoupler", tmp_path / "tsv", top_k=3)[:1]
    (parquet,) = export.export_networks(results, "decoupler-parquet", tmp_path / "pq", top_k=3)[:1]
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), pd.read_csv(tsv, sep="\t"))
    assert len(pd.read_csv(tsv, sep="\t")) == 3


def test_confidence_and_top_k_filter_as_the_config_does(results):
    (path, *_) = export.export_networks(results, "decoupler", min_confidence=0.8)
    edges = edges_of("NA", "1", 0)
    kept = edges[(edges["weight"] != 0) & ~edges["borrowed"] & (1 - edges["qvalue"] >= 0.8)]
    assert list(pd.read_csv(path, sep="\t")["target"]) == list(kept["target_gene"])
    (path, *_) = export.export_networks(results, "decoupler", top_k=2)
    strongest = expected_network(0, "NA", "1").sort_values("weight", key=abs, ascending=False).head(2)
    assert set(pd.read_csv(path, sep="\t")["target"]) == set(strongest["target"])


def test_graphml_opens_as_a_directed_network_with_weights_signs_and_confidence(results):
    written = export.export_networks(results, "graphml")
    graph = nx.read_graphml(written[1])
    assert graph.is_directed() and graph.graph["name"] == "c01_1__c02_fate_A"
    network = expected_network(1, "1", "fate A")
    assert graph.number_of_edges() == len(network)
    for edge in network.itertuples():
        data = graph.edges[edge.source, edge.target]
        assert data["weight"] == pytest.approx(edge.weight, rel=1e-12)
        assert data["abs_weight"] == pytest.approx(abs(edge.weight), rel=1e-12)
        assert data["sign"] == ("activation" if edge.weight > 0 else "repression")
        assert "qvalue" in data
    assert {graph.nodes[gene]["kind"] for gene in network["source"]} == {"tf"}
    assert {graph.nodes[gene]["kind"] for gene in network["target"]} == {"target"}


def test_the_cli_exports_and_names_a_missing_results_folder(results, tmp_path, capsys):
    assert main(["export", str(results), "--format", "graphml"]) == 0
    assert "wrote 3 graphml network(s)" in capsys.readouterr().out
    assert sorted(p.name for p in (results / "exports/graphml").iterdir()) == sorted(f"{t}.graphml" for t in TRANSITIONS["transition"])
    assert main(["export", str(tmp_path / "nowhere")]) == 1
    error = capsys.readouterr().err
    assert "transgrn export: error:" in error and "edges.parquet" in error and "results folder of a finished run" in error


def test_edges_of_another_run_are_refused(results):
    TRANSITIONS.iloc[:2].to_csv(results / "transitions.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="different runs"):
        export.export_networks(results, "decoupler")
