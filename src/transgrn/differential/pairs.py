"""Which transitions the test compares (pairs that share a cluster: siblings, consecutive, ...) and the
unit of work -- the shared cluster -- that computes each pair."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..errors import ConfigError
from ..options import DifferentialOptions

PAIR_KINDS = ("siblings", "consecutive", "all", "explicit")
PAIR_COLUMNS = ["transition_1", "transition_2", "relation", "unit"]


def _relation(a, b) -> tuple[str, str] | None:
    """How transitions ``a`` and ``b`` (rows with source_cluster, target_cluster) are related, and the
    cluster they share (the pair's unit of work); None when they share none."""
    if a.source_cluster == b.source_cluster:
        return "siblings", a.source_cluster
    if a.target_cluster == b.source_cluster and b.target_cluster == a.source_cluster:
        return "reverse", a.target_cluster
    if a.target_cluster == b.source_cluster:
        return "consecutive", a.target_cluster
    if b.target_cluster == a.source_cluster:
        return "consecutive", b.target_cluster
    if a.target_cluster == b.target_cluster:
        return "converging", a.target_cluster
    return None


def transition_pairs(transitions: pd.DataFrame, kind: str,
                     explicit: Sequence[Sequence[str]] = ()) -> pd.DataFrame:
    """The pairs of transitions to compare, one row each: ``transition_1, transition_2, relation, unit``.

    ``transitions`` has ``transition, source_cluster, target_cluster`` (the run's transitions table).

    * ``siblings``: transitions with the same source (``A -> B, A -> C``), in table order;
    * ``consecutive``: ``A -> B`` then ``B -> C`` (``C != A``), the earlier one first;
    * ``all``: every pair that shares a cluster -- siblings, consecutive, converging (``A -> C,
      B -> C``) and reverse (``A -> B, B -> A``) -- each once. Pairs without a shared cluster share
      no cells; compare them with ``explicit``;
    * ``explicit``: the given ``[transition_1, transition_2]`` ids, in that order.

    ``relation`` names how the two are related (``unrelated`` for an explicit pair sharing no
    cluster) and ``unit`` the cluster whose unit of work computes the pair (the shared cluster;
    for an unrelated pair, the source of ``transition_1``).
    """
    if kind not in PAIR_KINDS:
        raise ConfigError(f"differential.pairs: unknown kind {kind!r}; choose one of {list(PAIR_KINDS)}")
    table = transitions[["transition", "source_cluster", "target_cluster"]].reset_index(drop=True)
    rows = list(table.itertuples(index=False))
    if kind == "explicit":
        return _explicit_pairs(table, explicit)
    pairs = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            related = _relation(a, b)
            if related is None:
                continue
            relation, unit = related
            first, second = (b, a) if relation == "consecutive" and b.target_cluster == a.source_cluster else (a, b)
            if kind == "all" or kind == relation:
                pairs.append((first.transition, second.transition, relation, unit))
    return pd.DataFrame(pairs, columns=PAIR_COLUMNS)


def unit_ids(transitions: pd.DataFrame, pairs: pd.DataFrame) -> pd.Series:
    """The cluster id (``c03_name``, safe in a file name) of each pair's ``unit`` label, from the
    transitions table's ``source_id``/``target_id``: the workflow names a unit's file by it."""
    ids = {**dict(zip(transitions["target_cluster"], transitions["target_id"])),
           **dict(zip(transitions["source_cluster"], transitions["source_id"]))}
    return pairs["unit"].map(ids).astype(str)


def unit_pairs(transitions: pd.DataFrame, options: DifferentialOptions, unit: str) -> pd.DataFrame:
    """The configured pairs whose unit is the cluster id ``unit``: one ``differential_unit`` job's."""
    pairs = transition_pairs(transitions, options.pairs, options.explicit)
    return pairs[unit_ids(transitions, pairs).to_numpy() == unit].reset_index(drop=True)


def _explicit_pairs(table: pd.DataFrame, explicit: Sequence[Sequence[str]]) -> pd.DataFrame:
    by_id = {row.transition: row for row in table.itertuples(index=False)}
    unknown = sorted({str(t) for pair in explicit for t in pair} - set(by_id))
    if unknown:
        known = ", ".join(list(by_id)[:10]) + (" ..." if len(by_id) > 10 else "")
        raise ConfigError(f"differential.explicit: unknown transition id(s) {unknown}; use ids of the run's "
                          f"transitions table (results/transitions.tsv), e.g. {known}")
    pairs = []
    for pair in explicit:
        if len(pair) != 2 or pair[0] == pair[1]:
            raise ConfigError(f"differential.explicit: {list(pair)} is not a pair of two different transition ids")
        a, b = by_id[pair[0]], by_id[pair[1]]
        relation, unit = _relation(a, b) or ("unrelated", a.source_cluster)
        pairs.append((a.transition, b.transition, relation, unit))
    return pd.DataFrame(pairs, columns=PAIR_COLUMNS)
