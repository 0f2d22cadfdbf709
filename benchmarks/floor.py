"""The floor under a whole run: what Snakemake and the imports cost with no arithmetic at all (by hand).

    .venv/bin/python benchmarks/floor.py                 # the small set's job graph, 3 repeats
    .venv/bin/python benchmarks/floor.py --transitions 12   # the demo's

Issue #11 asks for a whole run on the small set (1,800 cells, 5 transitions) 5x faster than
CellOracle's path, and for the 100,000-cell atlas's ``pseudotime`` run (39 transitions) in 300 s.
This script measures how far below those targets the parts that do no science already are, on this
machine and in this hour:

* **``script:`` jobs**: a fresh ``snakemake --cores N`` of a workflow with transgrn's job graph --
  a checkpoint, a pooled fit beside the first stage, one job per transition and stage (mapping,
  fit, evaluation, figures), then ``aggregate``, ``report`` and ``all`` (25 jobs for the small
  set) -- as ``script:`` jobs that only write their outputs, then importing at start what the real
  rule's job imports (numpy, pandas, pyarrow and scipy.sparse in every job; anndata where cluster
  slices or the tensor are read, torch where a solver runs, matplotlib where figures are drawn:
  read off the jobs' ``sys.modules`` on 2026-12-02).
* **``run:`` jobs in threads**: the same graph as ``run:`` blocks executed in Snakemake's own
  threads (``--force-use-threads``, what profiles/default sets for transgrn since issue #25),
  without imports and with every rule's imports done once by the Snakefile.
* **One job**: a one-job workflow importing all of those once, the floor of any Snakemake run
  that uses these libraries, whatever its job graph.
* **The imports**, each in a fresh Python process.
* **The atlas's penalty cross-validation** as the shipped fit does it: one symmetric
  eigendecomposition per target, fold and role (main fit and null), 20,000 targets with 25 prior
  TFs each, 5 folds, 2 roles, 39 transitions, on one thread per core, with ``torch.linalg.eigh``
  (the call ``transgrn.solvers`` makes); everything else in that run comes on top.

It prints each time (min and median of ``--repeats`` runs), the machine's load, and the small set's
CellOracle time from ``benchmarks/end_to_end_results.csv`` when it is there (that row's hour, not
this one's: compare with care).
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from end_to_end import DEFAULT_CSV, load  # benchmarks/ is on the path when this runs as a script

EVERY_JOB = ["numpy", "pandas", "pyarrow.parquet", "scipy.sparse"]
# what each real rule's job had imported when it ended (the small set, 2026-12-02), beyond EVERY_JOB
RULE_IMPORTS = {
    "prepare": ["anndata"],
    "fit_pooled": ["anndata", "torch"],
    "map_cells": ["anndata", "torch"],
    "fit_grn": ["anndata", "torch"],
    "evaluate_grn": ["anndata"],
    "plot_transition": ["matplotlib.figure", "matplotlib.backends.backend_agg"],
    "aggregate": ["anndata"],
    "report": ["matplotlib.figure", "matplotlib.backends.backend_agg"],
}
STAGES = ["map_cells", "fit_grn", "evaluate_grn", "plot_transition"]

SNAKEFILE = '''
TRANSITIONS = {transitions!r}
STAGES = {stages!r}
PREVIOUS = dict(zip(STAGES[1:], STAGES[:-1]))
JOB = {job!r}  # "script": a script: job per rule (a Python per job); "run": run: blocks in Snakemake's threads
if JOB == "run":
    import importlib, os
    for _rule in {rules!r}:  # imported once, by Snakemake's own process
        for _module in os.environ.get("FLOOR_IMPORTS_" + _rule, "").split():
            importlib.import_module(_module)

def write(output, rule):
    import os
    for path in output:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        open(path, "w").write(rule)

def prepared(wildcards):  # every job after the checkpoint waits for it, as transgrn's do
    return checkpoints.prepare.get().output[0]

rule all:
    input: "report.txt"

for name, inputs, output in [
    ("prepare", [], "prepared/transitions.json"),
    ("fit_pooled", [prepared], "pooled.txt"),
    *[(stage, [prepared, *(["pooled.txt"] if stage == "fit_grn" else []),
               *(["transitions/{{transition}}/" + PREVIOUS[stage] + ".txt"] if stage in PREVIOUS else [])],
       "transitions/{{transition}}/" + stage + ".txt") for stage in STAGES],
    ("aggregate", [expand("transitions/{{t}}/evaluate_grn.txt", t=TRANSITIONS)], "aggregate.txt"),
    ("report", ["aggregate.txt", expand("transitions/{{t}}/plot_transition.txt", t=TRANSITIONS)], "report.txt"),
]:
    if name == "prepare":
        checkpoint:
            name: name
            output: output
            params: rule=name
            script: "job.py"
    elif JOB == "script":
        rule:
            name: name
            input: *inputs
            output: output
            params: rule=name
            script: "job.py"
    else:
        rule:
            name: name
            input: *inputs
            output: output
            params: rule=name
            run:
                write(output, params.rule)
'''

JOB = '''
import importlib, os
for module in os.environ.get("FLOOR_IMPORTS_" + snakemake.params.rule, "").split():
    importlib.import_module(module)
for path in snakemake.output:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    open(path, "w").write(snakemake.params.rule)
'''

ONE_JOB = '''
rule all:
    output: "done.txt"
    params: rule="all"
    script: "job.py"
'''


def summary(times: list[float]) -> str:
    return f"min {min(times):5.2f} s, median {statistics.median(times):5.2f} s"


def snakemake_run(workdir: Path, snakefile: str, cores: int, env: dict[str, str], *extra: str) -> float:
    """Wall time of a fresh ``snakemake --cores N`` in ``workdir`` (everything but the Snakefile
    and the job script removed first)."""
    for entry in workdir.iterdir():
        if entry.name not in ("Snakefile", "job.py"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (workdir / "Snakefile").write_text(snakefile)
    (workdir / "job.py").write_text(JOB)
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet", "all", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"snakemake failed in {workdir}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def import_env(per_rule: dict[str, list[str]]) -> dict[str, str]:
    env = dict(os.environ)
    for rule, modules in per_rule.items():
        env["FLOOR_IMPORTS_" + rule] = " ".join(modules)
    return env


def import_time(modules: list[str], repeats: int) -> list[float]:
    code = "; ".join(f"import {m}" for m in modules) or "pass"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return times


def graph(transitions: int, job: str) -> str:
    """The workflow's job graph with ``transitions`` transitions: ``script:`` or ``run:`` jobs."""
    names = [f"t{i}" for i in range(transitions)]
    return SNAKEFILE.format(transitions=names, stages=STAGES, job=job, rules=list(RULE_IMPORTS))


def eigh_floor(targets: int, tfs: int, folds: int, roles: int, transitions: int, cores: int) -> tuple[float, float]:
    """Seconds per eigendecomposition of a ``tfs x tfs`` SPD matrix (batched, one thread), and the
    wall time of all the atlas run's on ``cores`` cores."""
    import torch

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    batch = 2000
    a = torch.randn(batch, tfs, 4 * tfs, dtype=torch.float64, generator=generator)
    gram = a @ a.transpose(1, 2)
    best = min(_timed(lambda: torch.linalg.eigh(gram)) for _ in range(5)) / batch
    return best, best * targets * folds * roles * transitions / cores


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def celloracle_small() -> str:
    path = DEFAULT_CSV
    if not path.exists():
        return "no benchmarks/end_to_end_results.csv"
    rows = [r for r in csv.DictReader(path.open()) if r["dataset"] == "small" and r["tool"] == "celloracle"
            and r["rule"] == "(all)"]
    if not rows:
        return "no CellOracle row for the small set"
    row = rows[-1]
    return f"{float(row['wall_s']):.1f} s on {row['date']} (5x faster: {float(row['wall_s']) / 5:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transitions", type=int, default=5, help="transitions in the job graph (small set: 5)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-eigh", action="store_true", help="leave out the atlas cross-validation's floor")
    args = parser.parse_args()

    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}; {os.cpu_count()} CPUs; --cores {args.cores}; load {load()}")
    every = {rule: EVERY_JOB + modules for rule, modules in RULE_IMPORTS.items()}
    all_modules = list(dict.fromkeys(m for modules in every.values() for m in modules))
    scripts, threads = graph(args.transitions, "script"), graph(args.transitions, "run")
    # prepare, fit_pooled, aggregate, report, all; a job per transition and stage
    jobs = 5 + args.transitions * len(STAGES)
    in_threads = ("--force-use-threads",)
    with tempfile.TemporaryDirectory(prefix="transgrn-floor-") as tmp:
        workdir = Path(tmp)
        bare = [snakemake_run(workdir, scripts, args.cores, import_env({})) for _ in range(args.repeats)]
        loaded = [snakemake_run(workdir, scripts, args.cores, import_env(every)) for _ in range(args.repeats)]
        bare_threads = [snakemake_run(workdir, threads, args.cores, import_env({}), *in_threads)
                        for _ in range(args.repeats)]
        loaded_threads = [snakemake_run(workdir, threads, args.cores, import_env(every), *in_threads)
                          for _ in range(args.repeats)]
        one = [snakemake_run(workdir, ONE_JOB, args.cores, import_env({"all": all_modules}))
               for _ in range(args.repeats)]
    print(f"job graph: {args.transitions} transitions, one job per transition and stage, {jobs} jobs")
    print(f"  script: jobs, scripts only write their outputs:     {summary(bare)}")
    print(f"  script: jobs, each rule's imports in every job:      {summary(loaded)}")
    print(f"  run: jobs in Snakemake's threads, no imports:        {summary(bare_threads)}")
    print(f"  run: jobs in Snakemake's threads, imports once:      {summary(loaded_threads)}")
    print(f"  one job importing everything once:                   {summary(one)}")
    print("imports in a fresh process:")
    print(f"  python -c pass: {summary(import_time([], args.repeats))}")
    for modules in (EVERY_JOB, ["anndata"], ["torch"], ["matplotlib.figure", "matplotlib.backends.backend_agg"], all_modules):
        print(f"  {' '.join(modules)}: {summary(import_time(modules, args.repeats))}")
    print(f"CellOracle on the small set (end_to_end_results.csv): {celloracle_small()}")
    if not args.skip_eigh:
        each, wall = eigh_floor(targets=20000, tfs=25, folds=5, roles=2, transitions=39, cores=args.cores)
        print(f"atlas pseudotime cross-validation: {each * 1e6:.0f} us per 25 x 25 eigendecomposition; "
              f"20,000 targets x 5 folds x 2 roles x 39 transitions = {wall:.0f} s on {args.cores} cores "
              f"(target for the whole run: 300 s)")
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
