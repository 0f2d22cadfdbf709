"""The workflow as a Snakemake module of another workflow (``module transgrn: snakefile: ...`` /
``use rule * from transgrn``), from a local path: the outer workflow lives in its own folder, so
every path the workflow takes from its own location must follow the module's Snakefile, not the
outer one (``workflow.basedir`` is the outer workflow's folder)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import REPO, planned_jobs, workflow_config

pytestmark = pytest.mark.workflow

OUTER_SNAKEFILE = """\
configfile: "config.yaml"


module transgrn:
    snakefile: {snakefile!r}
    config: config


use rule * from transgrn
"""
# before the checkpoint ran, the per-transition jobs are unknown
BEFORE_CHECKPOINT = {"simulate_demo", "prepare", "aggregate", "report", "all"}
STAGES = ("map_cells", "fit_grn", "evaluate_grn", "plot_transition")


def outer_workflow(directory: Path) -> Path:
    """A workflow of its own in ``directory`` that uses this checkout's as a module, on the tiny demo."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Snakefile").write_text(OUTER_SNAKEFILE.format(snakefile=str(REPO / "Snakefile")))
    (directory / "config.yaml").write_text(yaml.safe_dump(workflow_config("tiny_demo")))
    return directory


def snakemake(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(directory / "Snakefile"),
                           "--directory", str(directory), "--cores", "1", *args],
                          capture_output=True, text=True, timeout=600)


def test_a_dry_run_of_an_outer_workflow_plans_the_whole_run(tmp_path):
    outer = outer_workflow(tmp_path / "outer")
    result = snakemake(outer, "-n")
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert set(planned_jobs(result.stdout + result.stderr)) == BEFORE_CHECKPOINT
    assert not (outer / "results").exists()


def test_after_the_checkpoint_the_module_plans_every_transition(tmp_path):
    """The input functions that read the checkpoint's table (transitions, resources) in a module."""
    outer = outer_workflow(tmp_path / "outer")
    ran = snakemake(outer, "--until", "prepare")
    assert ran.returncode == 0, ran.stderr[-5000:]
    assert (outer / "results/prepared/transitions.tsv").exists()
    result = snakemake(outer, "-n")
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    jobs = planned_jobs(result.stdout + result.stderr)
    assert set(STAGES) <= set(jobs) and all(jobs[stage] == 3 for stage in STAGES)  # one job per transition
    assert "prepare" not in jobs and "simulate_demo" not in jobs
