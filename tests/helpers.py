"""Plain helpers shared by the tests (fixtures live in conftest.py). Importable as ``helpers``:
pytest puts tests/ on ``sys.path`` (the rootdir conftest, no ``__init__.py``)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
# tiny workflow configs, one file each, as the snakemake-workflows keep theirs
TEST_CONFIGS = REPO / ".test/config"
# test-only start-up hook that makes one rule's first cluster job fail (see its docstring)
FAULT_INJECTION = Path(__file__).resolve().parent / "fault_injection"


def workflow_config(name: str) -> dict:
    """The workflow config ``.test/config/<name>.yaml`` as a dict (paths in it are relative to the
    run's working directory, where the demo's inputs are simulated)."""
    return yaml.safe_load((TEST_CONFIGS / f"{name}.yaml").read_text())


@dataclass(frozen=True)
class WorkflowRunner:
    """Snakemake on this checkout's Snakefile in a subprocess, in a working directory of its own,
    as a user runs it. ``args`` go to every run (``--cores``, a target): see :meth:`with_args`.
    Tests get one from the ``workflow_runner`` fixture."""

    args: tuple[str, ...] = ()

    def with_args(self, *args: str) -> WorkflowRunner:
        return WorkflowRunner(self.args + args)

    def command(self, workdir: Path, config: dict | None, *extra: str) -> list[str]:
        """The command line, with ``config`` written to ``workdir/config.yaml`` and passed as the
        run's only --configfile (None: no config at all, as a bare ``snakemake``)."""
        workdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
                   str(workdir)]
        if config is not None:
            (workdir / "config.yaml").write_text(yaml.safe_dump(config))
            command += ["--configfile", str(workdir / "config.yaml")]
        return command + list(self.args) + list(extra)

    def __call__(self, workdir: Path, config: dict | None, *extra: str, timeout: int = 900,
                 environment: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run it to the end; ``environment`` adds variables to this process's."""
        env = {**os.environ, **environment} if environment else None
        return subprocess.run(self.command(workdir, config, *extra), capture_output=True, text=True, timeout=timeout,
                              env=env)


def failing_once(rule: str, marker: Path) -> dict[str, str]:
    """Environment variables that make the first cluster job of ``rule`` (e.g. ``fit_grn``) fail and
    create ``marker``; later jobs run normally."""
    path = os.pathsep.join(p for p in (str(FAULT_INJECTION), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "TRANSGRN_TEST_FAIL_ONCE": f"{rule}:{marker}"}


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    stats = output.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m.group(1) != "total"}


def edges_of(prior_wide: pd.DataFrame) -> pd.DataFrame:
    stacked = prior_wide.stack()
    stacked = stacked[stacked != 0]
    return pd.DataFrame({"tf": stacked.index.get_level_values(0), "target_gene": stacked.index.get_level_values(1),
                         "sign": np.int8(0)})


def cluster_cells(adata, label: str):
    """One cluster of a simulation as a CellSet (names, expression, pseudotime)."""
    from transgrn.cells import CellSet

    keep = (adata.obs["cell_type"] == label).to_numpy()
    return CellSet(adata.obs_names[keep].to_numpy(), adata.X[keep], adata.obs["pseudotime"].to_numpy()[keep])


def transition_of(sim, source_label: str, target_label: str):
    """Source and target cells of a simulated transition and its mask over the simulation's prior."""
    from transgrn.mask import build_mask

    source, target = cluster_cells(sim.adata, source_label), cluster_cells(sim.adata, target_label)
    return source, target, build_mask(edges_of(sim.prior), source, target, sim.adata.var_names)


def write_inputs(sim, directory: Path, prior_format: str = "wide") -> dict[str, str]:
    """Write a simulation's inputs; return the config's data section."""
    directory.mkdir(parents=True, exist_ok=True)
    sim.adata.write_h5ad(directory / "adata.h5ad")
    if prior_format == "wide":
        sim.prior.to_csv(directory / "prior.csv", index_label="tf")
    else:
        edges_of(sim.prior)[["tf", "target_gene"]].to_csv(directory / "prior.csv", index=False)
    sim.reference.to_csv(directory / "reference.csv", index=False)
    return {"adata": str(directory / "adata.h5ad"), "prior": str(directory / "prior.csv"), "cluster_key": "cell_type",
            "pseudotime_key": "pseudotime"}
