"""transgrn.differential.unit and .gather: one unit's pairs, whatever it holds in memory, and the
gather of the units' tables (rules differential_unit and differential)."""

from __future__ import annotations

import pandas as pd
import pytest
from differential_cases import RIDGE, TRANSITIONS, options, tiny, tiny_unit

from transgrn.differential import DIFFERENTIAL_COLUMNS, differential_unit, transition_pairs
from transgrn.errors import ConfigError


@pytest.mark.parametrize("se_method", ["bootstrap", "analytic"])
def test_spilled_replicates_give_the_same_table(tmp_path, se_method):
    _, _, loaded = tiny()
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    settings = options(n_boot=5, se_method=se_method)
    in_memory = tiny_unit(loaded, n_boot=5, se_method=se_method)
    spilled = next(differential_unit(pairs, TRANSITIONS[:2], settings, RIDGE, load=loaded.__getitem__,
                                     spill_dir=tmp_path, max_bytes=0))
    pd.testing.assert_frame_equal(in_memory, spilled)
    kept = tiny_unit(loaded, n_boot=5, se_method=se_method, max_qvalue=0.5)
    pd.testing.assert_frame_equal(kept, in_memory[in_memory["qvalue"] <= 0.5].reset_index(drop=True))


def test_a_unit_computes_from_cells_only_when_given_them():
    _, _, loaded = tiny()
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    with pytest.raises(ValueError, match="give load"):
        next(differential_unit(pairs, TRANSITIONS[:2], options(se_method="analytic"), RIDGE))
    with pytest.raises(ConfigError, match="n_boot must be at least 2"):
        next(differential_unit(pairs, TRANSITIONS[:2], options(n_boot=1), RIDGE, load=loaded.__getitem__))


def test_the_gather_keeps_every_units_rows_in_order(tmp_path):
    """Rule differential: the units' tables one after the other, with the table's schema even when a
    unit has no rows."""
    from transgrn.jobs.differential import differential

    _, _, loaded = tiny()
    table = tiny_unit(loaded, n_boot=4)
    units = [tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "empty.parquet"]
    table.iloc[:2].to_parquet(units[0])
    table.iloc[2:].to_parquet(units[1])
    table.iloc[:0].to_parquet(units[2])
    differential([str(path) for path in units], str(tmp_path / "differential.parquet"))
    gathered = pd.read_parquet(tmp_path / "differential.parquet")
    assert list(gathered.columns) == DIFFERENTIAL_COLUMNS
    pd.testing.assert_frame_equal(gathered, table)
