"""transgrn.api, the notebook API: AnnData in, the same numbers as the workflow out."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers import workflow_config

import transgrn
from transgrn.errors import ConfigError


@pytest.mark.workflow
def test_fit_transition_gives_the_workflows_numbers(report_demo, tmp_path):
    """The report demo's run (3 explicit transitions, OT pairs, the pooled network over its clusters):
    fit_transition on the same AnnData object and prior table gives the same network and metrics."""
    import anndata as ad

    config = workflow_config("report_demo")
    adata = ad.read_h5ad(report_demo / config["data"]["adata"])
    prior = pd.read_csv(report_demo / config["data"]["prior"], index_col=0)
    fit = transgrn.fit_transition(adata, prior, "progenitor", "fate A", cluster_key="cell_type",
                                  pseudotime_key="pseudotime", reference=str(report_demo / config["reference"]),
                                  seed=config["seed"], workdir=tmp_path, transitions=config["transitions"],
                                  mapping=config["mapping"])
    assert fit.transition == "c01_progenitor__c02_fate_A"
    folder = report_demo / "results/transitions" / fit.transition
    expected = pd.read_parquet(folder / "coefficients.parquet")
    pd.testing.assert_frame_equal(fit.edges, expected, rtol=1e-9)
    assert (fit.edges["weight"] != 0).any()
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("r2_test", "r2_test_null", "alpha", "auprc_ratio", "sign_accuracy"):
        assert fit.metrics[key] == pytest.approx(metrics[key], rel=1e-9), key
    pd.testing.assert_frame_equal(fit.mapping, pd.read_parquet(folder / "mapping_main.parquet"))


@pytest.mark.workflow
def test_read_results_gives_the_runs_tables(report_demo):
    results = transgrn.read_results(report_demo / "results")
    assert list(results.transitions["transition"]) == ["c00_stem_cell__c01_progenitor", "c01_progenitor__c02_fate_A",
                                                       "c01_progenitor__c03_fate_B"]
    network = results.network("c01_progenitor__c02_fate_A")
    assert set(network["target_cluster"]) == {"fate A"}
    assert np.all(np.diff(network["weight"].abs().to_numpy()) <= 0)  # strongest first
    array, transitions, tfs, targets = results.tensor()
    assert array.shape == (3, len(tfs), len(targets))
    row = network.iloc[0]
    assert array[1, tfs.index(row["tf"]), targets.index(row["target_gene"])] == pytest.approx(row["weight"], rel=1e-6)
    # the run-level network: every prior edge once, strongest first
    run = results.run_network()
    assert list(run.columns) == ["tf", "target_gene", "score", "sign", "sign_agreement", "n_transitions"]
    assert len(run) == len(results.edges) // 3 and run["score"].is_monotonic_decreasing
    assert run["n_transitions"].between(0, 3).all() and set(run["sign"]) <= {-1, 0, 1}
    # the report's drawings, on the results
    for figure in (results.plot_network("c01_progenitor__c02_fate_A", n_edges=10), results.plot_r2_heatmap()):
        assert figure.axes and figure.get_size_inches().min() > 1


def test_a_transition_that_is_not_configured_is_named(small_simulation, tmp_path):
    with pytest.raises(ConfigError, match="transition c0 -> nowhere is not among the configured transitions"):
        transgrn.fit_transition(small_simulation.adata, small_simulation.prior, "c0", "nowhere",
                                cluster_key="cell_type", workdir=tmp_path)


def test_read_results_of_a_folder_without_a_run_says_so(tmp_path):
    with pytest.raises(ConfigError, match="holds no transitions.tsv"):
        transgrn.read_results(tmp_path)


def test_a_run_without_the_run_level_network_says_how_to_get_it(tmp_path):
    from transgrn.api import Results

    results = Results(folder=tmp_path, transitions=pd.DataFrame(), edges=pd.DataFrame())
    with pytest.raises(ConfigError, match="predates the run-level network; rerun snakemake"):
        results.run_network()


def test_fit_transition_takes_objects_and_gives_the_transitions_tables(small_simulation, tmp_path):
    """In this process, without Snakemake: the AnnData and the tables are written into the working
    folder as the config's inputs; the edge-list form of the prior is written as an edge list."""
    from transgrn.api import _input_file
    from transgrn.api import fit_transition as fit_one

    sim = small_simulation
    fit = fit_one(sim.adata, sim.prior, "stem cell", "progenitor", cluster_key="cell_type", pseudotime_key="pseudotime",
                  reference=sim.reference, workdir=tmp_path, mapping={"method": "ot", "n_pairs": 200})
    assert fit.transition.endswith("__c01_progenitor") and fit.workdir == tmp_path
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "inputs/prior.csv", index_col="tf"), sim.prior, check_names=False,
                                  check_dtype=False)
    assert {"tf", "target_gene", "weight"} <= set(fit.edges.columns) and len(fit.gene_r2) == fit.edges["target_gene"].nunique()
    assert np.isfinite(fit.metrics["r2_test"]) and "auprc_ratio" in fit.metrics and "transgrn_provenance" not in fit.metrics
    assert set(fit.mapping["source_cell"]) <= set(sim.adata.obs_names[sim.adata.obs["cell_type"] == "stem cell"])
    edge_list = pd.DataFrame({"tf": ["A"], "target": ["x"]})
    assert pd.read_csv(_input_file(edge_list, tmp_path, "edges")).equals(edge_list)  # no index column added
    with pytest.raises(ConfigError, match="expected a file path, an AnnData or a pandas DataFrame, not list"):
        _input_file([1, 2], tmp_path, "prior")
