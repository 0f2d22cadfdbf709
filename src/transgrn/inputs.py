"""What a transition's fit takes as each TF's input: its expression (what the workflow fits), averaged
over the cell's nearest neighbours, or its activity inferred from the prior -- candidates measured on
the recovery benchmark (``TransitionData(..., input_neighbours=K, tf_activity=True)``;
``benchmarks/recovery.py --variant inputs.neighbours=10``). Neither held on every track, so neither
is a config key (docs/benchmarks.md, "Candidates for cleaner top edges").

Why these exist (issue 26): a regression on noisy inputs attenuates and misranks the weights (errors
in variables), and on the Hill track's counts the noise in the TF inputs, not in the targets, is what
limits recovery. Averaging only the inputs over each cell's neighbours removes sampling noise from
them while the target values stay the cell's own (``data.smooth`` averages both, which shares the
targets' noise across neighbours too). TF activity is the Inferelator's (Arrieta-Ortiz et al. 2015,
Mol Syst Biol 11:839): a TF's mRNA says little of its activity, but its prior targets' expression
does; per cell, the activities ``A`` minimize ``||Y - A P||`` over the prior ``P`` (TFs x targets),
and a TF without targets in the prior keeps its expression.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cells import CellSet, _dense, knn_averaging


def tf_inputs(cells: CellSet, genes: pd.Index, tfs: pd.Index, targets: pd.Index, prior: np.ndarray,
              neighbours: int = 0, activity: bool = False) -> CellSet:
    """The TF columns of one cluster's ``cells`` (all of ``genes``) as a fit's inputs: expression, or
    with ``activity`` the TF activity over ``prior`` (TFs x ``targets``, True = edge); with
    ``neighbours > 1`` averaged over each cell and its ``neighbours - 1`` nearest cells of the cluster
    (in a PCA of every gene, :func:`~transgrn.cells.knn_averaging`)."""
    values = _dense(cells.matrix[:, genes.get_indexer(tfs)]).astype(np.float64)
    if activity:
        values = tf_activity(values, _dense(cells.matrix[:, genes.get_indexer(targets)]), prior)
    if neighbours > 1:
        values = np.asarray(knn_averaging(cells.matrix, neighbours) @ values)
    return CellSet(cells.names, values, cells.pseudotime)


def tf_activity(tf_expression: np.ndarray, target_expression: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Per cell, the TF activities ``A`` (cells x TFs) that best explain the targets' expression as
    ``A @ prior`` (least squares, minimum norm where the prior leaves them undetermined); a TF with no
    target in ``prior`` keeps its ``tf_expression``."""
    prior = np.asarray(prior, dtype=np.float64)
    activity = np.asarray(target_expression, dtype=np.float64) @ np.linalg.pinv(prior)
    without_targets = ~prior.any(axis=1)
    activity[:, without_targets] = tf_expression[:, without_targets]
    return activity
