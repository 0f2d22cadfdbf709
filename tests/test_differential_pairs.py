"""transgrn.differential.pairs: which transitions are compared, and the unit that computes each pair."""

from __future__ import annotations

import pandas as pd
import pytest
from differential_cases import TRANSITIONS, options

from transgrn.differential import transition_pairs, unit_ids, unit_pairs
from transgrn.errors import ConfigError


def _pairs(kind: str, **kw) -> set[tuple]:
    table = transition_pairs(TRANSITIONS, kind, **kw)
    return set(table[["transition_1", "transition_2", "relation", "unit"]].itertuples(index=False, name=None))


def test_sibling_and_consecutive_pairs():
    assert _pairs("siblings") == {("ab", "ac", "siblings", "A"), ("bc", "ba", "siblings", "B")}
    # A -> B then B -> C, earlier first; a return to the start (A -> B, B -> A) is not a chain
    assert _pairs("consecutive") == {("ab", "bc", "consecutive", "B"), ("bc", "ca", "consecutive", "C"),
                                     ("ca", "ab", "consecutive", "A"), ("ba", "ac", "consecutive", "A")}
    every = _pairs("all")
    assert _pairs("siblings") | _pairs("consecutive") < every
    assert ("ab", "ba", "reverse", "B") in every and ("ac", "bc", "converging", "C") in every
    assert len(every) == len(TRANSITIONS) * (len(TRANSITIONS) - 1) // 2  # here every pair shares a cluster


def test_explicit_pairs_keep_their_order():
    assert _pairs("explicit", explicit=[["bc", "ab"]]) == {("bc", "ab", "consecutive", "B")}
    with pytest.raises(ConfigError, match="unknown transition id"):
        transition_pairs(TRANSITIONS, "explicit", explicit=[["ab", "zz"]])
    with pytest.raises(ConfigError, match="not a pair of two different"):
        transition_pairs(TRANSITIONS, "explicit", explicit=[["ab", "ab"]])
    with pytest.raises(ConfigError, match="unknown kind"):
        transition_pairs(TRANSITIONS, "neighbours")


def test_a_units_pairs_are_those_of_its_cluster_id():
    """The workflow names a unit by its cluster's id (c00_A, ...): each configured pair falls in the
    unit of the cluster it shares, and the units' pairs are all the pairs, once."""
    ids = {"A": "c00_A", "B": "c01_B", "C": "c02_C"}
    table = TRANSITIONS.assign(source_id=TRANSITIONS["source_cluster"].map(ids),
                               target_id=TRANSITIONS["target_cluster"].map(ids))
    every = transition_pairs(table, "all")
    assert unit_ids(table, every).tolist() == every["unit"].map(ids).tolist()
    settings = options(pairs="all")
    units = [unit_pairs(table, settings, unit) for unit in ids.values()]
    assert all((part["unit"].map(ids) == unit).all() for part, unit in zip(units, ids.values()))
    pd.testing.assert_frame_equal(pd.concat(units).sort_values(["transition_1", "transition_2"]).reset_index(drop=True),
                                  every.sort_values(["transition_1", "transition_2"]).reset_index(drop=True))
    assert unit_pairs(table, options(pairs="siblings"), "c02_C").empty  # no two transitions leave C
