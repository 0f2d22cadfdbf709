"""Stage fit: the masked regression of a transition on its mapping's training pairs (and the null's)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .columns import CONFIDENCE_COLUMNS
from .confidence import bootstrap_edges
from .design import TransitionData
from .options import FitOptions
from .seeds import rng_for
from .solvers import make_solver, values_at

log = logging.getLogger(__name__)

# which fit.* options each solver takes
SOLVER_PARAMS = {
    "ridge": ("alpha", "fit_intercept", "standardize", "device", "dtype"),
    "lasso": ("alpha", "fit_intercept", "standardize", "device", "dtype"),
    "elasticnet": ("alpha", "l1_ratio", "fit_intercept", "standardize", "device", "dtype"),
    "adam": ("alpha", "lr", "epochs", "fit_intercept", "standardize", "device", "dtype"),
}


def make_transition_solver(options: FitOptions | dict, seed: int = 0):
    """The configured solver with the parameters it takes (``fit.*``), seeded for the transition."""
    options = FitOptions.from_config(options)
    params = {k: getattr(options, k) for k in SOLVER_PARAMS[options.solver]}
    if options.solver == "adam":
        params["seed"] = seed
        params["alpha"] = 0.0 if params["alpha"] == "auto" else params["alpha"]
    elif params["alpha"] == "auto":
        params["cv_seed"] = seed
    return make_solver(options.solver, **params)


def fit_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], options: FitOptions | dict,
                   seed: int = 0, transition: str = ""):
    """Fit the masked regression on each mapping's training pairs.

    Returns ``coefficients`` (tf, target_gene, weight[, <role>_weight], and with ``fit.bootstrap``
    the main fit's ``weight_mean, weight_std, pvalue, qvalue``) for every prior edge of the
    transition (0 where inactive), ``intercepts`` (target_gene, intercept[, self_weight] per role)
    and ``info`` (solver, chosen alpha, iterations).

    With ``fit.self_term`` each target also gets its own expression in the input cell as a
    predictor, so that a gene's persistence from A to B is not forced onto its TFs.
    """
    options = FitOptions.from_config(options)
    self_term = options.self_term
    mask = data.design_mask(self_term)
    coefficients = data.edges.copy()
    intercepts = pd.DataFrame({"target_gene": data.targets})
    info: dict[str, Any] = {"solver": options.solver}
    n_tfs = len(data.tfs)
    for role, mapping in mappings.items():
        role_seed = int(rng_for(seed, transition, "fit", role).integers(2**31))
        x, y = data.design(mapping, "train", self_term, dense=False)
        if role == "main":
            _note_rows(x.shape[0], data.mask, transition)
        model = make_transition_solver(options, role_seed).fit(x, y, mask)
        prefix = "" if role == "main" else f"{role}_"
        coefficients[f"{prefix}weight"] = model.coef_at(data.edge_tf, data.edge_target)
        intercepts[f"{prefix}intercept"] = model.intercept_
        if self_term:
            targets = np.arange(len(data.targets))
            intercepts[f"{prefix}self_weight"] = model.coef_at(n_tfs + targets, targets)
        if role == "main":
            info.update(_solver_info(model))
            if options.bootstrap >= 2:
                coefficients = _with_confidence(coefficients, data, x, y, mask, options, role_seed)
    return coefficients, intercepts, info


def _note_rows(n_rows: int, mask: np.ndarray, transition: str) -> None:
    """Note in the job's log how many training rows the fit has per prior TF of a typical target
    (the checkpoint warns once for the run about transitions with few)."""
    per_target = mask.sum(0)
    per_target = per_target[per_target > 0]
    if len(per_target):
        log.info("transition %s: %d training rows for a median of %g prior TFs per target", transition or "?",
                 n_rows, float(np.median(per_target)))


def _solver_info(model) -> dict[str, Any]:
    info = {"alpha": float(getattr(model, "alpha_", getattr(model, "alpha", float("nan"))))}
    for name in ("n_iter_", "converged_"):
        if hasattr(model, name):
            value = getattr(model, name)
            info[name.rstrip("_")] = bool(np.all(value)) if name == "converged_" else int(np.max(value))
    return info


def _with_confidence(coefficients: pd.DataFrame, data: TransitionData, x, y, mask, options: FitOptions,
                     seed: int) -> pd.DataFrame:
    """Bootstrap the training pairs ``fit.bootstrap`` times and add per-edge confidence (CellOracle-style)."""
    if options.alpha == "auto":  # select once, then refit every resample with that penalty
        options = replace(options, alpha=make_transition_solver(options, seed).fit(x, y, mask).alpha_)
    summary = bootstrap_edges(lambda: make_transition_solver(options, seed), x, y, mask, options.bootstrap, seed)
    coefficients = coefficients.copy()
    for column in CONFIDENCE_COLUMNS:
        values = values_at(mask, summary[column], data.edge_tf, data.edge_target)
        coefficients[column] = np.where(data.edge_active, values, np.nan)
    return coefficients
