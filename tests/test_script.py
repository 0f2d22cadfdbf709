"""transgrn.script.run, the glue of every rule script: what goes to the rule's log and to stderr."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import failing_once

from transgrn.errors import InputError
from transgrn.script import run


@pytest.fixture(autouse=True)
def restore_logging():
    """run() reconfigures the root and anndata loggers (as it does in a job's own process); undo it."""
    root, library = logging.getLogger(), logging.getLogger("anndata")
    handlers, level, library_level = root.handlers[:], root.level, library.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = handlers, level
    library.setLevel(library_level)


def job(tmp_path: Path) -> SimpleNamespace:
    """The parts of Snakemake's ``snakemake`` object that run() reads."""
    return SimpleNamespace(log=[str(tmp_path / "rule.log")], rule="fit_grn", threads=1)


def test_an_unexpected_exception_is_written_to_the_rule_log(tmp_path, capsys):
    def main(smk):
        raise KeyError("a bug")

    with pytest.raises(SystemExit) as exited:
        run(main, job(tmp_path))
    assert exited.value.code == 1
    log = (tmp_path / "rule.log").read_text()  # was 0 bytes: Snakemake said "check log file(s)"
    assert "unexpected error in rule fit_grn" in log
    assert "Traceback" in log and "KeyError: 'a bug'" in log and "in main" in log
    assert capsys.readouterr().err.count("Traceback") == 1  # once on stderr as well, not twice


def test_bad_input_is_one_plain_message(tmp_path, capsys):
    def main(smk):
        raise InputError("data.cluster_key: obs column 'x' is missing")

    with pytest.raises(SystemExit):
        run(main, job(tmp_path))
    log, err = (tmp_path / "rule.log").read_text(), capsys.readouterr().err
    assert "obs column 'x' is missing" in log and "obs column 'x' is missing" in err
    assert "Traceback" not in log + err


def test_progress_notes_go_to_the_log_and_warnings_also_to_stderr(tmp_path, capsys):
    def main(smk):
        logging.getLogger("transgrn.test").info("a progress note")
        logging.getLogger("transgrn.test").warning("a problem")

    run(main, job(tmp_path))
    log, err = (tmp_path / "rule.log").read_text(), capsys.readouterr().err
    assert "a progress note" in log and "a problem" in log and "finished in" in log
    assert "a problem" in err
    assert "a progress note" not in err and "finished in" not in err


def test_anndata_notes_stay_off_stderr(tmp_path, capfd):
    import anndata as ad
    import numpy as np
    import pandas as pd

    def main(smk):  # writing a text column makes anndata note "... storing 'label' as categorical"
        obs = pd.DataFrame({"label": ["a", "a", "b"]}, index=["c1", "c2", "c3"])
        ad.AnnData(np.zeros((3, 1)), obs=obs).write_h5ad(tmp_path / "a.h5ad")

    run(main, job(tmp_path))
    assert "storing" not in capfd.readouterr().err


def test_fault_injection_fails_the_first_job_of_one_script_only(tmp_path):
    """tests/fault_injection (test_slurm.py puts it on PYTHONPATH): Snakemake runs a rule's script
    as .snakemake/scripts/tmpXXXXXXXX.<script>; the first such process fails, the others run."""
    scripts = {name: tmp_path / f"tmp1a2b3c4d.{name}" for name in ("fit.py", "refit.py")}
    for path in scripts.values():
        path.write_text("print('ran')\n")
    marker = tmp_path / "failed-once"

    def python(script: Path, environment: dict[str, str]) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "TRANSGRN_TEST_FAIL_ONCE"} | environment
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)

    spec = failing_once("fit.py", marker)
    unset = python(scripts["fit.py"], {"PYTHONPATH": spec["PYTHONPATH"]})  # the module alone does nothing
    assert unset.returncode == 0 and unset.stdout == "ran\n" and not marker.exists()
    other = python(scripts["refit.py"], spec)
    assert other.returncode == 0 and other.stdout == "ran\n" and not marker.exists()
    first = python(scripts["fit.py"], spec)
    assert first.returncode == 1 and first.stdout == "" and marker.exists()
    assert "injected failure of this job of fit.py" in first.stderr and "Traceback" not in first.stderr
    retried = python(scripts["fit.py"], spec)
    assert retried.returncode == 0 and retried.stdout == "ran\n"


def test_a_stage_reports_its_progress(tmp_path):
    """Issue #14: a progress line per stage, transitions done out of total and elapsed time."""
    from transgrn.script import stage_progress

    prepared = tmp_path / "results/prepared"
    prepared.mkdir(parents=True)
    (prepared / "transitions.tsv").write_text("transition\nc00_a__c01_b\nc01_b__c02_c\nc01_b__c03_d\n")
    for name in ("c00_a__c01_b", "c01_b__c02_c"):
        (tmp_path / "results/transitions" / name).mkdir(parents=True)
    (tmp_path / "results/transitions/c00_a__c01_b/fit.json").write_text("{}")
    line = stage_progress("fit_grn", str(tmp_path / "results/transitions/c00_a__c01_b/fit.json"), "c00_a__c01_b",
                          now=(prepared / "transitions.tsv").stat().st_mtime + 12)
    assert line == "[fit_grn] 1 of 3 transitions done, 12 s since the checkpoint"


class _Named(dict):
    """Snakemake's named lists, as far as run_batch reads them."""

    def __getattr__(self, name):
        return self[name]


def test_a_transition_that_fails_in_a_batch_leaves_its_batch_mates_done(tmp_path, caplog):
    """Issue #11's batches keep one job per transition's isolation: the failing transition is logged
    and recorded in the manifest, leaves no staged file (not even an earlier run's) for its link step,
    and the others are written."""
    import json

    from transgrn.script import run_batch

    ok, bad = "c00_a__c01_b", "c01_b__c02_c"
    for cluster in ("c00_a", "c01_b", "c02_c"):
        (tmp_path / f"{cluster}.txt").write_text(cluster)
    stale = tmp_path / "batches/b000/stage" / bad / "out.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")

    def main(source: str, out: str, *, transition: str, record: dict | None = None) -> None:
        if transition == bad:
            raise InputError("no cells left")
        Path(out).write_text(f"{transition} from {Path(source).read_text()}, seed {record['seed']}")

    params = _Named(transitions=[ok, bad], inputs_per_transition={"source": str(tmp_path / "{source}.txt")},
                    outputs_per_transition={"out": "out.txt"})
    batch_job = SimpleNamespace(input=_Named(), params=params, rule="stage", config={"seed": 3},
                                output=_Named(manifest=str(tmp_path / "batches/b000/stage.json")))
    with caplog.at_level(logging.ERROR, logger="transgrn"):
        run_batch(main, ["source", "out", "transition"], batch_job, {**params, "batch": "b000"})
    assert (tmp_path / "batches/b000/stage" / ok / "out.txt").read_text() == f"{ok} from c00_a, seed 3"
    assert not stale.exists()
    manifest = json.loads((tmp_path / "batches/b000/stage.json").read_text())
    assert manifest["failed"] == {bad: "no cells left"} and list(manifest["files"]) == [ok]
    assert f"stage: transition {bad} failed: no cells left" in caplog.text


def test_a_batch_reads_an_earlier_stages_files_from_its_batch_folder(tmp_path, caplog):
    """The stages of a batch follow each other without the per-transition link jobs: a staged input
    is read from the earlier stage's folder of the same batch, provenance names the per-transition
    path (so the bytes do not depend on the batching), and a transition the earlier stage failed on
    fails here with a message pointing to that stage's log, while its batch-mates run."""
    import json

    from transgrn.io import sha256
    from transgrn.script import run_batch

    ok, bad = "c00_a__c01_b", "c01_b__c02_c"
    staged = tmp_path / "batches/b000/early" / ok / "early.txt"
    staged.parent.mkdir(parents=True)
    staged.write_text("from the early stage")
    seen = {}

    def main(early: str, out: str, *, transition: str, record: dict | None = None) -> None:
        seen[transition] = record["inputs"]["early"]
        Path(out).write_text(Path(early).read_text())

    canonical = str(tmp_path / "results/transitions/{transition}/early.txt")
    params = _Named(transitions=[ok, bad], inputs_per_transition={"early": canonical},
                    outputs_per_transition={"out": "out.txt"}, staged_inputs={"early": "early"})
    batch_job = SimpleNamespace(input=_Named(), params=params, rule="late", config={"seed": 3},
                                output=_Named(manifest=str(tmp_path / "batches/b000/late.json")))
    with caplog.at_level(logging.ERROR, logger="transgrn"):
        run_batch(main, ["early", "out", "transition"], batch_job, {**params, "batch": "b000"})
    assert (tmp_path / "batches/b000/late" / ok / "out.txt").read_text() == "from the early stage"
    assert seen[ok] == {"path": canonical.format(transition=ok), "sha256": sha256(staged)}
    manifest = json.loads((tmp_path / "batches/b000/late.json").read_text())
    assert list(manifest["files"]) == [ok] and "its early step failed" in manifest["failed"][bad]
    assert "logs/batches/b000/" in caplog.text and "Traceback" not in caplog.text
