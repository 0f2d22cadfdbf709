"""Scale benchmark of rule aggregate alone (run by hand): wall time and peak memory of gathering
N transitions' results into transitions.tsv, edges.parquet, edges_filtered.parquet and
grn_tensor.h5ad.

    python benchmarks/aggregate_scale.py [--transitions 1560] [--edges 500000] [--tfs 1500 --genes 20000]
                                         [--bootstrap] [--mlp] [--legacy] [--workdir DIR] [--keep]

Fabricates, in WORKDIR (a temporary folder unless given), what the per-transition jobs would have
written: the prepared ``transitions.tsv`` (ordered pairs of ``ceil`` clusters, as
``transitions.mode: all``) and ``prior_edges.parquet`` (``--edges`` random distinct edges of
``--tfs`` TFs over ``--genes`` genes), and for every transition ``metrics.json`` and
``coefficients.parquet`` (``weight`` and ``null_weight``; with ``--bootstrap`` also the five
confidence columns; with ``--mlp`` an ``mlp_attribution.parquet``). The coefficient files are
``--templates`` distinct random tables that the transitions link to in turn (aggregation reads every
transition's file all the same; this keeps the fabricated data small on disk).

Then it runs the aggregation in a child process and prints its wall time and peak resident memory
(``getrusage`` of the child: exact), and the sizes of the outputs. ``--legacy`` runs the former
in-memory code path instead (the whole long table in pandas, then a pivot per tensor value), for
comparison at the sizes it can handle (``--memory-limit`` caps the child's address space, so that a
run that would exhaust the machine fails instead).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from transgrn import aggregate

CONFIDENCE = ["weight_mean", "weight_std", "pvalue", "qvalue", "pvalue_celloracle"]
FILTER = {"min_confidence": 0.95, "top_k": 100}


# --------------------------------------------------------------------------- data


def fabricate(out: Path, n_transitions: int, n_edges: int, n_tfs: int = 1500, n_genes: int = 20000,
              bootstrap: bool = False, mlp: bool = False, templates: int = 8, seed: int = 0) -> dict:
    """Write a fabricated run's aggregate inputs under ``out``; return the paths (cached by parameters)."""
    params = dict(transitions=n_transitions, edges=n_edges, tfs=n_tfs, genes=n_genes, bootstrap=bootstrap, mlp=mlp,
                  templates=templates, seed=seed)
    stamp = out / "params.json"
    n_clusters = math.ceil((1 + math.sqrt(1 + 4 * n_transitions)) / 2)  # n (n - 1) >= n_transitions
    clusters = [f"type {i:02d}" for i in range(n_clusters)]
    pairs = [(a, b) for a in range(n_clusters) for b in range(n_clusters) if a != b][:n_transitions]
    transitions = pd.DataFrame({
        "transition": [f"c{a:02d}__c{b:02d}" for a, b in pairs],
        "source_cluster": [clusters[a] for a, _ in pairs], "target_cluster": [clusters[b] for _, b in pairs],
        "source_id": [f"c{a:02d}" for a, _ in pairs], "target_id": [f"c{b:02d}" for _, b in pairs],
        "n_source_cells": 2500, "n_target_cells": 2500,
    })
    directories = [out / "transitions" / t for t in transitions["transition"]]
    paths = {
        "transitions": out / "prepared/transitions.tsv", "prior": out / "prepared/prior_edges.parquet",
        "metrics": [d / "metrics.json" for d in directories], "coefficients": [d / "coefficients.parquet" for d in directories],
        "attributions": [d / "mlp_attribution.parquet" for d in directories] if mlp else None,
    }
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return paths
    if out.exists():
        shutil.rmtree(out)
    (out / "prepared").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    genes = np.array([f"G{i:05d}" for i in range(n_genes)], dtype=object)
    if n_edges > n_tfs * (n_genes - 1):
        raise SystemExit(f"--edges {n_edges} is more than {n_tfs} TFs x {n_genes - 1} targets")
    flat = np.sort(rng.choice(n_tfs * n_genes, size=int(n_edges * 1.01) + 10, replace=False))
    tf, target = flat // n_genes, flat % n_genes
    keep = tf != target
    tf, target = tf[keep][:n_edges], target[keep][:n_edges]
    if len(tf) < n_edges:
        raise SystemExit("could not draw enough distinct edges; lower --edges")
    edges = pd.DataFrame({"tf": genes[tf], "target_gene": genes[target]})
    edges.assign(sign=rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=n_edges)).to_parquet(paths["prior"], index=False)
    transitions.to_csv(paths["transitions"], sep="\t", index=False)

    template_files = []
    for k in range(min(templates, n_transitions)):
        weight = rng.normal(0, 1, n_edges) * (rng.random(n_edges) < 0.7)  # some zero weights, as a fit gives
        table = edges.assign(weight=weight)
        if bootstrap:
            pvalue = rng.random(n_edges)
            table = table.assign(weight_mean=weight + rng.normal(0, 0.1, n_edges), weight_std=rng.random(n_edges),
                                 pvalue=pvalue, qvalue=np.minimum(1.0, pvalue * 3), pvalue_celloracle=rng.random(n_edges))
        table = table.assign(null_weight=rng.normal(0, 0.05, n_edges))
        path = out / "templates" / f"coefficients_{k}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_parquet(path, index=False)
        template_files.append(path)
        if mlp:
            edges.assign(attribution=rng.random(n_edges)).to_parquet(out / "templates" / f"attribution_{k}.parquet", index=False)
    for i, directory in enumerate(directories):
        directory.mkdir(parents=True)
        k = i % len(template_files)
        os.symlink(template_files[k], directory / "coefficients.parquet")
        if mlp:
            os.symlink(out / "templates" / f"attribution_{k}.parquet", directory / "mlp_attribution.parquet")
        metrics = {"alpha": 1.0, "n_edges": n_edges, "n_pairs": 2500, "r2_test": float(rng.random()),
                   "r2_test_null": 0.0, "r2_train": float(rng.random()), "solver": "ridge"}
        (directory / "metrics.json").write_text(json.dumps(metrics))
    stamp.write_text(json.dumps(params))
    return paths


# --------------------------------------------------------------------------- aggregation


def outputs_in(directory: Path) -> dict[str, Path]:
    names = {"table": "transitions.tsv", "edges": "edges.parquet", "edges_filtered": "edges_filtered.parquet",
             "tensor": "grn_tensor.h5ad", "provenance": "provenance.json", "network": "network.parquet",
             "network_metrics": "network_metrics.json"}
    return {key: directory / name for key, name in names.items()}


def run_streamed(paths: dict, outputs: dict, config: dict) -> None:
    from transgrn.aggregate import aggregate
    from transgrn.prepare import read_transitions

    aggregate(read_transitions(paths["transitions"]), paths["metrics"], paths["coefficients"], paths["prior"], outputs,
              config=config, inputs={}, mapping="joint", with_reference=False, min_confidence=FILTER["min_confidence"],
              top_k=FILTER["top_k"], attributions=paths["attributions"])


# ---- the former in-memory aggregation (scripts/aggregate.py before streaming), to compare against


def add_edge_values(edges: pd.DataFrame, transitions: pd.DataFrame, paths, column: str, name: str) -> pd.DataFrame:
    """Add a per-edge value from each transition's parquet file (``tf, target_gene, <column>``,
    in ``transitions`` order) to the long edge table as column ``name``."""
    frames = []
    for transition, path in zip(transitions["transition"], paths):
        frame = pd.read_parquet(path)[["tf", "target_gene", column]].rename(columns={column: name})
        frames.append(frame.assign(transition=transition))
    return edges.merge(pd.concat(frames, ignore_index=True), on=["transition", "tf", "target_gene"], how="left")


def long_edges(transitions: pd.DataFrame, coefficients: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table of every prior edge's weight in every transition, in transition order."""
    frames = []
    for row in transitions.itertuples():
        values = coefficients[row.transition]
        # confidence columns exist when the fit was bootstrapped (fit.bootstrap)
        frames.append(aggregate._edge_frame(row, values, [c for c in aggregate.CONFIDENCE_COLUMNS if c in values.columns]))
    return pd.concat(frames, ignore_index=True)


def load_transition_results(directory: str | Path) -> tuple[dict, pd.DataFrame]:
    directory = Path(directory)
    metrics = json.loads((directory / "metrics.json").read_text())
    coefficients = pd.read_parquet(directory / "coefficients.parquet")
    return metrics, coefficients


def legacy_filter_edges(edges: pd.DataFrame, min_confidence: float, top_k: int) -> pd.DataFrame:
    """Confident, strong edges per transition: ``1 - qvalue >= min_confidence`` (when the fit was
    bootstrapped) and, of those, the ``top_k`` largest ``|weight|`` of each transition (0 = all).
    Rows keep the order of ``edges``."""
    kept = edges[edges["weight"] != 0]
    if "qvalue" in kept.columns:
        kept = kept[1.0 - kept["qvalue"] >= min_confidence]
    if top_k > 0:
        rank = kept["weight"].abs().groupby(kept["transition"]).rank(method="first", ascending=False)
        kept = kept[rank <= top_k]
    return kept.reset_index(drop=True)


def run_legacy(paths: dict, outputs: dict, config: dict) -> None:
    """The former scripts/aggregate.py: the whole long table in memory, then build_tensor's pivots."""
    from transgrn.aggregate import transitions_table, write_table
    from transgrn.io import PROVENANCE_KEY, atomic_path, provenance, provenance_json, sha256, write_parquet
    from transgrn.prepare import read_transitions
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference import build_tensor  # the in-memory tensor, kept as the tests' reference

    transitions = read_transitions(paths["transitions"])
    results = {t: load_transition_results(Path(m).parent) for t, m in zip(transitions["transition"], paths["metrics"])}
    table = transitions_table(transitions, {t: r[0] for t, r in results.items()}, "joint", False)
    edges = long_edges(transitions, {t: r[1] for t, r in results.items()})
    if paths["attributions"]:
        edges = add_edge_values(edges, transitions, paths["attributions"], "attribution", "mlp_attribution")
    record = provenance(config, {}, config.get("seed"), rule="aggregate", n_transitions=len(transitions))
    tensor = build_tensor(edges, table, uns={"config": json.dumps(config, sort_keys=True), "inputs": json.dumps({}),
                                             PROVENANCE_KEY: provenance_json(record)})
    signs = pd.read_parquet(paths["prior"]).set_index(["tf", "target_gene"])["sign"]
    keys = pd.MultiIndex.from_frame(tensor.var[["tf", "target_gene"]])
    tensor.var["prior_sign"] = signs.reindex(keys).fillna(0).astype("int8").to_numpy()
    with atomic_path(outputs["table"]) as tmp:
        write_table(table, tmp)
    write_parquet(edges.drop(columns="transition"), outputs["edges"], record)
    filtered = legacy_filter_edges(edges, FILTER["min_confidence"], FILTER["top_k"])
    write_parquet(filtered.drop(columns="transition"), outputs["edges_filtered"], record)
    with atomic_path(outputs["tensor"]) as tmp:
        tensor.write_h5ad(tmp)
    hashes = {name: {"path": str(outputs[name]), "sha256": sha256(outputs[name])} for name in ("table", "edges", "tensor")}
    with atomic_path(outputs["provenance"]) as tmp:
        Path(tmp).write_text(json.dumps({**record, "outputs": hashes}, indent=2, sort_keys=True) + "\n")


def limit_address_space(gib: float | None) -> None:
    """In the measured child: fail allocations beyond ``gib`` GiB (``--memory-limit``)."""
    if gib:
        limit = int(gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_child(command: list[str]) -> tuple[subprocess.CompletedProcess, float, float, float | None]:
    """Run a measured child process: its result, wall time, peak RSS in MB (``getrusage`` of the
    children: exact) and the ``seconds`` it reported on its last output line (None if it failed)."""
    wall = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - wall
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child: this one
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"] if done.returncode == 0 else None
    return done, wall, peak_mb, seconds


def child(args) -> None:
    """Runs in the measured child process."""
    limit_address_space(args.memory_limit)
    paths = json.loads(Path(args.child).read_text())
    for key in ("metrics", "coefficients", "attributions"):
        paths[key] = paths[key] and [Path(p) for p in paths[key]]
    outputs = {k: Path(v) for k, v in paths.pop("outputs").items()}
    config = {"seed": 0, "filter": FILTER, "mapping": {"method": "joint"}}
    start = time.perf_counter()
    (run_legacy if args.legacy else run_streamed)(paths, outputs, config)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=1560)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument("--tfs", type=int, default=1500)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--bootstrap", action="store_true", help="coefficients carry the five confidence columns")
    parser.add_argument("--mlp", action="store_true", help="an mlp_attribution.parquet per transition")
    parser.add_argument("--templates", type=int, default=8, help="distinct coefficient files the transitions share")
    parser.add_argument("--legacy", action="store_true", help="run the former in-memory aggregation")
    parser.add_argument("--memory-limit", type=float, default=None, help="GiB of address space for the aggregation")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the fabricated inputs between runs")
    parser.add_argument("--keep", action="store_true", help="keep the outputs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="transgrn-aggregate-"))
    start = time.perf_counter()
    paths = fabricate(workdir / "data", args.transitions, args.edges, args.tfs, args.genes, args.bootstrap, args.mlp,
                      args.templates)
    print(f"inputs: {args.transitions} transitions x {args.edges:,} edges in {workdir / 'data'} "
          f"({time.perf_counter() - start:.1f} s)", flush=True)
    results = workdir / ("results_legacy" if args.legacy else "results")
    shutil.rmtree(results, ignore_errors=True)
    outputs = outputs_in(results)
    spec = {k: (v if v is None else [str(p) for p in v] if isinstance(v, list) else str(v)) for k, v in paths.items()}
    (workdir / "child.json").write_text(json.dumps({**spec, "outputs": {k: str(v) for k, v in outputs.items()}}))
    command = [sys.executable, __file__, "--child", str(workdir / "child.json")] + ["--legacy"] * args.legacy \
        + (["--memory-limit", str(args.memory_limit)] if args.memory_limit else [])
    done, wall, peak_mb, seconds = run_child(command)
    mode = "legacy (in memory)" if args.legacy else "streamed"
    if done.returncode != 0:
        print(f"{mode}: FAILED after {wall:.1f} s, peak RSS {peak_mb:,.0f} MB\n{done.stderr[-3000:]}")
    else:
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 2**20:,.0f} MB" for p in outputs.values())
        print(f"{mode}: {args.transitions} transitions x {args.edges:,} edges"
              f"{' +bootstrap' if args.bootstrap else ''}{' +mlp' if args.mlp else ''}: aggregation {seconds:.1f} s "
              f"(process {wall:.1f} s), peak RSS {peak_mb:,.0f} MB\n  outputs: {sizes}")
    if not args.keep:
        shutil.rmtree(results, ignore_errors=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
