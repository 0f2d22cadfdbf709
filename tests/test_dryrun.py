"""The dry run, the first thing anyone runs (`snakemake -n`, on a cluster with `--profile
profiles/slurm`), in every state it meets: a fresh clone, --forceall, after a partial run and on a
user's own config. Input and resource functions run here before the outputs they look at exist
(a fresh clone's dry run crashed in aggregate's memory function, which no real run saw)."""
from __future__ import annotations

import pandas as pd
import pytest
from helpers import REPO, planned_jobs, workflow_config, write_inputs

pytestmark = pytest.mark.workflow

SLURM = ("--profile", str(REPO / "profiles/slurm"))
TINY_DEMO_CONFIG = workflow_config("tiny_demo")
# before the checkpoint the per-transition jobs are unknown; these are planned in any state
ALWAYS = {"prepare", "aggregate", "report", "all"}
# one job per stage and transition (3 small transitions), nothing else per transition (issue #25)
STAGES = ("map_cells", "fit_grn", "evaluate_grn", "plot_transition")
PER_TRANSITION = {stage: 3 for stage in STAGES}


def dry_run(workflow_runner, workdir, config, *extra: str) -> str:
    result = workflow_runner(workdir, config, "-n", "--cores", "1", *extra, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


@pytest.mark.parametrize("extra", [(), ("--forceall",), SLURM, (*SLURM, "--forceall")],
                         ids=["plain", "forceall", "slurm", "slurm-forceall"])
def test_a_fresh_clone_without_a_config_plans_the_demo(tmp_path, workflow_runner, extra):
    output = dry_run(workflow_runner, tmp_path, None, *extra)
    assert "running the demo (config/demo.yaml)" in output
    assert set(planned_jobs(output)) == ALWAYS | {"simulate_demo"}
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory, workflow_runner):
    """The tiny demo run up to the checkpoint: its outputs exist, no per-transition one does."""
    workdir = tmp_path_factory.mktemp("partial")
    result = workflow_runner(workdir, TINY_DEMO_CONFIG, "--cores", "1", "--until", "prepare", timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    assert (workdir / "results/prepared/transitions.tsv").exists() and not (workdir / "results/transitions").exists()
    return workdir


@pytest.mark.parametrize("extra", [(), ("--forceall",), SLURM, (*SLURM, "--forceall")],
                         ids=["plain", "forceall", "slurm", "slurm-forceall"])
def test_after_a_partial_run_every_transition_job_is_planned(partial_run, workflow_runner, extra):
    jobs = planned_jobs(dry_run(workflow_runner, partial_run, TINY_DEMO_CONFIG, *extra))
    if "--forceall" in extra:  # the checkpoint reruns, so the transitions are to be determined again
        assert jobs == dict.fromkeys(ALWAYS | {"simulate_demo"}, 1)
    else:  # known from the checkpoint's table; aggregate's resources from files that do not exist yet
        # fit_pooled: the network the transitions' fits borrow from (fit.borrow_below > 0, the default)
        assert jobs == {**PER_TRANSITION, **dict.fromkeys(ALWAYS - {"prepare"}, 1), "fit_pooled": 1}


def test_without_borrowing_the_pooled_network_is_not_fitted(partial_run, workflow_runner):
    config = {**TINY_DEMO_CONFIG, "fit": {**TINY_DEMO_CONFIG.get("fit", {}), "borrow_below": 0}}
    jobs = planned_jobs(dry_run(workflow_runner, partial_run, config))
    assert jobs == {**PER_TRANSITION, **dict.fromkeys(ALWAYS - {"prepare"}, 1)}


@pytest.mark.parametrize("extra", [(), SLURM], ids=["plain", "slurm"])
def test_a_user_config_stands_alone(tmp_path, small_simulation, workflow_runner, extra):
    """Nothing of the demo reaches a user's config: no simulated data, no reference, no demo section."""
    data = write_inputs(small_simulation, tmp_path / "in")
    output = dry_run(workflow_runner, tmp_path / "run", {"data": data}, *extra)
    assert set(planned_jobs(output)) == ALWAYS
    assert "resources/demo" not in output and "simulate_demo" not in output
    assert "recovery.png" not in output  # the report's recovery figure exists only with a reference


def test_a_user_config_never_simulates_missing_data(tmp_path, workflow_runner):
    """simulate_demo exists only for the demo's config: a user's missing file is reported as missing."""
    config = {"data": {"adata": "resources/demo/adata.h5ad", "prior": "resources/demo/prior.csv",
                       "cluster_key": "cell_type"}}
    result = workflow_runner(tmp_path, config, "-n", "--cores", "1", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "simulate_demo" not in output
    assert "Missing input files for rule prepare" in output and "resources/demo/adata.h5ad" in output


def test_settings_without_data_say_how_to_configure(tmp_path, workflow_runner):
    result = workflow_runner(tmp_path, None, "-n", "--cores", "1", "--config", "seed=3", timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "--configfile config/demo.yaml" in output and "--configfile my.yaml" in output


@pytest.mark.parametrize("se_method", ["bootstrap", "analytic"])
def test_the_differential_test_reads_the_fits_replicates_unless_analytic(partial_run, workflow_runner, se_method):
    """With the bootstrap (the default) each fit also writes the test's replicates and the test reads
    them; the analytic standard error needs none (it reads the cells). The tiny demo's pairs share one
    unit: one job tests it, one gathers."""
    config = {**TINY_DEMO_CONFIG, "differential": {"enabled": True, "pairs": "all", "se_method": se_method}}
    output = dry_run(workflow_runner, partial_run, config)
    jobs = planned_jobs(output)
    assert jobs["differential"] == 1 and jobs["differential_unit"] == 1
    assert ("differential_replicates.npy" in output) == (se_method == "bootstrap")


def test_each_differential_unit_is_a_job_then_gathered(tmp_path, small_simulation, workflow_runner):
    """A job per unit, gathered by rule differential: 7 clusters in mode all are 42 transitions in 7
    sibling units of 6."""
    from types import SimpleNamespace

    adata = small_simulation.adata.copy()
    adata.obs["cell_type"] = pd.Categorical([f"k{i % 7}" for i in range(adata.n_obs)])
    sim = SimpleNamespace(adata=adata, prior=small_simulation.prior, reference=small_simulation.reference)
    config = {"data": write_inputs(sim, tmp_path / "in"), "transitions": {"mode": "all"},
              "differential": {"enabled": True}}
    result = workflow_runner(tmp_path / "run", config, "--cores", "1", "--until", "prepare", timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    jobs = planned_jobs(dry_run(workflow_runner, tmp_path / "run", config))
    assert jobs["differential_unit"] == 7 and jobs["differential"] == 1


@pytest.mark.parametrize("extra", [(), SLURM], ids=["plain", "slurm"])
def test_a_fresh_dry_run_plans_the_differential_test(tmp_path, small_simulation, workflow_runner, extra):
    """Before the checkpoint the differential test's units are unknown: only the gather is planned."""
    config = {"data": write_inputs(small_simulation, tmp_path / "in"), "differential": {"enabled": True}}
    jobs = planned_jobs(dry_run(workflow_runner, tmp_path / "run", config, *extra))
    assert set(jobs) == ALWAYS | {"differential"}
