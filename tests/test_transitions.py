import pytest

from transgrn.errors import InputError
from transgrn.transitions import cluster_ids, enumerate_transitions

SIZES = {"stem cell": 50, "prog/β": 40, "fate A": 30, "tiny": 3}


def test_cluster_ids_are_safe_unique_and_readable():
    ids = cluster_ids(["stem cell", "prog/β", "fate A", "fate-A", "ü", "a__b", "ß"])
    assert ids == {"stem cell": "c00_stem_cell", "prog/β": "c01_prog", "fate A": "c02_fate_A",
                   "fate-A": "c03_fate_A", "ü": "c04_u", "a__b": "c05_a_b", "ß": "c06"}
    assert len(set(ids.values())) == len(ids)
    assert all("__" not in value for value in ids.values())


def test_all_mode_every_ordered_pair_and_small_clusters_listed():
    table, skipped = enumerate_transitions(SIZES, "all", min_cells=10)
    assert len(table) == 3 * 2
    assert set(zip(table.source_cluster, table.target_cluster)) == {
        (a, b) for a in ["stem cell", "prog/β", "fate A"] for b in ["stem cell", "prog/β", "fate A"] if a != b}
    assert len(skipped) == 6  # every pair that touches "tiny", in both directions
    assert skipped["reason"].str.contains("'tiny' has 3 cells < transitions.min_cells=10").all()
    assert table.loc[0, "transition"] == "c00_stem_cell__c01_prog"


def test_pseudotime_mode_chains_clusters_by_median():
    medians = {"stem cell": 0.1, "prog/β": 0.4, "fate A": 0.8, "tiny": 0.9}
    table, skipped = enumerate_transitions(SIZES, "pseudotime", min_cells=10, pseudotime_medians=medians)
    assert list(zip(table.source_cluster, table.target_cluster)) == [("stem cell", "prog/β"), ("prog/β", "fate A")]
    assert list(zip(skipped.source_cluster, skipped.target_cluster)) == [("fate A", "tiny")]


def test_explicit_mode_keeps_order_and_checks_names():
    table, _ = enumerate_transitions(SIZES, "explicit", 10, explicit=[["prog/β", "fate A"], ["stem cell", "prog/β"]])
    assert list(table.source_cluster) == ["prog/β", "stem cell"]
    with pytest.raises(InputError, match=r"'fate B'.*not in the data.*stem cell, prog/β, fate A, tiny"):
        enumerate_transitions(SIZES, "explicit", 10, explicit=[["prog/β", "fate B"]])


def test_explicit_mode_accepts_integer_labels():
    table, _ = enumerate_transitions({"0": 20, "1": 20}, "explicit", 10, explicit=[[0, 1]])
    assert list(table.transition) == ["c00_0__c01_1"]
