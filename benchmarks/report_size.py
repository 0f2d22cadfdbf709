"""Size and build time of report.html for a large run: 200 synthetic transitions.

    python benchmarks/report_size.py [--transitions 200] [--detail 30] [--out DIR]

Synthesizes what the report rule reads (transitions table, per-transition coefficients with
their null, per-gene R^2, predictions, mappings with an OT cost, reference, benchmark files),
draws the per-transition figures of the ``--detail`` transitions whose figures the page embeds
(in the workflow every transition's are drawn by parallel ``plot_transition`` jobs; the time per
transition is printed), builds the page and prints its size and build time. With Chromium
installed it also opens the page headless and prints the time to the load event and the time
to show a transition.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from transgrn import report  # noqa: E402


def synthetic_run(directory: Path, n_transitions: int = 200, n_tfs: int = 50, n_targets: int = 2000,
                  tfs_per_target: int = 8, n_pairs: int = 2000, seed: int = 0) -> tuple[dict, dict]:
    """Keyword arguments for :func:`transgrn.report.build_report` on made-up but realistic inputs,
    and each transition's predictions (which only its figures need)."""
    rng = np.random.default_rng(seed)
    n_clusters = int(np.ceil((1 + np.sqrt(1 + 4 * n_transitions)) / 2))
    clusters = [f"cluster {i:02d}" for i in range(n_clusters)]
    pairs = [(a, b) for a in clusters for b in clusters if a != b][:n_transitions]
    tfs, targets = [f"TF{i:03d}" for i in range(n_tfs)], [f"G{i:05d}" for i in range(n_targets)]
    prior = pd.DataFrame({"tf": [tfs[j] for _ in targets for j in rng.choice(n_tfs, tfs_per_target, replace=False)],
                          "target_gene": np.repeat(targets, tfs_per_target)})
    reference = prior.sample(frac=1 / 3, random_state=seed).assign(sign=lambda d: rng.choice([-1, 1], len(d)))
    sizes = {c: int(rng.integers(200, 3000)) for c in clusters}
    rows, transitions, all_predictions = [], {}, {}
    for k, (a, b) in enumerate(pairs):
        tid = f"c{clusters.index(a):02d}__c{clusters.index(b):02d}"
        signal = rng.uniform(0, 1)
        coefficients = prior.assign(weight=rng.normal(0, 0.05, len(prior)) * (1 + 3 * signal * rng.random(len(prior))),
                                    null_weight=rng.normal(0, 0.02, len(prior)))
        gene_r2 = pd.DataFrame({"target_gene": targets, "r2_test": rng.normal(0.1 * signal, 0.15, n_targets),
                                "r2_test_null": rng.normal(-0.01, 0.02, n_targets), "n_tfs": tfs_per_target})
        mapping = pd.DataFrame({"pair": range(n_pairs), "source_cell": rng.integers(0, sizes[a], n_pairs).astype(str),
                                "target_cell": rng.integers(0, sizes[b], n_pairs).astype(str), "weight": 1.0,
                                "split": np.where(rng.random(n_pairs) < 0.8, "train", "test"), "cost": rng.gamma(2, 0.3, n_pairs)})
        predictions = pd.concat([pd.DataFrame({"kind": kind, "target_gene": targets[g], "observed": obs,
                                               "predicted": obs * (0.8 if kind == "best" else 0.1) + rng.normal(0, 0.5, 400)})
                                 for kind, g in [("best", 0), ("best", 1), ("best", 2), ("worst", 3), ("worst", 4), ("worst", 5)]
                                 for obs in [rng.normal(2, 1, 400)]])
        r2 = 0.15 * signal - 0.01
        rows.append({"transition": tid, "source_cluster": a, "target_cluster": b, "n_source_cells": sizes[a],
                     "n_target_cells": sizes[b], "mapping": "ot", "n_pairs": n_pairs, "r2_train": r2 + 0.05, "r2_test": r2,
                     "r2_test_null": -0.01 + 0.002 * rng.normal(), "n_edges": len(prior), "auprc_ratio": 1 + 2 * signal,
                     "auroc": 0.5 + 0.4 * signal, "sign_accuracy": 0.5 + 0.45 * signal, "r2_test_mlp": r2 + 0.01 * rng.normal()})
        transitions[tid] = report.TransitionResult(coefficients, gene_r2, mapping,
                                                   {n: directory / "figures/transitions" / tid / f"{n}.png" for n in report.TRANSITION_FIGURES})
        all_predictions[tid] = predictions
    benchmarks = {}
    for stage in ("prepare", "map_cells", "fit_grn", "evaluate_grn", "aggregate"):
        path = directory / "benchmarks" / f"{stage}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("s\th:m:s\n%.2f\t0:00:01\n" % rng.uniform(0.5, 5))
        benchmarks[str(path)] = stage
    summary = {"inputs": {"adata": {"path": "data.h5ad", "sha256": "0" * 64}, "prior": {"path": "prior.csv", "sha256": "1" * 64}},
               "n_cells": sum(sizes.values()), "n_genes": 20000, "n_unlabelled_cells": 0, "cluster_sizes": sizes,
               "prior_format": "edge list", "reference": {"n_edges": len(reference), "n_edges_in_prior": len(reference)},
               "prior": {"n_edges_input": len(prior), "n_edges": len(prior), "n_tfs_input": n_tfs, "n_tfs": n_tfs,
                         "n_targets_input": n_targets, "n_targets": n_targets, "n_genes_used": n_tfs + n_targets, "signed": False}}
    skipped = pd.DataFrame({"source_cluster": ["tiny"], "target_cluster": [clusters[0]], "reason": ["source has 3 cells < min_cells=20"]})
    return {"table": pd.DataFrame(rows), "summary": summary, "skipped": skipped,
            "config": {"mapping": {"method": "ot"}, "report": {"top_edges": 15, "detail_transitions": 30}},
            "transitions": transitions, "reference": reference, "times": report.stage_times(benchmarks),
            "figure_dir": directory / "figures"}, all_predictions


def draw_figures(inputs: dict, predictions: dict, detail: int) -> float:
    """Draw the figures of the ``detail`` best transitions; returns seconds per transition."""
    best = inputs["table"].nlargest(detail, "r2_test")
    start = time.perf_counter()
    for row in best.itertuples():
        result = inputs["transitions"][row.transition]
        report.write_transition_figures(result.coefficients, result.gene_r2, predictions[row.transition],
                                        f"{row.source_cluster} → {row.target_cluster}", result.figures)
    return (time.perf_counter() - start) / max(1, len(best))


def browser_times(page: Path) -> dict | None:
    """Seconds to the load event and to show a transition, in headless Chromium (None without it)."""
    spec = importlib.util.spec_from_file_location("test_browser", REPO / "tests/test_browser.py")
    browser_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(browser_module)
    if browser_module.find_chromium() is None:
        return None
    with browser_module.Chromium(browser_module.find_chromium(), timeout=120) as browser:
        load = browser.open(page)
        show = browser.evaluate("""(async () => {
            const select = document.getElementById('transition-select'), view = document.getElementById('transition-view');
            const last = select.options[select.options.length - 1].value, start = performance.now();
            location.hash = 't=' + last;
            while (select.value !== last || !view.querySelector('h3')) await new Promise(r => setTimeout(r, 1));
            return (performance.now() - start) / 1000; })()""")
        return {"load_event_s": round(load, 2), "show_transition_s": round(show, 3), "problems": browser.problems()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=200)
    parser.add_argument("--detail", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="keep the page here (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.out or Path(tmp)
        start = time.perf_counter()
        inputs, predictions = synthetic_run(directory, args.transitions)
        synth = time.perf_counter() - start
        per_transition = draw_figures(inputs, predictions, args.detail)
        start = time.perf_counter()
        page = directory / "report.html"
        report.write_report(page, top=15, detail=args.detail, **inputs)
        build = time.perf_counter() - start
        result = {"transitions": args.transitions, "detail_transitions": args.detail,
                  "edges_per_transition": int(len(next(iter(inputs["transitions"].values())).coefficients)),
                  "synthesize_s": round(synth, 1), "figures_s_per_transition": round(per_transition, 2),
                  "report_build_s": round(build, 1), "report_mb": round(page.stat().st_size / 1e6, 2)}
        result["browser"] = browser_times(page)
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
