"""Differential edges between transitions, end to end: calibration and power on the simulator, the
simulator's options for them, and the workflow's stage. Each module of transgrn.differential has its
own tests (tests/test_differential_<module>.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from differential_cases import assert_uniform, sibling_test

from transgrn.differential import DIFFERENTIAL_COLUMNS
from transgrn.simulate import simulate


# --------------------------------------------------------------------------------------------
# Calibration and power on the simulator
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_network_is_calibrated(seed):
    """Fate A and fate B are draws of one distribution (symmetric_branches): no edge differs."""
    table = sibling_test(simulate(symmetric_branches=True, seed=seed), {"method": "joint"}, seed)
    assert len(table) > 2000
    assert (table["qvalue"] <= 0.1).mean() <= 0.1
    assert_uniform(table["pvalue"])


def test_same_network_is_calibrated_in_the_lagged_design():
    # one lag for both: the test keeps the design's choices fixed, so the null needs the same lag
    table = sibling_test(simulate(symmetric_branches=True, seed=1), {"method": "lagged", "lag_grid": [0.15]}, 1)
    assert (table["qvalue"] <= 0.1).mean() <= 0.1
    assert_uniform(table["pvalue"])


def test_planted_branch_edges_are_recovered():
    """Edges that regulate only in fate A or only in fate B, at the demo's noise (0.3)."""
    from sklearn.metrics import average_precision_score

    sim = simulate(symmetric_branches=True, branch_edges=40, n_cells=3000, seed=0)
    table = sibling_test(sim, {"method": "lagged", "lag_grid": [0.15]}, 0)
    planted = table.merge(sim.differential, on=["tf", "target_gene"], how="left")["branch"].notna().to_numpy()
    assert planted.sum() == 40
    assert average_precision_score(planted, table["z"].abs()) / planted.mean() >= 2
    assert (table["qvalue"].to_numpy()[planted] <= 0.1).mean() >= 0.5
    # the direction: an edge of fate A only is stronger in progenitor -> fate A (transition_1)
    branch = table.merge(sim.differential, on=["tf", "target_gene"])
    called = branch[branch["qvalue"] <= 0.1]
    toward = np.where(called["branch"] == "A", -1, 1) * np.sign(called["weight"])
    assert (np.sign(called["difference"]) == toward).mean() >= 0.9


# --------------------------------------------------------------------------------------------
# Simulator options
# --------------------------------------------------------------------------------------------


def test_branch_edges_are_prior_decoys_of_one_fate():
    sim = simulate(n_cells=300, n_tfs=8, n_targets=40, branch_edges=6, seed=2)
    planted = sim.differential
    assert len(planted) == 6 and planted["branch"].tolist() == ["A", "B"] * 3
    assert planted.merge(sim.reference, on=["tf", "target_gene"]).empty  # no shared regulation
    assert all(sim.prior.loc[tf, target] == 1 for tf, target in zip(planted["tf"], planted["target_gene"]))
    assert sim.adata.uns["simulation"]["branch_edges"] == 6
    plain = simulate(n_cells=300, n_tfs=8, n_targets=40, seed=2)
    assert "branch_edges" not in plain.adata.uns["simulation"] and plain.differential.empty
    with pytest.raises(ValueError, match="decoy edges"):
        simulate(n_cells=100, n_tfs=4, n_targets=4, decoys_per_target=1, branch_edges=10)


def test_symmetric_branches_make_the_fates_alike():
    def fate_gap(sim):
        obs = sim.adata.obs["cell_type"].to_numpy()
        tfs = sim.adata.var["is_tf"].to_numpy()
        mean = lambda label: sim.adata.X[obs == label][:, tfs].mean(0)  # noqa: E731
        return np.abs(mean("fate A") - mean("fate B")).max()

    assert fate_gap(simulate(n_cells=1600, symmetric_branches=True)) < 0.5 * fate_gap(simulate(n_cells=1600))


# --------------------------------------------------------------------------------------------
# The workflow's stage (workflow/rules/differential.smk, transgrn.jobs.differential)
# --------------------------------------------------------------------------------------------


@pytest.mark.workflow
@pytest.mark.parametrize("se_method", ["bootstrap", "analytic"])
def test_workflow_writes_the_sibling_pairs_with_the_fitted_weights(tmp_path, workflow_runner, se_method):
    """differential.enabled on report_demo's transitions (stem cell -> progenitor, progenitor -> fate A,
    progenitor -> fate B): one unit (progenitor) with the one sibling pair, whose weights are those of
    fit_grn's coefficients (read, not refitted) and whose q-values are BH within the pair. With the
    bootstrap the fits wrote the replicates; the analytic standard error computes from the cells around
    the fit's network, intercepts and penalty (fit.json)."""
    from helpers import workflow_config

    from transgrn.confidence import benjamini_hochberg

    config = workflow_config("differential_demo")
    config["differential"]["se_method"] = se_method
    result = workflow_runner(tmp_path, config, "--cores", "1", "results/differential.parquet")
    assert result.returncode == 0, result.stderr[-5000:]
    # the one unit's table, gathered by rule differential
    assert sorted(p.name for p in (tmp_path / "results/differential").iterdir()) == ["c01_progenitor.parquet"]
    pair = ("c01_progenitor__c02_fate_A", "c01_progenitor__c03_fate_B")
    # with the bootstrap the replicates come from the fit jobs, which had the cells loaded; the test reads them
    for transition in pair:
        replicates = tmp_path / f"results/transitions/{transition}/differential_replicates.npy"
        assert replicates.exists() == (se_method == "bootstrap")
        if replicates.exists():
            assert np.load(replicates).shape[0] == 10
    table = pd.read_parquet(tmp_path / "results/differential.parquet")
    assert list(table.columns) == DIFFERENTIAL_COLUMNS and len(table) > 0
    assert set(zip(table["transition_1"], table["transition_2"])) == {pair}
    for column, transition in zip(("weight_1", "weight_2"), pair):
        fitted = pd.read_parquet(tmp_path / f"results/transitions/{transition}/coefficients.parquet")
        merged = table.merge(fitted, on=["tf", "target_gene"])
        assert len(merged) == len(table) and not merged["borrowed"].any()
        np.testing.assert_array_equal(merged[column], merged["weight"])
    np.testing.assert_allclose(table["qvalue"], benjamini_hochberg(table["pvalue"].to_numpy()))
    described = "10 replicates" if se_method == "bootstrap" else "analytic"
    assert (table["std_error"] > 0).all() and table["se_method"].str.contains(described).all()
