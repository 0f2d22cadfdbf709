"""Scale benchmark of the whole workflow on an atlas-sized synthetic data set (run by hand).

    python benchmarks/scale.py [--workdir /tmp/transgrn-scale] [--steps generate,checkpoint,dag,job,e2e]
                               [--cells 100000 --genes 20000 --clusters 40 --tfs 1500 --edges 500000]
                               [--unit-transitions 3,8]

Data (``generate``, cached in WORKDIR/data): ``--cells`` cells x ``--genes`` genes, CSR sparse
float32 with about ``--genes-per-cell`` non-zero genes per cell (log1p of gamma values; genes drawn
from cluster-specific abundances), ``--clusters`` equal clusters ``type 00 ... type 39`` with a
pseudotime that orders them, and a prior edge list of ``--tfs`` TFs (the first genes) and
``--edges`` distinct random TF -> target edges over all genes.

Steps (each a real ``snakemake`` run in WORKDIR/all or WORKDIR/pseudotime):

* ``checkpoint``: ``transitions.mode: all`` (40 x 39 = 1,560 ordered transitions), only the
  checkpoint ``prepare``: wall time and peak memory of its job.
* ``dag``: ``snakemake -n`` of the whole ``all`` workflow after the checkpoint (every job of all
  1,560 transitions): wall time of the dry run, number of jobs; and a check that no job but the
  checkpoint has the full ``.h5ad`` among its inputs.
* ``job``: every job of one transition (mapping with its mask, fit, evaluation) on 1 core, each in a
  process of its own as on a cluster (``--workflow-profile none``: Snakemake then spawns ``run:``
  jobs instead of running them in its threads): wall time, peak memory and CPU time (user + system) of each job.
* ``e2e``: ``transitions.mode: pseudotime`` (39 transitions) from scratch to the report with
  ``--cores 2``: wall time.
* ``differential`` (not in the default steps): one sibling unit of ``differential.pairs: siblings``
  -- ``type 00`` to each of the next ``k`` clusters, for each ``k`` of ``--unit-transitions``
  (``transitions.mode: all`` gives 39 per unit on 40 clusters) -- with the workflow's defaults
  (``n_boot`` 20, ``max_qvalue`` 1): the upstream jobs of those transitions, whose fits also refit
  the test's bootstrap replicates (the fit jobs' peak memory), then the unit's job (rule
  ``differential_unit``) on 1 core, in a process of its own: its wall time and peak memory. The unit's job depends only on
  a cluster's size, the genes, TFs and prior edges, and ``k``; so ``--cells 22500 --clusters 9``
  (2,500 cells a cluster, as 100,000 in 40) measures an atlas unit up to ``k = 8`` without preparing
  the whole atlas.

Peak memory is the largest resident set size of each job's processes (its Snakemake process and
the worker process that runs the job, transgrn.jobs.runner), sampled every 20 ms with psutil (so a
peak shorter than that can be missed); CPU time is their user + system seconds at the last sample
(interpreter start and imports included). A whole run (``e2e``) reports the peak of Snakemake's own
process and, from the jobs' times files (``logs/benchmarks/``), the largest job's own peak in its worker
and the wall seconds summed per rule.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
STEPS = ["generate", "checkpoint", "dag", "job", "e2e"]
OPTIONAL_STEPS = ["differential"]


# --------------------------------------------------------------------------- data


def generate(out: Path, n_cells: int, n_genes: int, n_clusters: int, n_tfs: int, n_edges: int,
             genes_per_cell: int, seed: int) -> dict:
    import anndata as ad
    import scipy.sparse as sp

    params = dict(cells=n_cells, genes=n_genes, clusters=n_clusters, tfs=n_tfs, edges=n_edges,
                  genes_per_cell=genes_per_cell, seed=seed)
    stamp = out / "params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        print(f"data: reusing {out}")
        return params
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    sizes = np.full(n_clusters, n_cells // n_clusters)
    sizes[: n_cells % n_clusters] += 1
    base = rng.normal(0, 1.0, n_genes)
    indptr, indices, data, labels, pseudotime = [np.zeros(1, np.int64)], [], [], [], []
    offset = 0
    for cluster, size in enumerate(sizes):
        logits = base + rng.normal(0, 0.7, n_genes)
        cdf = np.cumsum(np.exp(logits))
        cdf /= cdf[-1]
        draws = np.sort(np.searchsorted(cdf, rng.random((size, genes_per_cell))), axis=1)
        keep = np.ones_like(draws, dtype=bool)
        keep[:, 1:] = draws[:, 1:] != draws[:, :-1]
        counts = keep.sum(1)
        indices.append(draws[keep].astype(np.int32))
        data.append(np.log1p(rng.gamma(1.5, 2.0, int(counts.sum()))).astype(np.float32))
        indptr.append(offset + np.cumsum(counts))
        offset += int(counts.sum())
        labels += [f"type {cluster:02d}"] * int(size)
        pseudotime.append(cluster + rng.random(size))
    matrix = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.concatenate(indptr)),
                           shape=(n_cells, n_genes))
    del data, indices
    genes = [f"TF{j:04d}" if j < n_tfs else f"G{j:05d}" for j in range(n_genes)]
    obs = pd.DataFrame({"cell_type": pd.Categorical(labels), "pseudotime": np.concatenate(pseudotime)},
                       index=[f"cell{i:06d}" for i in range(n_cells)])
    ad.AnnData(X=matrix, obs=obs, var=pd.DataFrame(index=genes)).write_h5ad(out / "adata.h5ad")
    del matrix
    pairs = np.empty(0, dtype=np.int64)
    while len(pairs) < n_edges:
        more = rng.integers(0, n_tfs, 2 * n_edges) * n_genes + rng.integers(0, n_genes, 2 * n_edges)
        more = more[more // n_genes != more % n_genes]  # no self loops
        pairs = pd.unique(np.concatenate([pairs, more]))
    pairs = np.sort(pairs[:n_edges])
    pd.DataFrame({"tf": np.asarray(genes)[pairs // n_genes], "target_gene": np.asarray(genes)[pairs % n_genes]}).to_csv(
        out / "prior.tsv", sep="\t", index=False)
    stamp.write_text(json.dumps(params))
    size_mb = (out / "adata.h5ad").stat().st_size / 1e6
    print(f"data: wrote {out} in {time.perf_counter() - start:.0f} s ({size_mb:.0f} MB .h5ad, {offset:,} non-zeros)")
    return params


# --------------------------------------------------------------------------- measuring


class PeakSampler:
    """Largest RSS of every job process (``python -m snakemake ... --target-jobs '<rule>:...'``) under ``root``."""

    def __init__(self, root_pid: int, interval: float = 0.02, limit_mb: float | None = None) -> None:
        import psutil

        self.root = psutil.Process(root_pid)
        self.interval = interval
        self.limit = limit_mb * 1e6 if limit_mb else None
        self.exceeded: str | None = None
        self.peaks: dict[int, tuple[str, int]] = {}
        # user + system seconds of each process of a job (its own, its worker's), at their last sample
        self.cpu: dict[int, tuple[str, float]] = {}
        self.snakemake_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                self.snakemake_peak = max(self.snakemake_peak, self.root.memory_info().rss)
                for proc in self.root.children(recursive=True):
                    try:
                        match = re.search(r"--target-jobs '?(\w+):", " ".join(proc.cmdline()))
                        if match:
                            self._sample_job(match.group(1), proc)
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
            except psutil.NoSuchProcess:
                return
            time.sleep(self.interval)

    def _sample_job(self, name: str, proc) -> None:
        """The job's process and its descendants: a local job runs in a worker process that the job's
        Snakemake process forks (transgrn.jobs.runner), so the work is there."""
        import psutil

        rss = 0
        for member in [proc, *proc.children(recursive=True)]:
            try:
                rss = max(rss, member.memory_info().rss)
                times = member.cpu_times()
                self.cpu[member.pid] = (name, times.user + times.system)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        _, peak = self.peaks.get(proc.pid, (name, 0))
        self.peaks[proc.pid] = (name, max(peak, rss))
        if self.limit and rss > self.limit and not self.exceeded:
            # protect a shared machine: stop the whole run (its own session)
            self.exceeded = f"{name} reached {rss / 1e6:.0f} MB"
            os.killpg(self.root.pid, 9)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


MAX_JOB_MB: float | None = None
# run: jobs in processes of their own, as on a cluster, so that each job's memory can be sampled
IN_PROCESSES = ("--workflow-profile", "none")


def snakemake(workdir: Path, *args: str, cores: int = 2) -> tuple[float, PeakSampler, str]:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", str(cores), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    sampler = PeakSampler(proc.pid, limit_mb=MAX_JOB_MB)
    output, _ = proc.communicate()
    elapsed = time.perf_counter() - start
    sampler.stop()
    if sampler.exceeded:
        sys.exit(f"stopped: a job exceeded --max-job-mb ({sampler.exceeded}) during {' '.join(args) or 'the run'}")
    if proc.returncode != 0:
        sys.exit(f"snakemake failed ({' '.join(args)}):\n{output[-4000:]}")
    return elapsed, sampler, output


def write_config(workdir: Path, data: Path, mode: str, **sections: dict) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "data": {"adata": str(data / "adata.h5ad"), "prior": str(data / "prior.tsv"), "cluster_key": "cell_type",
                 "pseudotime_key": "pseudotime"},
        "transitions": {"mode": mode},
        "fit": {"device": "cpu"},
    }
    for name, section in sections.items():
        config[name] = {**config.get(name, {}), **section}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def differential_unit_step(workdir: Path, data: Path, n_transitions: int, n_clusters: int) -> dict:
    """One sibling unit (``type 00`` to the next ``n_transitions`` clusters) with the workflow's
    differential defaults: upstream jobs, then the ``differential_unit`` job on 1 core, measured."""
    if n_transitions >= n_clusters:
        sys.exit(f"differential: a unit of {n_transitions} transitions needs more than {n_clusters} clusters")
    explicit = [["type 00", f"type {j:02d}"] for j in range(1, n_transitions + 1)]
    write_config(workdir, data, "explicit", transitions={"explicit": explicit},
                 differential={"enabled": True, "pairs": "siblings"})
    shutil.rmtree(workdir / "results/differential", ignore_errors=True)
    (workdir / "results/differential.parquet").unlink(missing_ok=True)
    # the fits refit the test's bootstrap replicates (differential_replicates.npy): measured here
    upstream, fits, _ = snakemake(workdir, *[f"results/transitions/{t}/differential_replicates.npy"
                                             for t in _explicit_ids(workdir)], *IN_PROCESSES, cores=1)
    fit_peak = max((p for name, p in fits.peaks.values() if name == "fit_grn"), default=0)
    # the unit's own job: the type 00 unit's table (the gather only concatenates)
    _, sampler, _ = snakemake(workdir, "results/differential/c00_type_00.parquet", *IN_PROCESSES, cores=1)
    peak = max((p for name, p in sampler.peaks.values() if name == "differential_unit"), default=0)
    log = workdir / "logs/differential/c00_type_00.log"
    wall = re.findall(r"\[differential_unit\] finished in ([\d.]+) s", log.read_text())
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(workdir / "results/differential.parquet").metadata.num_rows
    result = {"transitions": n_transitions, "pairs": n_transitions * (n_transitions - 1) // 2,
              "upstream_wall_s": round(upstream, 1), "fit_peak_mb_sampled": round(fit_peak / 1e6),
              "unit_wall_s_logged": float(wall[-1]) if wall else None,
              "peak_mb_sampled": round(peak / 1e6), "rows": rows}
    print(f"differential: unit of {n_transitions} transitions ({result['pairs']} pairs): job "
          f"{result['unit_wall_s_logged']} s on 1 core, peak RSS {peak / 1e6:.0f} MB sampled, "
          f"{rows:,} rows; upstream jobs {upstream:.0f} s, fit job peak {fit_peak / 1e6:.0f} MB sampled")
    return result


def _explicit_ids(workdir: Path) -> list[str]:
    """The transition ids of ``workdir``'s run (after its checkpoint, which this runs)."""
    from transgrn.transitions import read_transitions

    snakemake(workdir, "results/prepared/transitions.tsv", cores=1)
    return list(read_transitions(workdir / "results/prepared/transitions.tsv")["transition"])


def job_times(folder: Path) -> pd.DataFrame:
    """Every job's times file under ``folder`` (``logs/benchmarks``: wall ``s``, ``max_rss`` MB of the job in
    its worker, ``cpu_time``), with its rule (the file's name) and job (its path)."""
    rows = [pd.read_csv(path, sep="\t").iloc[-1].to_dict() | {"rule": path.stem, "job": str(path.relative_to(folder))}
            for path in sorted(folder.rglob("*.tsv"))]
    return pd.DataFrame(rows, columns=["s", "max_rss", "cpu_time", "rule", "job"]) if rows else pd.DataFrame(
        columns=["s", "max_rss", "cpu_time", "rule", "job"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/transgrn-scale"))
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--clusters", type=int, default=40)
    parser.add_argument("--tfs", type=int, default=1_500)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument("--genes-per-cell", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unit-transitions", default="3,8",
                        help="step differential: the numbers of transitions of the sibling units measured")
    parser.add_argument("--max-job-mb", type=float, default=12_000,
                        help="stop the run if one job's memory exceeds this (protects a shared machine)")
    args = parser.parse_args()
    global MAX_JOB_MB
    MAX_JOB_MB = args.max_job_mb
    steps = args.steps.split(",")
    unknown = set(steps) - set(STEPS) - set(OPTIONAL_STEPS)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; choose from {STEPS + OPTIONAL_STEPS}")
    data = args.workdir / "data"
    report_path = args.workdir / "scale_report.json"
    report: dict = json.loads(report_path.read_text()) if report_path.exists() else {}
    report.update(machine=f"{os.cpu_count()} cores")
    report.setdefault("steps", {})

    if "generate" in steps or not (data / "params.json").exists():
        report["data"] = generate(data, args.cells, args.genes, args.clusters, args.tfs, args.edges,
                                  args.genes_per_cell, args.seed)
    all_dir, pt_dir = args.workdir / "all", args.workdir / "pseudotime"
    write_config(all_dir, data, "all")
    write_config(pt_dir, data, "pseudotime")

    if "checkpoint" in steps:
        shutil.rmtree(all_dir / "results", ignore_errors=True)
        elapsed, sampler, _ = snakemake(all_dir, "results/prepared/transitions.tsv", *IN_PROCESSES)
        peak = max((p for name, p in sampler.peaks.values() if name == "prepare"), default=0)
        report["steps"]["checkpoint"] = {"wall_s": round(elapsed, 1), "peak_mb_sampled": round(peak / 1e6)}
        print(f"checkpoint: {elapsed:.1f} s wall (snakemake included), job peak RSS {peak / 1e6:.0f} MB sampled")

    if "dag" in steps:
        elapsed, sampler, output = snakemake(all_dir, "-n", "--quiet", "rules")
        n_jobs = re.search(r"^total\s+(\d+)", output, re.M)
        elapsed_full, _, full = snakemake(all_dir, "-n")
        adata = str(data / "adata.h5ad")
        readers = set(re.findall(r"^(?:rule|checkpoint) (\w+):(?:(?!^(?:rule|checkpoint) ).)*?" + re.escape(adata),
                                 full, re.M | re.S))
        report["steps"]["dag"] = {"dry_run_s": round(elapsed, 1), "dry_run_printing_jobs_s": round(elapsed_full, 1),
                                  "jobs": int(n_jobs.group(1)) if n_jobs else None,
                                  "snakemake_peak_mb": round(sampler.snakemake_peak / 1e6),
                                  "rules_reading_full_h5ad": sorted(readers)}
        print(f"dag: snakemake -n {elapsed:.1f} s ({elapsed_full:.1f} s printing every job) for "
              f"{n_jobs.group(1) if n_jobs else '?'} jobs; snakemake's own peak RSS {sampler.snakemake_peak / 1e6:.0f} MB; "
              f"rules with the full .h5ad as input: {sorted(readers) or 'none'}")

    if "job" in steps:
        from transgrn.transitions import read_transitions

        if not (all_dir / "results/prepared/transitions.tsv").exists():  # the job step needs the checkpoint
            snakemake(all_dir, "results/prepared/transitions.tsv")
        table = read_transitions(all_dir / "results/prepared/transitions.tsv")
        transition = table["transition"].iloc[len(table) // 2]
        shutil.rmtree(all_dir / "results/transitions" / transition, ignore_errors=True)
        elapsed, sampler, output = snakemake(all_dir, f"results/transitions/{transition}/metrics.json",
                                             *IN_PROCESSES, cores=1)
        jobs, cpu = {}, {}
        logs = all_dir / "logs/transitions" / transition
        for name, peak in sampler.peaks.values():
            jobs[name] = max(jobs.get(name, 0), peak)
        for name, seconds in sampler.cpu.values():
            cpu[name] = cpu.get(name, 0.0) + seconds
        walls = {m.group(1): float(m.group(2)) for m in
                 re.finditer(r"\[(\w+)\] finished in ([\d.]+) s", "".join(p.read_text() for p in logs.glob("*.log")))}
        report["steps"]["job"] = {"transition": transition, "wall_s_all_jobs": round(elapsed, 1),
                                  "peak_mb_sampled": {k: round(v / 1e6) for k, v in jobs.items()},
                                  "job_seconds_logged": walls,
                                  "process_cpu_s_sampled": {k: round(v, 1) for k, v in cpu.items()}}
        print(f"job: {transition}: its jobs in {elapsed:.1f} s on 1 core; peak RSS sampled "
              + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in sorted(jobs.items()))
              + "; logged wall s " + ", ".join(f"{k} {v}" for k, v in sorted(walls.items()))
              + "; process CPU s (user + system, interpreter start included) "
              + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items())))

    if "e2e" in steps:
        shutil.rmtree(pt_dir / "results", ignore_errors=True)
        shutil.rmtree(pt_dir / ".snakemake", ignore_errors=True)
        elapsed, sampler, output = snakemake(pt_dir, cores=2)
        n = re.search(r"(\d+) of (\d+) steps \(100%\) done", output)
        # the jobs ran in worker processes: each job's own peak is in its times file (transgrn.jobs.runner)
        jobs = job_times(pt_dir / "logs" / "benchmarks")
        largest = jobs.loc[jobs["max_rss"].idxmax()] if len(jobs) else None
        report["steps"]["e2e"] = {"wall_s": round(elapsed, 1), "jobs": int(n.group(2)) if n else None,
                                  "snakemake_process_peak_mb": round(sampler.snakemake_peak / 1e6),
                                  "largest_job_mb": None if largest is None else round(float(largest["max_rss"])),
                                  "largest_job": None if largest is None else largest["job"],
                                  "work_s": {rule: round(float(s), 1) for rule, s in jobs.groupby("rule")["s"].sum().items()}}
        print(f"e2e (pseudotime, --cores 2): {elapsed:.0f} s wall for {n.group(2) if n else '?'} jobs; "
              f"peak RSS of Snakemake's process {sampler.snakemake_peak / 1e6:.0f} MB; largest job "
              + ("?" if largest is None else f"{largest['max_rss']:.0f} MB ({largest['job']})")
              + "; work per rule (s, summed) " + ", ".join(f"{k} {v}" for k, v in report["steps"]["e2e"]["work_s"].items()))

    if "differential" in steps:
        report["steps"]["differential"] = [
            differential_unit_step(args.workdir / f"differential-{k}", data, int(k), args.clusters)
            for k in args.unit_transitions.split(",")]

    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {report_path} (steps run now replace earlier figures)")


if __name__ == "__main__":
    main()
