"""Shared cases of the differential test's tests (tests/test_differential*.py): a tiny sibling pair
fitted by hand, the simulated siblings, and each transition's fit as the unit reads it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import transition_of
from scipy import stats

from transgrn.cells import CellSet
from transgrn.differential import FittedNetwork, FittedTransition, differential_unit, transition_pairs
from transgrn.design import TransitionData
from transgrn.fit import fit_transition
from transgrn.mapping import map_transition
from transgrn.mask import build_mask
from transgrn.mapping import pair_cells
from transgrn.options import MappingOptions, DifferentialOptions, FitOptions

RIDGE = FitOptions.from_config({"solver": "ridge", "alpha": 1.0})
TRANSITIONS = pd.DataFrame([("ab", "A", "B"), ("ac", "A", "C"), ("bc", "B", "C"), ("ca", "C", "A"), ("ba", "B", "A")],
                           columns=["transition", "source_cluster", "target_cluster"])
SIBLINGS = pd.DataFrame([("pA", "progenitor", "fate A"), ("pB", "progenitor", "fate B")],
                        columns=["transition", "source_cluster", "target_cluster"])
GENES = ["T1", "T2", "G1", "G2", "G3"]


def options(**values) -> DifferentialOptions:
    """The differential section with ``values`` (n_boot, se_method, ...), the schema's defaults elsewhere."""
    return DifferentialOptions.from_config(values)


def fitted(data: TransitionData, mapping: pd.DataFrame, fit: FitOptions = RIDGE, seed: int = 0,
           transition: str = "", pooled=None) -> FittedTransition:
    """A transition's cells, mapping and its fit (:func:`~transgrn.fit.fit_transition`), as the unit reads them."""
    coefficients, intercepts, info = fit_transition(data, {"main": mapping}, fit, seed, transition, pooled)
    return FittedTransition(data, mapping, FittedNetwork(coefficients, intercepts, info["alpha"]))


def tiny(seed: int = 0, fit: FitOptions = RIDGE) -> tuple[dict, pd.DataFrame, dict]:
    """Clusters A (shared source), B and C over 2 TFs and 3 targets, with the joint design: the
    clusters, the prior and each sibling's :class:`FittedTransition` (ab, ac)."""
    rng = np.random.default_rng(11)
    genes = pd.Index(GENES)
    clusters = {name: CellSet(np.array([f"{name}{i}" for i in range(n)]), rng.normal(size=(n, 5)) + [0, 0, 1, 2, 3])
                for name, n in (("A", 30), ("B", 25), ("C", 20))}
    prior = pd.DataFrame({"tf": ["T1", "T2", "T1", "T2"], "target_gene": ["G1", "G1", "G2", "G3"], "sign": 0})
    loaded = {}
    for transition, source, target in (("ab", "A", "B"), ("ac", "A", "C")):
        s, t = clusters[source], clusters[target]
        data = TransitionData(s, t, genes, build_mask(prior, s, t, genes, "joint"))
        loaded[transition] = fitted(data, pair_cells("joint", s, t, rng), fit, seed, transition)
    return clusters, prior, loaded


def tiny_unit(loaded: dict, fit: FitOptions = RIDGE, seed: int = 0, **values) -> pd.DataFrame:
    """The one sibling pair's table of :func:`tiny` (``values``: the differential options)."""
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    return next(differential_unit(pairs, TRANSITIONS[:2], options(**values), fit, seed, load=loaded.__getitem__))


def hand_fit(cells: np.ndarray, clusters: dict, prior: pd.DataFrame, weights: np.ndarray, alpha: float = 1.0,
             prior_mean: np.ndarray | None = None) -> np.ndarray:
    """The prior edges' weights of :func:`hand_network`."""
    return hand_network(cells, clusters, prior, weights, alpha, prior_mean)[0]


def hand_network(cells: np.ndarray, clusters: dict, prior: pd.DataFrame, weights: np.ndarray, alpha: float = 1.0,
                 prior_mean: np.ndarray | None = None) -> tuple[np.ndarray, pd.Series]:
    """sklearn's ridge per target on its prior TFs over the rows of ``cells`` (every pair's source
    cell), weighted ``weights``: the prior edges' weights and each target's intercept. With a
    ``prior_mean`` W0 per prior edge, ridge towards it, as a fit borrows: ``W0 + ridge(X, y - X W0)``."""
    from sklearn.linear_model import Ridge

    expression = pd.DataFrame(np.vstack([c.matrix for c in clusters.values()]), columns=GENES,
                              index=np.concatenate([c.names for c in clusters.values()]))
    rows = expression.loc[cells]
    w0 = pd.Series(np.zeros(len(prior)) if prior_mean is None else prior_mean,
                   index=pd.MultiIndex.from_frame(prior[["tf", "target_gene"]]))
    fitted, intercepts = w0.copy(), {}
    for target, edges in prior.groupby("target_gene"):
        keys = list(zip(edges["tf"], edges["target_gene"]))
        inputs = rows[edges["tf"]].to_numpy()
        model = Ridge(alpha=alpha).fit(inputs, rows[target].to_numpy() - inputs @ w0.loc[keys].to_numpy(),
                                       sample_weight=weights)
        fitted.loc[keys] += model.coef_
        intercepts[target] = model.intercept_
    return fitted.to_numpy(), pd.Series(intercepts)


def network_rows(inputs: FittedTransition) -> np.ndarray:
    """The source cell of each of the network's rows (every pair, in pair order)."""
    return inputs.mapping.sort_values("pair")["source_cell"].to_numpy()


def sibling_loader(sim, mapping_config: dict, seed: int, fit: FitOptions = RIDGE):
    """The simulated siblings' :class:`FittedTransition` by id (pA, pB)."""
    def load(transition: str) -> FittedTransition:
        row = SIBLINGS.set_index("transition").loc[transition]
        source, target, mask = transition_of(sim, row.source_cluster, row.target_cluster)
        data = TransitionData(source, target, sim.adata.var_names, mask)
        config = {"n_pairs": 2000, "test_fraction": 0.2, **mapping_config}
        return fitted(data, map_transition(source, target, "main", transition, MappingOptions.from_config(config), seed, data), fit, seed,
                      transition)
    return load


def sibling_test(sim, mapping_config: dict, seed: int, n_boot: int = 20, se_method: str = "bootstrap") -> pd.DataFrame:
    """The simulated siblings' table."""
    pairs = transition_pairs(SIBLINGS, "siblings")
    return next(differential_unit(pairs, SIBLINGS, options(n_boot=n_boot, se_method=se_method), RIDGE, seed,
                                  load=sibling_loader(sim, mapping_config, seed)))


def assert_uniform(pvalue: pd.Series) -> None:
    """Null p-values are uniform: neither liberal nor conservative.

    Edges share TFs, so their p-values are correlated and the KS test's p-value (which assumes
    independent draws) overstates the evidence against uniformity; the KS distance itself -- the
    largest gap between the p-values' CDF and the uniform's -- is bounded instead. Over 12 splits
    of the simulation it stays below 0.05; resampling the shared cells independently gives ~0.1.
    """
    assert stats.kstest(pvalue, "uniform").statistic < 0.06
    assert 0.025 < (pvalue < 0.05).mean() < 0.08
