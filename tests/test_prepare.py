import json

import numpy as np
import pandas as pd
import pytest
from helpers import write_inputs

from transgrn.config import validate_config
from transgrn.errors import InputError
from transgrn.prepare import prepare
from transgrn.transitions import read_transitions


def config_for(data, schema, **sections):
    return validate_config({"data": data, **sections}, schema)


def test_prepare_writes_slices_tables_and_counts(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    summary = prepare(config_for(data, schema, reference=str(tmp_path / "in/reference.csv")), tmp_path / "out")
    transitions = read_transitions(tmp_path / "out/transitions.tsv")
    assert len(transitions) == 12
    assert sorted(p.name for p in (tmp_path / "out/clusters").iterdir()) == [
        "c00_stem_cell.h5ad", "c01_progenitor.h5ad", "c02_fate_A.h5ad", "c03_fate_B.h5ad"]
    assert summary["prior"]["n_tfs"] == 12 and summary["prior"]["n_targets"] == 60
    assert summary["prior"]["n_edges"] == int(small_simulation.prior.to_numpy().sum())
    assert summary["reference"]["n_edges_in_prior"] == len(small_simulation.reference)
    assert json.loads((tmp_path / "out/summary.json").read_text()) == summary


def test_missing_cluster_key_lists_available(tmp_path, small_simulation, schema):
    data = {**write_inputs(small_simulation, tmp_path / "in"), "cluster_key": "leiden"}
    with pytest.raises(InputError, match=r"data.cluster_key: obs column 'leiden'.*available obs columns: cell_type, pseudotime, branch"):
        prepare(config_for(data, schema), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_small_clusters_are_skipped_and_listed(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    sizes = small_simulation.adata.obs["cell_type"].value_counts()
    threshold = int(sizes.min()) + 1
    prepare(config_for(data, schema, transitions={"min_cells": threshold}), tmp_path / "out")
    skipped = pd.read_csv(tmp_path / "out/skipped.tsv", sep="\t")
    smallest = sizes.idxmin()
    assert len(skipped) == 6
    assert skipped["reason"].str.contains(f"'{smallest}' has {sizes.min()} cells").all()


def test_no_transition_left_is_an_error(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    with pytest.raises(InputError, match="lower transitions.min_cells"):
        prepare(config_for(data, schema, transitions={"min_cells": 10_000}), tmp_path / "out")


def test_nan_values_are_refused_with_gene_names(tmp_path, small_simulation, schema):
    sim = small_simulation
    adata = sim.adata.copy()
    adata.X[5, 3] = np.nan
    broken = type(sim)(adata=adata, prior=sim.prior, reference=sim.reference)
    data = write_inputs(broken, tmp_path / "in")
    with pytest.raises(InputError, match=rf"1 NaN/inf values in 1 genes \(e.g. {adata.var_names[3]}\)"):
        prepare(config_for(data, schema), tmp_path / "out")


@pytest.mark.parametrize("sparse", [False, True])
def test_nan_found_in_any_chunk_of_the_values(monkeypatch, sparse):
    """The NaN/inf check reads the values a chunk at a time (memory at atlas scale): a NaN in the
    last chunk is found as well as one in the first."""
    import scipy.sparse as sp

    from transgrn import io

    monkeypatch.setattr(io, "FINITE_CHUNK", 4)
    matrix = np.ones((6, 5))
    matrix[5, 4] = np.inf
    genes = pd.Index([f"g{i}" for i in range(5)])
    with pytest.raises(InputError, match=r"1 NaN/inf values in 1 genes \(e.g. g4\)"):
        io.check_values(sp.csr_matrix(matrix) if sparse else matrix, genes)
    matrix[5, 4] = 1.0
    io.check_values(sp.csr_matrix(matrix) if sparse else matrix, genes)


def test_prior_without_shared_genes(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    pd.DataFrame({"tf": ["ENSG01"], "target_gene": ["ENSG02"]}).to_csv(tmp_path / "in/prior.csv", index=False)
    with pytest.raises(InputError, match="no edge of the network has both its TF and its target"):
        prepare(config_for(data, schema), tmp_path / "out")


def test_missing_layer_and_pseudotime_key(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    with pytest.raises(InputError, match=r"layer 'spliced'.*available layers: counts"):
        prepare(config_for({**data, "layer": "spliced"}, schema), tmp_path / "out")
    with pytest.raises(InputError, match=r"data.pseudotime_key: obs column 'dpt'"):
        prepare(config_for({**data, "pseudotime_key": "dpt"}, schema), tmp_path / "out")


def test_duplicate_genes_are_refused(tmp_path, small_simulation, schema):
    adata = small_simulation.adata.copy()
    adata.var_names = ["G001"] + list(adata.var_names[1:])
    adata.var_names.values[1] = "G001"
    sim = type(small_simulation)(adata=adata, prior=small_simulation.prior, reference=small_simulation.reference)
    data = write_inputs(sim, tmp_path / "in")
    with pytest.raises(InputError, match=r"occur more than once.*var_names_make_unique"):
        prepare(config_for(data, schema), tmp_path / "out")


def test_sparse_expression_gives_the_same_fit_as_dense(tmp_path, small_simulation, schema):
    import scipy.sparse as sp

    from transgrn.cells import load_cluster
    from transgrn.design import TransitionData
    from transgrn.fit import fit_transition
    from transgrn.mapping import map_transition
    from transgrn.mask import build_mask
    from transgrn.options import MappingOptions, FitOptions

    results = {}
    for kind in ("dense", "sparse"):
        adata = small_simulation.adata.copy()
        if kind == "sparse":
            adata.X = sp.csr_matrix(adata.X)
        sim = type(small_simulation)(adata=adata, prior=small_simulation.prior, reference=small_simulation.reference)
        out = tmp_path / kind
        prepare(config_for(write_inputs(sim, out / "in"), schema), out / "prepared")
        source, genes = load_cluster(out / "prepared/clusters/c00_stem_cell.h5ad")
        target, _ = load_cluster(out / "prepared/clusters/c01_progenitor.h5ad")
        assert sp.issparse(source.matrix) == (kind == "sparse")
        mask = build_mask(pd.read_parquet(out / "prepared/prior_edges.parquet"), source, target, genes)
        mcfg = {"method": "ot", "n_pairs": 300, "test_fraction": 0.2}
        mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0) for role in ("main", "null")}
        fit = FitOptions.from_config({"alpha": 1.0, "fit_intercept": True, "device": "cpu", "dtype": "float64"})
        results[kind] = fit_transition(TransitionData(source, target, genes, mask), mappings, fit)[0]
    pd.testing.assert_frame_equal(results["dense"], results["sparse"], atol=1e-8)


def test_paga_connecting_nothing_names_the_largest_connectivity_and_a_threshold_that_works():
    """Issue: krumsiek11's connectivities (0.03-0.07, all below paga_threshold 0.1) gave a message
    about transitions.min_cells."""
    from transgrn.prepare import _paga_unconnected
    from transgrn.transitions import enumerate_transitions

    names = ["progenitor", "Ery", "Mk"]
    paga = pd.DataFrame([[0, 0.0669, 0.031], [0.0669, 0, 0.05], [0.031, 0.05, 0]], index=names, columns=names)
    message = _paga_unconnected(paga, 0.1)
    assert ("no cluster pair reaches transitions.paga_threshold=0.1; the largest PAGA connectivity is 0.0669 "
            "(progenitor - Ery). Lower transitions.paga_threshold (e.g. to 0.066)") in message
    suggested = float(message.split("e.g. to ")[1].split(")")[0])
    table, _ = enumerate_transitions(dict.fromkeys(names, 50), "paga", 20, paga=paga, paga_threshold=suggested)
    assert set(zip(table.source_cluster, table.target_cluster)) == {("progenitor", "Ery"), ("Ery", "progenitor")}
    assert "no neighbour edge joins two clusters" in _paga_unconnected(paga * 0, 0.1)


def test_paga_connecting_nothing_in_the_checkpoint(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    config = config_for(data, schema, transitions={"mode": "paga", "paga_threshold": 1.0})  # PAGA caps at 1
    with pytest.raises(InputError, match=r"no cluster pair reaches transitions.paga_threshold=1; the largest PAGA "
                                         r"connectivity is [0-9.]+ \(.+ - .+\)\. Lower transitions.paga_threshold"):
        prepare(config, tmp_path / "out")


def test_the_runs_seed_seeds_the_neighbour_graph_a_graph_mode_builds(tmp_path, small_simulation, schema, monkeypatch):
    """Where the data have no neighbour graph, the PCA and neighbour search of modes paga and trajectory
    draw from the run's seed, as every other random step does."""
    import transgrn.prepare as prepare_module

    seen = []
    real = prepare_module.cluster_graph
    monkeypatch.setattr(prepare_module, "cluster_graph", lambda *args: seen.append(args[-1]) or real(*args))
    data = write_inputs(small_simulation, tmp_path / "in")
    prepare(config_for(data, schema, transitions={"mode": "paga"}), tmp_path / "out", seed=7)
    assert seen == [7]


def test_numeric_cluster_labels_are_ordered_as_numbers():
    """Issue: a plain int column was ordered as text (0, 1, 10, 2, ...), giving ids like c04_3."""
    import anndata as ad

    from transgrn.prepare import _cluster_labels
    from transgrn.transitions import cluster_ids

    values = np.tile(np.arange(12), 3)
    obs = pd.DataFrame({"leiden_int": values, "stage": pd.Categorical(values.astype(str), categories=["10", "2", "0",
                        *[str(i) for i in (1, 3, 4, 5, 6, 7, 8, 9, 11)]])}, index=[f"c{i}" for i in range(36)])
    adata = ad.AnnData(obs=obs)
    labels, _ = _cluster_labels(adata, "leiden_int")
    assert list(labels.cat.categories) == [str(i) for i in range(12)]
    assert cluster_ids(list(labels.cat.categories))["3"] == "c03_3"
    labels, _ = _cluster_labels(adata, "stage")  # a categorical column keeps its category order
    assert list(labels.cat.categories)[:3] == ["10", "2", "0"]


@pytest.mark.parametrize("mode, said", [("all", True), ("explicit", False)])
def test_joint_fallback_says_that_both_directions_are_one_fit(tmp_path, small_simulation, schema, mode, said):
    data = {**write_inputs(small_simulation, tmp_path / "in"), "pseudotime_key": None}
    transitions = {"mode": mode, "explicit": [["stem cell", "progenitor"]]}
    summary = prepare(config_for(data, schema, transitions=transitions), tmp_path / "out")
    fallback = [w for w in summary["warnings"] if "data.pseudotime_key is not set" in w]
    assert len(fallback) == 1
    assert ("A->B and B->A the same regression on the same rows" in fallback[0]) == said
    assert ("mapping.method: ot" in fallback[0]) == said


def test_labels_with_a_repeated_tail_give_ids_snakemake_accepts(tmp_path, small_simulation, schema):
    """Issue 27: a 40-character label of one repeated letter made a transition id whose tail repeats 20
    times or more, which Snakemake refuses as a wildcard value (PeriodicWildcardError)."""
    import re

    from snakemake.io import PeriodicityDetector

    from transgrn.columns import TRANSITION_PATTERN

    adata = small_simulation.adata.copy()
    renamed = {"fate A": "A" * 40, "fate B": "ab " * 20}
    adata.obs["cell_type"] = adata.obs["cell_type"].astype(str).replace(renamed)
    sim = type(small_simulation)(adata=adata, prior=small_simulation.prior, reference=small_simulation.reference)
    prepare(config_for(write_inputs(sim, tmp_path / "in"), schema), tmp_path / "out")
    transitions = read_transitions(tmp_path / "out/transitions.tsv")
    assert set(renamed.values()) <= set(transitions["target_cluster"])
    detector = PeriodicityDetector()
    for transition in transitions["transition"]:
        assert detector.is_periodic(transition) is None, transition
        assert re.fullmatch(TRANSITION_PATTERN, transition)
    assert "c00_" + "A" * 9 in set(transitions["target_id"])  # readable still, the index keeping it unique
    assert transitions["transition"].is_unique


def test_prepare_reads_a_zarr_folder_and_records_its_digest(tmp_path, small_simulation, schema):
    """Issue 27: a .zarr folder as data.adata stopped at provenance hashing with IsADirectoryError."""
    from transgrn.io import sha256

    data = write_inputs(small_simulation, tmp_path / "in")
    small_simulation.adata.write_zarr(tmp_path / "in/adata.zarr")
    from_h5ad = prepare(config_for(data, schema), tmp_path / "h5ad")
    from_zarr = prepare(config_for({**data, "adata": str(tmp_path / "in/adata.zarr")}, schema), tmp_path / "zarr")
    assert from_zarr["inputs"]["adata"]["sha256"] == sha256(tmp_path / "in/adata.zarr")
    assert pd.read_csv(tmp_path / "zarr/transitions.tsv", sep="\t").equals(pd.read_csv(tmp_path / "h5ad/transitions.tsv", sep="\t"))
    assert from_zarr["n_cells"] == from_h5ad["n_cells"] and from_zarr["prior"] == from_h5ad["prior"]


@pytest.mark.workflow
def test_a_label_with_a_repeated_tail_plans_in_snakemake(tmp_path, small_simulation, workflow_runner):
    """The same through Snakemake: after the checkpoint, the dry run plans every transition's jobs."""
    from helpers import planned_jobs

    adata = small_simulation.adata.copy()
    adata.obs["cell_type"] = adata.obs["cell_type"].astype(str).replace({"fate A": "A" * 40})
    sim = type(small_simulation)(adata=adata, prior=small_simulation.prior, reference=small_simulation.reference)
    config = {"data": write_inputs(sim, tmp_path / "in"),
              "transitions": {"mode": "explicit", "explicit": [["progenitor", "A" * 40]]}}
    ran = workflow_runner(tmp_path / "run", config, "--cores", "1", "--until", "prepare", timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    planned = workflow_runner(tmp_path / "run", config, "--cores", "1", "-n", timeout=600)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert "PeriodicWildcardError" not in planned.stdout + planned.stderr
    assert planned_jobs(planned.stdout + planned.stderr)["fit_grn"] == 1
