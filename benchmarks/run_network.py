"""Which run-level network (issue 26 item 5): one rank score and one sign per prior edge from a run's transitions.

Run by hand (not part of the tests); prints a Markdown table per track and writes a CSV::

    PYTHONPATH=src python benchmarks/run_network.py --tracks demo   # a finished `make demo` run's results/ (seconds)
    PYTHONPATH=src python benchmarks/run_network.py --tracks sim,hill,boolean   # the defaults' fits (about 4 min)
    PYTHONPATH=src python benchmarks/run_network.py --tracks sim,hill,boolean --bootstrap 20   # + the bootstrap's candidates

(times on 2 shared cores, niced; the Boolean track with simulator seed 0 only, ``--boolean-seed`` picks another).
The rows of every run are kept in ``--out`` (``benchmarks/run_network_results.csv``), one set per track and
``fit.bootstrap``; docs/outputs.md (The run-level network) has the means.

Each data set's transitions are fitted once (recovery.py's ``defaults`` row, or the defaults with
``fit.bootstrap`` when ``--bootstrap`` is given) and every candidate network is built from the same fits,
then scored by :func:`transgrn.metrics.recovery_metrics` (via recovery.py's ``recovered``) over the prior's
edges. Candidates (``SCORES`` x ``SIGNS``):

- scores: ``max_abs`` (max over transitions of |w|, recovery.py's ``DATASET_NETWORK``), ``mean_abs``,
  ``r2_weighted`` (mean |w| weighted by the transition's held-out R^2, clipped at 0), ``mean_rank`` (mean
  over transitions of |w|'s percentile within the transition, scale-free), and with the bootstrap
  ``confidence_weighted`` (mean of |w| x sign_confidence) and ``share_significant`` (share of transitions
  with q <= 0.05).
- signs: ``strongest`` (the sign of the weight with the largest |w|), ``vote`` (sign of the sum of w, a vote
  weighted by |w|), ``r2_vote`` (the same vote with each transition's w weighted by its held-out R^2, as
  ``r2_weighted``).

Row ``transgrn.run_network`` is the package's network as the aggregate writes it (the chosen candidate,
``r2_weighted`` with ``vote``: its numbers must equal that row's); ``transitions' median`` the median
over the data set's transitions of each transition's own recovery.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from recovery import (DATASETS, TRACKS, BOOLEAN_PRIORS, Dataset, boolean_dataset, defaults_variant,  # noqa: E402
                      fitted_transition, method_options, pooled_network, recovered, METHODS)
from transgrn.evaluate import evaluate_transition  # noqa: E402

KEY = ["tf", "target_gene"]
SIGNIFICANT_Q = 0.05


def _per_edge(stacked: pd.DataFrame, values: pd.Series, how: str) -> pd.Series:
    return values.groupby([stacked["tf"], stacked["target_gene"]], sort=False).agg(how)


def _weighted_mean(stacked: pd.DataFrame, values: pd.Series, weights: pd.Series) -> pd.Series:
    total = _per_edge(stacked, weights, "sum")
    mean = _per_edge(stacked, values * weights, "sum") / total.where(total > 0)
    return mean.fillna(_per_edge(stacked, values, "mean"))  # every transition weighted 0: the plain mean


def _r2_weights(stacked: pd.DataFrame, r2: dict[str, float]) -> pd.Series:
    return stacked["transition"].map(r2).clip(lower=0).fillna(0.0)


SCORES: dict[str, Callable[[pd.DataFrame, dict], pd.Series]] = {
    "max_abs": lambda s, r2: _per_edge(s, s["weight"].abs(), "max"),
    "mean_abs": lambda s, r2: _per_edge(s, s["weight"].abs(), "mean"),
    "r2_weighted": lambda s, r2: _weighted_mean(s, s["weight"].abs(), _r2_weights(s, r2)),
    "mean_rank": lambda s, r2: _per_edge(s, s["weight"].abs().groupby(s["transition"]).rank(pct=True)
                                         .where(s["weight"] != 0, 0.0), "mean"),
    "confidence_weighted": lambda s, r2: _per_edge(s, s["weight"].abs() * s["sign_confidence"].fillna(0.0), "mean"),
    "share_significant": lambda s, r2: _per_edge(s, (s["qvalue"] <= SIGNIFICANT_Q).astype(float), "mean"),
}
BOOTSTRAP_SCORES = ("confidence_weighted", "share_significant")


def _strongest_sign(stacked: pd.DataFrame, r2: dict) -> pd.Series:
    order = stacked.assign(size=stacked["weight"].abs()).sort_values("size", ascending=False, kind="stable")
    return np.sign(order.drop_duplicates(KEY).set_index(KEY)["weight"])


SIGNS: dict[str, Callable[[pd.DataFrame, dict], pd.Series]] = {
    "strongest": _strongest_sign,
    "vote": lambda s, r2: np.sign(_per_edge(s, s["weight"], "sum")),
    "r2_vote": lambda s, r2: np.sign(_weighted_mean(s, s["weight"], _r2_weights(s, r2))),
}


def candidate_network(stacked: pd.DataFrame, r2: dict[str, float], prior: pd.DataFrame, score: str,
                      sign: str) -> pd.DataFrame:
    """``tf, target_gene, weight`` = sign x score over the prior's edges (0 where no transition has the edge)."""
    size = SCORES[score](stacked, r2)
    network = (size * SIGNS[sign](stacked, r2).reindex(size.index)).rename("weight").reset_index()
    return prior[KEY].merge(network, on=KEY, how="left").fillna({"weight": 0.0})


def package_network(stacked: pd.DataFrame, r2: dict[str, float], prior: pd.DataFrame) -> pd.DataFrame:
    """transgrn's own run-level network (:mod:`transgrn.run_network`, the chosen candidate), as the aggregate writes it."""
    from transgrn.run_network import RunNetwork

    network = RunNetwork(prior)
    for transition, frame in stacked.groupby("transition", sort=False):
        network.add(frame, r2.get(transition, float("nan")))
    table = network.table()
    scored = table.assign(weight=table["score"] * table["sign"])[[*KEY, "weight"]]
    return prior[KEY].merge(scored, on=KEY, how="left").fillna({"weight": 0.0})


def fitted_dataset(dataset: Dataset, method: str) -> tuple[pd.DataFrame, dict[str, float], pd.DataFrame]:
    """Every transition's coefficients stacked (column ``transition``), held-out R^2 per transition, and each
    transition's own recovery (as transitions.tsv has it)."""
    fit = method_options(method)[2]
    pooled = pooled_network(dataset, fit) if METHODS[method][2] == "defaults" and fit["borrow_below"] > 0 else None
    parts, r2, own = [], {}, []
    for label, source, target in dataset.transitions:
        data, mappings, (coefficients, intercepts, _), _ = fitted_transition(dataset, label, source, target, method,
                                                                              pooled)
        r2[label] = evaluate_transition(data, mappings, coefficients, intercepts)[0]["r2_test"]
        parts.append(coefficients.assign(transition=label))
        own.append(recovered(coefficients, "weight", dataset.reference))
    return pd.concat(parts, ignore_index=True), r2, pd.DataFrame(own)


def demo_run(results: Path) -> tuple[pd.DataFrame, dict[str, float], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A finished run's edges (with its transitions' ids), held-out R^2, prior, reference and per-transition recovery."""
    table = pd.read_csv(results / "transitions.tsv", sep="\t")
    edges = pd.read_parquet(results / "edges.parquet")
    ids = table.set_index(["source_cluster", "target_cluster"])["transition"]
    edges["transition"] = ids.reindex(pd.MultiIndex.from_frame(edges[["source_cluster", "target_cluster"]])).to_numpy()
    prior = pd.read_parquet(results / "prepared" / "prior_edges.parquet")
    reference = pd.read_parquet(results / "prepared" / "reference.parquet")
    own = table[["auprc_ratio", "epr", "sign_accuracy"]]
    return edges, dict(zip(table["transition"], table["r2_test"])), prior, reference, own


def score_candidates(name: str, stacked: pd.DataFrame, r2: dict, prior: pd.DataFrame, reference: pd.DataFrame,
                     own: pd.DataFrame) -> list[dict]:
    rows = [{"dataset": name, "score": "transitions' median", "sign": "", **own.median().to_dict()}]
    scores = [s for s in SCORES if s not in BOOTSTRAP_SCORES or "qvalue" in stacked.columns]
    for score in scores:
        for sign in SIGNS:
            network = candidate_network(stacked, r2, prior, score, sign)
            rows.append({"dataset": name, "score": score, "sign": sign, **recovered(network, "weight", reference)})
    try:
        network = package_network(stacked, r2, prior)
        rows.append({"dataset": name, "score": "transgrn.run_network", "sign": "",
                     **recovered(network, "weight", reference)})
    except ImportError:  # a checkout without the module: the candidates alone
        pass
    return rows


def track_datasets(track: str, seed: int) -> list[Dataset]:
    if track == "boolean":
        from boolean_simulator import TOPOLOGIES

        return [boolean_dataset(t, d, p, seed) for t in TOPOLOGIES for d in (False, True) for p in BOOLEAN_PRIORS]
    return [DATASETS[name]() for name in TRACKS[track]]


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per candidate: mean over data sets, and the number of data sets where it is best (ties count for each)."""
    metrics = ["auprc_ratio", "epr", "sign_accuracy"]
    mean = rows.groupby(["score", "sign"], sort=False)[metrics].mean()
    candidates = rows[rows["sign"] != ""]
    for metric in metrics:
        best = candidates.groupby("dataset")[metric].transform("max")
        wins = candidates[np.isclose(candidates[metric], best)].groupby(["score", "sign"], sort=False).size()
        mean[f"best_{metric}"] = wins.reindex(mean.index).fillna(0).astype(int)
    return mean.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", default="demo,sim,hill,boolean")
    parser.add_argument("--results", default="results", help="the demo run's results folder (track demo)")
    parser.add_argument("--bootstrap", type=int, default=0, help="fit.bootstrap for the fitted tracks (0 = the defaults)")
    parser.add_argument("--boolean-seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/run_network_results.csv")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    method = defaults_variant(f"fit.bootstrap={args.bootstrap}") if args.bootstrap else "defaults"
    rows = []
    for track in args.tracks.split(","):
        if track == "demo":
            edges, r2, prior, reference, own = demo_run(Path(args.results))
            track_rows = score_candidates("demo", edges, r2, prior, reference, own)
        else:
            track_rows = []
            for dataset in track_datasets(track, args.boolean_seed):
                stacked, r2, own = fitted_dataset(dataset, method)
                track_rows += score_candidates(dataset.name, stacked, r2, dataset.prior, dataset.reference, own)
                print(f"done {dataset.name}", flush=True)
        # the demo run's own setting (config/demo.yaml: 20) where it has q-values
        bootstrap = int("qvalue" in edges.columns) * 20 if track == "demo" else args.bootstrap
        table = pd.DataFrame(track_rows).assign(track=track, bootstrap=bootstrap)
        print(f"\n## {track} (fit.bootstrap={bootstrap})\n")
        print(summary(table).to_markdown(index=False, floatfmt=".3f"), flush=True)
        rows.append(table)
    out = pd.concat(rows, ignore_index=True)
    path = Path(args.out)
    if path.exists():  # keep the other tracks' and bootstrap settings' rows
        earlier = pd.read_csv(path, keep_default_na=False, na_values=[""])
        rerun = set(zip(out["track"], out["bootstrap"]))
        earlier = earlier[[(t, b) not in rerun for t, b in zip(earlier["track"], earlier["bootstrap"])]]
        out = pd.concat([earlier, out], ignore_index=True)
    out.to_csv(path, index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
