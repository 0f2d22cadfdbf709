"""Which cluster-to-cluster transitions to model, and file-safe ids for them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import pandas as pd

from .errors import InputError

SEPARATOR = "__"
TRANSITION_COLUMNS = [
    "transition", "source_cluster", "target_cluster", "source_id", "target_id",
    "n_source_cells", "n_target_cells",
]


def cluster_ids(labels: Sequence[str]) -> dict[str, str]:
    """Map each cluster label to a file- and wildcard-safe id such as ``c03_fate_A``.

    The index prefix keeps ids unique when labels differ only in punctuation or script;
    the slug keeps them readable. Slugs never contain the transition separator ``__``.
    """
    width = max(2, len(str(len(labels) - 1)))
    ids = {}
    for index, label in enumerate(labels):
        ascii_label = unicodedata.normalize("NFKD", str(label)).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", ascii_label).strip("_")[:40]
        ids[label] = f"c{index:0{width}d}" + (f"_{slug}" if slug else "")
    return ids


def transition_id(source_id: str, target_id: str) -> str:
    return f"{source_id}{SEPARATOR}{target_id}"


def _ordered_by_pseudotime(pseudotime_medians: Mapping[str, float]) -> list[tuple[str, str]]:
    order = sorted(pseudotime_medians, key=lambda c: (pseudotime_medians[c], str(c)))
    return list(zip(order[:-1], order[1:]))


def _explicit_pairs(explicit: Sequence[Sequence], clusters: Sequence[str]) -> list[tuple[str, str]]:
    known = {str(c): c for c in clusters}
    pairs = []
    for pair in explicit:
        source, target = (str(x) for x in pair)
        unknown = [name for name in (source, target) if name not in known]
        if unknown:
            raise InputError(
                f"transitions.explicit: cluster(s) {', '.join(repr(u) for u in unknown)} in [{source}, {target}] "
                f"are not in the data (clusters: {', '.join(map(str, clusters))}); fix the names in config.yaml"
            )
        if source == target:
            raise InputError(f"transitions.explicit: [{source}, {target}] goes from a cluster to itself; "
                             "a transition needs two different clusters")
        pairs.append((known[source], known[target]))
    return list(dict.fromkeys(pairs))


def candidate_pairs(
    clusters: Sequence[str],
    mode: str,
    explicit: Sequence[Sequence] = (),
    pseudotime_medians: Mapping[str, float] | None = None,
) -> list[tuple[str, str]]:
    """Ordered (source, target) cluster pairs for a transitions mode."""
    if mode == "all":
        return [(a, b) for a in clusters for b in clusters if a != b]
    if mode == "pseudotime":
        if pseudotime_medians is None:
            raise InputError("transitions.mode 'pseudotime' needs data.pseudotime_key")
        return _ordered_by_pseudotime(pseudotime_medians)
    if mode == "explicit":
        return _explicit_pairs(explicit, clusters)
    raise InputError(f"transitions.mode: unknown mode {mode!r}; use all, pseudotime or explicit")


def enumerate_transitions(
    sizes: Mapping[str, int],
    mode: str,
    min_cells: int,
    explicit: Sequence[Sequence] = (),
    pseudotime_medians: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transitions to model and those skipped (with the reason), as two tables.

    ``sizes`` maps each cluster label (in display order) to its number of cells.
    """
    clusters = list(sizes)
    ids = cluster_ids(clusters)
    rows, skipped = [], []
    for source, target in candidate_pairs(clusters, mode, explicit, pseudotime_medians):
        small = [c for c in (source, target) if sizes[c] < min_cells]
        if small:
            reason = "; ".join(f"cluster '{c}' has {sizes[c]} cells < transitions.min_cells={min_cells}" for c in small)
            skipped.append({"source_cluster": source, "target_cluster": target, "reason": reason})
            continue
        rows.append({
            "transition": transition_id(ids[source], ids[target]),
            "source_cluster": source, "target_cluster": target,
            "source_id": ids[source], "target_id": ids[target],
            "n_source_cells": int(sizes[source]), "n_target_cells": int(sizes[target]),
        })
    table = pd.DataFrame(rows, columns=TRANSITION_COLUMNS)
    skipped_table = pd.DataFrame(skipped, columns=["source_cluster", "target_cluster", "reason"])
    return table, skipped_table
