"""Batches of transitions (transgrn.batches): how transitions are split into the jobs of a stage."""
from __future__ import annotations

import pytest

from transgrn.batches import BATCH_WORK, MAX_AUTO_BATCH, assign_batches, batch_count, pack_batches

NAMES = [f"c{i:02d}_a__c{i + 1:02d}_b" for i in range(1560)]


@pytest.mark.parametrize("n, sizes", [(1, [1]), (3, [1, 1, 1]), (4, [1, 1, 1, 1]), (5, [2, 1, 1, 1]),
                                      (12, [3, 3, 3, 3]), (39, [10, 10, 10, 9])])
def test_auto_gives_a_few_balanced_batches(n, sizes):
    batches = assign_batches(NAMES[:n])  # work unknown: as for a large run
    assert [len(members) for members in batches.values()] == sizes
    assert [t for members in batches.values() for t in members] == NAMES[:n]  # the table's order, each once
    assert list(batches) == [f"b{i:03d}" for i in range(len(sizes))]


@pytest.mark.parametrize("work, n_batches", [(0, 2), (3e6, 2), (BATCH_WORK * 2, 2), (BATCH_WORK * 2.5, 3),
                                             (BATCH_WORK * 100, 4)])
def test_auto_sizes_batches_by_the_runs_work(work, n_batches):
    """Two batches where start-up would outweigh a small run's work (the demo, 12 transitions of
    ~750 cells x 330 genes, is 3e6), up to four as the work grows, whatever the cores."""
    assert len(assign_batches(NAMES[:12], work=work)) == n_batches
    assert len(assign_batches(NAMES[:1], work=BATCH_WORK * 100)) == 1
    assert len(assign_batches(NAMES[:380], work=0)) == 12  # at most MAX_AUTO_BATCH per batch


def test_auto_caps_the_batch_size_at_atlas_scale():
    batches = assign_batches(NAMES)
    assert max(map(len, batches.values())) <= MAX_AUTO_BATCH and len(batches) == 49
    assert max(map(len, batches.values())) - min(map(len, batches.values())) <= 1


def test_a_configured_size_is_an_upper_bound_with_balanced_batches():
    assert [len(m) for m in assign_batches(NAMES[:12], 5).values()] == [4, 4, 4]
    assert [len(m) for m in assign_batches(NAMES[:12], 1).values()] == [1] * 12
    assert [len(m) for m in assign_batches(NAMES[:12], 100).values()] == [12]
    assert batch_count(12, 5) == 3 and assign_batches([], 3) == {}


def test_pack_batches_keeps_order_and_a_limit_per_batch():
    """The differential test's units in jobs: consecutive, at most ``limit`` refits a job, a unit
    larger than that alone."""
    sizes = {"u0": 3, "u1": 3, "u2": 3, "u3": 3}
    assert pack_batches(sizes, 32) == {"b000": ["u0", "u1", "u2", "u3"]}
    assert pack_batches(sizes, 6) == {"b000": ["u0", "u1"], "b001": ["u2", "u3"]}
    assert pack_batches({"a": 39, "b": 2, "c": 39}, 32) == {"b000": ["a"], "b001": ["b"], "b002": ["c"]}
    assert pack_batches({}, 32) == {}
