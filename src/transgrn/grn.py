"""Per-transition stages: mask, mapping, fit and evaluation of one A -> B GRN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .evaluate import r2_overall, r2_per_gene, recovery_metrics
from .mapping import CellSet, map_cells, paired_design
from .seeds import rng_for
from .solvers import make_solver

NULL_METHOD = "random"
N_EXTREME_GENES = 3


def load_cluster(path: str | Path) -> tuple[CellSet, pd.Index]:
    """A per-cluster slice written by the checkpoint: its cells and gene names."""
    import anndata as ad

    adata = ad.read_h5ad(path)
    return CellSet(names=adata.obs_names.to_numpy(dtype=str), matrix=adata.X), adata.var_names


def _columns(cells: CellSet, genes: pd.Index, wanted) -> CellSet:
    return CellSet(cells.names, cells.matrix[:, genes.get_indexer(wanted)])


def _varies(matrix) -> np.ndarray:
    if sp.issparse(matrix):
        mean = np.asarray(matrix.mean(0)).ravel()
        mean_sq = np.asarray(matrix.multiply(matrix).mean(0)).ravel()
        return mean_sq - mean**2 > 1e-12
    return np.asarray(matrix).var(0) > 1e-12


def build_mask(prior: pd.DataFrame, source: CellSet, target: CellSet, genes: pd.Index) -> pd.DataFrame:
    """The transition's edges: every prior edge, ``active`` where the TF varies among the source
    cells and the target varies among the target cells (otherwise the edge is not estimable)."""
    tf_varies = pd.Series(_varies(source.matrix), index=genes)
    target_varies = pd.Series(_varies(target.matrix), index=genes)
    mask = prior[["tf", "target_gene", "sign"]].copy()
    mask["active"] = tf_varies[mask["tf"]].to_numpy() & target_varies[mask["target_gene"]].to_numpy()
    return mask


def map_transition(source: CellSet, target: CellSet, role: str, transition: str, mcfg: dict[str, Any], seed: int) -> pd.DataFrame:
    """Pair cells for the transition. ``role`` is ``main`` (the configured method) or ``null``
    (random pairing with its own stream, the baseline every transition is compared with)."""
    method = mcfg["method"] if role == "main" else NULL_METHOD
    rng = rng_for(seed, transition, "mapping", role)
    options = {k: mcfg[k] for k in ("n_pcs", "exact_max_cells", "entropic_reg") if k in mcfg}
    return map_cells(method, source, target, mcfg["n_pairs"], rng, test_fraction=mcfg["test_fraction"], **options)


class TransitionData:
    """TF expression of source cells and target-gene expression of target cells, by mapping split."""

    def __init__(self, source: CellSet, target: CellSet, genes: pd.Index, mask: pd.DataFrame) -> None:
        self.tfs = pd.Index(pd.unique(mask["tf"]))
        self.targets = pd.Index(pd.unique(mask["target_gene"]))
        self.source = _columns(source, genes, self.tfs)
        self.target = _columns(target, genes, self.targets)
        self.edges = mask[["tf", "target_gene"]].reset_index(drop=True)
        self.edge_active = mask["active"].to_numpy(dtype=bool)
        self.edge_tf = self.tfs.get_indexer(mask["tf"])
        self.edge_target = self.targets.get_indexer(mask["target_gene"])
        self.mask = np.zeros((len(self.tfs), len(self.targets)), dtype=bool)
        self.mask[self.edge_tf[self.edge_active], self.edge_target[self.edge_active]] = True

    def design(self, mapping: pd.DataFrame, split: str) -> tuple[np.ndarray, np.ndarray]:
        return paired_design(mapping[mapping["split"] == split], self.source, self.target)


def fit_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], fit_config: dict[str, Any]):
    """Fit the masked regression on each mapping's training pairs.

    Returns ``coefficients`` (tf, target_gene, weight[, <role>_weight]) for every prior edge of
    the transition (0 where inactive) and ``intercepts`` (target_gene, intercept[, <role>_intercept]).
    """
    params = {k: fit_config[k] for k in ("alpha", "fit_intercept", "device", "dtype")}
    coefficients = data.edges.copy()
    intercepts = pd.DataFrame({"target_gene": data.targets})
    for role, mapping in mappings.items():
        model = make_solver(fit_config.get("solver", "ridge"), **params).fit(*data.design(mapping, "train"), data.mask)
        prefix = "" if role == "main" else f"{role}_"
        coefficients[f"{prefix}weight"] = model.coef_[data.edge_tf, data.edge_target]
        intercepts[f"{prefix}intercept"] = model.intercept_
    return coefficients, intercepts


def _predict(data: TransitionData, coefficients: pd.DataFrame, intercepts: pd.DataFrame, column: str, x: np.ndarray) -> np.ndarray:
    weights = np.zeros((len(data.tfs), len(data.targets)))
    weights[data.edge_tf, data.edge_target] = coefficients[column].to_numpy()
    intercept_column = column.replace("weight", "intercept")
    return x @ weights + intercepts.set_index("target_gene").loc[data.targets, intercept_column].to_numpy()


def evaluate_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], coefficients: pd.DataFrame,
                        intercepts: pd.DataFrame, reference: pd.DataFrame | None = None):
    """Held-out accuracy of the fit and of its null, per gene and overall, and recovery of ``reference``.

    Returns ``metrics`` (dict), ``gene_r2`` (per target gene) and ``predictions`` (observed vs
    predicted test values of the best and worst predicted genes, for residual plots).
    """
    x_train, y_train = data.design(mappings["main"], "train")
    x_test, y_test = data.design(mappings["main"], "test")
    pred_train = _predict(data, coefficients, intercepts, "weight", x_train)
    pred_test = _predict(data, coefficients, intercepts, "weight", x_test)
    x_null, y_null = data.design(mappings["null"], "test")
    pred_null = _predict(data, coefficients, intercepts, "null_weight", x_null)
    gene_r2 = pd.DataFrame({
        "target_gene": data.targets,
        "r2_test": r2_per_gene(y_test, pred_test),
        "r2_test_null": r2_per_gene(y_null, pred_null),
        "n_tfs": data.mask.sum(0),
    })
    metrics = {
        "n_pairs": int(mappings["main"]["pair"].nunique()),
        "n_test_pairs": int(len(y_test)),
        "r2_train": r2_overall(y_train, pred_train),
        "r2_test": r2_overall(y_test, pred_test),
        "r2_test_null": r2_overall(y_null, pred_null),
        "n_edges": int(data.mask.sum()),
    }
    if reference is not None and len(reference):
        active = coefficients.loc[data.edge_active, ["tf", "target_gene", "weight"]]
        metrics.update(recovery_metrics(active, reference))
    predictions = _extreme_gene_predictions(gene_r2, data.targets, y_test, pred_test)
    return metrics, gene_r2, predictions


def _extreme_gene_predictions(gene_r2, targets, y_test, pred_test) -> pd.DataFrame:
    ranked = gene_r2.dropna(subset=["r2_test"]).sort_values(["r2_test", "target_gene"], ascending=[False, True])
    chosen = [("best", g) for g in ranked["target_gene"].head(N_EXTREME_GENES)]
    chosen += [("worst", g) for g in ranked["target_gene"].tail(N_EXTREME_GENES)[::-1] if g not in set(ranked["target_gene"].head(N_EXTREME_GENES))]
    frames = []
    for kind, gene in chosen:
        j = targets.get_loc(gene)
        frames.append(pd.DataFrame({"kind": kind, "target_gene": gene, "observed": y_test[:, j], "predicted": pred_test[:, j]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["kind", "target_gene", "observed", "predicted"])
