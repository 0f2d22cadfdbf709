"""The unit of work: every pair of one shared cluster, each transition's replicates or influence
taken once.

A pair is computed in the unit of one *shared cluster* (:func:`~.pairs.transition_pairs`'s ``unit``:
the common source of siblings, the middle cluster of a consecutive pair): the unit takes each of its
transitions' replicates once (written by the fits, or refitted here around the fit's network when
it is given cells instead) or computes its influence once (the analytic standard error, around the
fit's network), and then forms every pair from them. Because counts depend only on the cluster, a
pair gets the same answer in any unit, so the assignment is free to follow the schedule. Nothing
here repeats a fit: the network, its intercepts and its penalty are the fit's outputs
(:class:`~.fitted.FittedNetwork`).

Memory at atlas scale (40 clusters, ``transitions.mode: all``: 1,560 transitions, 39 outgoing
per cluster, so 40 x C(39, 2) = 29,640 unordered sibling pairs; E = 500,000 prior edges per
transition; B = 20 replicates):

* replicates of one transition: B x E float32 = 20 x 500,000 x 4 B = 40 MB, a file of that size
  per transition (62 GB for the 1,560 transitions: the price of refitting each transition once
  instead of once per unit). The unit memory-maps them, anew for each pair, so that the pages a
  pair reads leave its memory when the pair is done;
* refitting one transition (:meth:`MaskedRidge.fit_weightings`, in the fit job) holds the
  design (rows x TFs float64, 5,000 x 1,500 x 8 B = 60 MB), float64 cross-products and float32
  weights of the resamples (80 + 40 MB for all 20; :func:`~transgrn.confidence._refit_weights`
  takes them in two chunks at this size) and one 32 MB block of Gram matrices;
* one pair: the two transitions' replicates (2 x 40 MB, from maps opened for the pair), their
  difference in blocks of edges and the output frame (E rows x 12 columns, about 100 MB with the
  two string columns): about 200 MB. Measured (``benchmarks/scale.py --steps differential``) in
  docs/differential.md, *Units at atlas scale*.

A unit's time is ``T (T - 1) / 2`` pair tests of O(B E) each (and, when it refits, ``T`` refits).
Note the output size: every active edge of every pair is a row, 29,640 x 500,000 = 1.5e10 rows for
every sibling pair of such an atlas, so at that scale the rule should keep only rows with
``qvalue <= max_qvalue`` (``differential.max_qvalue``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..design import TransitionData
from ..errors import ConfigError
from ..options import DifferentialOptions, FitOptions
from .analytic import Influence, analytic_pair_test, analytic_supported, transition_influence
from .bootstrap import Replicates, pair_test, transition_replicates
from .fitted import FittedNetwork

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 64 * 2**20


@dataclass(frozen=True)
class FittedTransition:
    """What the unit computes a transition's replicates or influence from: its cells over its mask's
    edges (:func:`~transgrn.design.load_transition_data`), its main mapping and its fitted network."""

    data: TransitionData
    mapping: pd.DataFrame
    network: FittedNetwork


def uses_analytic(options: DifferentialOptions, fit: FitOptions) -> bool:
    """Whether the unit takes the analytic standard error: asked for (``se_method: analytic``) and
    covering the fit (:func:`~.analytic.analytic_supported`); else the bootstrap."""
    if options.se_method != "analytic":
        return False
    if not analytic_supported(fit):
        log.info("differential: the analytic standard error covers ridge without standardize or self_term; "
                 "using the joint cell bootstrap")
        return False
    return True


def differential_unit(pairs: pd.DataFrame, transitions: pd.DataFrame, options: DifferentialOptions,
                      fit: FitOptions, seed: int = 0, *, load: Callable[[str], FittedTransition] | None = None,
                      replicates: Callable[[str], Replicates] | None = None, spill_dir: str | Path | None = None,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[pd.DataFrame]:
    """The differential tables of ``pairs`` (rows of :func:`~.pairs.transition_pairs`, e.g. those of
    one or several units), one pair at a time, for a streaming writer.

    ``replicates(transition)`` returns the transition's bootstrap replicates as its fit job wrote
    them (:func:`~.bootstrap.read_replicates`, the workflow's way with the bootstrap): nothing is
    computed. Otherwise ``load(transition)`` returns its :class:`FittedTransition`; it is called once
    per transition, whose influence (the analytic standard error, :func:`uses_analytic`) or
    replicates (:func:`~.bootstrap.transition_replicates`) are computed once whatever its number of
    pairs. What a transition keeps for its pairs is held in memory up to ``max_bytes`` in all, beyond
    that written to ``.npy`` files in ``spill_dir`` (a temporary directory when None) and
    memory-mapped. ``options.max_qvalue < 1`` keeps only the rows with ``qvalue <= max_qvalue``
    (after BH over all the pair's edges), for atlas-sized runs.
    """
    analytic = uses_analytic(options, fit)
    if not analytic and options.n_boot < 2:
        raise ConfigError("differential.n_boot must be at least 2 to estimate a standard error")
    if load is None and (analytic or replicates is None):
        raise ValueError("differential_unit: the analytic standard error, or a bootstrap without the fits' "
                         "replicates, computes from each transition's cells: give load")
    clusters = transitions.set_index("transition")[["source_cluster", "target_cluster"]]
    shared = _shared_clusters(pairs, clusters)
    needed = list(dict.fromkeys([*pairs["transition_1"], *pairs["transition_2"]]))
    with tempfile.TemporaryDirectory(dir=spill_dir) as spill:
        store: dict[str, Replicates | Influence] = {}
        held = 0
        for transition in needed:
            if replicates is not None and not analytic:  # memory-mapped from the fit's file already
                store[transition] = replicates(transition)
                continue
            fitted = _computed(load(transition), transition, tuple(clusters.loc[transition]), shared[transition],
                               options.n_boot, analytic, fit, seed)
            held += _held_bytes(fitted)
            if held > max_bytes:
                _spill(fitted, Path(spill) / str(len(store)))
            store[transition] = fitted
            log.info("differential: %s of %s (%d tested edges)", "influence" if analytic else "replicates",
                     transition, int(fitted.active.sum()))
        test = analytic_pair_test if analytic else pair_test
        for pair in pairs.itertuples(index=False):
            table = test(pair.transition_1, _mapped_anew(store[pair.transition_1]),
                         pair.transition_2, _mapped_anew(store[pair.transition_2]))
            if options.max_qvalue < 1:
                table = table[table["qvalue"] <= options.max_qvalue].reset_index(drop=True)
            yield table
        store.clear()  # release the memory maps before the directory goes


def _computed(inputs: FittedTransition, transition: str, clusters: tuple[str, str], shared: list[str], n_boot: int,
              analytic: bool, fit: FitOptions, seed: int) -> Replicates | Influence:
    """A transition's influence (keeping the ``shared`` clusters' parts) or replicates, from its
    cells around its fitted network. Nothing keeps ``inputs``: its cells go before the next
    transition loads (two transitions' cells at once otherwise)."""
    if analytic:
        return transition_influence(inputs.data, inputs.mapping, inputs.network, *clusters, shared)
    return transition_replicates(inputs.data, inputs.mapping, inputs.network, fit, clusters, n_boot, seed, transition)


def _shared_clusters(pairs: pd.DataFrame, clusters: pd.DataFrame) -> dict[str, list[str]]:
    """Per transition, the clusters it shares with a transition it is paired with (sorted): those
    whose cell influences its pairs' covariances need."""
    shared: dict[str, set] = {}
    for pair in pairs.itertuples(index=False):
        common = set(clusters.loc[pair.transition_1]) & set(clusters.loc[pair.transition_2])
        for transition in (pair.transition_1, pair.transition_2):
            shared.setdefault(transition, set()).update(common)
    return {transition: sorted(labels) for transition, labels in shared.items()}


def _held_bytes(fitted: Replicates | Influence) -> int:
    if isinstance(fitted, Replicates):
        return fitted.replicates.nbytes
    return fitted.system.nbytes + sum(part.x.nbytes + part.residual.nbytes for part in fitted.clusters.values())


def _spill(fitted: Replicates | Influence, stem: Path) -> None:
    """Write the large arrays of ``fitted`` (replicates, or an influence's system and cluster arrays) to
    ``.npy`` files named from ``stem`` and replace them by memory maps."""
    if isinstance(fitted, Replicates):
        fitted.replicates = _spilled(fitted.replicates, stem.with_suffix(".npy"))
        return
    fitted.system = _spilled(fitted.system, Path(f"{stem}_system.npy"))
    for index, label in enumerate(fitted.clusters):
        part = fitted.clusters[label]
        part.x = _spilled(part.x, Path(f"{stem}_{index}_x.npy"))
        part.residual = _spilled(part.residual, Path(f"{stem}_{index}_residual.npy"))


def _spilled(array: np.ndarray, path: Path) -> np.ndarray:
    np.save(path, array)
    return np.load(path, mmap_mode="r")


def _anew(array: np.ndarray) -> np.ndarray:
    return np.load(array.filename, mmap_mode="r") if isinstance(array, np.memmap) else array


def _mapped_anew(fitted: Replicates | Influence) -> Replicates | Influence:
    """``fitted`` with its spilled arrays in memory maps of their own, unmapped when the pair is
    done: the pages a pair reads then leave the job's resident memory, instead of every spilled
    transition's staying there (+140 MB at 8 transitions, benchmarks/scale.py)."""
    if isinstance(fitted, Replicates):
        return replace(fitted, replicates=_anew(fitted.replicates))
    clusters = {label: replace(part, x=_anew(part.x), residual=_anew(part.residual))
                for label, part in fitted.clusters.items()}
    return replace(fitted, system=_anew(fitted.system), clusters=clusters)
