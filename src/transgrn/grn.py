"""Per-transition stages: mask, mapping, fit and evaluation of one A -> B GRN."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .evaluate import (gene_r2_summary, r2_from_sums, r2_overall, r2_overall_from_sums, r2_per_gene, recovery_metrics,
                       squared_sums)
from .mapping import SAME_CELL_METHODS, CellSet, map_cells, paired_design, pool, split_by_source_cell
from .seeds import rng_for
from .smoothing import smooth_clusters
from .solvers import Outputs, make_solver, target_blocks, values_at

if TYPE_CHECKING:
    from .mlp import MLPConfig

log = logging.getLogger(__name__)

NULL_METHOD = "random"
N_EXTREME_GENES = 3
MAPPING_OPTIONS = ("n_pcs", "exact_max_cells", "entropic_reg", "unbalanced_reg", "knn_k", "pseudotime_lag",
                   "pseudotime_bandwidth", "barycentric", "max_targets")


def load_cluster(path: str | Path) -> tuple[CellSet, pd.Index]:
    """A per-cluster slice written by the checkpoint: its cells, gene names and pseudotime if any."""
    import anndata as ad

    adata = ad.read_h5ad(path)
    pseudotime = adata.obs["pseudotime"].to_numpy(dtype=float) if "pseudotime" in adata.obs else None
    return CellSet(names=adata.obs_names.to_numpy(dtype=str), matrix=adata.X, pseudotime=pseudotime), adata.var_names


def load_transition(source_path: str | Path, target_path: str | Path, smooth: int = 0) -> tuple[CellSet, CellSet, pd.Index]:
    """Both clusters of a transition, smoothed over ``smooth`` nearest neighbours when ``smooth > 1``.

    Every per-transition rule loads its cells through here, so mapping, fit and evaluation
    all see the same (smoothed or raw) expression.
    """
    source, genes = load_cluster(source_path)
    target, _ = load_cluster(target_path)
    source, target = smooth_clusters(source, target, int(smooth or 0))
    return source, target, genes


def load_transition_data(source_path: str | Path, target_path: str | Path, mask_path: str | Path,
                         smooth: int = 0) -> "TransitionData":
    """A transition's cells (see :func:`load_transition`) restricted to the edges of its mask file."""
    source, target, genes = load_transition(source_path, target_path, smooth)
    return TransitionData(source, target, genes, pd.read_parquet(mask_path))


def read_mappings(main_path: str | Path, null_path: str | Path) -> dict[str, pd.DataFrame]:
    """The configured mapping and its random null, keyed by role as the fit and evaluation expect."""
    return {"main": pd.read_parquet(main_path), "null": pd.read_parquet(null_path)}


def _columns(cells: CellSet, genes: pd.Index, wanted) -> CellSet:
    return CellSet(cells.names, cells.matrix[:, genes.get_indexer(wanted)], cells.pseudotime)


def _varies(*matrices) -> np.ndarray:
    """Per gene: does it vary over the rows of all ``matrices`` stacked (one cluster, or both pooled)?"""
    matrices = [m for m in matrices if m.shape[0]]
    if not matrices:
        return np.zeros(0, dtype=bool)
    n = sum(m.shape[0] for m in matrices)
    total = sum(np.asarray(m.sum(0)).ravel() for m in matrices)
    total_sq = sum(np.asarray((m.multiply(m) if sp.issparse(m) else np.square(m)).sum(0)).ravel() for m in matrices)
    mean = total / n
    return total_sq / n - mean**2 > 1e-12


# Why an edge is not estimable (``mask.parquet``'s ``reason``; empty where active).
REASON_TF_CONSTANT = "TF constant"
REASON_TARGET_CONSTANT = "target constant"
REASON_NO_ROWS = "no rows"
REASON_SELF_LOOP = "self-loop in a same-cell design"


def design_rows(method: str, source: CellSet, target: CellSet) -> tuple[list, list]:
    """The expression matrices whose rows a design's inputs and outputs come from.

    Same-cell designs (``lagged``, ``joint``, ``hybrid``) fit on the cells of A and B together, so
    a TF that is off in A and switches on in B is estimable there; mapped designs take their inputs
    from A and their outputs from B.
    """
    if method in SAME_CELL_METHODS:
        both = [source.matrix, target.matrix]
        return both, both
    return [source.matrix], [target.matrix]


def build_mask(prior: pd.DataFrame, source: CellSet, target: CellSet, genes: pd.Index,
               method: str = "lagged") -> pd.DataFrame:
    """The transition's edges: every prior edge, ``active`` where it can be estimated on the rows
    that ``method``'s design fits (:func:`design_rows`), otherwise inactive with a ``reason``.

    In same-cell designs a self-loop (a TF listed as its own target) would regress a gene on
    itself and fit the identity, so it is inactive there.
    """
    inputs, outputs = design_rows(method, source, target)
    no_rows = sum(m.shape[0] for m in inputs) == 0 or sum(m.shape[0] for m in outputs) == 0
    mask = prior[["tf", "target_gene", "sign"]].copy()
    reasons = pd.DataFrame(index=mask.index)
    if no_rows:
        reasons[REASON_NO_ROWS] = True
    else:
        tf_varies = pd.Series(_varies(*inputs), index=genes)
        target_varies = pd.Series(_varies(*outputs), index=genes)
        reasons[REASON_TF_CONSTANT] = ~tf_varies[mask["tf"]].to_numpy()
        reasons[REASON_TARGET_CONSTANT] = ~target_varies[mask["target_gene"]].to_numpy()
    if method in SAME_CELL_METHODS:
        reasons[REASON_SELF_LOOP] = (mask["tf"] == mask["target_gene"]).to_numpy()
    mask["active"] = ~reasons.any(axis=1).to_numpy()
    mask["reason"] = ["; ".join(reasons.columns[row]) for row in reasons.to_numpy()]
    for reason in reasons.columns:
        if reasons[reason].any():
            log.info("%d of %d prior edges inactive: %s", int(reasons[reason].sum()), len(mask), reason)
    return mask


def map_transition(source: CellSet, target: CellSet, role: str, transition: str, mcfg: dict[str, Any], seed: int,
                   data: "TransitionData | None" = None) -> pd.DataFrame:
    """Pair cells for the transition. ``role`` is ``main`` (the configured method) or ``null``
    (random pairing with its own stream, the baseline every transition is compared with).

    The null keeps the main mapping's ``barycentric`` choice, so that both fits see outputs
    averaged the same way; after a same-cell method (``lagged``, ``joint``, ``hybrid``) it samples
    pairs. ``lagged`` needs ``data`` (the transition's cells and mask) to choose its lag.
    """
    method = mcfg["method"] if role == "main" else NULL_METHOD
    rng = rng_for(seed, transition, "mapping", role)
    options = {k: mcfg[k] for k in MAPPING_OPTIONS if k in mcfg}
    if role != "main" and mcfg["method"] in SAME_CELL_METHODS:
        options["barycentric"] = False
    mapping = map_cells(method, source, target, mcfg["n_pairs"], rng, test_fraction=mcfg["test_fraction"], **options)
    if method == "lagged":
        if data is None:
            raise ValueError("mapping.method 'lagged' chooses its lag on the transition's data: pass data=TransitionData(...)")
        mapping = with_lag(mapping, data, mcfg, rng)
    return mapping


def with_lag(mapping: pd.DataFrame, data: "TransitionData", mcfg: dict[str, Any], rng: np.random.Generator) -> pd.DataFrame:
    """A same-cell mapping with the columns ``lag`` and ``lag_bandwidth`` (pseudotime units) of the
    lagged design (:mod:`transgrn.lagged`): the lag of ``mapping.lag_grid`` whose shifted TF inputs
    predict the targets best in cross-validation over the training cells."""
    from .lagged import CV_MAX_TARGETS, DEFAULT_LAG_BANDWIDTH, DEFAULT_LAG_GRID, candidate_lags, choose_lag, input_trend, pair_times

    if data.source.pseudotime is None or data.target.pseudotime is None:
        # the checkpoint warns once for the run (summary.json's mapping_method); here it is only noted
        log.info("mapping.method 'lagged' needs a pseudotime (data.pseudotime_key); without one the design "
                     "is the same-cell 'joint' design (lag 0)")
        return mapping.assign(lag=0.0, lag_bandwidth=0.0)
    lags, span = candidate_lags(data.source.pseudotime, data.target.pseudotime, list(mcfg.get("lag_grid", DEFAULT_LAG_GRID)))
    bandwidth = float(mcfg.get("lag_bandwidth", DEFAULT_LAG_BANDWIDTH)) * span
    if span <= 0:
        return mapping.assign(lag=0.0, lag_bandwidth=0.0)
    train = mapping[mapping["split"] == "train"]
    inputs, outputs = data.cells_for(train)
    columns = np.sort(rng.permutation(np.flatnonzero(data.mask.any(axis=0)))[:CV_MAX_TARGETS])
    x, y = paired_design(train, inputs, CellSet(outputs.names, outputs.matrix[:, columns], outputs.pseudotime))
    trend = input_trend(inputs, bandwidth, reach=max(abs(lag) for lag in lags))
    lag, scores = choose_lag(x, y, pair_times(train, inputs), data.mask[:, columns], trend, lags, rng)
    log.info("lagged design: held-out R^2 by lag %s -> lag %.4g (pseudotime range %.4g)",
                 {round(k, 4): round(v, 4) for k, v in scores.items()}, lag, span)
    return mapping.assign(lag=lag, lag_bandwidth=bandwidth)


class TransitionData:
    """TF expression of source cells and target-gene expression of target cells, by mapping split.

    A mapping may also pair a cell of either cluster with itself (same-cell designs); the cells
    of both clusters are then pooled, which needs cell names unique across the two clusters.
    """

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
        self._other = (_columns(target, genes, self.tfs), _columns(source, genes, self.targets))
        self._pools: tuple[CellSet, CellSet] | None = None
        self._trends: dict = {}

    def cells_for(self, mapping: pd.DataFrame) -> tuple[CellSet, CellSet]:
        """Input and output cells for ``mapping``: the two clusters, or -- when a pair uses a cell
        of the other cluster (same-cell designs) -- pools of both, built once on first need."""
        if mapping["source_cell"].isin(self.source.names).all() and mapping["target_cell"].isin(self.target.names).all():
            return self.source, self.target
        if self._pools is None:
            self._pools = (pool(self.source, self._other[0]), pool(self.target, self._other[1]))
        return self._pools

    def design(self, mapping: pd.DataFrame, split: str, self_term: bool = False,
               dense: bool = True) -> tuple[np.ndarray, Outputs]:
        """Inputs and outputs of the pairs in ``split``. With ``self_term`` the inputs gain one column
        per target: the target gene's own expression in the input cell (see :func:`fit_transition`).
        ``dense=False`` may give sparse outputs (:func:`~transgrn.mapping.paired_design`)."""
        part = mapping[mapping["split"] == split]
        inputs, outputs = self.cells_for(part)
        x, y = paired_design(part, inputs, outputs, dense=dense)
        x = self._lagged(part, inputs, x)
        if self_term:
            x_self, _ = paired_design(part, self._same_cells_over_targets(inputs), outputs, dense=False)
            x = np.hstack([x, x_self])
        return x, y

    def _lagged(self, part: pd.DataFrame, inputs: CellSet, x: np.ndarray) -> np.ndarray:
        """TF inputs shifted along pseudotime when the mapping is a lagged design (:func:`with_lag`)."""
        if "lag" not in part.columns or part.empty or part["lag"].iloc[0] == 0:
            return x
        from .lagged import input_trend, pair_times

        lag, bandwidth = float(part["lag"].iloc[0]), float(part["lag_bandwidth"].iloc[0])
        key = (id(inputs), lag, bandwidth)
        if key not in self._trends:  # one trend over every input cell, shared by all splits
            self._trends[key] = input_trend(inputs, bandwidth, abs(lag))
        return self._trends[key].shift(x, pair_times(part, inputs), lag)

    def _same_cells_over_targets(self, inputs: CellSet) -> CellSet:
        if inputs is self.source:
            return self._other[1]
        return pool(self._other[1], self.target)

    def design_mask(self, self_term: bool = False) -> np.ndarray:
        """The prior mask, extended by one self edge per target when ``self_term`` is on."""
        if not self_term:
            return self.mask
        return np.vstack([self.mask, np.eye(len(self.targets), dtype=bool)])


SOLVER_PARAMS = {
    "ridge": ("alpha", "fit_intercept", "standardize", "device", "dtype"),
    "lasso": ("alpha", "fit_intercept", "standardize", "device", "dtype"),
    "elasticnet": ("alpha", "l1_ratio", "fit_intercept", "standardize", "device", "dtype"),
    "adam": ("alpha", "lr", "epochs", "fit_intercept", "standardize", "device", "dtype"),
}
# output column <- bootstrap_fit key. ``pvalue`` is the calibrated bootstrap standard-error test;
# CellOracle's one-sample t-test of the bootstrap weights shrinks with the number of refits and
# calls most null edges significant, so it is kept only for comparison (see transgrn.confidence).
CONFIDENCE_COLUMNS = {"weight_mean": "weight_mean", "weight_std": "weight_std", "pvalue": "pvalue_z",
                      "qvalue": "qvalue_z", "pvalue_celloracle": "pvalue"}


def make_transition_solver(fit_config: dict[str, Any], seed: int = 0):
    """The configured solver with the parameters it takes (``fit.*`` keys), seeded for the transition."""
    solver = fit_config.get("solver", "ridge")
    params = {k: fit_config[k] for k in SOLVER_PARAMS[solver] if k in fit_config}
    if solver == "adam":
        params["seed"] = seed
        params["alpha"] = 0.0 if params.get("alpha") == "auto" else params.get("alpha", 0.0)
    elif params.get("alpha") == "auto":
        params["cv_seed"] = seed
    return make_solver(solver, **params)


def fit_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], fit_config: dict[str, Any],
                   seed: int = 0, transition: str = ""):
    """Fit the masked regression on each mapping's training pairs.

    Returns ``coefficients`` (tf, target_gene, weight[, <role>_weight], and with ``fit.bootstrap``
    the main fit's ``weight_mean, weight_std, pvalue, qvalue``) for every prior edge of the
    transition (0 where inactive), ``intercepts`` (target_gene, intercept[, self_weight] per role)
    and ``info`` (solver, chosen alpha, iterations).

    With ``fit.self_term`` each target also gets its own expression in the input cell as a
    predictor, so that a gene's persistence from A to B is not forced onto its TFs.
    """
    self_term = bool(fit_config.get("self_term", False))
    mask = data.design_mask(self_term)
    coefficients = data.edges.copy()
    intercepts = pd.DataFrame({"target_gene": data.targets})
    info: dict[str, Any] = {"solver": fit_config.get("solver", "ridge")}
    n_tfs = len(data.tfs)
    for role, mapping in mappings.items():
        role_seed = int(rng_for(seed, transition, "fit", role).integers(2**31))
        x, y = data.design(mapping, "train", self_term, dense=False)
        if role == "main":
            _warn_if_few_rows(x.shape[0], data.mask, transition, fit_config.get("alpha"))
        model = make_transition_solver(fit_config, role_seed).fit(x, y, mask)
        prefix = "" if role == "main" else f"{role}_"
        coefficients[f"{prefix}weight"] = model.coef_at(data.edge_tf, data.edge_target)
        intercepts[f"{prefix}intercept"] = model.intercept_
        if self_term:
            targets = np.arange(len(data.targets))
            intercepts[f"{prefix}self_weight"] = model.coef_at(n_tfs + targets, targets)
        if role == "main":
            info.update(_solver_info(model))
            if fit_config.get("bootstrap", 0) >= 2:
                coefficients = _with_confidence(coefficients, data, x, y, mask, fit_config, role_seed)
    return coefficients, intercepts, info


ROWS_PER_PREDICTOR = 5  # fewer training rows than this many per prior TF of a typical target overfit easily


def _warn_if_few_rows(n_rows: int, mask: np.ndarray, transition: str, alpha) -> None:
    """Warn when the training rows are few for the number of TFs a target has in the prior."""
    per_target = mask.sum(0)
    per_target = per_target[per_target > 0]
    if not len(per_target):
        return
    median = float(np.median(per_target))
    if n_rows < ROWS_PER_PREDICTOR * median:
        advice = "" if alpha == "auto" else "; fit.alpha: auto chooses the penalty by cross-validation"
        log.warning("transition %s: %d training rows for a median of %g prior TFs per target (fewer than %d per "
                        "TF): held-out R^2 may fall below the null%s, or use a sparser prior", transition or "?",
                        n_rows, median, ROWS_PER_PREDICTOR, advice)


def _solver_info(model) -> dict[str, Any]:
    info = {"alpha": float(getattr(model, "alpha_", getattr(model, "alpha", float("nan"))))}
    for name in ("n_iter_", "converged_"):
        if hasattr(model, name):
            value = getattr(model, name)
            info[name.rstrip("_")] = bool(np.all(value)) if name == "converged_" else int(np.max(value))
    return info


def _with_confidence(coefficients, data, x, y, mask, fit_config, seed) -> pd.DataFrame:
    """Bootstrap the training pairs ``fit.bootstrap`` times and add per-edge confidence (CellOracle-style)."""
    from .confidence import bootstrap_edges

    fixed = dict(fit_config)
    if fixed.get("alpha") == "auto":  # select once, then refit every resample with that penalty
        fixed["alpha"] = make_transition_solver(fit_config, seed).fit(x, y, mask).alpha_
    summary = bootstrap_edges(lambda: make_transition_solver(fixed, seed), x, y, mask, int(fit_config["bootstrap"]),
                              seed)
    coefficients = coefficients.copy()
    for column, key in CONFIDENCE_COLUMNS.items():
        values = values_at(mask, summary[key], data.edge_tf, data.edge_target)
        coefficients[column] = np.where(data.edge_active, values, np.nan)
    return coefficients


def _predict(data: TransitionData, coefficients: pd.DataFrame, intercepts: pd.DataFrame, column: str, x: np.ndarray,
             cols: np.ndarray | None = None) -> np.ndarray:
    """Predictions of a fitted role (``weight`` or ``null_weight``) for the targets at positions
    ``cols`` (default: all); inputs carry the self-term columns after the TFs when the fit used them."""
    cols = np.arange(len(data.targets)) if cols is None else np.asarray(cols)
    position = np.full(len(data.targets), -1)
    position[cols] = np.arange(len(cols))
    block = position[data.edge_target]
    keep = block >= 0
    weights = np.zeros((len(data.tfs), len(cols)))
    weights[data.edge_tf[keep], block[keep]] = coefficients[column].to_numpy()[keep]
    by_target = intercepts.set_index("target_gene").loc[data.targets[cols]]
    prediction = x[:, : len(data.tfs)] @ weights
    prediction += by_target[column.replace("weight", "intercept")].to_numpy()
    self_column = column.replace("weight", "self_weight")
    if self_column in by_target.columns:
        prediction += x[:, len(data.tfs) + cols] * by_target[self_column].to_numpy()
    return prediction


def _squared_sums(data: TransitionData, coefficients: pd.DataFrame, intercepts: pd.DataFrame, column: str,
                  x: np.ndarray, y: Outputs, center: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-target residual and total sums of squares (about ``center``, default the rows' own
    mean) of a role's predictions, a block of targets at a time."""
    ss_res, ss_tot = np.zeros(len(data.targets)), np.zeros(len(data.targets))
    for cols, observed in target_blocks(y, height=len(data.tfs)):  # _predict builds len(tfs) x block weights
        ss_res[cols], ss_tot[cols] = squared_sums(observed, _predict(data, coefficients, intercepts, column, x, cols),
                                                  None if center is None else center[cols])
    return ss_res, ss_tot


def _column_means(y: Outputs) -> np.ndarray:
    return np.asarray(y.mean(axis=0), dtype=np.float64).ravel()


def evaluate_transition(data: TransitionData, mappings: dict[str, pd.DataFrame], coefficients: pd.DataFrame,
                        intercepts: pd.DataFrame, reference: pd.DataFrame | None = None):
    """Held-out accuracy of the fit and of its null, per gene and overall, and recovery of ``reference``.

    Returns ``metrics`` (dict), ``gene_r2`` (per target gene) and ``predictions`` (observed vs
    predicted test values of the best and worst predicted genes, for residual plots).
    """
    self_term = "self_weight" in intercepts.columns
    sums = lambda column, x, y, center=None: _squared_sums(data, coefficients, intercepts, column, x, y, center)  # noqa: E731
    x_train, y_train = data.design(mappings["main"], "train", self_term, dense=False)
    train = sums("weight", x_train, y_train)
    # held-out R^2 about the mean of the rows each role was fitted on: predicting nothing scores 0
    train_mean = _column_means(y_train)
    null_train_mean = _column_means(data.design(mappings["null"], "train", self_term, dense=False)[1])
    del x_train, y_train
    x_test, y_test = data.design(mappings["main"], "test", self_term, dense=False)
    test = sums("weight", x_test, y_test, train_mean)
    null = sums("null_weight", *data.design(mappings["null"], "test", self_term, dense=False), null_train_mean)
    gene_r2 = pd.DataFrame({
        "target_gene": data.targets,
        "r2_test": r2_from_sums(*test),
        "r2_test_null": r2_from_sums(*null),
        "n_tfs": data.mask.sum(0),
    })
    metrics = {
        "n_pairs": int(mappings["main"]["pair"].nunique()),
        "n_test_pairs": int(y_test.shape[0]),
        "r2_train": r2_overall_from_sums(*train),
        "r2_test": r2_overall_from_sums(*test),
        "r2_test_null": r2_overall_from_sums(*null),
        **gene_r2_summary(gene_r2["r2_test"], gene_r2["r2_test_null"]),
        "n_edges": int(data.mask.sum()),
    }
    metrics["above_null"] = bool(metrics["r2_test"] > metrics["r2_test_null"])
    if reference is not None and len(reference):
        metrics.update(recovery_metrics(scored_edges(data, coefficients), reference))
    predict = lambda cols: _predict(data, coefficients, intercepts, "weight", x_test, cols)  # noqa: E731
    predictions = _extreme_gene_predictions(gene_r2, data.targets, y_test, predict)
    return metrics, gene_r2, predictions


def scored_edges(data: TransitionData, coefficients: pd.DataFrame) -> pd.DataFrame:
    """Every prior edge of the transition with its weight, 0 (no call) where it was not estimated:
    what :func:`~transgrn.evaluate.recovery_metrics` ranks."""
    edges = coefficients[["tf", "target_gene", "weight"]].copy()
    edges["weight"] = np.where(data.edge_active, edges["weight"].to_numpy(dtype=float), 0.0)
    return edges


def _extreme_gene_predictions(gene_r2: pd.DataFrame, targets: pd.Index, y_test: Outputs,
                              predict: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    """Observed and predicted test values of the best and worst genes; ``predict(cols)`` predicts
    the targets at positions ``cols``."""
    ranked = gene_r2.dropna(subset=["r2_test"]).sort_values(["r2_test", "target_gene"], ascending=[False, True])
    chosen = [("best", g) for g in ranked["target_gene"].head(N_EXTREME_GENES)]
    chosen += [("worst", g) for g in ranked["target_gene"].tail(N_EXTREME_GENES)[::-1] if g not in set(ranked["target_gene"].head(N_EXTREME_GENES))]
    if not chosen:
        return pd.DataFrame(columns=["kind", "target_gene", "observed", "predicted"])
    cols = targets.get_indexer([gene for _, gene in chosen])
    observed = np.hstack([block for _, block in target_blocks(y_test, cols)])
    predicted = predict(cols)
    return pd.concat([pd.DataFrame({"kind": kind, "target_gene": gene, "observed": observed[:, j],
                                    "predicted": predicted[:, j]}) for j, (kind, gene) in enumerate(chosen)],
                     ignore_index=True)


def fit_mlp_transition(data: TransitionData, mapping: pd.DataFrame, seed: int, transition: str,
                       device: str = "auto", config: MLPConfig | None = None):
    """Fit the masked MLP (:mod:`transgrn.mlp`) on the mapping's training pairs and score it on its test pairs.

    Early stopping uses a further split of the training source cells (whole cells, as for the
    test split). Returns ``metrics`` (``r2_test_mlp``, ``r2_train_mlp``, epochs), ``gene_r2``
    (``target_gene, r2_test_mlp``) and ``attribution`` (``tf, target_gene, attribution`` for
    every prior edge of the transition, 0 where inactive).
    """
    from .mlp import MaskedMLP, MLPConfig  # torch is imported only where the MLP is used

    config = config or MLPConfig()
    train = mapping[mapping["split"] == "train"].drop(columns="split")
    inner = split_by_source_cell(train, config.validation_fraction, rng_for(seed, transition, "mlp", "validation"))
    x_fit, y_fit = data.design(inner, "train")
    x_val, y_val = data.design(inner, "test")
    model = MaskedMLP(config, seed=int(rng_for(seed, transition, "mlp", "init").integers(2**31)), device=device)
    model.fit(x_fit, y_fit, data.mask, x_val, y_val)
    x_train, y_train = data.design(mapping, "train")
    x_test, y_test = data.design(mapping, "test")
    pred_test = model.predict(x_test)
    center = _column_means(y_train)  # as for the linear fit: held-out R^2 about the training mean
    metrics = {"r2_test_mlp": r2_overall(y_test, pred_test, center),
               "r2_train_mlp": r2_overall(y_train, model.predict(x_train)), "mlp_epochs": int(model.epochs_)}
    gene_r2 = pd.DataFrame({"target_gene": data.targets, "r2_test_mlp": r2_per_gene(y_test, pred_test, center)})
    grad = model.attribution(x_train)
    attribution = data.edges.copy()
    attribution["attribution"] = np.where(data.edge_active, grad[data.edge_tf, data.edge_target], 0.0)
    return metrics, gene_r2, attribution


def cofactors_transition(data: TransitionData, mapping: pd.DataFrame, min_shared_targets: int = 2,
                         max_pairs: int = 2000, fdr: float = 0.1) -> pd.DataFrame:
    """TF pairs with a non-additive effect on shared targets (:mod:`transgrn.cofactors`), on the
    mapping's training pairs collapsed to one row per source cell so that rows are independent."""
    from .cofactors import cofactor_tests

    train = mapping[mapping["split"] == "train"]
    by_cell = train.assign(pair=pd.factorize(train["source_cell"], sort=True)[0])
    x, y = data.design(by_cell, "train")
    return cofactor_tests(x, y, data.mask, data.tfs, data.targets, min_shared_targets, max_pairs, fdr)
