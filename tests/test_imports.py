"""Imports only where used (issue #11): the rule files import the job modules (transgrn.jobs) when
Snakemake reads the workflow, for every `snakemake -n` and every cluster job; heavy libraries are
imported inside the functions that need them, so reading the workflow stays cheap."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import REPO

# transgrn.jobs.preload is what the workers' server imports to load these libraries once (no rule file
# imports it), so it is the one module of transgrn.jobs that imports them at start
JOB_MODULES = sorted(path.stem for path in (REPO / "src/transgrn/jobs").glob("*.py")
                     if not path.stem.startswith("_") and path.stem != "preload")
# Imported inside the functions that use them: torch by the solvers and the MLP, scipy.stats by the
# bootstrap's tests, scikit-learn by smoothing and some mappings, matplotlib by the figures; scanpy by
# nothing at all (the PAGA graph is computed by transgrn.transitions itself).
NOT_AT_START = ("torch", "scanpy", "scipy.stats", "sklearn", "matplotlib")


def modules_imported_at_start(module: str) -> set[str]:
    """Every module that importing ``transgrn.jobs.<module>`` imports, by ``python -X importtime``."""
    load = f"import pandas, transgrn.jobs.{module}"  # pandas: Snakemake has it loaded already
    run = subprocess.run([sys.executable, "-X", "importtime", "-c", load],
                         capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line.split("|")[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")]
    assert len(lines) > 10, run.stderr[-3000:]  # importtime really reported: a test that cannot fail is no test
    return set(lines[1:])  # the first line is the table's header


@pytest.mark.parametrize("module", JOB_MODULES)
def test_no_job_module_imports_a_heavy_library_at_start(module):
    imported = modules_imported_at_start(module)
    assert f"transgrn.jobs.{module}" in imported  # the parsing sees the module's own imports
    assert not set(NOT_AT_START) & imported, f"transgrn.jobs.{module} imports {sorted(set(NOT_AT_START) & imported)} at start"


def test_torch_runs_on_the_jobs_threads():
    """torch imported before the job's OMP_NUM_THREADS was set (as in a notebook) still solves on
    the job's threads: torch alone would keep every core."""
    code = ("import os, torch; torch.set_num_threads(2); os.environ['OMP_NUM_THREADS'] = '1';"
            "from transgrn.solvers import resolve_device; resolve_device('cpu'); print(torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["1"]


def test_the_default_path_needs_neither_sklearn_nor_scipy_stats():
    """The work of a default transition -- the null's PCA, the bootstrap's t-test and q-values, the
    recovery scores -- runs without importing scikit-learn or scipy.stats, about a second of start-up
    each in every mapping, fit and evaluation job (their values equal those libraries', tested in
    test_mapping, test_confidence and test_evaluate)."""
    code = """
import sys
import numpy as np, pandas as pd
from transgrn.cells import CellSet
from transgrn.confidence import bootstrap_edges
from transgrn.mapping import shared_pca
from transgrn.metrics import recovery_metrics
from transgrn.solvers import MaskedRidge
rng = np.random.default_rng(0)
cells = [CellSet(np.array([f"{c}{i}" for i in range(40)]), rng.poisson(1.0, (40, 12)).astype(float), None) for c in "ab"]
shared_pca(*cells, n_pcs=5, seed=0)
x, y = rng.normal(size=(60, 4)), rng.normal(size=(60, 3))
out = bootstrap_edges(lambda: MaskedRidge(alpha=1.0), x, y, np.ones((4, 3), bool), n_boot=5, seed=0)
edges = pd.DataFrame({"tf": list("aabb"), "target_gene": list("xyxy"), "weight": [1.0, 0.0, -0.5, 0.2]})
recovery_metrics(edges, pd.DataFrame({"tf": ["a", "b"], "target_gene": ["x", "y"], "sign": [1, 1]}))
assert np.isfinite(out["qvalue"]).all()
print(sorted(m for m in ("sklearn", "scipy.stats") if m in sys.modules))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["[]"]
