"""Scale benchmark of rule report alone (run by hand): wall time and peak memory of building
report.html from N transitions' results.

    python benchmarks/report_scale.py [--transitions 400] [--edges 500000] [--tfs 1500 --genes 20000]
                                      [--legacy REPORT_PY] [--memory-limit GIB] [--workdir DIR] [--keep]

Fabricates the per-transition inputs with ``benchmarks/aggregate_scale.py`` (``coefficients.parquet``
with ``weight`` and ``null_weight`` over ``--edges`` prior edges, linked to a few distinct template
tables) and adds what only the report reads: per transition ``gene_r2.parquet`` (one row per gene)
and ``mapping_main.parquet`` (``--pairs`` pairs with an OT cost), the results' ``transitions.tsv``,
the prepared ``summary.json``, ``skipped.tsv`` and a reference (a tenth of the prior's edges).
No per-transition figures are drawn: the page embeds only the overview and validation figures.

Then it builds the page in a child process, as ``scripts/report.py`` does, and prints its wall time
and peak resident memory (``getrusage`` of the child: exact). ``--legacy`` loads another version of
``transgrn/report.py`` (e.g. a copy of the former one) and reads every transition's tables into
memory first, as the former ``scripts/report.py`` did; ``--memory-limit`` caps the child's address
space, so that a run that would exhaust the machine fails instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SPEC = importlib.util.spec_from_file_location("aggregate_scale", REPO / "benchmarks/aggregate_scale.py")
aggregate_scale = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(aggregate_scale)


def fabricate(out: Path, n_transitions: int, n_edges: int, n_tfs: int, n_genes: int, n_pairs: int,
              templates: int = 8, seed: int = 0) -> dict:
    """The report's inputs under ``out`` (cached by parameters): paths, as the rule passes them."""
    paths = aggregate_scale.fabricate(out, n_transitions, n_edges, n_tfs, n_genes, templates=templates, seed=seed)
    report = out / "report"
    transitions = pd.read_csv(paths["transitions"], sep="\t", dtype=str)
    directories = [Path(p).parent for p in paths["coefficients"]]
    spec = {"table": report / "transitions.tsv", "summary": report / "summary.json", "skipped": report / "skipped.tsv",
            "reference": report / "reference.parquet", "coefficients": [str(p) for p in paths["coefficients"]],
            "gene_r2": [str(d / "gene_r2.parquet") for d in directories],
            "mapping": [str(d / "mapping_main.parquet") for d in directories]}
    stamp = report / "params.json"
    params = {"pairs": n_pairs, "transitions": n_transitions, "edges": n_edges}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return spec
    shutil.rmtree(report, ignore_errors=True)
    (report / "templates").mkdir(parents=True)
    rng = np.random.default_rng(seed + 1)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    for k in range(min(templates, n_transitions)):
        pd.DataFrame({"target_gene": genes, "r2_test": rng.normal(0.05, 0.15, n_genes),
                      "r2_test_null": rng.normal(-0.01, 0.02, n_genes), "n_tfs": 25}).to_parquet(
            report / "templates" / f"gene_r2_{k}.parquet", index=False)
        pd.DataFrame({"pair": range(n_pairs), "source_cell": rng.integers(0, 2500, n_pairs).astype(str),
                      "target_cell": rng.integers(0, 2500, n_pairs).astype(str), "weight": 1.0,
                      "split": np.where(rng.random(n_pairs) < 0.8, "train", "test"),
                      "cost": rng.gamma(2, 0.3, n_pairs)}).to_parquet(report / "templates" / f"mapping_{k}.parquet", index=False)
    for i, directory in enumerate(directories):
        k = i % min(templates, n_transitions)
        for name, template in (("gene_r2.parquet", f"gene_r2_{k}.parquet"), ("mapping_main.parquet", f"mapping_{k}.parquet")):
            (directory / name).unlink(missing_ok=True)
            (directory / name).symlink_to(report / "templates" / template)
    metrics = [json.loads((d / "metrics.json").read_text()) for d in directories]
    table = transitions[["transition", "source_cluster", "target_cluster"]].assign(
        n_source_cells=2500, n_target_cells=2500, mapping="ot", n_pairs=n_pairs,
        r2_train=[m["r2_train"] for m in metrics], r2_test=[m["r2_test"] for m in metrics],
        r2_test_null=[m["r2_test_null"] for m in metrics], n_edges=n_edges, auprc_ratio=rng.uniform(1, 3, n_transitions),
        auroc=rng.uniform(0.5, 0.9, n_transitions), sign_accuracy=rng.uniform(0.5, 0.95, n_transitions))
    table.to_csv(spec["table"], sep="\t", index=False)
    clusters = sorted(set(table["source_cluster"]) | set(table["target_cluster"]))
    prior = pd.read_parquet(paths["prior"], columns=["tf", "target_gene"])
    reference = prior.sample(frac=0.1, random_state=seed).assign(sign=lambda d: rng.choice([-1, 1], len(d)))
    reference.to_parquet(spec["reference"], index=False)
    summary = {"inputs": {"adata": {"path": "data.h5ad", "sha256": "0" * 64}}, "n_cells": 2500 * len(clusters),
               "n_genes": n_genes, "n_unlabelled_cells": 0, "cluster_sizes": {c: 2500 for c in clusters},
               "prior_format": "edge list", "reference": {"n_edges": len(reference), "n_edges_in_prior": len(reference)},
               "prior": {"n_edges_input": n_edges, "n_edges": n_edges, "n_tfs_input": n_tfs, "n_tfs": n_tfs,
                         "n_targets_input": n_genes, "n_targets": n_genes, "n_genes_used": n_genes, "signed": True}}
    spec["summary"].write_text(json.dumps(summary))
    pd.DataFrame(columns=["source_cluster", "target_cluster", "reason"]).to_csv(spec["skipped"], sep="\t", index=False)
    stamp.write_text(json.dumps(params))
    return spec


def load_module(path: str | None):
    if path is None:
        from transgrn import report

        return report
    spec = importlib.util.spec_from_file_location("transgrn._report_under_test", path)  # relative imports: transgrn
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def child(args) -> None:
    """Runs in the measured child process: what scripts/report.py does, with the report module under test."""
    aggregate_scale.limit_address_space(args.memory_limit)
    spec = json.loads(Path(args.child).read_text())
    out = Path(spec.pop("out"))
    start = time.perf_counter()
    report = load_module(args.legacy)
    table = pd.read_csv(spec["table"], sep="\t", dtype={"source_cluster": str, "target_cluster": str},
                        keep_default_na=False, na_values=["NA"])
    files = {k: {Path(p).parent.name: p for p in spec[k]} for k in ("coefficients", "gene_r2", "mapping")}
    if args.legacy:  # the former scripts/report.py: every transition's tables read first
        def read(path, columns=None):
            import pyarrow.parquet as pq

            names = set(pq.read_schema(path).names)
            return pd.read_parquet(path, columns=None if columns is None else [c for c in columns if c in names])

        transitions = {t: report.TransitionResult(
            coefficients=read(files["coefficients"][t], ["tf", "target_gene", "weight", "null_weight"]),
            gene_r2=read(files["gene_r2"][t]), mapping=read(files["mapping"][t]), figures={})
            for t in table["transition"]}
        extra = {}
    else:
        transitions = {t: report.TransitionResult(coefficients=files["coefficients"][t], gene_r2=files["gene_r2"][t],
                                                  mapping=files["mapping"][t], figures={}) for t in table["transition"]}
        extra = {"scratch_dir": out}
    report.write_report(out / "report.html", table=table, summary=json.loads(Path(spec["summary"]).read_text()),
                        skipped=pd.read_csv(spec["skipped"], sep="\t", keep_default_na=False),
                        config={"report": {"top_edges": 15, "detail_transitions": 30}}, transitions=transitions,
                        reference=pd.read_parquet(spec["reference"]), times=None, figure_dir=out / "figures", top=15,
                        detail=30, **extra)
    print(json.dumps({"seconds": time.perf_counter() - start}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=400)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument("--tfs", type=int, default=1500)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=2500, help="cell pairs per transition's mapping")
    parser.add_argument("--legacy", default=None, help="a former report.py: load it and read every input into memory")
    parser.add_argument("--memory-limit", type=float, default=None, help="GiB of address space for the report")
    parser.add_argument("--workdir", type=Path, default=None, help="keeps the fabricated inputs between runs")
    parser.add_argument("--keep", action="store_true", help="keep report.html and the figures (in the workdir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="transgrn-report-"))
    start = time.perf_counter()
    spec = fabricate(workdir / "data", args.transitions, args.edges, args.tfs, args.genes, args.pairs)
    print(f"inputs: {args.transitions} transitions x {args.edges:,} edges in {workdir / 'data'} "
          f"({time.perf_counter() - start:.1f} s)", flush=True)
    out = workdir / ("report_legacy" if args.legacy else "report")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (workdir / "child.json").write_text(json.dumps({k: v if isinstance(v, list) else str(v) for k, v in spec.items()}
                                                   | {"out": str(out)}))
    command = [sys.executable, __file__, "--child", str(workdir / "child.json")] \
        + (["--legacy", str(Path(args.legacy).resolve())] if args.legacy else []) \
        + (["--memory-limit", str(args.memory_limit)] if args.memory_limit else [])
    done, wall, peak_mb, seconds = aggregate_scale.run_child(command)
    mode = "legacy (in memory)" if args.legacy else "streamed"
    if done.returncode != 0:
        print(f"{mode}: FAILED after {wall:.1f} s, peak RSS {peak_mb:,.0f} MB\n{done.stderr[-3000:]}")
    else:
        page = (out / "report.html").stat().st_size / 1e6
        print(f"{mode}: {args.transitions} transitions x {args.edges:,} edges: report {seconds:.1f} s "
              f"(process {wall:.1f} s), peak RSS {peak_mb:,.0f} MB, report.html {page:.1f} MB")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
