import json

import numpy as np
import pytest
from helpers import cluster_cells, transition_of

from transgrn.cells import CellSet
from transgrn.design import TransitionData
from transgrn.lagged import Trend, choose_lag, lag_direction
from transgrn.mapping import map_transition
from transgrn.mapping_file import lag_of
from transgrn.options import MappingOptions


def test_trend_follows_a_smooth_program_and_shift_moves_it():
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 1, 2000))
    program = np.column_stack([np.sin(3 * times), times**2])
    x = program + rng.normal(0, 0.05, program.shape)
    trend = Trend.fit(x, times, bandwidth=0.02, reach=0.2)
    inner = (times > 0.1) & (times < 0.9)
    assert np.abs(trend.at(times[inner]) - program[inner]).max() < 0.03
    shifted = trend.shift(x, times, 0.1)
    # the deviation from the trend is kept, the trend part now comes from 0.1 earlier
    expected = x - program + np.column_stack([np.sin(3 * (times - 0.1)), (times - 0.1) ** 2])
    away_from_edge = inner & (times > 0.2)  # a kernel mean is biased within a bandwidth of the data's edge
    assert np.abs(shifted[away_from_edge] - expected[away_from_edge]).max() < 0.03
    assert trend.shift(x, times, 0.0) is x


def test_lag_direction_points_to_the_source():
    early, late = np.array([0.1, 0.2, 0.3]), np.array([0.5, 0.6])
    assert lag_direction(early, late) == 1.0 and lag_direction(late, early) == -1.0


def lagged_response(lag: float, n: int = 1500, seed: int = 0):
    """Targets respond to three TFs' programs ``lag`` earlier, plus a persistent per-cell deviation."""
    rng = np.random.default_rng(seed)
    times = rng.uniform(0, 1, n)
    centres = np.array([0.3, 0.5, 0.7])
    program = lambda t: 1 / (1 + np.exp(-(t[:, None] - centres) / 0.05))  # noqa: E731
    deviation = rng.normal(0, 0.3, (n, 3))
    x = program(times) + deviation
    weights = np.array([[1.0, 0.0], [0.0, -1.0], [0.5, 0.5]])
    y = (program(times - lag) + deviation) @ weights + rng.normal(0, 0.2, (n, 2))
    return x, y, times


@pytest.mark.parametrize("true_lag", [0.0, 0.1])
def test_choose_lag_finds_the_planted_lag(true_lag):
    x, y, times = lagged_response(true_lag)
    trend = Trend.fit(x, times, bandwidth=0.02, reach=0.2)
    lags = [0.0, 0.05, 0.1, 0.15, 0.2]
    chosen, scores = choose_lag(x, y, times, np.ones((3, 2), dtype=bool), trend, lags, np.random.default_rng(1))
    assert chosen == true_lag
    assert set(scores) == set(lags) and scores[chosen] == max(scores.values())


def test_choose_lag_prefers_no_lag_when_nothing_is_estimable():
    x, y, times = lagged_response(0.1, n=100)
    chosen, scores = choose_lag(x, y, times, np.zeros((3, 2), dtype=bool), Trend.fit(x, times, 0.05, 0.2),
                                [0.0, 0.1], np.random.default_rng(0))
    assert chosen == 0.0 and scores == {}


def test_the_lag_is_stored_once_with_its_mapping(tmp_path):
    """Issue #12: the lagged design is a value written once in the mapping's Parquet metadata."""
    import pandas as pd

    from transgrn.mapping_file import LagSpec, lag_of, read_mapping, with_lag_spec, write_mapping

    def mapping():
        return pd.DataFrame({"pair": [0, 1], "source_cell": ["a", "b"], "target_cell": ["a", "b"], "weight": 1.0,
                             "split": ["train", "test"]})

    write_mapping(with_lag_spec(mapping(), LagSpec(0.12, 0.04)), tmp_path / "m.parquet")
    read = read_mapping(tmp_path / "m.parquet")
    assert lag_of(read) == LagSpec(0.12, 0.04) and list(read.columns) == list(mapping().columns)
    write_mapping(mapping(), tmp_path / "plain.parquet")
    assert lag_of(read_mapping(tmp_path / "plain.parquet")) is None


def test_the_fallback_to_joint_reports_no_lag_not_lag_zero(tmp_path):
    """A lagged design that fell back to ``joint`` (here: every cell at one pseudotime, so there is
    no range to lag over) chose no lag: its lag is missing -- null in the metrics, NA in
    transitions.tsv -- not a chosen 0, and its inputs are not shifted."""
    import pandas as pd

    from transgrn.aggregate import transitions_table, write_table
    from transgrn.cells import CellSet
    from transgrn.io import write_json
    from transgrn.lagged import apply_lag, choose_lag_spec
    from transgrn.mapping_file import lag_of, read_mapping, with_lag_spec, write_mapping

    x, y, _ = lagged_response(0.1, n=40)
    times = np.full(len(x), 0.5)
    inputs = CellSet(np.array([f"c{i}" for i in range(len(x))]), x, times)
    spec = choose_lag_spec(x, y, times, np.ones((3, 2), dtype=bool), inputs, times[:20], times[20:], [0.0, 0.1], 0.05,
                           np.random.default_rng(0))
    assert spec.lag is None
    pairs = pd.DataFrame({"pair": np.arange(len(x)), "source_cell": inputs.names, "target_cell": inputs.names,
                          "weight": 1.0, "split": "train"})
    write_mapping(with_lag_spec(pairs, spec), tmp_path / "m.parquet")
    read = read_mapping(tmp_path / "m.parquet")
    assert lag_of(read) == spec
    assert apply_lag(lag_of(read), x, read, inputs, {}) is x  # the joint design's inputs
    # the lag as scripts/evaluate.py records it, and as aggregate writes it
    write_json({"lag": lag_of(read).lag}, tmp_path / "metrics.json")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics == {"lag": None}
    transitions = pd.DataFrame({"transition": ["t"], "source_cluster": ["A"], "target_cluster": ["B"], "source_id": ["a"],
                                "target_id": ["b"], "n_source_cells": [20], "n_target_cells": [20]})
    table = transitions_table(transitions, {"t": metrics}, "lagged", with_reference=False)
    assert np.isnan(table.loc[0, "lag"])
    write_table(table, tmp_path / "transitions.tsv")
    assert pd.read_csv(tmp_path / "transitions.tsv", sep="\t", keep_default_na=False).loc[0, "lag"] == "NA"


def test_lagged_design_without_pseudotime_is_joint(small_simulation, caplog):
    caplog.set_level("INFO")  # the checkpoint warns once per run; each job only notes it
    sim = small_simulation
    with_time, _, mask = transition_of(sim, "stem cell", "progenitor")
    source, target = (CellSet(c.names, c.matrix) for c in (with_time, cluster_cells(sim.adata, "progenitor")))
    data = TransitionData(source, target, sim.adata.var_names, mask)
    mcfg = {"method": "lagged", "n_pairs": 100, "test_fraction": 0.2}
    lagged = map_transition(source, target, "main", "t", MappingOptions.from_config(mcfg), 0, data)
    assert lag_of(lagged).lag is None and "needs a pseudotime" in caplog.text
    joint = map_transition(source, target, "main", "t", MappingOptions.from_config({**mcfg, "method": "joint"}), 0, data)
    np.testing.assert_array_equal(data.design(lagged, "train")[0], data.design(joint, "train")[0])


def test_the_lags_cross_validation_takes_at_most_cv_max_rows_pairs(small_simulation, monkeypatch):
    """Beyond CV_MAX_ROWS training pairs the lag is scored on a random subset of them; at or below
    it nothing extra is drawn, so smaller transitions keep their mapping bit for bit."""
    import pandas as pd

    import transgrn.lagged as lagged
    import transgrn.mapping as mapping_module

    source, target, mask = transition_of(small_simulation, "progenitor", "fate A")
    data = TransitionData(source, target, small_simulation.adata.var_names, mask)
    options = MappingOptions.from_config({"method": "lagged"})
    rows = []
    real = lagged.choose_lag

    def counting(x, *args, **kwargs):
        rows.append(len(x))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(lagged, "choose_lag", counting)
    shipped = map_transition(source, target, "main", "t", options, 0, data)
    n_train = int((shipped["split"] == "train").sum())
    monkeypatch.setattr(mapping_module, "CV_MAX_ROWS", n_train)  # the cap just reached: the same stream
    pd.testing.assert_frame_equal(map_transition(source, target, "main", "t", options, 0, data), shipped)
    monkeypatch.setattr(mapping_module, "CV_MAX_ROWS", 60)
    capped = map_transition(source, target, "main", "t", options, 0, data)
    assert rows == [n_train, n_train, 60]
    assert lag_of(capped) is not None and n_train > 60
