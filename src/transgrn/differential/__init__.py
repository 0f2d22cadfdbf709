"""Differential edges between two transitions, with a standard error that accounts for shared cells.

For a pair of transitions ``(t1, t2)`` and every prior edge estimable (``active``) in both, the
test reports ``weight_1``, ``weight_2`` (the main fits, the ``weight`` of each transition's
``coefficients.parquet``), ``difference = weight_2 - weight_1`` (what changes from ``t1`` to
``t2``: for a consecutive pair ``A -> B, B -> C``, positive where the edge gains weight along the
path), its ``std_error``, ``z = difference / std_error``, a two-sided ``pvalue`` and the
Benjamini-Hochberg ``qvalue`` over the pair's edges (:mod:`.table`).

The modules, in the order the work runs:

* :mod:`.pairs` -- which transitions are compared (siblings, consecutive, ...) and the unit, the
  shared cluster, that computes each pair;
* :mod:`.fitted` -- what the test reads of each transition's fit: the network, its intercepts and
  the penalty it chose (nothing is refitted), and the edges it tests (borrowed ones are not);
* :mod:`.bootstrap` -- the joint cell bootstrap (``se_method: bootstrap``, the default): the
  replicates each fit job refits, and the pair test on them;
* :mod:`.moderation` -- the empirical-Bayes moderated variance of the bootstrap's test;
* :mod:`.analytic` -- the analytic standard error (``se_method: analytic``): the bootstrap's
  linearization, no refits;
* :mod:`.unit` -- one ``differential_unit`` job's work: every pair of one shared cluster;
* :mod:`.gather` -- rule ``differential``: the units' tables into one.

What the test compares is the fitted weights, so a difference can also come from a change in
the cells rather than in the regulation (another TF variance changes how much ridge shrinks, or
how a correlated decoy shares the signal); ``benchmarks/differential.py`` measures how often.
"""

from .analytic import analytic_pair_test, analytic_supported, transition_influence
from .bootstrap import Replicates, fit_replicates, pair_test, read_replicates, transition_replicates
from .fitted import FittedNetwork, read_fitted_network, tested_edges
from .gather import unit_tables
from .moderation import DEFAULT_MODERATION, MIN_RESIDUAL_DF, moderate_variances
from .pairs import transition_pairs, unit_ids, unit_pairs
from .table import DIFFERENTIAL_COLUMNS, differential_schema
from .unit import DEFAULT_MAX_BYTES, FittedTransition, differential_unit

# what the jobs, the workflow's rule files, the tests and the benchmarks use
__all__ = [
    "DEFAULT_MAX_BYTES", "DEFAULT_MODERATION", "DIFFERENTIAL_COLUMNS", "MIN_RESIDUAL_DF", "FittedNetwork",
    "FittedTransition", "Replicates", "analytic_pair_test", "analytic_supported", "differential_schema",
    "differential_unit", "fit_replicates", "moderate_variances", "pair_test", "read_fitted_network", "read_replicates",
    "tested_edges", "transition_influence", "transition_pairs", "transition_replicates", "unit_ids", "unit_pairs",
    "unit_tables",
]
