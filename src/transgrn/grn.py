"""One transition's GRN from a notebook: the stages the workflow runs, in order, in one place.

This module only re-exports; each stage lives in its own module (the workflow has one rule and one
script per stage with the same name)::

    from transgrn.grn import build_mask, load_transition, TransitionData, map_transition, fit_transition, evaluate_transition
    source, target, genes = load_transition("results/prepared/clusters/c00_a.h5ad", "results/prepared/clusters/c01_b.h5ad")
    mask = build_mask(prior_edges, source, target, genes, "lagged")
    data = TransitionData(source, target, genes, mask)
    mappings = {role: map_transition(source, target, role, "a->b", {"method": "lagged"}, 0, data) for role in ("main", "null")}
    coefficients, intercepts, info = fit_transition(data, mappings, FitOptions.from_config({}))  # transgrn.options
    metrics, gene_r2, predictions = evaluate_transition(data, mappings, coefficients, intercepts, reference)
"""

from .cells import CellSet, load_cluster, load_transition  # noqa: F401
from .design import TransitionData, load_transition_data, read_mappings  # noqa: F401
from .evaluate import evaluate_transition  # noqa: F401
from .fit import fit_transition, make_transition_solver  # noqa: F401
from .mapping import map_transition  # noqa: F401
from .mask import build_mask  # noqa: F401
from .models import cofactors_transition, fit_mlp_transition  # noqa: F401
