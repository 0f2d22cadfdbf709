"""Masked linear regression ``Y ~ X @ W + b`` with ``W`` zero outside a prior mask, one module per
family as scikit-learn's ``linear_model``:

* :mod:`.base` -- what every solver shares: Y read a block of targets at a time, the torch device,
  the prior's edges grouped by target, :class:`MaskedRegressor`;
* :mod:`.moments` -- the sufficient statistics the Gram-based solvers work from (the TF Gram
  matrix, ``X^T Y`` at the prior edges, each target's sum of squares), also row-weighted;
* :mod:`.ridge` -- :class:`MaskedRidge`, closed form by batched Cholesky;
  :meth:`MaskedRidge.fit_weightings` refits many row-weightings at once (bootstrap); ``sign=`` holds
  weights to their marginal association's sign (``fit.sign``, batched active set + FISTA);
* :mod:`.ridge_cv` -- :class:`MaskedRidgeCV`, the ridge penalty by generalized cross-validation from
  one eigendecomposition per target (or exact leave-one-out, or K-fold CV), fitted from the same
  moments; :func:`ridge_cv_r2`;
* :mod:`.elastic_net` -- :class:`MaskedElasticNet` / :class:`MaskedLasso`, batched FISTA with
  adaptive restart and a per-target Lipschitz step, stopped on sklearn's duality-gap criterion;
* :mod:`.elastic_net_cv` -- :class:`MaskedElasticNetCV` / :class:`MaskedLassoCV` (K-fold CV);
* :mod:`.folds` -- K-fold CV from per-fold sums, shared by both penalty choices;
* :mod:`.adam` -- :class:`MaskedAdam`, the original notebook's dense masked weights trained by
  Adam, kept only for comparison.

:func:`make_solver` builds a solver by its config name (``fit.solver``) at a given penalty,
:func:`make_cv_solver` its cross-validated sibling (``fit.alpha: auto``,
:func:`transgrn.fit.make_transition_solver`). Torch is imported lazily so that importing
:mod:`transgrn` stays cheap.
"""

from __future__ import annotations

from typing import Any

from .adam import MaskedAdam
from .base import (BLOCK_BYTES, ConvergenceWarning, MaskedRegressor, Outputs, block_budget, block_bytes,
                   resolve_device, target_blocks, values_at)
from .base import _group_targets  # noqa: F401 (transgrn.differential groups its TFs alike)
from .elastic_net import MaskedElasticNet, MaskedLasso
from .elastic_net_cv import MaskedElasticNetCV, MaskedLassoCV, select_alpha_enet
from .folds import kfold_indices, least_cv_error
from .moments import sparse_edge_cross
from .ridge import MaskedRidge
from .ridge_cv import RIDGE_ALPHA_GRID, MaskedRidgeCV, ridge_cv_r2, select_alpha_ridge

__all__ = ["BLOCK_BYTES", "CV_SOLVERS", "ConvergenceWarning", "MaskedAdam", "MaskedElasticNet", "MaskedElasticNetCV",
           "MaskedLasso", "MaskedLassoCV", "MaskedRegressor", "MaskedRidge", "MaskedRidgeCV", "Outputs",
           "RIDGE_ALPHA_GRID", "SOLVERS", "block_budget", "block_bytes", "kfold_indices", "least_cv_error",
           "make_cv_solver", "make_solver", "resolve_device", "ridge_cv_r2", "select_alpha_enet",
           "select_alpha_ridge", "sparse_edge_cross", "target_blocks", "values_at"]

# fit.solver's names: the solver at a given penalty ...
SOLVERS: dict[str, type[MaskedRegressor]] = {
    "ridge": MaskedRidge,
    "lasso": MaskedLasso,
    "elasticnet": MaskedElasticNet,
    "adam": MaskedAdam,
}
# ... and, for those that have one, the sibling that cross-validates the penalty
CV_SOLVERS: dict[str, type[MaskedRegressor]] = {
    "ridge": MaskedRidgeCV,
    "lasso": MaskedLassoCV,
    "elasticnet": MaskedElasticNetCV,
}


def make_solver(name: str, **params: Any) -> MaskedRegressor:
    """The solver ``fit.solver: name`` with ``params`` (its keyword arguments)."""
    if name not in SOLVERS:
        raise ValueError(f"fit.solver: unknown solver {name!r}; choose one of {sorted(SOLVERS)}")
    return SOLVERS[name](**params)


def make_cv_solver(name: str, **params: Any) -> MaskedRegressor:
    """The solver ``fit.solver: name`` that cross-validates its penalty, with ``params``."""
    if name not in CV_SOLVERS:
        raise ValueError(f"fit.solver: solver {name!r} has no cross-validated penalty; choose one of "
                         f"{sorted(CV_SOLVERS)}, or give fit.alpha a number")
    return CV_SOLVERS[name](**params)
