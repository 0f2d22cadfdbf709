"""Fixtures shared by the tests. Plain helper functions are in helpers.py (``from helpers import``),
the tiny workflow configs in .test/config/ (``helpers.workflow_config``).

Every test that runs Snakemake through :func:`workflow_runner`, itself or through a fixture built on
it (:func:`report_demo`), is marked ``workflow`` here, so that ``make test-fast`` (``-m "not workflow"``)
leaves it out without each test having to say so; tests that start Snakemake otherwise carry the
marker themselves (test_module.py, test_slurm.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO, WorkflowRunner, workflow_config

from transgrn.simulate import simulate

WORKFLOW_FIXTURES = {"workflow_runner"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # fixturenames is the closure: a fixture that uses workflow_runner counts as well
        if WORKFLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.workflow)


@pytest.fixture(scope="session")
def workflow_runner() -> WorkflowRunner:
    """Runs Snakemake on this checkout in a subprocess: ``workflow_runner(workdir, config, *args)``;
    ``.with_args(...)`` for arguments every run of a module shares, ``.command(...)`` for the line."""
    return WorkflowRunner()


@pytest.fixture(scope="session")
def report_demo(tmp_path_factory, workflow_runner) -> Path:
    """The working directory of a whole run on .test/config/report_demo.yaml (3 transitions, every
    figure), made once per session for the report's and the browser's tests."""
    workdir = tmp_path_factory.mktemp("report_demo")
    result = workflow_runner(workdir, workflow_config("report_demo"), "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


@pytest.fixture(scope="session")
def small_simulation():
    return simulate(n_cells=400, n_tfs=12, n_targets=60, seed=3)


@pytest.fixture(scope="session")
def schema():
    from transgrn.config import load_schema

    return load_schema()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny torch fits, as in the workflow's one-thread jobs: more threads only contend on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
