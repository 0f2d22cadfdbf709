"""How a workflow job runs: inside Snakemake's own process, as a thread, calling a job function.

Every rule is a ``run:`` block that calls :func:`run_job` with one of the functions of
:mod:`transgrn.jobs`. With the workflow profile's ``force-use-threads`` (profiles/default), Snakemake
runs ``run:`` jobs in threads of its own process, so Python, numpy, pandas, anndata and torch start
once per run instead of once per job (issue #25). What that asks of a job:

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

    def attach(self, name: str, path: str | None) -> logging.Handler | None:
        """Send this thread's records to ``path`` (``name`` labels them on stderr) until :meth:`detach`."""
        handler = logging.FileHandler(path, mode="w") if path else logging.NullHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        self._current.job = (name, handler)
        return handler

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
            rule: str, seed: int | None) -> None:
    """Run a job function with the job's files and settings, its log lines in its own log file, and
    the provenance its outputs carry (:func:`transgrn.io.provenance`: rule, wildcards, params, the
    sha256 of every input, package versions, seed). Raises :class:`JobFailed` on any failure."""
    from ..io import provenance

    router = configure_process()
    wildcard_values = dict(wildcards.items())
    name = " ".join([rule, *wildcard_values.values()])
    path = str(log_files[0]) if len(log_files) else None
    router.attach(name, path)
    start = time.perf_counter()
    try:
        arguments = job_arguments(main, {"input": dict(input.items()), "output": dict(output.items()),
                                         "params": dict(params.items()), "wildcards": wildcard_values})
        record = provenance(dict(params.items()), dict(input.items()), seed, rule=rule, wildcards=wildcard_values)
        main(**arguments, record=record)
        log.info("[%s] finished in %.2f s", rule, time.perf_counter() - start)
        if len(output) and wildcard_values.get("transition") in Path(output[0]).parts:
            print(stage_progress(rule, str(output[0]), wildcard_values["transition"]), file=sys.stderr, flush=True)
    except TransgrnError as error:
        log.error("%s", error)
        raise JobFailed(f"{name}: {error}") from None
    except Exception:
        log.exception("unexpected error in rule %s (please report it with this log)", rule)
        raise JobFailed(f"{name}: unexpected error, its traceback is in {path or 'the output above'}; "
                        "please report it with that log") from None
    finally:
        router.detach()


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
