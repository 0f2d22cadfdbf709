"""transgrn.script.run, the glue of every rule script: what goes to the rule's log and to stderr."""
from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

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
