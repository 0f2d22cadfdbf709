"""TEST ONLY: make the first cluster job of one rule fail, so that a test can watch the failure be
reported and the job retried (tests/test_slurm.py). Nothing in the transgrn package knows of it.

Python imports ``sitecustomize`` at start-up from the first folder on ``sys.path`` that has one,
so this module runs in every Python process started with this folder on ``PYTHONPATH``, before
that process's own code and with ``sys.argv`` already set. On a cluster, Snakemake runs a job (or
a group of jobs) as ``python -m snakemake ... --target-jobs 'fit_grn:transition=...' ...``, and
SLURM jobs inherit the environment (the SLURM executor submits with ``--export=ALL``), so the
folder and the variable reach the jobs on the cluster too.

With ``TRANSGRN_TEST_FAIL_ONCE=<rule>:<marker file>`` (e.g. ``fit_grn:/tmp/m``), the first
process whose ``--target-jobs`` names only jobs of that rule creates the marker (atomically:
``O_EXCL``, so one job wins even when several start at once) and exits with status 1 before
Snakemake runs; every later one, its retry included, runs normally. Without the variable this
module does nothing.
"""
from __future__ import annotations

import os
import sys

VARIABLE = "TRANSGRN_TEST_FAIL_ONCE"


def _fail_once() -> None:
    spec = os.environ.get(VARIABLE, "")
    if ":" not in spec or not sys.argv or not sys.argv[0]:
        return
    rule, marker = spec.split(":", 1)
    if "--target-jobs" not in sys.argv:
        return
    targets = sys.argv[sys.argv.index("--target-jobs") + 1:]
    targets = targets[:next((i for i, arg in enumerate(targets) if arg.startswith("--")), len(targets))]
    # a process of that rule's jobs alone: the job itself (srun'd inside a packed submission), not the
    # submission that runs a group of jobs, so that the group's log shows the job's resources first
    if not targets or not all(target.strip("'\"").startswith(f"{rule}:") for target in targets):
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    sys.stderr.write(f"{VARIABLE}: injected failure of this job of rule {rule} (test only; unset the variable)\n")
    sys.stderr.flush()
    # not sys.exit: a SystemExit raised while `site` imports this module is a fatal start-up error
    os._exit(1)


_fail_once()
