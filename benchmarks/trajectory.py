"""Transitions on a branching trajectory: does a transitions mode pair the clusters the way the cells go?

On the recovery benchmark's Boolean track (``benchmarks/boolean_simulator.py``, seed 0, with and
without dropout) the clusters are made as ``recovery.boolean_dataset`` makes them (per branch,
``BOOLEAN_BINS`` equal-width pseudotime bins, ``branch1_t0`` ...), and the truth is what that track
hands the fit: each bin to the next on its own branch. Each mode of ``transgrn.transitions`` then
picks transitions from the clusters alone -- ``trajectory``, ``pseudotime`` and ``paga``
(``paga_threshold`` 0.1), with the cluster graph ``paga_connectivities`` builds from the expression
(PCA, scanpy's neighbours, PAGA), the cells' pseudotime and ``transitions.min_cells`` 20 -- and the
pairs it returns are scored against the truth::

    python benchmarks/trajectory.py          # about 1 min; prints the table, writes benchmarks/trajectory.out.txt

Scoring by state. A cell's ``branch`` is the fate it will take, so before the branches part (bin
t0) and, in ``bifurcating_converging``, after they meet again (t3, t4), the same-bin clusters of
different branches are one state split by a label the cells do not show. Two same-bin clusters are
taken as one state where a logistic regression on the noise-free expression (the simulation's layer
before dropout) tells their cells apart in less than ``SAME_STATE_ACCURACY`` of 5-fold held-out
cells (the accuracies are printed: 0.65-0.74 for these, 0.89 and above for every other pair).
Transitions are then compared between states:

* right: a true transition (between two different states);
* missing: a true transition that no returned pair gives;
* sibling: a pair joining two different states of different branches (the chaining of sibling
  branch ends that ``mode: pseudotime`` does);
* other wrong: any other pair not in the truth (backwards, or stepping over a bin);
* one state: pairs within one state (e.g. ``branch1_t0 -> branch2_t0``): no transition of the
  cells, neither right nor wrong, and counted apart;
* true cluster pairs: the returned pairs among the truth's cluster pairs, without states (a mode
  that links the progenitor state's ``branch2_t0`` to ``branch1_t1`` scores right between states,
  and not here);
* unordered: the returned pairs the modes' warning names (the pseudotime does not order the two
  clusters: a later cell in less than 64% of cell pairs, ``transitions.ORDER_MIN_PROBABILITY``).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from boolean_simulator import TOPOLOGIES, simulate_boolean  # noqa: E402
from recovery import boolean_dataset, dataset_clusters  # noqa: E402

from transgrn.transitions import enumerate_transitions, paga_connectivities, unordered_transitions  # noqa: E402

MODES = ("trajectory", "pseudotime", "paga")
PAGA_THRESHOLD = 0.1
MIN_CELLS = 20
SAME_STATE_ACCURACY = 0.8  # held-out accuracy below which two same-bin clusters are one state
OUT = HERE / "trajectory.out.txt"


@dataclass
class Clusters:
    """One Boolean data set as the modes see it: cluster labels, expression, pseudotime; and the truth."""
    name: str
    adata: "anndata.AnnData"  # noqa: F821 (imported lazily)
    labels: pd.Series
    truth: list[tuple[str, str]]
    noise_free: np.ndarray


def boolean_clusters(topology: str, dropout: bool, seed: int = 0) -> Clusters:
    """The clusters and true transitions of ``recovery.boolean_dataset`` (the expression it fits, with
    dropout where asked), with the simulation's noise-free layer for the scoring's states."""
    import anndata as ad

    dataset = boolean_dataset(topology, dropout, "decoys", seed)
    cells = dataset_clusters(dataset)
    labels = pd.Series(np.concatenate([[label] * len(c.names) for label, c in cells.items()]),
                       index=np.concatenate([c.names for c in cells.values()]), dtype="category")
    adata = ad.AnnData(X=np.vstack([c.matrix for c in cells.values()]),
                       obs=pd.DataFrame({"pseudotime": np.concatenate([c.pseudotime for c in cells.values()])},
                                        index=labels.index))
    simulation = simulate_boolean(topology=topology, dropout=dropout, seed=seed).adata
    noise_free = simulation[labels.index].layers["noise_free"]
    truth = [tuple(label.split(" -> ")) for label, _, _ in dataset.transitions]
    return Clusters(dataset.name, adata, labels, truth, np.asarray(noise_free))


def same_state_accuracy(clusters: Clusters, a: str, b: str) -> float:
    """5-fold held-out accuracy of a logistic regression telling cluster ``a``'s cells from ``b``'s
    on the noise-free expression (0.5: one state; 1: two)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    keep = clusters.labels.isin([a, b]).to_numpy()
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(LogisticRegression(max_iter=2000), clusters.noise_free[keep],
                             clusters.labels.to_numpy()[keep], cv=folds)
    return float(scores.mean())


def states(clusters: Clusters) -> tuple[dict[str, str], list[str]]:
    """Each cluster's state (same-bin clusters of different branches that the classifier cannot tell
    apart merged, e.g. ``branch1+branch2_t0``), and a line per same-bin pair with its accuracy."""
    names = list(clusters.labels.cat.categories)
    state = {c: c for c in names}
    lines = []
    by_bin = pd.Series(names).groupby([c.rsplit("_t", 1)[1] for c in names])
    for time, group in by_bin:
        for a, b in combinations(sorted(group), 2):
            accuracy = same_state_accuracy(clusters, a, b)
            lines.append(f"{a} vs {b}: {accuracy:.2f}")
            if accuracy < SAME_STATE_ACCURACY:
                merged = sorted(set(state[a].rsplit("_t", 1)[0].split("+") + state[b].rsplit("_t", 1)[0].split("+")))
                for c in names:
                    if state[c] in (state[a], state[b]):
                        state[c] = "+".join(merged) + f"_t{time}"
    return state, lines


def branch(cluster_or_state: str) -> set[str]:
    return set(cluster_or_state.rsplit("_t", 1)[0].split("+"))


def score(pairs: list[tuple[str, str]], truth: list[tuple[str, str]], state: dict[str, str]) -> dict[str, int]:
    """Right, missing, sibling, other wrong and one-state pairs, between states (module docstring)."""
    true = {(state[a], state[b]) for a, b in truth if state[a] != state[b]}
    given = [(state[a], state[b]) for a, b in pairs]
    between = {p for p in given if p[0] != p[1]}
    wrong = between - true
    sibling = {(a, b) for a, b in wrong if not branch(a) & branch(b)}
    return {"right": len(between & true), "missing": len(true - between), "sibling": len(sibling),
            "other wrong": len(wrong - sibling), "one state": sum(a == b for a, b in given),
            "true cluster pairs": f"{len(set(pairs) & set(truth))}/{len(truth)}"}


def run_modes(clusters: Clusters) -> dict[str, tuple[list[tuple[str, str]], int]]:
    """Each mode's pairs and how many of them its pseudotime warning names."""
    labels = clusters.labels
    connectivities = paga_connectivities(clusters.adata, labels)
    pseudotime = clusters.adata.obs["pseudotime"]
    sizes = {c: int((labels == c).sum()) for c in labels.cat.categories}
    medians = {c: float(pseudotime[labels == c].median()) for c in sizes}
    pseudotimes = {c: pseudotime[labels == c].to_numpy() for c in sizes}
    out = {}
    for mode in MODES:
        table, _ = enumerate_transitions(sizes, mode, MIN_CELLS, pseudotime_medians=medians, paga=connectivities,
                                         paga_threshold=PAGA_THRESHOLD, pseudotimes=pseudotimes)
        pairs = list(zip(table["source_cluster"], table["target_cluster"]))
        out[mode] = (pairs, len(unordered_transitions(pairs, medians, pseudotimes)))
    return out


def main() -> None:
    logging.getLogger("transgrn").setLevel(logging.ERROR)  # the modes' warnings are counted in the table
    rows, notes = [], []
    for topology in TOPOLOGIES:
        for dropout in (False, True):
            clusters = boolean_clusters(topology, dropout)
            state, lines = states(clusters)
            merged = sorted({s for s in state.values() if "+" in s})
            true_states = {(state[a], state[b]) for a, b in clusters.truth if state[a] != state[b]}
            notes.append(f"{clusters.name}: {len(clusters.truth)} true cluster transitions, {len(true_states)} "
                         f"between states; one state: {', '.join(merged) or 'none'}"
                         + (f" (held-out accuracy {'; '.join(lines)})" if lines else ""))
            for mode, (pairs, unordered) in run_modes(clusters).items():
                rows.append({"data set": clusters.name, "mode": mode, "pairs": len(pairs),
                             **score(pairs, clusters.truth, state), "unordered": unordered})
    table = pd.DataFrame(rows)
    text = ("Transitions picked by each mode on the Boolean track (seed 0), scored between states "
            "(python benchmarks/trajectory.py)\n\n" + table.to_markdown(index=False) + "\n\n"
            + "\n".join(notes) + "\n")
    print(text)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
