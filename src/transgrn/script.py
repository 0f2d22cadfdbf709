"""Glue for Snakemake rule scripts: logging to the rule's log, threads, and clean errors."""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from .errors import TransgrnError


def run(main: Callable[[Any], None], snakemake: Any) -> None:
    """Call ``main(snakemake)`` with logging sent to the rule's log file.

    A :class:`TransgrnError` (bad input or config) is written to the log and to stderr as one
    plain message, without a traceback, and the job exits with status 1. Any other exception is a
    bug: its traceback goes to the log too (Snakemake points the user there), and the job exits 1.
    """
    logging.basicConfig(level=logging.INFO, handlers=_handlers(snakemake.log), force=True,
                        format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    _quiet_library_loggers()
    logger = logging.getLogger("transgrn")
    # Set before torch/numpy start their thread pools; importing torch here would slow every rule.
    threads = str(int(getattr(snakemake, "threads", 1) or 1))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = threads
    start = time.perf_counter()
    try:
        _fault_injection_for_tests(snakemake)
        main(snakemake)
    except TransgrnError as error:
        logger.error("%s", error)
        sys.exit(1)
    except Exception:
        rule = getattr(snakemake, "rule", "?")
        logger.exception("unexpected error in rule %s (please report it with this log)", rule)
        sys.exit(1)
    # what profiles/slurm's mem_mb and runtime are sized from (benchmarks/scale.py reads it)
    logger.info(
        "[%s] finished in %.2f s, peak memory %d MB", getattr(snakemake, "rule", "?"), time.perf_counter() - start,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def _handlers(log: Any) -> list[logging.Handler]:
    """Everything from INFO up to the rule's log file; to stderr only warnings and errors, so that
    the terminal of a run with hundreds of jobs shows problems and Snakemake's progress, not every
    job's notes (``make demo`` printed 1,562 lines). A rule without a log keeps INFO on stderr."""
    console = logging.StreamHandler(sys.stderr)
    if not log:
        return [console]
    console.setLevel(logging.WARNING)
    return [console, logging.FileHandler(str(log[0]), mode="w")]


def _quiet_library_loggers() -> None:
    """anndata logs an INFO note per text column it writes ("... storing 'tf' as categorical") to a
    stderr handler of its own, past ours: keep its warnings, drop its notes. The level is set on
    the logger, which importing anndata later (as some jobs do, lazily) does not reset."""
    logging.getLogger("anndata").setLevel(logging.WARNING)


FAULT_VARIABLE = "TRANSGRN_TEST_FAIL_ONCE"


def _fault_injection_for_tests(snakemake: Any) -> None:
    """TEST ONLY: with ``TRANSGRN_TEST_FAIL_ONCE=<rule>:<marker file>`` in the environment, the first
    job of ``<rule>`` to start creates the marker and fails; every later job (its retry included)
    runs normally. tests/test_slurm.py uses it to check that a failed job is reported and retried."""
    spec = os.environ.get(FAULT_VARIABLE)
    if not spec or ":" not in spec:
        return
    rule, marker = spec.split(":", 1)
    if rule != getattr(snakemake, "rule", None):
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    raise TransgrnError(f"{FAULT_VARIABLE}: injected failure of this {rule} job (test only; unset the variable)")
