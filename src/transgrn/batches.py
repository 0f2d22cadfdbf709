"""Batches of transitions: one job per stage and batch instead of one per stage and transition.

A per-transition job does milliseconds of arithmetic after seconds of start-up (Python, numpy,
pandas, anndata; torch in the fit; matplotlib in the figures), so a run of many small transitions
spent most of its time starting jobs (issue #11). The per-transition stages (mapping, fit,
evaluation, figures) therefore run as one job per *batch* of transitions, which calls the stage's
per-transition function for each of its transitions in turn and pays the start-up once.

Snakemake still tracks every transition's files, so that everything downstream (aggregate, the
report, the MLP, the differential test, ``snakemake --report``) and the caching of each stage stay
as they were: a batch job writes its transitions' files under ``results/batches/<batch>/<stage>/``
and a manifest, and a per-transition rule (a shell command: no Python start-up) hard-links
them to ``results/transitions/<transition>/``, where the declared outputs are.

Results do not depend on the batching: each transition keeps its own random streams (seed and
transition id) and its own provenance, so a run with any ``transitions.batch_size`` writes the same
bytes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

#: what ``transitions.batch_size: auto`` aims at: MIN_BATCHES batches for a small run (each stage's
#: start-up, about 0.5 s of Python and imports plus 1.4 s for torch where the stage solves, is paid
#: once per batch, and two batches keep a 2-core laptop busy), up to MAX_WORK_BATCHES as the run's
#: work grows (one batch per BATCH_WORK cells x genes, so that 4 cores have work from the first stage
#: on and a failed or changed batch reruns little), and more only to keep batches at MAX_AUTO_BATCH
#: transitions. The count depends on the data, never on --cores: a rerun with other cores reruns nothing.
MAX_AUTO_BATCH = 32
MIN_BATCHES = 2
MAX_WORK_BATCHES = 4
BATCH_WORK = 2.5e7
BATCH_ID_PATTERN = r"b[0-9]+"  # no braces: Snakemake reads them as a wildcard


def batch_count(n_transitions: int, configured: int | str = "auto", work: float | None = None) -> int:
    """How many batches: enough for the configured size, or for ``auto`` between MIN_BATCHES and
    MAX_WORK_BATCHES by ``work`` (the run's cells x genes; unknown: MAX_WORK_BATCHES), at least one
    per MAX_AUTO_BATCH transitions, at most one per transition."""
    if n_transitions == 0:
        return 0
    if configured != "auto":
        return math.ceil(n_transitions / max(1, int(configured)))
    by_work = MAX_WORK_BATCHES if work is None else math.ceil(work / BATCH_WORK)
    wanted = min(max(by_work, MIN_BATCHES), MAX_WORK_BATCHES)
    return min(n_transitions, max(wanted, math.ceil(n_transitions / MAX_AUTO_BATCH)))


def assign_batches(transitions: Sequence[str], configured: int | str = "auto",
                   work: float | None = None) -> dict[str, list[str]]:
    """Batch id -> its transitions, in the order of ``transitions`` (the checkpoint's table), as
    consecutive runs of equal size (they differ by at most one); :func:`batch_count` batches."""
    transitions = list(transitions)
    if not transitions:
        return {}
    n_batches = batch_count(len(transitions), configured, work)
    base, extra = divmod(len(transitions), n_batches)
    batches, start = {}, 0
    for index in range(n_batches):
        stop = start + base + (index < extra)
        batches[f"b{index:03d}"] = transitions[start:stop]
        start = stop
    return batches


def pack_batches(sizes: dict[str, int], limit: int = MAX_AUTO_BATCH) -> dict[str, list[str]]:
    """Batch id -> consecutive keys of ``sizes`` (in its order) whose sizes add up to at most
    ``limit``; a key larger than ``limit`` is a batch of its own. For jobs whose items differ in
    size, e.g. the differential test's units (each refits its transitions once)."""
    batches: dict[str, list[str]] = {}
    members: list[str] = []
    total = 0
    for key, size in sizes.items():
        if members and total + size > limit:
            batches[f"b{len(batches):03d}"], members, total = members, [], 0
        members.append(key)
        total += size
    if members:
        batches[f"b{len(batches):03d}"] = members
    return batches


def staged_path(batch_dir: str | os.PathLike, stage: str, transition: str, filename: str) -> Path:
    """Where a batch job writes one transition's file, before it is linked into place (the link
    step, ``LINK_FROM_BATCH`` in workflow/rules/common.smk, builds the same path in shell)."""
    return Path(batch_dir) / stage / transition / filename
