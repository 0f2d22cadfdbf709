from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from transgrn.simulate import simulate

REPO = Path(__file__).resolve().parents[1]
# A three-transition run on a tiny simulated demo, for the workflow tests that run Snakemake
TINY_DEMO_CONFIG = {
    "data": {"adata": "resources/demo/adata.h5ad", "prior": "resources/demo/prior.csv", "cluster_key": "cell_type",
             "pseudotime_key": "pseudotime"},
    "reference": "resources/demo/reference.csv",
    "demo": {"n_cells": 300, "n_tfs": 8, "n_targets": 40},
    "transitions": {"mode": "explicit", "explicit": [["stem cell", "progenitor"], ["progenitor", "fate A"],
                                                     ["progenitor", "fate B"]]},
    "mapping": {"n_pairs": 200},
}


def snakemake_command(workdir: Path, config: dict | None, *extra: str) -> list[str]:
    """``snakemake`` on this checkout's Snakefile in ``workdir``, with ``config`` written there and
    passed as the run's only --configfile (None: no config at all, as a bare ``snakemake``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    if config is not None:
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        command += ["--configfile", str(workdir / "config.yaml")]
    return command + list(extra)


def run_snakemake(workdir: Path, config: dict | None, *extra: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_command(workdir, config, *extra), capture_output=True, text=True, timeout=timeout)


def planned_jobs(output: str) -> dict[str, int]:
    """Job counts from the 'Job stats' table of a dry run."""
    stats = output.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="session")
def small_simulation():
    return simulate(n_cells=400, n_tfs=12, n_targets=60, seed=3)


@pytest.fixture(scope="session")
def schema():
    from transgrn.config import load_schema

    return load_schema(REPO / "workflow/schemas/config.schema.yaml")


def edges_of(prior_wide: pd.DataFrame) -> pd.DataFrame:
    stacked = prior_wide.stack()
    stacked = stacked[stacked != 0]
    return pd.DataFrame({"tf": stacked.index.get_level_values(0), "target_gene": stacked.index.get_level_values(1),
                         "sign": np.int8(0)})


def cluster_cells(adata, label: str):
    """One cluster of a simulation as a CellSet (names, expression, pseudotime)."""
    from transgrn.mapping import CellSet

    keep = (adata.obs["cell_type"] == label).to_numpy()
    return CellSet(adata.obs_names[keep].to_numpy(), adata.X[keep], adata.obs["pseudotime"].to_numpy()[keep])


def transition_of(sim, source_label: str, target_label: str):
    """Source and target cells of a simulated transition and its mask over the simulation's prior."""
    from transgrn.grn import build_mask

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
