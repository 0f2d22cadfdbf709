"""End-to-end benchmark: a whole transgrn run against CellOracle's path to per-cluster GRNs (run by hand).

    .venv/bin/python benchmarks/end_to_end.py                          # demo and small, both tools
    .venv/bin/python benchmarks/end_to_end.py --datasets small --transgrn-only
    .venv/bin/python benchmarks/end_to_end.py --datasets atlas --atlas-modes pseudotime   # long: opt-in

On the same data and in one run it times

* **transgrn**: a fresh ``snakemake --cores N`` of the whole workflow (this checkout's Snakefile, with
  ``--directory WORKDIR/<data set>/run`` and a config of its own; results, logs and ``.snakemake``
  are removed before the run, the input data are kept). From Snakemake's output it reads every
  job (rule, log files); each job's total is the ``s`` of its ``times`` log (the rules' benchmark
  file, written by ``transgrn.jobs.runner``: from the job's ``run:`` block calling the package to
  the job's end; or, for a rule without one, Snakemake's start and finish stamps, to the second), its
  work is the ``[rule] finished in X s`` line the runner writes to the job's log (the time inside the
  job function: reading inputs, computing, writing), and its fixed cost is the difference: handing
  the job to a worker process, hashing its inputs for the provenance record, and getting it back.
  Snakemake's own work between jobs (scheduling, checking outputs) is in neither. Rules are
  discovered from the output, not named here.
* **CellOracle 0.20.0**: ``benchmarks/celloracle_driver.py`` (load, PCA, kNN imputation,
  ``get_links(alpha=10, bagging_number=20)`` per cluster) in CellOracle's own virtual environment,
  created by this script when missing (``--celloracle-venv``), with the same cells, log-normalized
  as transgrn fits them, and the same prior as a CellOracle base GRN. Its input ``.h5ad`` is
  written without ``uns``, which anndata <= 0.10.8 cannot always read.

Preparing the data (simulation, CellOracle's input files) is not timed. It prints both wall times and
their ratio, transgrn's time per rule, the number of jobs and the machine's load (``uptime``) before
and after each run, and writes ``benchmarks/end_to_end_results.csv`` (rows of data sets run now
replace earlier ones, per tool).

Data sets (``--datasets``)
  demo   config/demo.yaml as it is (1,600 cells, 4 clusters, 330 genes, 12 transitions); its
         ``simulate_demo`` job runs before the timed run (62 jobs in all, 61 timed).
  small  ``benchmarks/hill_simulator.py`` with 1,800 cells: 6 clusters in a tree, 100 genes
         (12 TFs), counts (``data.normalize: true``), the tree's 5 transitions (``explicit``).
  atlas  ``benchmarks/scale.py``'s generator at 20,000 cells, 20 clusters, 2,000 genes, 200 TFs,
         20,000 prior edges; transgrn in ``--atlas-modes`` (``pseudotime``: 19 transitions,
         ``all``: 380), CellOracle once (its GRNs are per cluster, whatever the transitions).
         ``--atlas-clusters 40`` splits the same cells into 40 clusters (``atlas40``; ``all``:
         1,560 transitions, about 70 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # hill_simulator and scale: the generators are reused, not rewritten
DRIVER = BENCHMARKS / "celloracle_driver.py"
DEFAULT_VENV = BENCHMARKS / ".venv-celloracle"
DEFAULT_CSV = BENCHMARKS / "end_to_end_results.csv"
DATASETS = ["demo", "small", "atlas"]
CELLORACLE_INSTALL = [["numpy==1.26.4", "cython", "setuptools", "wheel"],
                      ["--no-build-isolation", "celloracle==0.20.0"]]
EMBEDDING = "X_embedding"
# The atlas: the 20,000 cells, 20 clusters, 2,000 genes and 200 TFs; 10 prior edges per gene.
ATLAS = dict(n_cells=20_000, n_genes=2_000, n_clusters=20, n_tfs=200, n_edges=20_000, genes_per_cell=600, seed=0)


# --------------------------------------------------------------------------- data sets


@dataclass
class Dataset:
    """One benchmark case: where transgrn runs, and the inputs both tools read."""

    name: str
    run_dir: Path  # transgrn's --directory (holds config.yaml)
    adata: Path
    prior: Path
    cluster_key: str = "cell_type"
    normalize: bool = False  # X holds counts (data.normalize: true): CellOracle gets them log-normalized too
    keep: tuple[str, ...] = ()  # paths in run_dir that survive the clean-up before the timed run
    untimed: tuple[str, ...] = ()  # targets brought up to date after the clean-up, before the timed run
    celloracle_key: str = ""  # data sets that share CellOracle's result (the atlas modes) share this key
    extra: dict = field(default_factory=dict)


def write_config(run_dir: Path, config: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def prepare_demo(root: Path, cores: int) -> list[Dataset]:
    """config/demo.yaml unchanged; its data are simulated by the workflow's own rule, untimed."""
    run_dir = root / "demo" / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "demo.yaml", run_dir / "config.yaml")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    adata, prior = run_dir / config["data"]["adata"], run_dir / config["data"]["prior"]
    if not adata.exists():
        print("demo: simulating the data (rule simulate_demo, not timed)", flush=True)
        snakemake(run_dir, cores, "simulate_demo", check=True)
    return [Dataset("demo", run_dir, adata, prior, config["data"]["cluster_key"], keep=("config.yaml", "resources"),
                    untimed=("simulate_demo",), celloracle_key="demo")]


def prepare_small(root: Path, cores: int, n_cells: int = 1800, seed: int = 0) -> list[Dataset]:
    """The issue's small differentiation: hill_simulator's 6-cluster tree at 1,800 cells, 5 transitions."""
    from hill_simulator import TRANSITIONS, simulate_hill, write_hill

    data = root / "small" / "data"
    if not (data / "adata.h5ad").exists():
        print(f"small: simulating {n_cells} cells (benchmarks/hill_simulator.py, not timed)", flush=True)
        write_hill(simulate_hill(n_cells=n_cells, seed=seed), data)
    run_dir = root / "small" / "run"
    write_config(run_dir, {
        "data": {"adata": str(data / "adata.h5ad"), "prior": str(data / "prior.csv"), "cluster_key": "cell_type",
                 "pseudotime_key": "pseudotime", "normalize": True},
        "reference": str(data / "reference.csv"),
        "transitions": {"mode": "explicit", "explicit": [list(pair) for pair in TRANSITIONS]},
        "seed": seed,
    })
    return [Dataset("small", run_dir, data / "adata.h5ad", data / "prior.csv", normalize=True,
                    keep=("config.yaml",), celloracle_key="small")]


def prepare_atlas(root: Path, cores: int, modes: list[str], n_clusters: int = ATLAS["n_clusters"]) -> list[Dataset]:
    """benchmarks/scale.py's generator at the issue's atlas size; one transgrn run per transitions mode.
    With another ``n_clusters`` (issue #11's ``mode: all`` on 40 clusters: 1,560 transitions) the same
    cells are split into that many clusters, in a data set of its own (``atlas<n>``)."""
    from scale import generate

    name = "atlas" if n_clusters == ATLAS["n_clusters"] else f"atlas{n_clusters}"
    data = root / name / "data"
    generate(data, ATLAS["n_cells"], ATLAS["n_genes"], n_clusters, ATLAS["n_tfs"], ATLAS["n_edges"],
             ATLAS["genes_per_cell"], ATLAS["seed"])
    cases = []
    for mode in modes:
        run_dir = root / name / mode
        write_config(run_dir, {
            "data": {"adata": str(data / "adata.h5ad"), "prior": str(data / "prior.tsv"), "cluster_key": "cell_type",
                     "pseudotime_key": "pseudotime"},
            "transitions": {"mode": mode},
            "fit": {"device": "cpu"},
        })
        cases.append(Dataset(f"{name}_{mode}", run_dir, data / "adata.h5ad", data / "prior.tsv", keep=("config.yaml",),
                             celloracle_key=name))
    return cases


# --------------------------------------------------------------------------- transgrn


def snakemake(run_dir: Path, cores: int, *targets: str, check: bool = False) -> tuple[float, str, int]:
    """Run this checkout's workflow in ``run_dir``; returns wall seconds, the output, the exit status."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(run_dir),
               "--configfile", str(run_dir / "config.yaml"), "--cores", str(cores), *targets]
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        sys.exit(f"snakemake failed in {run_dir}:\n{proc.stdout[-4000:]}")
    return elapsed, proc.stdout, proc.returncode


def clean(run_dir: Path, keep: tuple[str, ...]) -> None:
    """A fresh run: everything the workflow wrote goes, the config and input data stay."""
    for path in run_dir.iterdir():
        if path.name in keep:
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()


@dataclass
class Job:
    rule: str
    jobid: str
    logs: list[str] = field(default_factory=list)
    benchmark: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    total_s: float | None = None
    work_s: float | None = None


STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
JOB_HEAD = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")
MESSAGE_HEAD = re.compile(r"^Job (\d+): ")
STEPS_DONE = re.compile(r"(\d+) of (\d+) steps \(100%\) done")
WORK = re.compile(r"\[(\w+)\] finished in ([\d.]+) s")


def parse_jobs(output: str) -> dict[str, Job]:
    """Every job Snakemake printed: its rule, log files, benchmark file and start/finish stamps."""
    jobs: dict[str, Job] = {}
    stamp, current = None, None
    for line in output.splitlines():
        if match := STAMP.match(line.strip()):
            stamp = datetime.strptime(re.sub(" +", " ", match.group(1)), "%a %b %d %H:%M:%S %Y")
        elif match := JOB_HEAD.match(line.strip()):
            current = Job(rule=match.group(1), jobid="?", started=stamp)
        elif match := MESSAGE_HEAD.match(line):  # a rule with a message: prints no rule block
            current = None
            jobs[match.group(1)] = Job(rule="?", jobid=match.group(1), started=stamp)
        elif current and (field_match := re.match(r"^\s+(log|benchmark|jobid): (.*)$", line)):
            key, value = field_match.groups()
            if key == "jobid":
                current.jobid = value.strip()
                jobs[current.jobid] = current
            elif key == "log":
                current.logs = [part.split(" (")[0].strip() for part in value.split(", ")]
                # a rule's `times` log (transgrn.jobs.runner.write_times) is its benchmark file
                current.benchmark = next((p for p in current.logs if p.endswith(".tsv")), current.benchmark)
            else:
                current.benchmark = value.strip()
        elif match := FINISHED.match(line.strip()):
            job = jobs.setdefault(match.group(1), Job(rule=match.group(2), jobid=match.group(1)))
            job.rule, job.finished, current = match.group(2), stamp, None
    return jobs


def job_times(run_dir: Path, jobs: dict[str, Job]) -> None:
    """Fill in each job's total (benchmark file, else Snakemake's stamps) and work (its log's timer).

    A job printed with its ``message:`` has no log path in the output: it gets a timer line of its
    rule from a log no other job names (exact for a rule with one job, as ``report``)."""
    timers = {}  # log path -> (rule, seconds) for every log with the timer line
    for path in (run_dir / "logs").rglob("*.log"):
        if found := WORK.findall(path.read_text(errors="replace")):
            timers[str(path.relative_to(run_dir))] = (found[-1][0], float(found[-1][1]))
    claimed = {log for job in jobs.values() for log in job.logs}
    spare: dict[str, list[float]] = {}
    for log, (rule, seconds) in sorted(timers.items()):
        if log not in claimed:
            spare.setdefault(rule, []).append(seconds)
    for job in jobs.values():
        bench = run_dir / job.benchmark if job.benchmark else None
        if bench and bench.exists():
            job.total_s = float(pd.read_csv(bench, sep="\t")["s"].iloc[-1])
        elif job.started and job.finished:
            job.total_s = (job.finished - job.started).total_seconds()
        mine = [timers[log][1] for log in job.logs if log in timers]
        if mine:
            job.work_s = mine[-1]
        elif not job.logs and spare.get(job.rule):
            job.work_s = spare[job.rule].pop()


def unmatched_benchmarks(run_dir: Path, jobs: dict[str, Job]) -> list[str]:
    """Benchmark files no printed job names (a sign that the output format changed)."""
    named = {job.benchmark for job in jobs.values() if job.benchmark}
    return sorted(str(p.relative_to(run_dir)) for p in (run_dir / "logs").rglob("benchmarks/**/*.tsv")
                  if str(p.relative_to(run_dir)) not in named)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def rule_table(jobs: dict[str, Job]) -> pd.DataFrame:
    """Per rule: jobs, median total, median fixed cost (total - work), median work, summed total."""
    rows = []
    for rule in dict.fromkeys(job.rule for job in jobs.values()):
        mine = [job for job in jobs.values() if job.rule == rule]
        timed = [job for job in mine if job.total_s is not None and job.work_s is not None]
        rows.append({"rule": rule, "jobs": len(mine),
                     "median_total_s": median([j.total_s for j in mine if j.total_s is not None]),
                     "median_fixed_s": median([j.total_s - j.work_s for j in timed]),
                     "median_work_s": median([j.work_s for j in timed]),
                     "sum_total_s": round(sum(j.total_s for j in mine if j.total_s is not None), 1),
                     "timed_by": "benchmark" if all(j.benchmark for j in mine) else "stamps (1 s)"})
    return pd.DataFrame(rows)


def run_transgrn(case: Dataset, cores: int) -> dict:
    clean(case.run_dir, case.keep)
    if case.untimed:  # without .snakemake's records Snakemake may redo them ("Code has changed")
        _, output, status = snakemake(case.run_dir, cores, *case.untimed)
        if status != 0:
            raise RuntimeError(f"snakemake {' '.join(case.untimed)} failed on {case.name}:\n{output[-3000:]}")
    load_before = load()
    launched = datetime.now().replace(microsecond=0)
    wall, output, status = snakemake(case.run_dir, cores)
    load_after = load()
    (case.run_dir / "snakemake.out").write_text(output)
    if status != 0:
        raise RuntimeError(f"transgrn failed on {case.name} (exit {status}); output in "
                           f"{case.run_dir / 'snakemake.out'}:\n{output[-3000:]}")
    jobs = parse_jobs(output)
    job_times(case.run_dir, jobs)
    steps = STEPS_DONE.findall(output)
    n_jobs = int(steps[-1][1]) if steps else len(jobs)
    scripted = [j for j in jobs.values() if j.work_s is not None]
    starts = [j.started for j in jobs.values() if j.started]
    return {"wall_s": wall, "jobs": n_jobs, "rules": rule_table(jobs), "load_before": load_before,
            "load_after": load_after, "unmatched": unmatched_benchmarks(case.run_dir, jobs),
            "median_fixed_s": median([j.total_s - j.work_s for j in scripted if j.total_s is not None]),
            "sum_job_s": sum(j.total_s for j in jobs.values() if j.total_s is not None),
            "sum_fixed_s": sum(j.total_s - j.work_s for j in scripted if j.total_s is not None),
            "sum_work_s": sum(j.work_s for j in scripted),
            "transitions": transitions_count(case.run_dir),
            # Snakemake's own start-up (parsing, DAG) before the first job, to the second
            "to_first_job_s": (min(starts) - launched).total_seconds() if starts else None}


def transitions_count(run_dir: Path) -> int | None:
    path = run_dir / "results" / "transitions.tsv"
    return len(pd.read_csv(path, sep="\t")) if path.exists() else None


# --------------------------------------------------------------------------- CellOracle


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_celloracle(venv: Path) -> Path:
    """CellOracle 0.20.0 in its own venv (the recipe that works here), created when missing."""
    python = venv_python(venv)
    probe = [str(python), "-c", "import celloracle, sys; sys.exit(celloracle.__version__ != '0.20.0')"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"celloracle: creating {venv} (a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for packages in CELLORACLE_INSTALL:
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(packages)} failed in {venv}:\n{proc.stdout[-3000:]}\n"
                               f"{proc.stderr[-3000:]}")
    if subprocess.run(probe, capture_output=True).returncode != 0:
        raise RuntimeError(f"celloracle 0.20.0 is not importable in {venv} after installing it")
    return python


def celloracle_inputs(case: Dataset, out: Path) -> tuple[Path, Path]:
    """CellOracle's input: the cells, log-normalized as transgrn fits them, with clusters and a 2-D
    embedding, no uns/layers; the prior, read as transgrn reads it, as a base GRN (one peak per target)."""
    import anndata as ad
    import numpy as np

    from transgrn.networks import read_network
    from transgrn.prepare import normalize_log1p

    adata_path, grn_path = out / "adata.h5ad", out / "base_grn.csv"
    if adata_path.exists() and grn_path.exists():
        return adata_path, grn_path
    out.mkdir(parents=True, exist_ok=True)
    full = ad.read_h5ad(case.adata)
    matrix = normalize_log1p(full.X) if case.normalize else full.X
    obs = full.obs[[case.cluster_key]].copy()
    obs[case.cluster_key] = obs[case.cluster_key].astype(str).astype("category")
    # CellOracle needs an embedding for its plots and simulations, not for the GRNs; data sets
    # come with one (UMAP, force-directed), so a cheap one is given here, untimed.
    rng = np.random.default_rng(0)
    codes = obs[case.cluster_key].cat.codes.to_numpy()
    embedding = np.c_[codes, np.zeros_like(codes)] + rng.normal(0, 0.2, (len(codes), 2))
    # the tutorial's layer raw_count holds per-cell normalized counts (its X their log1p)
    counts = matrix.expm1() if hasattr(matrix, "expm1") else np.expm1(matrix)
    slim = ad.AnnData(X=matrix, obs=obs, var=full.var[[]].copy(), obsm={EMBEDDING: embedding},
                      layers={"raw_count": counts})
    slim.write_h5ad(adata_path)
    edges, _ = read_network(case.prior)
    edges = edges[edges["target_gene"].isin(full.var_names) & edges["tf"].isin(full.var_names)]
    wide = pd.crosstab(edges["target_gene"], edges["tf"]).clip(upper=1)
    wide.insert(0, "gene_short_name", wide.index)
    wide.insert(0, "peak_id", [f"peak_{gene}" for gene in wide.index])
    wide.to_csv(grn_path, index=False)
    return adata_path, grn_path


def run_celloracle(case: Dataset, python: Path, root: Path, cores: int) -> dict:
    work = root / f"celloracle_{case.celloracle_key}"
    adata, grn = celloracle_inputs(case, work / "input")
    shutil.rmtree(work / "output", ignore_errors=True)
    command = [str(python), str(DRIVER), "--adata", str(adata), "--base-grn", str(grn), "--cluster-key",
               case.cluster_key, "--embedding", EMBEDDING, "--n-jobs", str(cores), "--out", str(work / "output")]
    # CellOracle's numba/joblib get the same number of cores as snakemake --cores
    env = {**os.environ, **{v: str(cores) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                    "NUMBA_NUM_THREADS")}}
    env.pop("PYTHONPATH", None)
    load_before = load()
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    wall = time.perf_counter() - start
    load_after = load()
    (work / "driver.out").write_text(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"the CellOracle driver failed (exit {proc.returncode}); output in {work / 'driver.out'}:\n"
                           f"{proc.stdout[-3000:]}")
    record = json.loads((work / "output" / "timings.json").read_text())
    return {"wall_s": wall, "load_before": load_before, "load_after": load_after, **record}


# --------------------------------------------------------------------------- reporting


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average: {load()}"


def print_case(name: str, tg: dict | None, co: dict | None) -> None:
    print(f"\n== {name}")
    if tg:
        print(f"transgrn: {tg['wall_s']:.1f} s wall for {tg['jobs']} jobs ({tg['transitions']} transitions), "
              f"sum of job times {tg['sum_job_s']:.1f} s (fixed costs {tg['sum_fixed_s']:.1f} s, "
              f"work {tg['sum_work_s']:.1f} s); "
              f"first job after {tg['to_first_job_s']} s; median fixed cost per scripted job {tg['median_fixed_s']} s; "
              f"load {tg['load_before']} -> {tg['load_after']}")
        print(tg["rules"].to_string(index=False))
        if tg["unmatched"]:
            print(f"warning: benchmark files of no printed job: {tg['unmatched'][:5]}")
    if co:
        steps = ", ".join(f"{k} {v:.1f}" for k, v in co["timings_s"].items())
        print(f"CellOracle {co['celloracle']}: {co['wall_s']:.1f} s wall ({co['clusters']} clusters, "
              f"{co['genes']} genes, {co['n_pca_dims']} PCs, k={co['k']}); steps (s): {steps}; "
              f"load {co['load_before']} -> {co['load_after']}")
    if tg and co:
        print(f"ratio CellOracle / transgrn wall time: {co['wall_s'] / tg['wall_s']:.2f} "
              f"(> 1: transgrn is faster)")


def csv_rows(name: str, tg: dict | None, co: dict | None, cores: int, when: str) -> list[dict]:
    base = {"date": when, "dataset": name, "cores": cores}
    rows = []
    if tg:
        ratio = round(co["wall_s"] / tg["wall_s"], 3) if co else None
        rows.append({**base, "tool": "transgrn", "rule": "(all)", "jobs": tg["jobs"], "transitions": tg["transitions"],
                     "wall_s": round(tg["wall_s"], 1), "celloracle_over_transgrn": ratio,
                     "median_fixed_s": tg["median_fixed_s"], "sum_total_s": round(tg["sum_job_s"], 1),
                     "to_first_job_s": tg["to_first_job_s"], "sum_fixed_s": round(tg["sum_fixed_s"], 1),
                     "sum_work_s": round(tg["sum_work_s"], 1),
                     "load_before": tg["load_before"], "load_after": tg["load_after"]})
        rows += [{**base, "tool": "transgrn", **row} for row in tg["rules"].to_dict("records")]
    if co:
        rows.append({**base, "tool": "celloracle", "rule": "(all)", "jobs": 1, "wall_s": round(co["wall_s"], 1),
                     "load_before": co["load_before"], "load_after": co["load_after"]})
        rows += [{**base, "tool": "celloracle", "rule": step, "median_total_s": seconds}
                 for step, seconds in co["timings_s"].items()]
    return rows


CSV_COLUMNS = ["date", "dataset", "tool", "rule", "cores", "jobs", "transitions", "wall_s", "celloracle_over_transgrn",
               "median_total_s", "median_fixed_s", "median_work_s", "sum_total_s", "sum_fixed_s", "sum_work_s",
               "to_first_job_s", "timed_by", "load_before", "load_after"]


def write_csv(rows: list[dict], path: Path) -> None:
    """Rows of the (data set, tool) pairs run now replace their earlier rows; other pairs' rows stay."""
    table = pd.DataFrame(rows)
    if path.exists():
        earlier = pd.read_csv(path)
        rerun = pd.MultiIndex.from_frame(table[["dataset", "tool"]].drop_duplicates())
        keep = ~pd.MultiIndex.from_frame(earlier[["dataset", "tool"]]).isin(rerun)
        table = pd.concat([earlier[keep], table], ignore_index=True)
    table = table.reindex(columns=CSV_COLUMNS + [c for c in table.columns if c not in CSV_COLUMNS])
    for column in ("cores", "jobs", "transitions"):
        table[column] = table[column].astype("Int64")  # counts, not 76.0 beside the empty cells
    table.to_csv(path, index=False)
    print(f"wrote {path}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="demo,small", help=f"comma-separated, of {DATASETS} (atlas is long)")
    parser.add_argument("--atlas-modes", default="pseudotime,all", help="transitions.mode of the atlas runs")
    parser.add_argument("--atlas-clusters", type=int, default=ATLAS["n_clusters"],
                        help="clusters of the atlas (40 with --atlas-modes all: 1,560 transitions, about an hour)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/transgrn-end-to-end"))
    parser.add_argument("--cores", type=int, default=2)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--transgrn-only", action="store_true")
    only.add_argument("--celloracle-only", action="store_true")
    parser.add_argument("--celloracle-venv", type=Path, default=DEFAULT_VENV,
                        help="CellOracle 0.20.0's own venv, created when missing")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    args = parser.parse_args()
    names = [n for n in args.datasets.split(",") if n]
    if unknown := set(names) - set(DATASETS):
        parser.error(f"unknown data sets {sorted(unknown)}; choose from {DATASETS}")
    if args.workdir.resolve().is_relative_to(REPO / "results"):
        parser.error("--workdir must not be inside results/ of the checkout")

    when = datetime.now().isoformat(timespec="seconds")
    print(f"{when}; {os.cpu_count()} CPUs; --cores {args.cores}; {uptime()}", flush=True)
    python = None
    if not args.transgrn_only:
        try:
            python = ensure_celloracle(args.celloracle_venv)
        except (RuntimeError, subprocess.CalledProcessError) as error:
            print(f"CellOracle unavailable, timing transgrn only: {error}", flush=True)

    rows, celloracle_done = [], {}
    for name in names:
        prepare = {"demo": prepare_demo, "small": prepare_small}.get(name)
        cases = prepare(args.workdir, args.cores) if prepare else prepare_atlas(
            args.workdir, args.cores, [m for m in args.atlas_modes.split(",") if m], args.atlas_clusters)
        for case in cases:
            tg = None if args.celloracle_only else attempt(run_transgrn, case, args.cores)
            co = celloracle_done.get(case.celloracle_key)
            if python and co is None:
                co = celloracle_done[case.celloracle_key] = attempt(run_celloracle, case, python, args.workdir,
                                                                    args.cores)
            print_case(case.name, tg, co)
            print(f"   {uptime()}", flush=True)
            rows += csv_rows(case.name, tg, co, args.cores, when)
            if rows:  # after every case, so that a failure later keeps what was measured
                write_csv(rows, args.csv)


def attempt(function, *args):
    """One tool on one data set; a failure is printed and the other measurements go on."""
    try:
        return function(*args)
    except RuntimeError as error:
        print(f"\nFAILED: {error}", flush=True)
        return None


if __name__ == "__main__":
    main()
