"""transgrn.report.runinfo: the run section's stage times, transition titles and parameters, on hand-made files."""
import json
import os

import numpy as np
import pandas as pd

from transgrn.report import runinfo


def write_benchmark(path, seconds):
    pd.DataFrame({"s": seconds, "h:m:s": ["0:00:01"] * len(seconds)}).to_csv(path, sep="\t", index=False)
    return str(path)


def test_stage_times_sum_and_spread_each_stages_jobs(tmp_path):
    files = {write_benchmark(tmp_path / "fit_a.tsv", [2.0]): "fit", write_benchmark(tmp_path / "fit_b.tsv", [6.0]): "fit",
             write_benchmark(tmp_path / "fit_c.tsv", [1.0]): "fit", write_benchmark(tmp_path / "map.tsv", [0.5]): "map",
             write_benchmark(tmp_path / "empty.tsv", []): "report"}
    times = runinfo.stage_times(files).set_index("stage")
    assert list(times.index) == ["fit", "map", "report"]  # the stages' order, not sorted
    assert times.loc["fit", ["jobs", "total_s", "median_s", "max_s"]].tolist() == [3, 9.0, 2.0, 6.0]
    assert times.loc["map", "total_s"] == 0.5 and np.isnan(times.loc["report", "max_s"])
    assert list(runinfo.stage_times({}).columns) == ["stage", "jobs", "total_s", "median_s", "max_s"]


def test_benchmark_files_expand_over_transitions_and_roles():
    patterns = {"prepare": "benchmarks/prepare.tsv", "fit": "benchmarks/{transition}/fit.tsv",
                "map": "benchmarks/{transition}/map_{role}.tsv"}
    files = runinfo.benchmark_files(patterns, ["t1", "t2"])
    assert files == {"benchmarks/prepare.tsv": "prepare", "benchmarks/t1/fit.tsv": "fit", "benchmarks/t2/fit.tsv": "fit",
                     "benchmarks/t1/map_main.tsv": "map", "benchmarks/t1/map_null.tsv": "map",
                     "benchmarks/t2/map_main.tsv": "map", "benchmarks/t2/map_null.tsv": "map"}


def test_transition_titles_use_the_clusters_names_and_follow_the_table(tmp_path):
    table = tmp_path / "transitions.tsv"
    table.write_text("transition\tsource_cluster\ttarget_cluster\nc00_a__c01_b\tstem cell\tfate A/B\n")
    assert runinfo.transition_title(table, "c00_a__c01_b") == "stem cell → fate A/B"
    table.write_text("transition\tsource_cluster\ttarget_cluster\nc00_a__c01_b\tstem\tNA\n")
    os.utime(table, ns=(table.stat().st_atime_ns, table.stat().st_mtime_ns + 10**9))  # a newer version of the table
    assert runinfo.transition_title(table, "c00_a__c01_b") == "stem → NA"  # read as text: NA is a cluster's name


def test_flatten_dots_nested_keys_and_keeps_json_values():
    flat = runinfo.flatten({"fit": {"alpha": "auto", "bootstrap": {"n": 50}}, "seed": 3, "extra": {}, "name": "é"})
    assert flat == {"fit.alpha": '"auto"', "fit.bootstrap.n": "50", "seed": "3", "extra": "{}", "name": '"é"'}
    assert {key: json.loads(value) for key, value in flat.items()}["fit.bootstrap.n"] == 50


def test_design_label_prefers_the_checkpoints_summary_then_the_table_then_the_config():
    config = {"mapping": {"method": "lagged"}}
    table = pd.DataFrame({"mapping": ["joint", "joint", "ot"]})
    assert runinfo.design_label({"mapping_method": "joint (no pseudotime)"}, table, config) == "joint (no pseudotime)"
    assert runinfo.design_label({}, table, config) == "joint, ot"
    assert runinfo.design_label({}, table.iloc[:0], config) == "lagged"
    assert runinfo.design_label({}, pd.DataFrame(), {}) == "?"


def test_used_parameters_leave_out_the_demo_a_disabled_section_and_unused_filters():
    config = {"demo": {"n_cells": 100}, "cofactors": {"enabled": False, "fdr": 0.1},
              "fit": {"bootstrap": 0, "solver": "ridge"}, "filter": {"min_confidence": 0.9, "top_k": 5}}
    used = runinfo.used_parameters(config)
    assert set(used) == {"cofactors.enabled", "fit.bootstrap", "fit.solver", "filter.top_k"}
    with_all = runinfo.used_parameters({**config, "cofactors": {"enabled": True, "fdr": 0.1},
                                        "fit": {"bootstrap": 100, "solver": "ridge"}}, demo=True)
    assert {"demo.n_cells", "cofactors.fdr", "filter.min_confidence"} <= set(with_all)
