"""Glue for Snakemake rule scripts: logging to the rule's log, threads, and clean errors."""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace
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
    if "torch" in sys.modules:  # imported before the variables were set: tell it directly (never import it here)
        sys.modules["torch"].set_num_threads(int(threads))
    start = time.perf_counter()
    try:
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


def run_script(main: Callable[..., None], smk: Any | None = None, argv: list[str] | None = None) -> None:
    """A rule script's entry point: ``main`` takes plain arguments, named as the rule names its
    input, output, params and wildcards, plus ``record`` (the provenance its outputs carry).

    Under Snakemake (``smk`` is the injected ``snakemake`` object) the arguments come from the job,
    inside :func:`run`. Run by hand (``python scripts/fit.py --help``), they come from ``--name
    value`` options, a value read as JSON where it parses (numbers, lists, the ``fit`` options as
    ``'{"alpha": 1.0}'``) and as text otherwise; provenance then records the given files' checksums.
    """
    import inspect

    names = [p for p in inspect.signature(main).parameters if p != "record"]
    if smk is not None:
        def call(job):
            from .io import job_provenance

            parts = [dict(part.items()) for part in (job.input, job.output, job.params, job.wildcards)]
            given = {k: v for part in parts for k, v in part.items()}
            if len(given) < sum(map(len, parts)):
                raise ValueError(f"rule {job.rule}: input, output, params and wildcards must have distinct names")
            if "batch" in given:
                run_batch(main, names, job, given)
                return
            main(**{name: given[name] for name in names if name in given}, record=job_provenance(job))
            if "transition" in dict(job.wildcards.items()) and len(job.output):
                print(stage_progress(job.rule, str(job.output[0]), job.wildcards.transition), file=sys.stderr, flush=True)

        run(call, smk)
        _exit_without_teardown()
    values = _parse_arguments(main, names, argv)
    job = SimpleNamespace(log=[], threads=int(os.environ.get("OMP_NUM_THREADS", 1)), rule=main.__module__)
    run(lambda _: main(**values, record=_cli_provenance(values)), job)


def _exit_without_teardown() -> None:
    """End a finished job's process without Python's teardown, where pyarrow's Parquet threads can
    abort it ("terminate called without an active exception", SIGABRT; apache/arrow#34314): Snakemake
    then reports a failed job and deletes outputs that were all written (seen once in a test run, in
    aggregate, after its "finished" line). Everything is written and closed by now."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


#: params of a batch rule that describe the batch, not the stage: kept out of each transition's provenance,
#: so that a transition's files are the same bytes whatever batch it ran in
BATCH_PARAMS = ("transitions", "inputs_per_transition", "outputs_per_transition", "staged_inputs")


def run_batch(main: Callable[..., None], names: list[str], job: Any, given: dict[str, Any]) -> None:
    """Run a per-transition ``main`` for every transition of a batch job (:mod:`transgrn.batches`).

    The rule's params name the batch's ``transitions`` and, as patterns of ``{transition}``,
    ``{source}`` and ``{target}`` (the cluster ids), each transition's input files
    (``inputs_per_transition``) and the file names of its outputs (``outputs_per_transition``),
    which are written under the batch's folder, ``<folder of output.manifest>/<rule>/<transition>/``;
    inputs named in ``staged_inputs`` (name -> an earlier stage's rule) are read from that stage's
    folder of the same batch, before their per-transition links exist.
    Each transition's provenance is what a job of its own would record (its rule, its
    ``transition`` wildcard, its input files, the stage's params). The manifest, written last,
    lists the transitions and their files, and those that failed: a transition's error is logged
    and the batch goes on, so that (as with one job per transition) only that transition's link
    step fails, pointing to this log, and ``--keep-going`` keeps its batch-mates."""
    from pathlib import Path

    from .batches import staged_path
    from .io import provenance, write_json

    inputs, outputs = given["inputs_per_transition"], given["outputs_per_transition"]
    staged = given.get("staged_inputs", {})
    shared = {name: given[name] for name in job.input.keys() if name in names and name not in inputs}
    params = {k: v for k, v in job.params.items() if k not in BATCH_PARAMS}
    batch_dir = Path(job.output.manifest).parent
    written, failed = {}, {}
    for transition in given["transitions"]:
        source, target = transition.split("__")
        files = {name: pattern.format(transition=transition, source=source, target=target)
                 for name, pattern in inputs.items()}
        out = {name: str(staged_path(batch_dir, job.rule, transition, filename)) for name, filename in outputs.items()}
        for path in out.values():  # a failed transition must leave nothing (of an earlier run) to link
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).unlink(missing_ok=True)
        try:
            read, recorded = _staged_files(files, staged, batch_dir, transition)
            values = {**given, **shared, **read, **out, "transition": transition}
            record = provenance(params, {**shared, **recorded}, (job.config or {}).get("seed"), rule=job.rule,
                                wildcards={"transition": transition})
            main(**{name: values[name] for name in names if name in values}, record=record)
        except Exception as error:  # noqa: BLE001 -- the transition's own failure, reported by its link step
            _log_transition_error(job.rule, transition, error)
            failed[transition] = str(error)
            continue
        written[transition] = sorted(out.values())
        print(stage_progress(job.rule, next(iter(out.values())), transition), file=sys.stderr, flush=True)
    write_json({"batch": given["batch"], "rule": job.rule, "files": written, "failed": failed}, job.output.manifest)


def _staged_files(files: dict[str, str], staged: dict[str, str], batch_dir,
                  transition: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Where a batch job reads each per-transition input, and its provenance record: an earlier
    stage's output (``staged``: input name -> that stage's rule) is read from the same batch's
    folder, where that stage's job wrote it, so that the stages of a batch follow each other without
    waiting for the per-transition link jobs; it is recorded under its per-transition path with the
    checksum of the file read (the same bytes as the linked file), so that the outputs do not depend
    on the batch. Any other input is read and recorded where its pattern says."""
    from pathlib import Path

    from .batches import staged_path
    from .io import sha256

    read, recorded = dict(files), dict(files)
    for name, stage in staged.items():
        path = staged_path(batch_dir, stage, transition, Path(files[name]).name)
        if not path.exists():
            raise TransgrnError(f"its {stage} step failed, so it was not run here: see that step's log in "
                                f"logs/batches/{Path(batch_dir).name}/")
        read[name], recorded[name] = str(path), {"path": files[name], "sha256": sha256(path)}
    return read, recorded


def _log_transition_error(rule: str, transition: str, error: Exception) -> None:
    """A bad input as one plain message; anything else, a bug, with its traceback (as :func:`run` does)."""
    logger = logging.getLogger("transgrn")
    if isinstance(error, TransgrnError):
        logger.error("%s: transition %s failed: %s", rule, transition, error)
    else:
        logger.error("%s: transition %s failed, unexpected error (please report it with this log)", rule, transition,
                     exc_info=error)


def stage_progress(rule: str, output: str, transition: str, now: float | None = None) -> str:
    """One line of progress for a per-transition stage: how many transitions have this job's first
    output so far, out of the run's transitions, and the time since the checkpoint listed them
    (``prepared/transitions.tsv`` beside the ``transitions/`` folder). On a partial rerun the count
    includes the outputs kept from before."""
    import glob
    import re
    from pathlib import Path

    from .batches import BATCH_ID_PATTERN

    parts = Path(output).parts
    where = parts.index(transition)
    # every transition's copy of this file, in any batch's folder (transgrn.batches)
    pattern = ["*" if i == where or re.fullmatch(BATCH_ID_PATTERN, part) else part for i, part in enumerate(parts)]
    done = len(glob.glob(str(Path(*pattern))))
    for depth in range(where, 0, -1):
        table = Path(*parts[:depth]) / "prepared" / "transitions.tsv"
        if table.exists():
            total = sum(1 for _ in table.open()) - 1
            elapsed = (time.time() if now is None else now) - table.stat().st_mtime
            return f"[{rule}] {done} of {total} transitions done, {elapsed:.0f} s since the checkpoint"
    return f"[{rule}] {done} transitions done"


def _parse_arguments(main: Callable[..., None], names: list[str], argv: list[str] | None) -> dict[str, Any]:
    import argparse
    import inspect
    import json

    def value(text: str):
        try:
            return json.loads(text)
        except ValueError:
            return text

    parameters = inspect.signature(main).parameters
    parser = argparse.ArgumentParser(description=(sys.modules[main.__module__].__doc__ or "").strip().split("\n")[0])
    for name in names:
        default = parameters[name].default
        required = default is inspect.Parameter.empty
        parser.add_argument(f"--{name}", type=value, required=required, default=None if required else default)
    return vars(parser.parse_args(argv))


def _cli_provenance(values: dict[str, Any]) -> dict[str, Any]:
    """Provenance of a script run by hand: existing files given as arguments are its inputs (outputs
    do not exist yet, or are overwritten), everything else its parameters."""
    from .io import provenance

    inputs = {k: v for k, v in values.items() if isinstance(v, str) and os.path.isfile(v)}
    params = {k: v for k, v in values.items() if k not in inputs}
    return provenance(params, inputs, params.get("seed"), rule="(run by hand)")
