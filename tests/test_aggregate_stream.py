"""Streamed aggregation (transgrn.aggregate.aggregate) writes what the in-memory path (the whole
long table, then pivots) wrote: same edge tables, same tensor, read back the same way; row groups
in transition order; byte-identical on a rerun; nothing left behind when it fails; the run-level network
beside them."""
from __future__ import annotations

import hashlib
import json
import importlib.util

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers import REPO
from reference import build_tensor

from transgrn.aggregate import load_metrics, transitions_table
from transgrn.edges import filter_transition_edges, strongest
from transgrn.io import PROVENANCE_KEY, ParquetStream, parquet_stream, read_provenance, write_parquet
from transgrn.transitions import read_transitions
from transgrn.tensor import read_tensor

SPEC = importlib.util.spec_from_file_location("aggregate_scale", REPO / "benchmarks/aggregate_scale.py")
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)

CONFIG = {"seed": 0, "filter": bench.FILTER, "mapping": {"method": "joint"}}


def run(paths, out, legacy=False, **changes):
    outputs = bench.outputs_in(out)
    (bench.run_legacy if legacy else bench.run_streamed)({**paths, **changes}, outputs, CONFIG)
    return outputs


def digests(outputs):
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in outputs.items()}


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "bootstrap+mlp"])
def fabricated(request, tmp_path_factory):
    work = tmp_path_factory.mktemp("aggregate")
    paths = bench.fabricate(work / "data", n_transitions=7, n_edges=400, n_tfs=10, n_genes=60, bootstrap=request.param,
                            mlp=request.param, templates=3, seed=1)
    return work, paths


def test_streamed_outputs_equal_the_in_memory_ones(fabricated):
    work, paths = fabricated
    new, old = run(paths, work / "new"), run(paths, work / "old", legacy=True)
    for name in ("edges", "edges_filtered"):
        pd.testing.assert_frame_equal(pd.read_parquet(new[name]), pd.read_parquet(old[name]))
        # same columns, types, pandas metadata and provenance
        assert pq.read_schema(new[name]).equals(pq.read_schema(old[name]), check_metadata=True)
    assert new["table"].read_bytes() == old["table"].read_bytes()
    a, b = ad.read_h5ad(new["tensor"]), ad.read_h5ad(old["tensor"])
    assert a.X.dtype == np.float32 and isinstance(a.X, np.ndarray)
    np.testing.assert_array_equal(a.X, b.X)
    assert sorted(a.layers) == sorted(b.layers) and len(a.layers) == (6 if paths["attributions"] else 0)
    for name in b.layers:
        assert a.layers[name].dtype == np.float32
        np.testing.assert_array_equal(a.layers[name], b.layers[name])
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert a.uns == b.uns and read_provenance(new["tensor"]) == read_provenance(old["tensor"])
    for layer in [None, *b.layers]:
        for x, y in zip(read_tensor(new["tensor"], layer), read_tensor(old["tensor"], layer)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert new["provenance"].read_text().split('"outputs"')[0] == old["provenance"].read_text().split('"outputs"')[0]


def test_tensor_is_the_pivot_of_the_long_table(fabricated):
    """Independent of build_tensor: X and layers are pandas' pivot of edges.parquet, in var's edge order."""
    work, paths = fabricated
    outputs = run(paths, work / "pivot")
    edges = pd.read_parquet(outputs["edges"])
    transitions = read_transitions(paths["transitions"])
    edges.insert(0, "transition", np.repeat(transitions["transition"].to_numpy(), len(edges) // len(transitions)))
    tensor = ad.read_h5ad(outputs["tensor"])
    assert list(tensor.obs_names) == list(transitions["transition"])
    for column in [c for c in edges.columns if c not in ("transition", "source_cluster", "target_cluster", "tf", "target_gene")]:
        wide = edges.pivot(index="transition", columns=["tf", "target_gene"], values=column)
        wide = wide.loc[tensor.obs_names, pd.MultiIndex.from_frame(tensor.var[["tf", "target_gene"]].astype(str))]
        got = tensor.X if column == "weight" else tensor.layers[column]
        np.testing.assert_array_equal(got, wide.to_numpy(dtype=np.float32))
    prior = pd.read_parquet(paths["prior"])
    assert (tensor.var["prior_sign"].to_numpy() == prior["sign"].to_numpy()).all()


def test_rows_and_row_groups_follow_the_transitions(fabricated):
    work, paths = fabricated
    transitions = read_transitions(paths["transitions"])
    outputs = run(paths, work / "groups")
    edges = pd.read_parquet(outputs["edges"])
    pairs = list(zip(transitions["source_cluster"], transitions["target_cluster"]))
    assert list(edges[["source_cluster", "target_cluster"]].drop_duplicates().itertuples(index=False, name=None)) == pairs
    # small frames share a row group, a large one has its own; a group never splits a transition
    for min_rows, n_groups in ((1, len(transitions)), (1000, 3), (1 << 16, 1)):
        path = work / f"groups/edges_{min_rows}.parquet"
        with parquet_stream(path, {"rule": "test"}, min_rows=min_rows) as stream:
            for _, frame in edges.groupby(np.arange(len(edges)) // 400, sort=False):
                stream.write(frame)
        handle = pq.ParquetFile(path)
        assert handle.metadata.num_row_groups == n_groups
        seen = [tuple(x) for g in range(n_groups)
                for x in handle.read_row_group(g).to_pandas()[["source_cluster", "target_cluster"]].drop_duplicates().to_numpy()]
        assert seen == pairs and all(handle.metadata.row_group(g).num_rows % 400 == 0 for g in range(n_groups))
        pd.testing.assert_frame_equal(pd.read_parquet(path), edges)
        assert read_provenance(path) == {"rule": "test"}


def test_filtered_edges_are_filtered_per_transition(fabricated):
    work, paths = fabricated
    outputs = run(paths, work / "filtered")
    transitions = read_transitions(paths["transitions"])
    edges = pd.read_parquet(outputs["edges"])
    edges.insert(0, "transition", np.repeat(transitions["transition"].to_numpy(), len(edges) // len(transitions)))
    expected = bench.legacy_filter_edges(edges, bench.FILTER["min_confidence"], bench.FILTER["top_k"]).drop(columns="transition")
    pd.testing.assert_frame_equal(pd.read_parquet(outputs["edges_filtered"]), expected)


@pytest.mark.parametrize("top_k", [0, 1, 5, 40, 1000])
@pytest.mark.parametrize("with_q", [False, True])
def test_filtering_one_transition_equals_filter_edges(top_k, with_q):
    rng = np.random.default_rng(top_k)
    weight = rng.choice([0.0, 1.0, -1.0, 0.5, -2.0, np.nan], size=200)  # ties, zeros and NaN
    edges = pd.DataFrame({"transition": "t", "tf": "a", "target_gene": [f"g{i}" for i in range(200)], "weight": weight})
    if with_q:
        edges["qvalue"] = rng.choice([0.0, 0.01, 0.5, np.nan], size=200)
    expected = bench.legacy_filter_edges(edges, 0.95, top_k)
    pd.testing.assert_frame_equal(filter_transition_edges(edges, 0.95, top_k), expected)
    assert len(expected) and (top_k == 0 or len(expected) <= top_k)


def test_strongest_ranks_as_a_stable_sort():
    """The partition that picks each transition's top_k edges: the positions a stable descending
    sort ranks first (ties in position order, NaN never), on many draws full of ties."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        strength = rng.integers(0, 4, size=int(rng.integers(0, 40))).astype(float)
        strength[rng.random(len(strength)) < 0.2] = np.nan
        k = int(rng.integers(1, 45))
        order = np.argsort(-strength, kind="stable")[:k]
        assert np.array_equal(strongest(strength, k), np.sort(order[~np.isnan(strength[order])]))


def test_a_rerun_is_byte_identical(fabricated):
    work, paths = fabricated
    first = digests(run(paths, work / "a"))
    assert digests(run(paths, work / "a")) == first


def test_a_transition_with_other_edges_gets_nan_like_the_pivot(tmp_path):
    """Edges listed in another order or missing in a transition: the tensor reindexes to the first
    transition's edges (NaN where missing), as the pivot did."""
    paths = bench.fabricate(tmp_path / "data", n_transitions=3, n_edges=50, n_tfs=5, n_genes=20, templates=3, seed=2)
    odd = pd.read_parquet(paths["coefficients"][2]).sample(frac=1.0, random_state=0).iloc[5:]
    odd_path = tmp_path / "odd.parquet"
    odd.to_parquet(odd_path, index=False)
    coefficients = [*paths["coefficients"][:2], odd_path]
    new = run(paths, tmp_path / "new", coefficients=coefficients)
    transitions = read_transitions(paths["transitions"])
    edges = bench.long_edges(transitions, {t: pd.read_parquet(p) for t, p in zip(transitions["transition"], coefficients)})
    metrics = {t: load_metrics(p) for t, p in zip(transitions["transition"], paths["metrics"])}
    expected = build_tensor(edges, transitions_table(transitions, metrics, "joint", False))
    got = ad.read_h5ad(new["tensor"])
    np.testing.assert_array_equal(got.X, expected.X)
    assert np.isnan(got.X[2]).sum() == 5
    pd.testing.assert_frame_equal(pd.read_parquet(new["edges"]), edges.drop(columns="transition"))


def test_a_failure_leaves_no_output_and_no_temporary(fabricated, tmp_path):
    _, paths = fabricated
    # the last transition's file lacks the weights: found only once the others are streamed out
    pd.read_parquet(paths["coefficients"][-1]).drop(columns="weight").to_parquet(tmp_path / "broken.parquet")
    with pytest.raises(Exception, match="weight"):
        run(paths, tmp_path / "out", coefficients=[*paths["coefficients"][:-1], tmp_path / "broken.parquet"])
    assert list((tmp_path / "out").iterdir()) == []


def test_parquet_stream_matches_write_parquet(tmp_path):
    frame = pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, np.nan, 3.0], "c": np.array([1, 2, 3], dtype="int8")})
    write_parquet(frame, tmp_path / "whole.parquet", {"k": 1})
    with parquet_stream(tmp_path / "streamed.parquet", {"k": 1}) as stream:
        stream.write(frame.iloc[:1])
        stream.write(frame.iloc[1:0])  # empty: no row group
        stream.write(frame.iloc[1:])
    assert (tmp_path / "streamed.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    # a stream that only sees empty frames still writes the given schema
    schema = pq.read_schema(tmp_path / "whole.parquet")
    with parquet_stream(tmp_path / "empty.parquet", {"k": 1}, schema=schema) as stream:
        stream.write(frame.iloc[:0].astype(object))
    assert pq.read_schema(tmp_path / "empty.parquet").equals(schema, check_metadata=True)
    assert len(pd.read_parquet(tmp_path / "empty.parquet")) == 0
    assert ParquetStream(tmp_path / "x.parquet").schema is None
    assert PROVENANCE_KEY.encode() in schema.metadata


def test_the_edge_table_carries_sign_confidence_between_the_confidence_columns_and_borrowed(tmp_path):
    from transgrn.aggregate import iter_edges

    paths = []
    for i, columns in enumerate([{"qvalue": [0.1, 0.5], "sign_confidence": [1.0, 0.5], "borrowed": [False, True]},
                                 {"qvalue": [0.2, 0.3], "borrowed": [False, False]}]):
        paths.append(tmp_path / f"c{i}.parquet")
        write_parquet(pd.DataFrame({"tf": ["A", "B"], "target_gene": ["T", "T"], "weight": [0.5, -0.1], **columns}), paths[-1])
    transitions = pd.DataFrame({"transition": ["t0", "t1"], "source_cluster": ["a", "b"], "target_cluster": ["b", "c"]})
    first, second = iter_edges(transitions, paths)
    assert list(first.columns[-3:]) == ["qvalue", "sign_confidence", "borrowed"]
    assert first["sign_confidence"].tolist() == [1.0, 0.5]
    assert second["sign_confidence"].isna().all()  # a transition without the column: NaN, as in the pivot


def test_the_run_level_network_is_the_r2_weighted_mean_of_the_edge_table(fabricated):
    """network.parquet recomputed by pandas from edges.parquet and each transition's held-out R^2: score =
    mean |weight| weighted by R^2 (all fabricated R^2 are above 0), sign = sign of the summed weights."""
    work, paths = fabricated
    outputs = run(paths, work / "network")
    edges = pd.read_parquet(outputs["edges"])
    transitions = read_transitions(paths["transitions"])
    edges.insert(0, "transition", np.repeat(transitions["transition"].to_numpy(), len(edges) // len(transitions)))
    r2 = {t: load_metrics(p)["r2_test"] for t, p in zip(transitions["transition"], paths["metrics"])}
    share = edges["transition"].map(r2)
    by_edge = [edges["tf"], edges["target_gene"]]
    score = (share * edges["weight"].abs()).groupby(by_edge).sum() / share.groupby(by_edge).sum()
    sign = np.sign(edges["weight"].groupby(by_edge).sum())
    got = pd.read_parquet(outputs["network"])
    assert list(got.columns) == ["tf", "target_gene", "score", "sign", "sign_agreement", "n_transitions"]
    assert got["score"].is_monotonic_decreasing and len(got) == len(edges) // len(transitions)
    indexed = got.set_index(["tf", "target_gene"])
    np.testing.assert_allclose(indexed["score"], score.reindex(indexed.index), rtol=1e-12)
    np.testing.assert_array_equal(indexed["sign"], sign.reindex(indexed.index))
    called = (edges["weight"] != 0).groupby(by_edge).sum()
    np.testing.assert_array_equal(indexed["n_transitions"], called.reindex(indexed.index))
    metrics = json.loads(outputs["network_metrics"].read_text())
    assert metrics["n_transitions"] == len(transitions) and metrics["n_edges"] == len(got)
    assert "auprc_ratio" not in metrics  # no reference


def test_the_run_level_network_is_scored_against_the_reference(fabricated, tmp_path):
    """With a reference, network_metrics.json has a transition's recovery metrics of the run-level network,
    as scikit-learn computes them from network.parquet (signed score) alone."""
    from sklearn.metrics import average_precision_score

    from transgrn.aggregate import aggregate

    _, paths = fabricated
    prior = pd.read_parquet(paths["prior"])
    reference = prior.iloc[::5].assign(sign=np.int8(1))  # every fifth prior edge, activating
    reference.to_parquet(tmp_path / "reference.parquet", index=False)
    outputs = bench.outputs_in(tmp_path / "out")
    (tmp_path / "out").mkdir()
    aggregate(read_transitions(paths["transitions"]), paths["metrics"], paths["coefficients"], paths["prior"], outputs,
              config=CONFIG, inputs={}, mapping="joint", with_reference=True, min_confidence=0.95, top_k=100,
              reference=tmp_path / "reference.parquet")
    network = pd.read_parquet(outputs["network"]).merge(reference, on=["tf", "target_gene"], how="left")
    metrics = json.loads(outputs["network_metrics"].read_text())
    true = network["sign_y"].notna().to_numpy()
    assert metrics["n_true_edges"] == true.sum() == len(reference)
    assert metrics["auprc_ratio"] == pytest.approx(average_precision_score(true, network["score"]) / true.mean())
    assert metrics["sign_accuracy"] == pytest.approx((network.loc[true, "sign_x"] == 1).mean())
