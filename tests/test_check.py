"""``transgrn check``: the checkpoint's checks without Snakemake, a summary, and exit status 1 with the
message on bad input; nothing is written."""
from __future__ import annotations

import os

import yaml
from helpers import write_inputs

from transgrn.cli import main


def run(tmp_path, config, capsys, *extra):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    status = main(["check", "--configfile", str(path), *extra])
    out, err = capsys.readouterr()
    return status, out, err


def files_under(directory):
    return sorted(os.path.relpath(os.path.join(d, f), directory) for d, _, fs in os.walk(directory) for f in fs)


def test_check_prints_the_summary_and_writes_nothing(tmp_path, small_simulation, capsys):
    data = write_inputs(small_simulation, tmp_path / "in")
    before = files_under(tmp_path)
    status, out, err = run(tmp_path, {"data": data, "reference": str(tmp_path / "in/reference.csv"),
                                      "transitions": {"min_cells": 80}}, capsys)
    assert status == 0, err
    sizes = small_simulation.adata.obs["cell_type"].value_counts()
    n_edges = int(small_simulation.prior.to_numpy().sum())
    assert "cells: 400\n" in out
    assert f"clusters: 4: stem cell ({sizes['stem cell']}), progenitor ({sizes['progenitor']})" in out
    assert "genes: 72 in the data, 72 matched by the prior" in out
    assert f"prior (wide matrix with TFs as rows (tf_by_gene)): {n_edges} of {n_edges} edges kept, 12 of 12 TFs" in out
    assert f"reference: {len(small_simulation.reference)} edges between measured genes" in out
    assert "mapping: lagged" in out
    assert "transitions to fit: 6\n  progenitor -> fate A\n" in out
    assert "skipped: 6\n  stem cell -> progenitor: cluster 'stem cell' has 73 cells < transitions.min_cells=80" in out
    assert "warnings: 0\nOK: the checkpoint would accept these inputs" in out
    assert files_under(tmp_path) == sorted(before + ["config.yaml"])


def test_check_lists_warnings_and_resolves_paths_from_the_directory(tmp_path, small_simulation, capsys):
    write_inputs(small_simulation, tmp_path / "in")
    data = {"adata": "in/adata.h5ad", "prior": "in/prior.csv", "cluster_key": "cell_type"}  # no pseudotime
    status, out, err = run(tmp_path, {"data": data}, capsys, "--directory", str(tmp_path))
    assert status == 0, err
    assert "mapping: joint (no pseudotime)" in out
    assert "warnings: 1\n  - mapping.method 'lagged' shifts TF inputs along a pseudotime" in out
    assert "(read the warnings)" in out


def test_check_fails_with_the_message_on_bad_input(tmp_path, small_simulation, capsys):
    adata = small_simulation.adata.copy()
    adata.X[0, 0] = -1.0
    sim = type(small_simulation)(adata=adata, prior=small_simulation.prior, reference=small_simulation.reference)
    status, out, err = run(tmp_path, {"data": write_inputs(sim, tmp_path / "in")}, capsys)
    assert status == 1 and out == ""
    assert err.startswith("transgrn check: error: data.adata: the expression in X is not log-normalized")
    assert "Traceback" not in err


def test_check_fails_on_a_bad_config_and_merges_config_files(tmp_path, small_simulation, capsys):
    data = write_inputs(small_simulation, tmp_path / "in")
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({"data": data, "fit": {"bootstrap": 20}}))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"fit": {"bootstrap": 1}}))
    status = main(["check", "--configfile", str(tmp_path / "base.yaml"), str(tmp_path / "mine.yaml")])
    _, err = capsys.readouterr()
    assert status == 1 and "fit.bootstrap is 1" in err
    assert main(["check", "--configfile", str(tmp_path / "base.yaml")]) == 0


def test_check_takes_an_anndata_zarr_folder(tmp_path, small_simulation, capsys):
    data = write_inputs(small_simulation, tmp_path / "in")
    small_simulation.adata.write_zarr(tmp_path / "in/adata.zarr")
    status, out, err = run(tmp_path, {"data": {**data, "adata": str(tmp_path / "in/adata.zarr")}}, capsys)
    assert status == 0, err
    assert "cells: 400\n" in out and "OK: the checkpoint would accept these inputs" in out


def test_check_warns_of_settings_the_run_would_not_honour_as_written(tmp_path, small_simulation, capsys, monkeypatch):
    """Issue 27: fit.device cuda without a GPU, models [mlp] (the linear model is fitted too), mapping.knn_k
    covering a target cluster and n_pcs beyond the cells: each named with its fix; the check still passes."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    data = write_inputs(small_simulation, tmp_path / "in")
    config = {"data": data, "transitions": {"mode": "explicit", "explicit": [["stem cell", "progenitor"]]},
              "mapping": {"method": "knn", "knn_k": 500, "n_pcs": 1000}, "fit": {"device": "cuda"}, "models": ["mlp"]}
    status, out, err = run(tmp_path, config, capsys)
    assert status == 0, err
    assert "fit.device is 'cuda' but torch finds no CUDA GPU here" in out and "Set fit.device: auto" in out
    assert "models: ['mlp'] also fits the linear model" in out and "Write models: [linear, mlp]" in out
    assert "mapping.knn_k: 500 neighbours is at least the target cluster's cells in transition(s) stem cell -> " \
           "progenitor" in out
    assert "mapping.n_pcs: 1000 principal components is more than transition(s) stem cell -> progenitor allow" in out
    assert "warnings: 4\n" in out
    config = {"data": data, "mapping": {"method": "knn"}, "fit": {"device": "auto"}, "models": ["linear", "mlp"]}
    status, out, _ = run(tmp_path, config, capsys)
    assert status == 0 and "warnings: 0\n" in out


def test_check_refuses_a_results_folder_it_cannot_write(tmp_path, small_simulation, capsys, monkeypatch):
    data = write_inputs(small_simulation, tmp_path / "in")
    (tmp_path / "run/results").mkdir(parents=True)
    readonly = str(tmp_path / "run/results")
    real_access = os.access
    # a chmod'ed folder is writable for root, who runs the tests in CI containers: os.access says what it would say
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == readonly else real_access(path, mode))
    status, out, err = run(tmp_path, {"data": data}, capsys, "--directory", str(tmp_path / "run"))
    assert status == 1 and out == ""
    assert f"cannot write {readonly}: '{readonly}' is read-only for you. Make it writable (chmod -R u+w" in err
