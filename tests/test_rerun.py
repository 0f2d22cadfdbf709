"""Reproducible and resumable runs: nothing to do on a rerun, byte-identical forced reruns,
fit-only changes rerun only the fits, provenance in every output, and a run killed with
SIGKILL during the per-transition jobs completes with --rerun-incomplete to the same bytes."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import planned_jobs, workflow_config

from transgrn.io import PROVENANCE_KEY, read_provenance, sha256

pytestmark = pytest.mark.workflow

CONFIG = {**workflow_config("tiny_demo"), "seed": 7}
RESULT_FILES = ("transitions.tsv", "edges.parquet", "grn_tensor.h5ad", "provenance.json")
# the result tables (rule aggregate); the figures and report.html are left out to keep the tests short
TARGET = "results/provenance.json"


@pytest.fixture(scope="module")
def snakemake(workflow_runner):
    return workflow_runner.with_args("--cores", "2", TARGET)


def result_hashes(workdir: Path) -> dict[str, str]:
    """sha256 of the result files and of every per-transition Parquet file."""
    results = workdir / "results"
    files = [results / name for name in RESULT_FILES] + sorted(results.glob("transitions/*/*.parquet"))
    return {str(f.relative_to(workdir)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, snakemake):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    result = snakemake(workdir, CONFIG)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir, result_hashes(workdir)


def test_rerun_does_nothing_and_a_forced_rerun_is_byte_identical(finished_run, snakemake):
    workdir, hashes = finished_run
    assert len([k for k in hashes if "/transitions/" in k]) >= 3 * 7  # mask, 2 mappings, fit (2), evaluation (2)
    dry = snakemake(workdir, CONFIG, "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    forced = snakemake(workdir, CONFIG, "--forceall")
    assert forced.returncode == 0, forced.stderr[-5000:]
    done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", forced.stderr)
    assert done and int(done[-1][1]) >= 3 * 3 + 3, done  # it really reran every job (3 per transition: mapping, fit, evaluation)
    assert result_hashes(workdir) == hashes


def test_changing_a_fit_parameter_reruns_the_fits_not_the_mappings(finished_run, snakemake):
    workdir, _ = finished_run
    changed = {**CONFIG, "fit": {"alpha": 5.0}}
    dry = snakemake(workdir, changed, "-n", "--quiet", "rules")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = planned_jobs(dry.stdout + dry.stderr)
    assert jobs.get("fit_grn") == 3 and jobs.get("evaluate_grn") == 3 and jobs.get("aggregate") == 1  # one a transition
    assert not {"prepare", "map_cells", "simulate_demo"} & set(jobs), jobs
    assert "params have changed since last execution" in dry.stdout + dry.stderr
    # and a mapping change reruns the mappings (and what depends on them), not the checkpoint
    remap = snakemake(workdir, {**CONFIG, "mapping": {"n_pairs": 150}}, "-n", "--quiet", "rules")
    remapped = planned_jobs(remap.stdout + remap.stderr)
    assert remapped.get("map_cells") == 3 and remapped.get("fit_grn") == 3 and "prepare" not in remapped, remapped


def test_changing_a_report_setting_does_not_rerun_aggregate(finished_run, snakemake):
    workdir, _ = finished_run
    # aggregate took the whole config as params: report.top_edges reran it and rewrote the results
    dry = snakemake(workdir, {**CONFIG, "report": {"top_edges": 3}}, "-n", "--quiet", "rules")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, planned_jobs(dry.stdout + dry.stderr)
    # while a setting that the results depend on does: the filter picks edges_filtered.parquet's edges
    # (aggregate) and the confident edges the TF scores are computed over (evaluate_grn, per transition)
    refilter = snakemake(workdir, {**CONFIG, "filter": {"top_k": 5}}, "-n", "--quiet", "rules")
    assert planned_jobs(refilter.stdout + refilter.stderr) == {"aggregate": 1, "evaluate_grn": 3}


def test_writing_out_defaults_or_reordering_keys_reruns_nothing(finished_run, snakemake):
    """The completed config has one key order (transgrn.config.canonical_order): a default written
    out (models: [linear], fit.solver: ridge) or keys in another order gave other rule params, which
    Snakemake took for a change and reran aggregate and the report."""
    workdir, _ = finished_run
    spelled = {"models": ["linear"], **dict(reversed(list(CONFIG.items())))}
    spelled["fit"] = {"solver": "ridge", **CONFIG.get("fit", {})}
    dry = snakemake(workdir, spelled, "-n", "--quiet", "rules")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "Nothing to be done" in dry.stdout + dry.stderr, planned_jobs(dry.stdout + dry.stderr)


def test_every_output_records_config_checksums_versions_and_seed(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    transition = results / "transitions/c01_progenitor__c02_fate_A"
    fit = read_provenance(transition / "coefficients.parquet")
    assert fit["rule"] == "fit_grn" and fit["seed"] == 7 and fit["wildcards"] == {"transition": transition.name}
    assert fit["params"]["fit"]["alpha"] == "auto"
    for name in ("mask", "mapping_main", "source"):  # checksums of the job's own inputs, as read
        record = fit["inputs"][name]
        assert record["sha256"] == sha256(workdir / record["path"]), name
    assert {"python", "numpy", "torch", "snakemake", "transgrn", "transgrn_source_sha256"} <= set(fit["versions"])
    mapping = read_provenance(transition / "mapping_main.parquet")
    assert mapping["params"]["options"]["n_pairs"] == 200 and mapping["params"]["seed"] == 7  # rule param `options`
    assert "fit" not in mapping["params"]  # a mapping does not depend on the fit's settings
    metrics = json.loads((transition / "metrics.json").read_text())
    assert metrics[PROVENANCE_KEY]["rule"] == "evaluate_grn"

    data_inputs = json.loads((results / "prepared/summary.json").read_text())["inputs"]
    assert data_inputs["adata"]["sha256"] == sha256(workdir / "resources/demo/adata.h5ad")
    for path in (results / "grn_tensor.h5ad", results / "edges.parquet", results / "prepared/prior_edges.parquet",
                 results / "prepared/clusters/c00_stem_cell.h5ad"):
        record = read_provenance(path)
        assert record["inputs"]["adata"] == data_inputs["adata"], path
        assert record["seed"] == 7 and record["versions"] == fit["versions"], path
    tensor = read_provenance(results / "grn_tensor.h5ad")
    assert tensor["params"]["mapping"]["n_pairs"] == 200 and tensor["params"]["transitions"]["mode"] == "explicit"
    beside = json.loads((results / "provenance.json").read_text())
    assert {k: v for k, v in beside.items() if k != "outputs"} == tensor
    for output in beside["outputs"].values():
        assert output["sha256"] == sha256(workdir / output["path"])


def readable(path: Path) -> bool:
    import anndata as ad

    try:
        if path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".h5ad":
            ad.read_h5ad(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        return True
    except Exception:
        return False


def test_a_killed_run_resumes_with_rerun_incomplete_to_the_same_results(finished_run, tmp_path, snakemake):
    _, hashes = finished_run
    workdir = tmp_path / "killed"
    # its own session, so that SIGKILL takes Snakemake and the jobs it started, like a lost node
    process = subprocess.Popen(snakemake.command(workdir, CONFIG), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    transitions = workdir / "results/transitions"
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if len(list(transitions.glob("*/mapping_*.parquet"))) >= 2:  # per-transition jobs are under way
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (workdir / "results/transitions.tsv").exists()
    # nothing half-written where a rule reads: every output path holds a complete file
    outputs = [p for p in (workdir / "results").rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert outputs and all(readable(p) for p in outputs), [p for p in outputs if not readable(p)]

    assert snakemake(workdir, CONFIG, "--unlock").returncode == 0
    resumed = snakemake(workdir, CONFIG, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-5000:]
    assert result_hashes(workdir) == hashes
    leftovers = [p for p in (workdir / "results").rglob(".*") if p.is_file() and p.name != ".snakemake_timestamp"]
    assert not leftovers, leftovers  # temporaries of killed writers are cleared when their output is rewritten
