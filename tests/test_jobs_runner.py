"""transgrn.jobs.runner, the glue of every rule: jobs run as threads of one process, each job's log
lines in its own log file, failures reported as the job's own."""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from transgrn.errors import InputError
from transgrn.jobs.runner import JobFailed, run_job, stage_progress


def Named(values=None, **named):
    """Snakemake's named list of a job's input, output, params or wildcards."""
    from snakemake.iocontainers import Namedlist

    return Namedlist(fromdict={**(values or {}), **named})


def call(main, tmp_path: Path, name: str = "job", rule: str = "fit_grn", **wildcards) -> Path:
    log = tmp_path / f"{name}.log"
    run_job(main, Named(), Named(), Named(), Named(wildcards), [str(log)], rule, 0)
    return log


def test_an_unexpected_exception_is_written_to_the_job_log(tmp_path, capsys):
    def main(record):
        raise KeyError("a bug")

    with pytest.raises(JobFailed) as failed:
        call(main, tmp_path, transition="a__b")
    log = (tmp_path / "job.log").read_text()
    assert "unexpected error in rule fit_grn" in log
    assert "Traceback" in log and "KeyError: 'a bug'" in log and "in main" in log
    # Snakemake reports the job's failure in one line pointing to the log
    assert str(failed.value).startswith("fit_grn a__b: unexpected error") and str(tmp_path / "job.log") in str(failed.value)
    assert capsys.readouterr().err.count("Traceback") == 1  # once on stderr as well, not twice


def test_bad_input_is_one_plain_message(tmp_path, capsys):
    def main(record):
        raise InputError("data.cluster_key: obs column 'x' is missing")

    with pytest.raises(JobFailed, match="obs column 'x' is missing"):
        call(main, tmp_path)
    log, err = (tmp_path / "job.log").read_text(), capsys.readouterr().err
    assert "obs column 'x' is missing" in log and "obs column 'x' is missing" in err
    assert "Traceback" not in log + err


def test_progress_notes_go_to_the_log_and_warnings_also_to_stderr(tmp_path, capsys):
    def main(record):
        logging.getLogger("transgrn.test").info("a progress note")
        logging.getLogger("transgrn.test").warning("a problem")

    call(main, tmp_path, transition="a__b")
    log, err = (tmp_path / "job.log").read_text(), capsys.readouterr().err
    assert "a progress note" in log and "a problem" in log and "finished in" in log
    assert "[fit_grn a__b] a problem" in err  # labelled with its job
    assert "a progress note" not in err and "finished in" not in err


def test_jobs_in_threads_write_only_their_own_log_lines(tmp_path):
    """Issue #25: jobs run side by side in threads of Snakemake's process; each job's notes,
    library warnings included, land in its own log file, never in another job's."""
    import warnings

    barrier = threading.Barrier(4)

    def main(transition, record):
        barrier.wait(timeout=10)  # all four jobs are running at once
        for step in range(20):
            logging.getLogger("transgrn.test").info("note %d of %s", step, transition)
            time.sleep(0.001)
        logging.getLogger("a.library").warning("a library warning in %s", transition)

    names = [f"c{i}__c{i + 1}" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(call, main, tmp_path, name, "map_cells", transition=name) for name in names]:
            future.result()
    for name in names:
        lines = (tmp_path / f"{name}.log").read_text().splitlines()
        assert sum(f"of {name}" in line for line in lines) == 20
        assert f"a library warning in {name}" in "\n".join(lines)
        others = [other for other in names if other != name]
        assert not [line for line in lines if any(other in line for other in others)]


def test_anndata_notes_stay_off_stderr(tmp_path, capfd):
    import anndata as ad
    import numpy as np
    import pandas as pd

    def main(record):  # writing a text column makes anndata note "... storing 'label' as categorical"
        obs = pd.DataFrame({"label": ["a", "a", "b"]}, index=["c1", "c2", "c3"])
        ad.AnnData(np.zeros((3, 1)), obs=obs).write_h5ad(tmp_path / "a.h5ad")

    call(main, tmp_path)
    assert "storing" not in capfd.readouterr().err


def test_job_arguments_come_from_the_rules_names(tmp_path):
    seen = {}

    def main(source: str, table: str, *, seed: int, transition: str, record: dict | None = None) -> None:
        seen.update(source=source, table=table, seed=seed, transition=transition, record=record)

    source = tmp_path / "source.txt"
    source.write_text("cells")
    run_job(main, Named(source=str(source)), Named(table="out.tsv"), Named(seed=3, unused="x"),
            Named(transition="a__b"), [str(tmp_path / "job.log")], "map_cells", 7)
    assert (seen["source"], seen["table"], seen["seed"], seen["transition"]) == (str(source), "out.tsv", 3, "a__b")
    assert seen["record"]["rule"] == "map_cells" and seen["record"]["seed"] == 7
    assert seen["record"]["inputs"]["source"]["path"] == str(source)


def test_a_stage_reports_its_progress(tmp_path):
    """Issue #14: a progress line per stage, transitions done out of total and elapsed time."""
    prepared = tmp_path / "results/prepared"
    prepared.mkdir(parents=True)
    (prepared / "transitions.tsv").write_text("transition\nc00_a__c01_b\nc01_b__c02_c\nc01_b__c03_d\n")
    for name in ("c00_a__c01_b", "c01_b__c02_c"):
        (tmp_path / "results/transitions" / name).mkdir(parents=True)
    (tmp_path / "results/transitions/c00_a__c01_b/fit.json").write_text("{}")
    line = stage_progress("fit_grn", str(tmp_path / "results/transitions/c00_a__c01_b/fit.json"), "c00_a__c01_b",
                          now=(prepared / "transitions.tsv").stat().st_mtime + 12)
    assert line == "[fit_grn] 1 of 3 transitions done, 12 s since the checkpoint"


@pytest.fixture
def workers():
    """run_job in one worker process (as a local workflow run does), shut down afterwards."""
    from transgrn.jobs import runner

    runner.use_worker_processes(1)
    yield runner
    runner.use_worker_processes(0)
    pool = runner._WORKERS.pop("pool", None)
    if pool is not None:
        pool.shutdown()


def test_a_job_in_a_worker_process_writes_its_outputs_and_log(workers, tmp_path):
    """Issue #25: a local run sends each job to a long-lived worker process (threads share one
    interpreter lock); the job's function, files, provenance and log are those of the thread path."""
    import os

    from transgrn.jobs.prepare import simulate_demo

    outputs = Named(adata=str(tmp_path / "adata.h5ad"), prior=str(tmp_path / "prior.csv"),
                    reference=str(tmp_path / "reference.csv"))
    params = Named(demo={"n_cells": 200, "n_tfs": 6, "n_targets": 20, "seed": 1})
    run_job(simulate_demo, Named(), outputs, params, Named(), [str(tmp_path / "sim.log")], "simulate_demo", 0)
    assert all(os.path.getsize(path) > 0 for path in outputs)
    log = (tmp_path / "sim.log").read_text()
    assert "[simulate_demo] finished in" in log
    assert workers._WORKERS["pool"] is not None  # it really went through the pool


def test_a_bug_in_a_worker_process_fails_its_job_with_the_traceback_in_its_log(workers, tmp_path):
    from transgrn.jobs.prepare import simulate_demo

    outputs = Named(adata=str(tmp_path / "a.h5ad"), prior=str(tmp_path / "p.csv"), reference=str(tmp_path / "r.csv"))
    with pytest.raises(JobFailed, match="unexpected error"):
        run_job(simulate_demo, Named(), outputs, Named(demo={"no_such_setting": 1}), Named(),
                [str(tmp_path / "sim.log")], "simulate_demo", 0)
    log = (tmp_path / "sim.log").read_text()
    assert "Traceback" in log and "no_such_setting" in log


def test_a_times_log_gets_the_job_wall_time_cpu_time_and_peak_memory(tmp_path):
    """The `times` log (the rules' stand-in for Snakemake's benchmark file, which sampled the whole
    process tree): one row in the benchmark file's columns, measured by the process that ran the job."""
    import numpy as np
    import pandas as pd

    def main(record):
        busy = time.thread_time() + 0.05
        while time.thread_time() < busy:  # CPU time, not a sleep
            pass
        np.ones(40_000_000, dtype=np.uint8).sum()  # 40 MB touched

    times = tmp_path / "bench" / "job.tsv"
    logs = Named({"log": str(tmp_path / "job.log"), "times": str(times)})
    run_job(main, Named(), Named(), Named(), Named(), logs, "fit_grn", 0)
    row = pd.read_csv(times, sep="\t")
    assert list(row.columns) == ["s", "h:m:s", "max_rss", "cpu_time"] and len(row) == 1
    assert row["s"][0] >= row["cpu_time"][0] >= 0.04
    assert row["max_rss"][0] > 40  # MB: at least what the job touched


def test_a_failed_job_writes_no_times(tmp_path):
    def main(record):
        raise InputError("bad")

    times = tmp_path / "job.tsv"
    with pytest.raises(JobFailed):
        run_job(main, Named(), Named(), Named(), Named(), Named({"log": str(tmp_path / "j.log"), "times": str(times)}),
                "fit_grn", 0)
    assert not times.exists()


def test_a_job_run_alone_runs_in_the_calling_thread_while_the_workers_start(workers, tmp_path):
    """The checkpoint runs alone (nothing runs beside it): in Snakemake's thread, while the server the
    workers are forked from imports the libraries in a process of its own."""
    import multiprocessing.forkserver
    import os

    def checkpoint(out: str, record: dict | None = None) -> None:
        Path(out).write_text(f"{os.getpid()} {threading.get_ident()}")

    run_job(checkpoint, Named(), Named(out=str(tmp_path / "out.txt")), Named(), Named(), [str(tmp_path / "c.log")],
            "prepare", 0, alone=True)
    assert (tmp_path / "out.txt").read_text() == f"{os.getpid()} {threading.get_ident()}"
    assert workers._WORKERS["pool"] is not None
    assert multiprocessing.forkserver._forkserver._forkserver_pid is not None  # started, not waited for

