"""Glue for Snakemake rule scripts: logging to the rule's log, threads, and clean errors."""

from __future__ import annotations

import logging
import os
import sys
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
    try:
        main(snakemake)
    except TransgrnError as error:
        logging.getLogger("transgrn").error("%s", error)
        sys.exit(1)
