"""The job functions of transgrn.jobs called in this process, as a notebook would call them (they take
plain paths and values): a small run's per-transition jobs, then the jobs that gather them. The jobs
under Snakemake are tests/test_workflow.py's (marker workflow); the runner is tests/test_jobs_runner.py's."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import write_inputs

from transgrn.columns import MASK_COLUMNS
from transgrn.config import apply_defaults, load_schema
from transgrn.design import load_transition_data, read_mappings
from transgrn.evaluate import evaluate_transition
from transgrn.jobs import EVALUATE_FILES, FIT_FILES, MAPPING_FILES
from transgrn.jobs import aggregate as aggregate_job
from transgrn.jobs import differential as differential_job
from transgrn.jobs import evaluate as evaluate_job
from transgrn.jobs import fit as fit_job
from transgrn.jobs import mapping as mapping_job
from transgrn.jobs import models as models_job
from transgrn.jobs import prepare as prepare_job
from transgrn.jobs import report as report_job
from transgrn.transitions import read_transitions


@pytest.fixture(scope="module")
def run(small_simulation, tmp_path_factory) -> dict:
    """The checkpoint, then map_cells, fit_grn and evaluate_grn for every transition, in a folder laid
    out as the workflow's results/: the config and each transition's files by name."""
    folder = tmp_path_factory.mktemp("jobs")
    config = apply_defaults({"data": write_inputs(small_simulation, folder / "inputs"),
                             "reference": str(folder / "inputs/reference.csv"),
                             "transitions": {"mode": "explicit", "explicit": [["stem cell", "progenitor"],
                                                                              ["progenitor", "fate A"]]},
                             "mapping": {"method": "ot", "n_pairs": 200}, "seed": 2}, load_schema())
    prepared = folder / "results/prepared"
    prepare_job.prepare(str(prepared / "transitions.tsv"), config=config, seed=2)
    transitions = read_transitions(prepared / "transitions.tsv")
    files = {}
    for transition in transitions["transition"]:
        out = {name: str(folder / "results/transitions" / transition / file)
               for name, file in {**MAPPING_FILES, **FIT_FILES, **EVALUATE_FILES}.items()}
        cells = dict(zip(("source", "target"), (str(prepared / f"clusters/{c}.h5ad") for c in transition.split("__"))))
        mapping_job.map_cells(str(prepared / "prior_edges.parquet"), **cells, **{k: out[k] for k in MAPPING_FILES},
                              transition=transition, options=config["mapping"], seed=2)
        fit_job.fit_grn(**{k: out[k] for k in MAPPING_FILES}, **cells, **{k: out[k] for k in FIT_FILES},
                        fit=config["fit"], transition=transition, seed=2)
        evaluate_job.evaluate_grn(**{k: out[k] for k in {**MAPPING_FILES, **FIT_FILES}}, **cells,
                                  reference=str(prepared / "reference.parquet"), **{k: out[k] for k in EVALUATE_FILES},
                                  filter=config["filter"], transition=transition)
        files[transition] = {**out, **cells}
    return {"folder": folder, "config": config, "prepared": prepared, "transitions": transitions, "files": files,
            "reference": pd.read_parquet(prepared / "reference.parquet")}


def test_the_transition_jobs_write_what_the_modules_compute(run):
    for transition, files in run["files"].items():
        assert list(pd.read_parquet(files["mask"]).columns) == MASK_COLUMNS
        data = load_transition_data(files["source"], files["target"], files["mask"])
        mappings = read_mappings(files["mapping_main"], files["mapping_null"])
        metrics, gene_r2, _ = evaluate_transition(data, mappings, pd.read_parquet(files["coefficients"]),
                                                  pd.read_parquet(files["intercepts"]), run["reference"])
        written = json.loads(Path(files["metrics"]).read_text())
        for key in ("r2_test", "r2_test_null", "auprc_ratio"):
            assert written[key] == pytest.approx(metrics[key]) and np.isfinite(written[key]), key
        pd.testing.assert_frame_equal(pd.read_parquet(files["gene_r2"])[list(gene_r2.columns)], gene_r2, check_dtype=False)


def test_the_cofactor_and_figure_jobs_write_their_files(run, tmp_path):
    """(fit_mlp's job trains the MLP at its full size: left to the workflow's tests.)"""
    files = next(iter(run["files"].values()))
    mapping = {k: files[k] for k in ("mask", "mapping_main", "source", "target")}
    models_job.find_cofactors(**mapping, table=str(tmp_path / "cofactors.tsv"), options={})
    assert (tmp_path / "cofactors.tsv").read_text().startswith("tf_a\ttf_b")
    figures = {f"{name}_figure": str(tmp_path / f"{name}.png") for name in ("network", "gene_r2", "predictions")}
    report_job.plot_transition(files["coefficients"], files["gene_r2"], files["predictions"], **figures, title="a → b")
    assert all(Path(path).read_bytes().startswith(b"\x89PNG") for path in figures.values())


def test_the_aggregate_job_gathers_every_transition(run):
    results = run["folder"] / "results"
    outputs = {"table": "transitions.tsv", "edges": "edges.parquet", "edges_filtered": "edges_filtered.parquet",
               "tensor": "grn_tensor.h5ad", "provenance": "provenance.json", "network": "network.parquet",
               "network_metrics": "network_metrics.json"}
    outputs = {name: str(results / file) for name, file in outputs.items()}
    files = list(run["files"].values())
    prepared = run["prepared"]
    aggregate_job.aggregate(transitions=str(prepared / "transitions.tsv"), summary=str(prepared / "summary.json"),
                            prior=str(prepared / "prior_edges.parquet"), reference=str(prepared / "reference.parquet"),
                            metrics=[f["metrics"] for f in files], coefficients=[f["coefficients"] for f in files],
                            **outputs, mapping="ot", with_reference=True, filter=run["config"]["filter"],
                            config=run["config"])
    table = pd.read_csv(outputs["table"], sep="\t")
    assert list(table["transition"]) == list(run["transitions"]["transition"])
    written = [json.loads(Path(f["metrics"]).read_text())["auprc_ratio"] for f in files]
    np.testing.assert_allclose(table["auprc_ratio"], written, atol=1e-5)  # the table rounds
    edges = pd.read_parquet(outputs["edges"])
    assert len(edges) == sum(len(pd.read_parquet(f["coefficients"])) for f in files)


def test_the_differential_job_concatenates_its_units(tmp_path):
    from transgrn.differential import differential_schema

    schema = differential_schema()
    units = []
    for k, n_rows in enumerate((3, 2)):
        frame = schema.empty_table().to_pandas()
        frame = pd.concat([frame, frame.reindex(range(n_rows))], ignore_index=True)
        units.append(tmp_path / f"unit{k}.parquet")
        frame.to_parquet(units[-1], schema=schema)
    differential_job.differential([str(u) for u in units], str(tmp_path / "differential.parquet"))
    assert len(pd.read_parquet(tmp_path / "differential.parquet")) == 5
