"""Sign benchmark (issue #26, items 2 and 3): how often the fitted weight's sign is right, against the
sign of the plain Pearson correlation on the same edges and rows; what makes the fit flip signs; and
whether ``sign_confidence`` is calibrated.

Run by hand (not part of the tests); it prints Markdown tables and writes a CSV (``--out``)::

    python benchmarks/signs.py --tracks sim,krumsiek11,hill,guo            # the defaults and each cause switched off (2 min)
    python benchmarks/signs.py --tracks boolean --variants defaults        # the Boolean track (when present)
    python benchmarks/signs.py --datasets krumsiek11,guo --variants defaults,no_borrow
    python benchmarks/signs.py --flips --tracks sim,krumsiek11,hill,guo    # flipped edges by collinearity with the target's other TFs
    python benchmarks/signs.py --calibration                               # sign_confidence with fit.bootstrap: 20 (6 min)

Tracks: those of ``benchmarks/recovery.py`` (its data sets and the shipped defaults, borrowing from the
pooled network as the workflow does), ``guo``: Guo et al. 2010 (data/guo2010) as ``config/guo.yaml``
runs it (stages as clusters, 2C -> 4C -> ... -> 64C, mapping ``joint``, the uninformative prior, the
curated reference of 12 signed edges), and ``boolean``: recovery.py's Boolean-logic data sets (decoy
prior and none) when recovery.py has that track.

Per transition, over the reference's signed edges among the prior's (a zero weight counts as wrong, as
:func:`transgrn.metrics.recovery_metrics` does):

- ``sign_fit``: the sign of the network's ``weight``;
- ``sign_corr``: the sign of the Pearson correlation of the TF's input column and the target's output
  column over the rows the network is fitted on (every pair of the main mapping; for the lagged design
  the shifted TF inputs; ``sign_corr_raw`` the unshifted ones; ``sign_corr_within`` centred within each
  cluster, i.e. without the difference between the two clusters' means);
- for the Boolean data sets also one row per data set scored as recovery.py's Boolean track scores
  (``transition`` = its network: each edge's weight, or correlation, from the transition where it is
  largest in absolute value).

Variants (``--variants``) switch one cause off at a time: ``no_borrow`` (``fit.borrow_below: 0``),
``no_lag`` (``mapping.method: joint``), ``alpha_x10`` / ``alpha_x100`` (the penalty the defaults
choose, times 10 / 100), ``true_only`` (the prior cut to the reference's edges: no decoy TFs). ``--fit
key=value`` passes fit options to every variant.

``--calibration``: the defaults with ``fit.bootstrap: 20``; per data set, of the reference edges with
``sign_confidence`` at or above 0.5 / 0.9 / 0.95, how many and the share with the right sign (edges
without a sign confidence -- inactive, borrowed -- are never counted as confident). The edges are
written to ``--out`` with ``.parquet`` for further analysis.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import recovery  # noqa: E402
from recovery import DATASETS, Dataset, dataset_clusters, guo, shipped_defaults  # noqa: E402
from transgrn.cells import CellSet, knn_smooth, smooth_clusters  # noqa: E402
from transgrn.design import EVERY_PAIR, TransitionData  # noqa: E402
from transgrn.fit import fit_pooled, fit_transition  # noqa: E402
from transgrn.options import MappingOptions, FitOptions  # noqa: E402
from transgrn.mapping import map_transition  # noqa: E402
from transgrn.mask import build_mask  # noqa: E402
from transgrn.metrics import recovery_metrics  # noqa: E402
from transgrn.pooled import PooledNetwork, cluster_share, pooled_cells  # noqa: E402

# the mapping method each track's configuration uses (the shipped default elsewhere)
TRACK_MAPPING = {"guo": {"method": "joint"}}
ALL_DATASETS = {**DATASETS, "guo": guo}
ALL_TRACKS = {**recovery.TRACKS, "guo": ["guo"]}
if hasattr(recovery, "boolean_dataset"):  # the Boolean track (branch bool-track): its data sets, decoy prior and none
    from boolean_simulator import TOPOLOGIES

    for _topology in TOPOLOGIES:
        for _dropout in (False, True):
            for _prior in recovery.BOOLEAN_PRIORS:
                ALL_DATASETS[recovery.boolean_name(_topology, _dropout, _prior)] = functools.partial(
                    recovery.boolean_dataset, _topology, _dropout, _prior)
    ALL_TRACKS["boolean"] = [name for name in ALL_DATASETS if name.startswith("bool_")]

VARIANTS: dict[str, tuple[dict, dict]] = {  # name: (mapping overrides, fit overrides)
    "defaults": ({}, {}),
    "no_borrow": ({}, {"borrow_below": 0.0}),
    "no_lag": ({"method": "joint"}, {}),
    "alpha_x10": ({}, {"alpha_scale": 10.0}),
    "alpha_x100": ({}, {"alpha_scale": 100.0}),
    "true_only": ({}, {}),
    "smooth10": ({}, {}),  # data.smooth: 10 (kNN-smoothed, denoised inputs and outputs)
}
SMOOTH = {"smooth10": 10}


def strongest_over_transitions(networks: list[pd.DataFrame], prior: pd.DataFrame) -> pd.DataFrame:
    """One network from a data set's transition networks: each prior edge's weight from the transition
    where |weight| is largest (0 where no transition estimated it) -- the network whose signs this
    script diagnoses (the workflow's run-level network signs by the summed weights instead)."""
    stacked = pd.concat(networks, ignore_index=True)[["tf", "target_gene", "weight"]]
    stacked = stacked.assign(size=stacked["weight"].abs()).sort_values("size", ascending=False, kind="stable")
    strongest = stacked.drop_duplicates(["tf", "target_gene"])[["tf", "target_gene", "weight"]]
    return prior[["tf", "target_gene"]].merge(strongest, on=["tf", "target_gene"], how="left").fillna({"weight": 0.0})


def edge_correlation(x: np.ndarray, y, tf: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation of input column ``tf[i]`` with output column ``target[i]`` per edge (0 where either is constant)."""
    y = y.toarray() if sp.issparse(y) else np.asarray(y)
    xc = x - x.mean(0)
    yc = y - y.mean(0)
    cov = np.einsum("ij,ij->j", xc[:, tf], yc[:, target])
    scale = np.sqrt(np.einsum("ij,ij->j", xc, xc)[tf] * np.einsum("ij,ij->j", yc, yc)[target])
    return np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 0)


def row_cluster(mapping: pd.DataFrame, data: TransitionData) -> np.ndarray:
    """Per design row (every pair, in design order): 0 if its input cell is a source cell, else 1."""
    first = mapping.drop_duplicates("pair").sort_values("pair", kind="stable")
    return (~first["source_cell"].isin(data.source.names)).to_numpy().astype(int)


def centred_by(groups: np.ndarray, x: np.ndarray, y) -> tuple[np.ndarray, np.ndarray]:
    y = y.toarray() if sp.issparse(y) else np.asarray(y, dtype=np.float64)
    x, y = x.copy(), y.copy()
    for g in np.unique(groups):
        rows = groups == g
        x[rows] -= x[rows].mean(0)
        y[rows] -= y[rows].mean(0)
    return x, y


def sign_accuracy(values: pd.Series | np.ndarray, edges: pd.DataFrame, reference: pd.DataFrame) -> float:
    table = edges[["tf", "target_gene"]].assign(weight=np.asarray(values, dtype=float))
    return recovery_metrics(table, reference)["sign_accuracy"]


@functools.cache
def load(name: str) -> Dataset:
    return ALL_DATASETS[name]()


def pooled_for(dataset: Dataset, fit: FitOptions, smooth: int = 0) -> PooledNetwork | None:
    if fit.borrow_below <= 0:
        return None
    clusters = dataset_clusters(dataset)
    if smooth > 1:  # as transgrn.pooled.load_pooled_cells: each cluster over its own neighbours
        clusters = {name: CellSet(cells.names, knn_smooth(cells.matrix, smooth).astype(np.float32), cells.pseudotime)
                    for name, cells in clusters.items()}
    cells = pooled_cells(clusters.items(), cluster_share(fit.pooled_max_cells, len(clusters)), 0)
    return fit_pooled(cells, dataset.genes, dataset.prior, fit, 0)


def variant_options(name: str, variant: str, extra_fit: dict) -> tuple[dict, FitOptions, float | None]:
    """A variant's mapping options, fit options and ``alpha_scale`` (None: the penalty as configured)."""
    mapping, fit = shipped_defaults()
    mapping_over, fit_over = VARIANTS.get(variant, ({}, {}))
    mapping = {**mapping, **TRACK_MAPPING.get(name, {}), **mapping_over}
    fit = {**fit, **fit_over, **extra_fit}
    scale = fit.pop("alpha_scale", None)
    return mapping, FitOptions.from_config(fit), scale


def run_dataset(name: str, variant: str, extra_fit: dict | None = None, keep: bool = False) -> tuple[list[dict], list]:
    """One row per transition of data set ``name`` under ``variant``; ``keep``: also each transition's
    (edges table with weight, corr and the fit's other columns) for calibration."""
    dataset = load(name)
    mapping_options, fit, scale = variant_options(name, variant, extra_fit or {})
    prior = dataset.prior
    if variant == "true_only":
        keys = pd.MultiIndex.from_frame(dataset.reference[["tf", "target_gene"]])
        prior = prior[pd.MultiIndex.from_frame(prior[["tf", "target_gene"]]).isin(keys)]
        dataset = replace(dataset, prior=prior)
    smooth = SMOOTH.get(variant, 0)
    pooled = pooled_for(dataset, fit, smooth)
    rows, kept = [], []
    for label, source, target in dataset.transitions:
        start = time.perf_counter()
        source, target = smooth_clusters(source, target, smooth)
        mask = build_mask(prior, source, target, dataset.genes, mapping_options["method"])
        mcfg = {**mapping_options, "n_pcs": min(mapping_options["n_pcs"], len(dataset.genes) - 1)}
        data = TransitionData(source, target, dataset.genes, mask)
        mappings = {role: map_transition(source, target, role, label, MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
        options = fit
        if scale is not None:  # the penalty the defaults choose, times scale
            _, _, info = fit_transition(data, {"main": mappings["main"]}, replace(fit, bootstrap=0), pooled=pooled)
            options = replace(fit, alpha=info["alpha"] * scale)
        coefficients, _, info = fit_transition(data, {"main": mappings["main"]}, options, pooled=pooled)
        x, y = data.design(mappings["main"], EVERY_PAIR)
        corr = edge_correlation(x, y, data.edge_tf, data.edge_target)
        unshifted = mappings["main"].copy()
        unshifted.attrs = {}
        x_raw, _ = data.design(unshifted, EVERY_PAIR)
        corr_raw = edge_correlation(x_raw, y, data.edge_tf, data.edge_target)
        cluster = row_cluster(mappings["main"], data)
        corr_within = edge_correlation(*centred_by(cluster, x, y), data.edge_tf, data.edge_target)
        edges = coefficients.assign(corr=corr, corr_raw=corr_raw, corr_within=corr_within)
        if pooled is not None:
            edges = edges.merge(pooled.weights.rename(columns={"weight": "pooled_weight"}), on=["tf", "target_gene"],
                                how="left")
        row = {"dataset": name, "variant": variant, "transition": label, "alpha": info["alpha"],
               "sign_fit": sign_accuracy(edges["weight"], edges, dataset.reference),
               "sign_corr": sign_accuracy(corr, edges, dataset.reference),
               "sign_corr_raw": sign_accuracy(corr_raw, edges, dataset.reference),
               "sign_corr_within": sign_accuracy(corr_within, edges, dataset.reference),
               "auprc_ratio": recovery_metrics(edges[["tf", "target_gene", "weight"]], dataset.reference)["auprc_ratio"],
               "auprc_corr": recovery_metrics(edges[["tf", "target_gene"]].assign(weight=np.abs(corr)),
                                              dataset.reference)["auprc_ratio"],
               "borrowed": int(edges["borrowed"].sum()), "seconds": time.perf_counter() - start}
        rows.append(row)
        kept.append(edges.assign(dataset=name, transition=label))
    if name.startswith("bool_"):  # the track's own score: one network per data set, max |w| over transitions
        network = {column: strongest_over_transitions(
            [frame[["tf", "target_gene", column]].rename(columns={column: "weight"}) for frame in kept], dataset.prior)
            for column in ("weight", "corr")}
        rows.append({"dataset": name, "variant": variant, "transition": "network: max |w| over transitions",
                     "sign_fit": sign_accuracy(network["weight"]["weight"], network["weight"], dataset.reference),
                     "sign_corr": sign_accuracy(network["corr"]["weight"], network["corr"], dataset.reference),
                     "auprc_ratio": recovery_metrics(network["weight"], dataset.reference)["auprc_ratio"]})
    return rows, kept if keep else []


def flips(name: str) -> pd.DataFrame:
    """Where the defaults' weight and the correlation disagree on a reference edge: which is right, and
    how collinear the TF is with the target's other prior TFs (max |corr| among the design's inputs)."""
    dataset = load(name)
    mapping_options, fit, _ = variant_options(name, "defaults", {})
    pooled = pooled_for(dataset, fit)
    rows = []
    for label, source, target in dataset.transitions:
        mask = build_mask(dataset.prior, source, target, dataset.genes, mapping_options["method"])
        mcfg = {**mapping_options, "n_pcs": min(mapping_options["n_pcs"], len(dataset.genes) - 1)}
        data = TransitionData(source, target, dataset.genes, mask)
        mapping = map_transition(source, target, "main", label, MappingOptions.from_config(mcfg), 0, data)
        coefficients, _, _ = fit_transition(data, {"main": mapping}, fit, pooled=pooled)
        x, y = data.design(mapping, EVERY_PAIR)
        corr = edge_correlation(x, y, data.edge_tf, data.edge_target)
        tf_corr = np.nan_to_num(np.corrcoef(x, rowvar=False))
        np.fill_diagonal(tf_corr, 0)
        merged = coefficients.assign(corr=corr, edge=np.arange(len(corr))).merge(dataset.reference[["tf", "target_gene", "sign"]], on=["tf", "target_gene"])
        for edge in merged.itertuples():
            tf, tgt = data.edge_tf[edge.edge], data.edge_target[edge.edge]
            others = np.flatnonzero(data.mask[:, tgt])
            others = others[others != tf]
            rows.append({"dataset": name, "transition": label, "tf": edge.tf, "target": edge.target_gene,
                         "sign": edge.sign, "fit_right": np.sign(edge.weight) == edge.sign,
                         "corr_right": np.sign(edge.corr) == edge.sign, "borrowed": edge.borrowed,
                         "max_tf_corr": float(np.abs(tf_corr[tf, others]).max()) if len(others) else 0.0,
                         "n_tfs": len(others) + 1})
    return pd.DataFrame(rows)


def calibration_table(edges: pd.DataFrame, column: str = "sign_confidence") -> pd.DataFrame:
    """Per data set: of the reference's signed edges with ``column >= c``, how many and the share with the right sign."""
    rows = []
    for name, part in edges.groupby("dataset", sort=False):
        reference = load(name).reference[["tf", "target_gene", "sign"]]
        scored = part.merge(reference[reference["sign"] != 0], on=["tf", "target_gene"])
        right = np.sign(scored["weight"]) == scored["sign"]
        row = {"dataset": name, "edges": len(scored), "sign_accuracy": right.mean()}
        for level in (0.5, 0.9, 0.95):
            confident = scored[column].to_numpy() >= level
            row[f"n>={level}"] = int(confident.sum())
            row[f"right>={level}"] = right[confident].mean() if confident.any() else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", default=",".join(ALL_TRACKS))
    parser.add_argument("--datasets", default=None)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--fit", default="", help="extra fit options for every variant, e.g. alpha=10")
    parser.add_argument("--flips", action="store_true", help="the defaults' flipped edges by collinearity")
    parser.add_argument("--calibration", action="store_true",
                        help="sign_confidence with fit.bootstrap: 20 (defaults variant): the share of reference edges "
                             "with the right sign among those at or above each confidence")
    parser.add_argument("--out", default="/tmp/signs.csv")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    names = args.datasets.split(",") if args.datasets else [n for t in args.tracks.split(",") for n in ALL_TRACKS[t]]
    extra = {}
    for item in filter(None, args.fit.split(",")):
        key, value = item.split("=")
        extra[key] = float(value) if value.replace(".", "").isdigit() else value
    if args.calibration:
        edges = pd.concat([frame for name in names
                           for frame in run_dataset(name, "defaults", {"bootstrap": 20, **extra}, keep=True)[1]],
                          ignore_index=True)
        edges.to_parquet(args.out.replace(".csv", ".parquet"))
        print(calibration_table(edges).to_markdown(index=False, floatfmt=".3f"))
        return
    if args.flips:
        table = pd.concat([flips(name) for name in names], ignore_index=True)
        table.to_csv(args.out, index=False)
        table["collinear"] = pd.cut(table["max_tf_corr"], [-0.01, 0.3, 0.6, 0.9, 1.0])
        summary = table.groupby(["dataset", "collinear"], observed=True).agg(
            edges=("fit_right", "size"), fit_right=("fit_right", "mean"), corr_right=("corr_right", "mean"))
        print(summary.to_markdown(floatfmt=".3f"))
        return
    rows = []
    for name in names:
        for variant in args.variants.split(","):
            rows += run_dataset(name, variant, extra)[0]
            print(f"done {name} {variant}", flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out, index=False, float_format="%.4g")
    if "transition" in table and (table["transition"] == getattr(recovery, "DATASET_NETWORK", None)).any():
        networks = table["transition"] == recovery.DATASET_NETWORK
        print("One network per Boolean data set (max |w| over transitions):")
        print(table[networks][["dataset", "variant", "sign_fit", "sign_corr", "auprc_ratio"]]
              .to_markdown(index=False, floatfmt=".3f"))
        table = table[~networks]
    columns = [c for c in table.columns if c.startswith("sign_") or c.startswith("auprc")] + ["alpha", "borrowed"]
    print(table.groupby(["dataset", "variant"], sort=False)[columns].mean().reset_index()
          .to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
