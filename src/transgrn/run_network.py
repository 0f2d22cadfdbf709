"""The run-level network: one rank score and one sign per prior edge, over every transition of a run.

A transition's network answers "what drives A -> B"; this one answers "which prior edges does the run
support", e.g. to compare with a known network or another method's single network. Each edge's
``score`` is the mean |weight| over the transitions, each transition weighted by its held-out R^2
(``r2_test``, clipped at 0): a transition that predicts its held-out cells no better than their
training mean adds nothing, and where none of an edge's transitions does, the plain mean is taken.
Its ``sign`` is that of the summed weights, a vote weighted by |weight| (a vote weighted by R^2 too
got fewer signs right on the Boolean track: a transition that predicts poorly still knows the sign).
A weight is the one the transition's recovery scores (0 where the edge was not estimated, the pooled
network's where it was borrowed).

Chosen by ``benchmarks/run_network.py`` (docs/outputs.md, The run-level network) among the maximum
|weight| over transitions (what ``benchmarks/recovery.py`` scored the Boolean track with), the plain
mean, a mean percentile, the bootstrap's sign confidence times |weight| and the share of transitions
where the edge is significant: of the scores that need no bootstrap it ranks best on the Boolean track
(AUPRC ratio, EPR; |weight| x sign confidence is 0.02 ahead there, and behind on the demo and sim), and
it is within 0.01 of the best on the demo, sim and Hill tracks.

:class:`RunNetwork` accumulates one transition at a time, so the aggregate streams as before: its
memory is a few numbers per prior edge.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .columns import NETWORK_COLUMNS
from .metrics import recovery_metrics
from .tensor import in_var_order, var_positions


def transition_weight(r2_test: float | None) -> float:
    """How much a transition counts in the run-level network: its held-out R^2, 0 where negative or missing
    (None: JSON's null for NaN in metrics.json)."""
    r2 = float("nan") if r2_test is None else float(r2_test)
    return max(r2, 0.0) if math.isfinite(r2) else 0.0


class RunNetwork:
    """Per-edge sums over transitions, in the order of ``var`` (``tf``, ``target_gene``: the tensor's edges).

    ``add`` each transition's edges (``tf, target_gene, weight``) with its held-out R^2, then ``table()``.
    """

    def __init__(self, var: pd.DataFrame):
        self.var = var[["tf", "target_gene"]].reset_index(drop=True)
        n = len(self.var)
        # |weight| weighted by R^2 (the score) and unweighted (the score where no transition of an edge has
        # R^2 > 0; with the summed weights, the sign and its agreement)
        self.weighted_abs, self.weight_total = np.zeros(n), np.zeros(n)
        self.plain_abs, self.plain_signed, self.present = np.zeros(n), np.zeros(n), np.zeros(n)
        self.called = np.zeros(n, dtype=np.int64)
        self.n_transitions = 0

    def add(self, edges: pd.DataFrame, r2_test: float) -> None:
        """One transition's weights (an edge it lacks, or whose weight is NaN, counts neither way)."""
        weight = in_var_order(edges["weight"].to_numpy(dtype=np.float64), var_positions(edges, self.var))
        present = ~np.isnan(weight)
        weight = np.where(present, weight, 0.0)
        share = transition_weight(r2_test)
        self.weighted_abs += share * np.abs(weight)
        self.weight_total += share * present
        self.plain_abs += np.abs(weight)
        self.plain_signed += weight
        self.present += present
        self.called += weight != 0
        self.n_transitions += 1

    def table(self) -> pd.DataFrame:
        """One row per edge, highest score first (ties in ``var``'s order): :data:`NETWORK_COLUMNS`.

        ``sign_agreement`` = |sum of weights| / sum of |weights|: 1 where every transition's weight has the
        edge's sign, near 0 where they cancel; NaN where every weight is 0. ``n_transitions``: transitions
        with a non-zero weight for the edge.
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            score = np.where(self.weight_total > 0, self.weighted_abs / self.weight_total,
                             self.plain_abs / self.present)
            agreement = np.where(self.plain_abs > 0, np.abs(self.plain_signed) / self.plain_abs, np.nan)
        table = self.var.assign(score=np.nan_to_num(score, nan=0.0),  # 0 for an edge no transition listed
                                sign=np.sign(self.plain_signed).astype(np.int8),
                                sign_agreement=np.minimum(agreement, 1.0), n_transitions=self.called)
        order = np.argsort(-score, kind="stable")
        return table.iloc[order].reset_index(drop=True)[NETWORK_COLUMNS]


def network_recovery(network: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """:func:`~transgrn.metrics.recovery_metrics` of the run-level network (``score`` ranks, ``sign`` signs),
    the same metrics as a transition's."""
    signed = network[["tf", "target_gene"]].assign(weight=network["score"] * network["sign"])
    return recovery_metrics(signed, reference)
