from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
