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
    plain message, without a traceback, and the job exits with status 1.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        handlers.append(logging.FileHandler(str(snakemake.log[0]), mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    # Set before torch/numpy start their thread pools; importing torch here would slow every rule.
    threads = str(int(getattr(snakemake, "threads", 1) or 1))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = threads
    start = time.perf_counter()
    try:
        _fault_injection_for_tests(snakemake)
        main(snakemake)
    except TransgrnError as error:
        logging.getLogger("transgrn").error("%s", error)
        sys.exit(1)
    # what profiles/slurm's mem_mb and runtime are sized from (benchmarks/scale.py reads it)
    logging.getLogger("transgrn").info(
        "[%s] finished in %.2f s, peak memory %d MB", getattr(snakemake, "rule", "?"), time.perf_counter() - start,
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


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
