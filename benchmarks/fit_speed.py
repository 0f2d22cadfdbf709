"""Speed, memory and training loss of the masked solvers on one synthetic transition (run by hand).

    python benchmarks/fit_speed.py [--size notebook|human|both] [--quick]

Sizes: ``notebook`` -- 151 source cells, 453 target cells, 68 TFs x 5,582 targets, prior density
~30%, 2,000 pairs; ``human`` -- 1,000 TFs x 15,000 targets, 300,000 prior edges, 5,000 pairs
(3,000 source and 3,000 target cells). Data: TF expression with shared low-rank structure; each
target cell descends from one source cell, ``y = x_parent @ W + b + noise`` with ``W`` sparse
inside the prior; 70% of pairs join a target cell to its parent, 30% to a random source cell.

Every method runs in its own subprocess that loads the data from ``.npy`` files. Reported:

* seconds per transition: median over repeats of the whole ``fit`` (tensor conversion included);
  methods too slow to run in full are timed on a part and extrapolated linearly (marked ``~``);
* peak memory: the subprocess's peak RSS during the fits minus its RSS just before them (data
  loaded, torch and sklearn imported, one warm-up fit done): the fit's working memory beyond the
  input arrays, numpy and torch CPU alike. The peak mark is reset first (Linux
  ``/proc/self/clear_refs``, then ``VmHWM``); elsewhere the ``ru_maxrss`` rise is used;
* training MSE over all pairs and targets (mean of squared residuals); for a method timed on a
  subset of targets (bagging at human scale) over those targets only, so not comparable.

Torch runs on 2 threads. The CellOracle-style bagging ridge (sklearn, one target at a time) runs on
one core; its reported time is the one-core time divided by 2 -- perfect scaling over the 2 cores,
the best CellOracle's per-gene joblib parallelism could reach -- so ratios against it are conservative.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {
    "notebook": dict(n_source=151, n_target_cells=453, n_tfs=68, n_targets=5582, n_edges=None, density=0.30,
                     n_pairs=2000),
    "human": dict(n_source=3000, n_target_cells=3000, n_tfs=1000, n_targets=15000, n_edges=300_000, density=None,
                  n_pairs=5000),
}
METHODS = ("ridge", "lasso", "elasticnet", "bootstrap_ridge", "adam", "bagging_ridge")
RIDGE_ALPHA, LASSO_ALPHA, ENET_ALPHA, N_BOOT = 1.0, 0.01, 0.01, 20


def synthesize(n_source: int, n_target_cells: int, n_tfs: int, n_targets: int, n_edges: int | None,
               density: float | None, n_pairs: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Paired design (X source TFs, Y target genes) and prior mask with a planted sparse W inside it."""
    rng = np.random.default_rng(seed)
    x_src = (rng.normal(size=(n_source, 8)) @ rng.normal(size=(8, n_tfs)) * 0.5
             + rng.normal(size=(n_source, n_tfs)) + 2.0)
    # TF out-degrees vary (a few hubs): per-TF edge probability from a log-normal, scaled to the target
    tf_weight = rng.lognormal(0.0, 1.0, n_tfs)
    target_density = density if density is not None else n_edges / (n_tfs * n_targets)
    prob = np.clip(tf_weight / tf_weight.mean() * target_density, 0, 0.95)
    mask = rng.random((n_tfs, n_targets), dtype=np.float32) < prob[:, None].astype(np.float32)
    w = np.where(rng.random(mask.shape, dtype=np.float32) < 0.2, rng.normal(size=mask.shape).astype(np.float32), 0)
    w = (w * mask).astype(np.float64)
    parent = rng.integers(0, n_source, n_target_cells)
    y_cells = x_src[parent] @ w + rng.normal(size=n_targets) + rng.normal(size=(n_target_cells, n_targets))
    cell = rng.integers(0, n_target_cells, n_pairs)
    source = np.where(rng.random(n_pairs) < 0.7, parent[cell], rng.integers(0, n_source, n_pairs))
    return {"x": x_src[source], "y": y_cells[cell], "mask": mask}


# ---------------------------------------------------------------- worker (one method per process)


def _bagging_fit(x: np.ndarray, y: np.ndarray, mask: np.ndarray, targets: np.ndarray) -> float:
    """CellOracle-style bagging ridge on ``targets``; returns their training MSE."""
    from sklearn.ensemble import BaggingRegressor
    from sklearn.linear_model import Ridge

    sse = 0.0
    for t in targets:
        cols = mask[:, t]
        if not cols.any():
            sse += float(((y[:, t] - y[:, t].mean()) ** 2).sum())
            continue
        model = BaggingRegressor(estimator=Ridge(alpha=10), n_estimators=20, max_features=0.8, bootstrap=True,
                                 random_state=0, n_jobs=1).fit(x[:, cols], y[:, t])
        sse += float(((y[:, t] - model.predict(x[:, cols])) ** 2).sum())
    return sse / (len(targets) * len(y))


def _mse(x: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray, chunk: int = 2000) -> float:
    """Training MSE, computed by blocks of targets so that it needs little memory."""
    sse = sum(float(((y[:, s:s + chunk] - x @ coef[:, s:s + chunk] - intercept[s:s + chunk]) ** 2).sum())
              for s in range(0, y.shape[1], chunk))
    return sse / y.size


def _run_method(method: str, x: np.ndarray, y: np.ndarray, mask: np.ndarray, args) -> tuple[float, dict]:
    """Fit once; returns (seconds for a full transition, extras).

    Extras hold either ``coef``/``intercept`` (the MSE is computed later, outside the memory
    measurement) or ``mse`` directly (bagging), plus notes.
    """
    from transgrn.confidence import bootstrap_edges
    from transgrn.solvers import MaskedAdam, MaskedElasticNet, MaskedLasso, MaskedRidge

    start = time.perf_counter()
    if method in ("ridge", "lasso", "elasticnet"):
        model = {"ridge": lambda: MaskedRidge(alpha=RIDGE_ALPHA, device="cpu"),
                 "lasso": lambda: MaskedLasso(alpha=LASSO_ALPHA, device="cpu"),
                 "elasticnet": lambda: MaskedElasticNet(alpha=ENET_ALPHA, l1_ratio=0.5, device="cpu")}[method]()
        model.fit(x, y, mask)
        seconds = time.perf_counter() - start
        note = f"{model.n_iter_} iterations, converged={model.converged_}" if hasattr(model, "n_iter_") else ""
        return seconds, {"coef": model.coef_, "intercept": model.intercept_, "note": note}
    if method == "bootstrap_ridge":
        res = bootstrap_edges(lambda: MaskedRidge(alpha=RIDGE_ALPHA, device="cpu"), x, y, mask, n_boot=N_BOOT, seed=0)
        seconds = time.perf_counter() - start
        coef = np.zeros(mask.shape)
        coef[mask] = np.nan_to_num(res["weight_mean"])
        return seconds, {"coef": coef, "intercept": res["intercept_mean"],
                         "note": "loss of the mean weights"}
    if method == "adam":
        model = MaskedAdam(alpha=0.0, lr=1e-2, epochs=args.epochs, seed=0, device="cpu", dtype="float32")
        model.fit(x, y, mask)
        seconds = (time.perf_counter() - start) * 1000 / args.epochs  # time for the notebook's 1000 epochs
        partial = args.epochs != 1000
        note = f"~ {args.epochs} epochs timed x {1000 / args.epochs:g}; loss after {args.epochs}" if partial else ""
        return seconds, {"coef": model.coef_, "intercept": model.intercept_, "note": note, "partial": partial}
    if method == "bagging_ridge":
        n_targets = mask.shape[1]
        targets = np.arange(n_targets) if args.targets >= n_targets else \
            np.sort(np.random.default_rng(0).choice(n_targets, args.targets, replace=False))
        mse = _bagging_fit(x, y, mask, targets)
        seconds = (time.perf_counter() - start) * n_targets / len(targets) / 2
        note = "1 core / 2"
        if len(targets) < n_targets:
            note += f"; ~ {len(targets)} targets timed x {n_targets / len(targets):.1f}"
        return seconds, {"mse": mse, "note": note, "partial": len(targets) < n_targets}
    raise ValueError(method)


def _vm_mib(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def _reset_peak_rss() -> float:
    """Reset the peak-RSS mark to the current RSS (Linux ``clear_refs``); returns the baseline in MiB.

    Without a reset, ``ru_maxrss`` keeps earlier transients (loading, warm-up) and hides the fit's
    own peak. Falls back to the ``ru_maxrss`` so far where ``/proc`` is not available.
    """
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return _vm_mib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss() -> float:
    try:
        return _vm_mib("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args) -> None:
    import torch  # noqa: F401  (imported before the baseline so that its own memory is not counted)
    import sklearn.ensemble  # noqa: F401

    torch.set_num_threads(2)
    data = {k: np.load(Path(args.data) / f"{k}.npy") for k in ("x", "y", "mask")}
    # untimed warm-up on a slice: first calls pay torch's lazy initialization once per process
    warm = argparse.Namespace(**{**vars(args), "epochs": 2, "targets": 5})
    _run_method(args.worker, data["x"], data["y"][:, :100], data["mask"][:, :100], warm)
    baseline = _reset_peak_rss()
    times, extra = [], {}
    for _ in range(args.repeats):
        extra = {}  # drop the previous fit's outputs before the next one
        seconds, extra = _run_method(args.worker, data["x"], data["y"], data["mask"], args)
        times.append(seconds)
    peak = _peak_rss()
    load = os.getloadavg()[0]
    if "mse" not in extra:
        extra["mse"] = _mse(data["x"], data["y"], extra.pop("coef"), extra.pop("intercept"))
    print(json.dumps({"seconds": statistics.median(times), "repeats": args.repeats,
                      "peak_mib": peak - baseline, "load": load, **extra}))


# ---------------------------------------------------------------- driver


def _plan(size: str, quick: bool) -> dict[str, dict]:
    """Repeats and partial-run settings per method."""
    human = size == "human"
    r = 1 if quick else (3 if not human else 2)
    return {
        "ridge": {"repeats": 1 if quick else (5 if not human else 3)},
        "lasso": {"repeats": r},
        "elasticnet": {"repeats": r},
        "bootstrap_ridge": {"repeats": 1 if (quick or human) else 3},
        "adam": {"repeats": 1, "epochs": (3 if human else (100 if quick else 1000))},
        "bagging_ridge": {"repeats": 1, "targets": (100 if quick else 300) if human else (500 if quick else 10**9)},
    }


def run_size(size: str, quick: bool, workdir: Path) -> list[str]:
    data = synthesize(**SIZES[size])
    for key, value in data.items():
        np.save(workdir / f"{key}.npy", value)
    x, y, mask = data["x"], data["y"], data["mask"]
    lines = [f"\n== {size}: {x.shape[0]} pairs, {mask.shape[0]} TFs x {mask.shape[1]} targets, "
             f"{int(mask.sum()):,} prior edges (density {mask.mean():.3f}), "
             f"largest support {int(mask.sum(0).max())} TFs"]
    print(lines[0], flush=True)
    results = {}
    for method, plan in _plan(size, quick).items():
        cmd = [sys.executable, __file__, "--worker", method, "--data", str(workdir), "--repeats", str(plan["repeats"]),
               "--epochs", str(plan.get("epochs", 1000)), "--targets", str(plan.get("targets", 0))]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"{method} failed:\n{out.stderr}")
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"   {method} done ({results[method]['seconds']:.2f} s)", flush=True)
    lines += _table(results) + _checks(size, results)
    print("\n".join(lines[1:]), flush=True)
    return lines


def _table(results: dict[str, dict]) -> list[str]:
    adam, bag = results["adam"]["seconds"], results["bagging_ridge"]["seconds"]
    rows = [f"{'method':<16}{'s/transition':>14}{'repeats':>9}{'peak MiB':>10}{'train MSE':>12}"
            f"{'vs Adam':>10}{'vs bagging':>12}{'load':>6}  notes"]
    for method, r in results.items():
        mark = "~" if r.get("partial") else " "
        rows.append(f"{method:<16}{mark}{r['seconds']:>13.3f}{r['repeats']:>9}{r['peak_mib']:>10.0f}{r['mse']:>12.4f}"
                    f"{adam / r['seconds']:>9.1f}x{bag / r['seconds']:>11.1f}x{r['load']:>6.1f}  {r['note']}")
    return rows


def _checks(size: str, results: dict[str, dict]) -> list[str]:
    s = {m: r["seconds"] for m, r in results.items()}
    adam_partial = results["adam"].get("partial")
    checks = [
        ("ridge >= 100x faster than Adam at lower loss", s["adam"] / s["ridge"] >= 100
         and (adam_partial or results["ridge"]["mse"] < results["adam"]["mse"]),
         "loss not compared: Adam ran partially (ridge at alpha=1 is ~least squares: its training MSE is "
         "the floor Adam's MSE loss tends to)" if adam_partial else ""),
        ("lasso >= 10x faster than Adam", s["adam"] / s["lasso"] >= 10, ""),
        ("bootstrap ridge N=20 >= 10x faster than bagging ridge", s["bagging_ridge"] / s["bootstrap_ridge"] >= 10, ""),
    ]
    if size == "human":
        checks.append(("human-scale ridge transition < 10 s on 2 cores", s["ridge"] < 10, ""))
    return [f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  [{note}]" if note else "") for name, ok, note in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["notebook", "human", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="fewer repeats; Adam and bagging timed on a part")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--targets", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    import torch

    print(f"fit_speed: torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"quick={args.quick}; ridge alpha={RIDGE_ALPHA}, lasso alpha={LASSO_ALPHA}, "
          f"elastic net alpha={ENET_ALPHA} l1_ratio=0.5, bootstrap N={N_BOOT}; float64 except Adam (float32)")
    print(f"load average before start: {os.getloadavg()[0]:.2f} (the 2 cores may be shared; timings are medians)")
    print("peak MiB = peak RSS of the method's subprocess during its fits minus its RSS before them "
          "(numpy + torch CPU; VmHWM after a clear_refs reset); '~' = timed on a part and extrapolated linearly; "
          "load = 1-min load average "
          "when the method finished (includes the benchmark's own 1-2)")
    for size in (["notebook", "human"] if args.size == "both" else [args.size]):
        with tempfile.TemporaryDirectory() as tmp:
            run_size(size, args.quick, Path(tmp))


if __name__ == "__main__":
    main()
