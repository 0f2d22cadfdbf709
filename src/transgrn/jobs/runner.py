"""How a workflow job runs: without a Python of its own, calling a job function.

Every rule is a ``run:`` block that calls :func:`run_job` with one of the functions of
:mod:`transgrn.jobs`. With the workflow profile's ``force-use-threads`` (profiles/default), Snakemake
runs ``run:`` jobs in threads of its own process; in a local run each thread hands its job to one of
``--cores`` long-lived worker processes (:func:`use_worker_processes`), because much of a job's work
holds the interpreter lock that threads share. Either way numpy, pandas, anndata and torch are
imported once per process, not once per job (issue #25). What that asks of a job:

- its log lines go to its own ``log:`` file only: one handler on the root logger sends each record
  to the file of the job whose thread wrote it (:class:`JobLogs`); warnings and errors also go to
  stderr, labelled with the job;
- process-wide settings (torch's and the BLAS libraries' thread counts, Arrow's allocator, Python
  warnings into logging) are set once for the run by :func:`configure_process`, never per job;
- a failure is the job's own: bad input (:class:`~transgrn.errors.TransgrnError`) is one plain message
  in its log and on stderr, anything else (a bug) its traceback in the log; the job then fails and,
  with ``--keep-going``, the others go on.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import TransgrnError

log = logging.getLogger("transgrn")
FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
#: BLAS, OpenMP and torch threads per job: every job computes on one thread, so that ``--cores N``
#: runs N jobs side by side and the arithmetic (and so every result's last bit) does not depend on N
JOB_THREADS = 1


class JobFailed(TransgrnError):
    """A job's failure as Snakemake reports it: one line that names the job and points to its log."""


class JobLogs(logging.Handler):
    """Routes each record to the log file of the job whose thread emitted it; warnings and errors
    also to stderr with the job's name. Records from threads that run no job (Snakemake's own, a
    notebook's) reach stderr only when they are warnings or errors."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._current = threading.local()
        self._console = logging.StreamHandler(sys.stderr)
        self._console.setFormatter(logging.Formatter("%(levelname)s %(job)s%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("snakemake"):
            return
        job = getattr(self._current, "job", None)
        if job is not None:
            job[1].handle(record)
        if record.levelno >= logging.WARNING:
            record.job = f"[{job[0]}] " if job else ""
            self._console.stream = sys.stderr  # the stream of now (pytest and notebooks swap it)
            self._console.handle(record)

    def attach(self, name: str, path: str | None) -> None:
        """Send this thread's records to ``path`` (``name`` labels them on stderr) until :meth:`detach`."""
        handler = logging.FileHandler(path, mode="w") if path else logging.NullHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        self._current.job = (name, handler)

    def detach(self) -> None:
        job = getattr(self._current, "job", None)
        self._current.job = None
        if job is not None:
            job[1].close()


@functools.cache
def configure_process(threads: int = JOB_THREADS) -> JobLogs:
    """Once per process: the job log router on the root logger, Python warnings into logging,
    anndata's notes off stderr, Arrow on the system allocator and every numeric library on
    ``threads`` threads. Returns the router."""
    # set before torch is imported (it reads them once); numpy's BLAS is already loaded by Snakemake
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    # pyarrow's default allocator (mimalloc) keeps freed tables' memory; malloc returns it (benchmarks/scale.py)
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if "torch" in sys.modules:  # imported before the variables were set
        sys.modules["torch"].set_num_threads(threads)
    router = JobLogs()
    root = logging.getLogger()
    root.addHandler(router)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    # anndata notes each text column it writes ("... storing 'tf' as categorical"): keep its warnings
    logging.getLogger("anndata").setLevel(logging.WARNING)
    return router


def job_arguments(main: Callable[..., None], parts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``main``'s arguments from a job's named input, output, params and wildcards (their names are
    the function's parameter names; a name may stand in one part only)."""
    given: dict[str, Any] = {}
    for part, values in parts.items():
        for name, value in values.items():
            if name in given:
                raise TransgrnError(f"the rule's {part} '{name}' is also named elsewhere in the rule: names must be distinct")
            given[name] = value
    accepted = [p for p in inspect.signature(main).parameters if p != "record"]
    return {name: given[name] for name in accepted if name in given}


def run_job(main: Callable[..., None], input: Any, output: Any, params: Any, wildcards: Any, log_files: Any,
            rule: str, seed: int | None, *, alone: bool = False) -> None:
    """Run a job function with the job's files and settings, its log lines in its own log file, and
    the provenance its outputs carry (:func:`transgrn.io.provenance`: rule, wildcards, params, the
    sha256 of every input, package versions, seed): in one of this process's worker processes where
    the workflow asked for them (:func:`use_worker_processes`), else in the calling thread. A job that
    runs ``alone`` (the checkpoint: nothing runs beside it) runs in the calling thread while the
    workers start (:func:`start_workers`). Raises :class:`JobFailed` on any failure."""
    from ..io import provenance

    started = time.perf_counter()
    configure_process()
    wildcard_values = dict(wildcards.items())
    name = " ".join([rule, *wildcard_values.values()])
    path = str(log_files[0]) if len(log_files) else None
    times = dict(log_files.items()).get("times") if hasattr(log_files, "items") else None
    try:
        arguments = _plain(job_arguments(main, {"input": dict(input.items()), "output": dict(output.items()),
                                                "params": dict(params.items()), "wildcards": wildcard_values}))
        record = provenance(dict(params.items()), dict(input.items()), seed, rule=rule, wildcards=wildcard_values)
    except TransgrnError as error:
        raise JobFailed(f"{name}: {error}") from None
    workers = _worker_count()
    if workers and alone:
        start_workers()
    if workers and not alone:
        outcome, message, usage = _in_worker(main, arguments, record, path, name, rule)
    else:
        outcome, message, usage = execute(main, arguments, record, path, name, rule)
    if outcome == OK and times:
        write_times(str(times), time.perf_counter() - started, usage)
    if outcome == BAD_INPUT:
        raise JobFailed(f"{name}: {message}")
    if outcome == BUG:
        raise JobFailed(f"{name}: unexpected error, its traceback is in {path or 'the output above'}; "
                        "please report it with that log")
    if len(output) and wildcard_values.get("transition") in Path(output[0]).parts:
        print(stage_progress(rule, str(output[0]), wildcard_values["transition"]), file=sys.stderr, flush=True)


#: what :func:`execute` returns besides success (``OK``): the job's input was bad (a TransgrnError,
#: its message), or the job hit a bug (its traceback is in the job's log)
OK, BAD_INPUT, BUG = "ok", "bad input", "bug"


def execute(main: Callable[..., None], arguments: dict[str, Any], record: dict[str, Any], path: str | None,
            name: str, rule: str) -> tuple[str, str, dict[str, float | None]]:
    """Call ``main`` with this thread's log records going to the job's log file ``path``; also returns
    what the job used (:func:`job_usage`)."""
    router = configure_process()
    router.attach(name, path)
    _reset_peak_memory()
    start, cpu_start = time.perf_counter(), time.thread_time()
    try:
        main(**arguments, record=record)
        log.info("[%s] finished in %.2f s", rule, time.perf_counter() - start)
        return OK, "", job_usage(time.thread_time() - cpu_start)
    except TransgrnError as error:
        log.error("%s", error)
        return BAD_INPUT, str(error), {}
    except Exception as error:  # noqa: BLE001 -- a bug: its traceback goes to the job's log
        log.exception("unexpected error in rule %s (please report it with this log)", rule)
        return BUG, repr(error), {}
    finally:
        router.detach()


# A job's times file. Snakemake's `benchmark:` directive samples the memory of the whole process tree
# it runs in -- here Snakemake's own process and every worker, every second and once at each job's
# start -- so its numbers were not the job's, and reading /proc/<pid>/smaps of processes that hold
# torch cost Snakemake's process 9-13 s of system time on the demo's 53 jobs (with the directive
# removed 0.6 s). The rules instead name a `times` log, which run_job writes in the benchmark file's
# format: the job's wall time as its rule saw it, the CPU time of the thread that ran it, and the peak
# memory of the process that ran it during the job.
TIMES_HEADER = ("s", "h:m:s", "max_rss", "cpu_time")


def _reset_peak_memory() -> None:
    """Reset this process's peak resident set size (Linux: ``/proc/self/clear_refs``), so that the next
    reading is the peak since now; where that is not possible the reading stays the process's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def job_usage(cpu_seconds: float) -> dict[str, float | None]:
    """CPU seconds and the peak resident memory in MB since :func:`_reset_peak_memory` (the process's
    peak where that could not reset it)."""
    peak_mb = None
    try:
        with open("/proc/self/status") as handle:
            peak_mb = next(int(line.split()[1]) / 1024 for line in handle if line.startswith("VmHWM:"))  # kB
    except (OSError, StopIteration):
        import resource

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux, the process's peak
    return {"cpu_time": cpu_seconds, "max_rss": peak_mb}


def write_times(path: str, seconds: float, usage: Mapping[str, Any]) -> None:
    """One row in the columns of Snakemake's benchmark files that a job can measure of itself."""
    import datetime

    peak = usage.get("max_rss")
    values = [f"{seconds:.4f}", str(datetime.timedelta(seconds=round(seconds))),
              "NA" if peak is None else f"{peak:.2f}", f"{usage.get('cpu_time', float('nan')):.4f}"]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\t".join(TIMES_HEADER) + "\n" + "\t".join(values) + "\n")


def _plain(value: Any) -> Any:
    """Snakemake's file and list objects as plain str, list and dict (sent to a worker process)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# Worker processes. Jobs run as threads of Snakemake's process share one interpreter lock, and much of
# a job's work holds it (matplotlib's figures, POT's transport plans, pandas): two threads then run no
# faster than one (the demo: 29.9 s with --cores 2 against 25.9 s with --cores 1). Where the workflow
# runs locally, each job is therefore sent to one of --cores long-lived worker processes, forked from a
# server that imported numpy, pandas, anndata, torch and matplotlib once (transgrn.jobs.preload), so the
# jobs really run side by side and no job starts a Python or imports a library of its own.
_WORKERS: dict[str, Any] = {}
_WORKERS_LOCK = threading.Lock()
PRELOAD = ["transgrn.jobs.preload"]


def use_worker_processes(count: int | Callable[[], int]) -> None:
    """Run this process's jobs in ``count`` worker processes (0: in the calling threads); a callable
    is asked when the first job runs."""
    _WORKERS["count"] = count


def _worker_count() -> int:
    with _WORKERS_LOCK:
        count = _WORKERS.get("count", 0)
        if callable(count):
            count = _WORKERS["count"] = max(0, int(count()))
        return count


def _pool():
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    with _WORKERS_LOCK:
        if _WORKERS.get("pool") is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _WORKERS["pool"] = ProcessPoolExecutor(_WORKERS["count"], mp_context=context, initializer=configure_process)
        return _WORKERS["pool"]


def start_workers() -> None:
    """Start the server the workers are forked from, without waiting: it imports the libraries
    (:data:`PRELOAD`, 2-3 s) in a process of its own while the caller goes on -- the checkpoint's job,
    which runs alone in Snakemake's thread (``run_job(..., alone=True)``), instead of every worker
    importing torch and matplotlib at its first job."""
    import multiprocessing.forkserver

    _pool()
    multiprocessing.forkserver.ensure_running()


def _in_worker(main: Callable[..., None], arguments: dict[str, Any], record: dict[str, Any], path: str | None,
               name: str, rule: str) -> tuple[str, str, dict[str, float | None]]:
    from concurrent.futures.process import BrokenProcessPool

    pool = _pool()
    try:
        return pool.submit(_execute_by_name, main.__module__, main.__qualname__, arguments, record, path, name,
                           rule).result()
    except BrokenProcessPool as error:  # the worker died (killed, out of memory): later jobs get a new pool
        with _WORKERS_LOCK:
            if _WORKERS.get("pool") is pool:
                _WORKERS["pool"] = None
        if path:
            with open(path, "a") as handle:
                handle.write(f"the worker process running this job died: {error}\n")
        return BUG, f"the worker process died: {error}", {}


def _execute_by_name(module: str, function: str, *args: Any) -> tuple[str, str, dict[str, float | None]]:
    """:func:`execute` of a job function named by its module and name (what a worker is sent)."""
    import importlib

    return execute(getattr(importlib.import_module(module), function), *args)


def stage_progress(rule: str, output: str, transition: str, now: float | None = None) -> str:
    """One line of progress for a per-transition stage: how many transitions have this job's first
    output so far, out of the run's transitions, and the time since the checkpoint listed them
    (``prepared/transitions.tsv`` beside the ``transitions/`` folder). On a partial rerun the count
    includes the outputs kept from before."""
    import glob

    parts = Path(output).parts
    where = parts.index(transition)
    done = len(glob.glob(str(Path(glob.escape(str(Path(*parts[:where]))), "*", *parts[where + 1:]))))
    for depth in range(where, 0, -1):
        table = Path(*parts[:depth]) / "prepared" / "transitions.tsv"
        if table.exists():
            total = sum(1 for _ in table.open()) - 1
            elapsed = (time.time() if now is None else now) - table.stat().st_mtime
            return f"[{rule}] {done} of {total} transitions done, {elapsed:.0f} s since the checkpoint"
    return f"[{rule}] {done} transitions done"
