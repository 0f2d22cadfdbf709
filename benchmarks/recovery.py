"""Recovery benchmark: which mapping (and model) recovers a known network best, per transition.

Run by hand (not part of the tests); it prints a Markdown table and writes a CSV::

    python benchmarks/recovery.py                       # everything (7-10 min on 2 busy cores)
    python benchmarks/recovery.py --datasets sim_noise2.0 --methods joint,ot --models linear

Data sets
  sim_noise0.3, sim_noise1.0, sim_noise2.0
      ``transgrn.simulate.simulate(noise=...)`` with the demo's other parameters (1,600 cells, 30
      TFs, 300 targets, 3 true regulators + 6 decoys per target; targets respond to their TFs'
      activity ``lag = 0.15`` earlier in pseudotime, per-cell deviations correlated 0.5 over that
      lag); the transitions of the branching trajectory: stem cell -> progenitor, progenitor ->
      fate A, progenitor -> fate B.
  sim_branch2.0
      the same data as sim_noise2.0, scored on the two branch transitions only.
  sim_fast2.0
      noise 2.0 with a fast response: ``lag = 0.05`` and deviations correlated 0.8 over it (the
      simulator's earlier defaults), where the same-cell design is nearly right.
  krumsiek11
      scanpy's bundled ``krumsiek11`` data (640 cells x 11 genes, simulated from the myeloid
      Boolean network of Krumsiek et al. 2011, PLoS One 6:e22649): progenitor -> Ery, Mk, Mo,
      Neu. Pseudotime = the simulation's time step (cells are 4 realizations x 160 steps). The
      prior is every ordered pair of distinct genes (110 edges); the reference is the network's
      26 signed edges between distinct genes, read off the paper's Table 1 update rules (the
      same rules and coupling signs ship in scanpy/sim_models/krumsiek11.txt): in
      ``X = f(...)`` every regulator under ``not`` represses X, every other activates it.
      Self-loops are left out of prior and reference (a gene trivially predicts itself).

Each row averages the data set's transitions. Metrics as in transitions.tsv: ``auprc_ratio``,
``epr`` and ``sign_accuracy`` of the linear weights (for model ``mlp``: of the MLP's mean input
gradient per edge), held-out R^2 of the model on the mapping's test pairs, and seconds per
transition (mapping main + null, fit, evaluation; noisy on a shared machine). The fit is the
default ridge (alpha = 1) everywhere, so rows differ only in the mapping (and smoothing).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transgrn.evaluate import recovery_metrics
from transgrn.grn import TransitionData, build_mask, evaluate_transition, fit_mlp_transition, fit_transition, map_transition
from transgrn.mapping import CellSet
from transgrn.smoothing import smooth_clusters

FIT = {"alpha": 1.0, "fit_intercept": True, "device": "cpu", "dtype": "float64"}
MAPPING = {"n_pairs": 2000, "test_fraction": 0.2, "n_pcs": 20}

# (row name, mapping options, smoothing neighbours)
METHODS: dict[str, tuple[dict, int]] = {
    "random": ({"method": "random"}, 0),
    "ot": ({"method": "ot"}, 0),
    "ot_barycentric": ({"method": "ot", "barycentric": True}, 0),
    "ot_barycentric_smooth10": ({"method": "ot", "barycentric": True}, 10),
    "knn": ({"method": "knn"}, 0),
    "knn_barycentric": ({"method": "knn", "barycentric": True}, 0),
    "pseudotime_barycentric": ({"method": "pseudotime", "barycentric": True}, 0),
    "joint": ({"method": "joint"}, 0),
    "lagged": ({"method": "lagged"}, 0),
    "joint_smooth10": ({"method": "joint"}, 10),
    "hybrid": ({"method": "hybrid"}, 0),
}
MLP_METHODS = ("ot", "ot_barycentric", "joint", "lagged")

# Krumsiek et al. 2011, Table 1: each target's Boolean update rule, and the signed edges read off it
# (a regulator under "not" represses, any other activates; self-loops left out). The same rules and
# coupling signs ship with scanpy in scanpy/sim_models/krumsiek11.txt.
KRUMSIEK11_EDGES = {
    "Gata2": ("Gata2 and not (Gata1 and Fog1) and not Pu.1", {"Gata1": -1, "Fog1": -1, "Pu.1": -1}),
    "Gata1": ("(Gata1 or Gata2 or Fli1) and not Pu.1", {"Gata2": 1, "Fli1": 1, "Pu.1": -1}),
    "Fog1": ("Gata1", {"Gata1": 1}),
    "EKLF": ("Gata1 and not Fli1", {"Gata1": 1, "Fli1": -1}),
    "Fli1": ("Gata1 and not EKLF", {"Gata1": 1, "EKLF": -1}),
    "SCL": ("Gata1 and not Pu.1", {"Gata1": 1, "Pu.1": -1}),
    "Cebpa": ("Cebpa and not (Gata1 and Fog1 and SCL)", {"Gata1": -1, "Fog1": -1, "SCL": -1}),
    "Pu.1": ("(Cebpa or Pu.1) and not (Gata1 or Gata2)", {"Cebpa": 1, "Gata1": -1, "Gata2": -1}),
    "cJun": ("Pu.1 and not Gfi1", {"Pu.1": 1, "Gfi1": -1}),
    "EgrNab": ("(Pu.1 and cJun) and not Gfi1", {"Pu.1": 1, "cJun": 1, "Gfi1": -1}),
    "Gfi1": ("Cebpa and not EgrNab", {"Cebpa": 1, "EgrNab": -1}),
}


def krumsiek11_reference() -> pd.DataFrame:
    """The 26 signed edges between distinct genes of the Krumsiek et al. (2011) network."""
    return pd.DataFrame([{"tf": tf, "target_gene": target, "sign": sign}
                         for target, (_, regulators) in KRUMSIEK11_EDGES.items() for tf, sign in regulators.items()])


@dataclass
class Dataset:
    name: str
    transitions: list[tuple[str, CellSet, CellSet]]
    prior: pd.DataFrame
    genes: pd.Index
    reference: pd.DataFrame


def _cells(adata, key: str, label: str) -> CellSet:
    keep = (adata.obs[key] == label).to_numpy()
    return CellSet(adata.obs_names[keep].to_numpy(dtype=str), np.asarray(adata.X[keep], dtype=np.float64),
                   adata.obs["pseudotime"].to_numpy(dtype=float)[keep])


def simulated(pairs: list[tuple[str, str]], name: str, **params) -> Dataset:
    from transgrn.simulate import simulate

    sim = simulate(**params)
    stacked = sim.prior.stack()
    stacked = stacked[stacked != 0]
    prior = pd.DataFrame({"tf": stacked.index.get_level_values(0), "target_gene": stacked.index.get_level_values(1),
                          "sign": np.int8(0)})
    transitions = [(f"{a} -> {b}", _cells(sim.adata, "cell_type", a), _cells(sim.adata, "cell_type", b)) for a, b in pairs]
    return Dataset(name, transitions, prior, sim.adata.var_names, sim.reference)


def krumsiek11() -> Dataset:
    import scanpy as sc

    adata = sc.datasets.krumsiek11()
    adata.obs_names = [f"cell{i:03d}" for i in range(adata.n_obs)]  # 4 realizations reuse the names
    adata.obs["pseudotime"] = (np.arange(adata.n_obs) % 160) / 159.0
    genes = adata.var_names
    prior = pd.DataFrame([(a, b) for a in genes for b in genes if a != b], columns=["tf", "target_gene"])
    prior["sign"] = np.int8(0)
    transitions = [(f"progenitor -> {b}", _cells(adata, "cell_type", "progenitor"), _cells(adata, "cell_type", b))
                   for b in ("Ery", "Mk", "Mo", "Neu")]
    return Dataset("krumsiek11", transitions, prior, genes, krumsiek11_reference())


TRAJECTORY = [("stem cell", "progenitor"), ("progenitor", "fate A"), ("progenitor", "fate B")]
BRANCH = [("progenitor", "fate A"), ("progenitor", "fate B")]
DATASETS = {
    "sim_noise0.3": lambda: simulated(TRAJECTORY, "sim_noise0.3", noise=0.3),
    "sim_noise1.0": lambda: simulated(TRAJECTORY, "sim_noise1.0", noise=1.0),
    "sim_noise2.0": lambda: simulated(TRAJECTORY, "sim_noise2.0", noise=2.0),
    "sim_branch2.0": lambda: simulated(BRANCH, "sim_branch2.0", noise=2.0),
    "sim_fast2.0": lambda: simulated(TRAJECTORY, "sim_fast2.0", noise=2.0, lag=0.05, persistence=0.8),
    "krumsiek11": krumsiek11,
}


def run_transition(dataset: Dataset, label: str, source: CellSet, target: CellSet, options: dict, smooth: int,
                   models: list[str]) -> list[dict]:
    start = time.perf_counter()
    source, target = smooth_clusters(source, target, smooth)
    mask = build_mask(dataset.prior, source, target, dataset.genes)
    n_pcs = min(MAPPING["n_pcs"], len(dataset.genes) - 1)
    mcfg = {**MAPPING, "n_pcs": n_pcs, **options}
    data = TransitionData(source, target, dataset.genes, mask)
    mappings = {role: map_transition(source, target, role, label, mcfg, 0, data) for role in ("main", "null")}
    coefficients, intercepts, _ = fit_transition(data, mappings, FIT)
    metrics = evaluate_transition(data, mappings, coefficients, intercepts, dataset.reference)[0]
    lag = float(mappings["main"]["lag"].iloc[0]) if "lag" in mappings["main"] else np.nan
    rows = [{"model": "linear", "lag": lag, "auprc_ratio": metrics["auprc_ratio"], "epr": metrics["epr"],
             "sign_accuracy": metrics["sign_accuracy"], "r2_test": metrics["r2_test"],
             "r2_test_null": metrics["r2_test_null"], "seconds": time.perf_counter() - start}]
    if "mlp" in models:
        start = time.perf_counter()
        mlp_metrics, _, attribution = fit_mlp_transition(data, mappings["main"], 0, label, "cpu")
        active = attribution.loc[data.edge_active, ["tf", "target_gene", "attribution"]].rename(columns={"attribution": "weight"})
        recovered = recovery_metrics(active, dataset.reference)
        rows.append({"model": "mlp", "auprc_ratio": recovered["auprc_ratio"], "epr": recovered["epr"],
                     "sign_accuracy": recovered["sign_accuracy"], "r2_test": mlp_metrics["r2_test_mlp"],
                     "r2_test_null": np.nan, "seconds": time.perf_counter() - start})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--models", default="linear,mlp")
    parser.add_argument("--out", default="benchmarks/recovery_results.csv")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as in the workflow's jobs (threads: 1); more threads only contend on small fits
    models = args.models.split(",")
    rows = []
    for name in args.datasets.split(","):
        dataset = DATASETS[name]()
        for method in args.methods.split(","):
            options, smooth = METHODS[method]
            wanted = models if method in MLP_METHODS else ["linear"]
            for label, source, target in dataset.transitions:
                for row in run_transition(dataset, label, source, target, options, smooth, wanted):
                    rows.append({"dataset": name, "method": method, "transition": label, **row})
            print(f"done {name} {method}", flush=True)
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    summary = table.groupby(["dataset", "method", "model"], sort=False)[
        ["auprc_ratio", "epr", "sign_accuracy", "r2_test", "seconds"]].mean().reset_index()
    print(summary.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
