"""The elastic net's and lasso's penalty chosen by K-fold cross-validation with warm starts down
the path (:class:`MaskedElasticNetCV`, :class:`MaskedLassoCV`; :func:`select_alpha_enet`)."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .base import ConvergenceWarning, Outputs, _sub_edges, _sub_gram
from .elastic_net import _enet_problem, _fista, _FistaRegressor
from .folds import _cv_setup, _full_moments, _split_moments, least_cv_error


def select_alpha_enet(x: np.ndarray, y: Outputs, mask: np.ndarray, alphas: Sequence[float] | None = None,
                      l1_ratio: float = 1.0, n_folds: int = 5, seed: int = 0, *, fit_intercept: bool = True,
                      standardize: bool = False, groups: np.ndarray | None = None, tol: float = 1e-4,
                      max_iter: int = 5000, device: str = "auto", dtype: str = "float64",
                      max_group_elements: int = 2**22) -> tuple[float, np.ndarray]:
    """One lasso/elastic-net alpha for all targets, by K-fold CV with warm starts down the path.

    The folds and moments of :func:`select_alpha_ridge`'s K-fold CV; per fold the alphas are visited from
    large to small, each solve starting from the previous solution. Default ``alphas``: 10 values
    log-spaced from ``alpha_max`` (all weights zero) down to ``1e-3 alpha_max``, as in
    sklearn's ``LassoCV``. Returns the best alpha and the CV MSE per alpha (order of ``alphas``).
    """
    import torch

    xt, edges, folds = _cv_setup(x, y, mask, n_folds, seed, groups, fit_intercept, device, dtype,
                                 max_group_elements)
    if alphas is None:
        full = _full_moments(folds, edges, fit_intercept, standardize)
        n = folds.total.n
        alpha_max = float(full.cross.abs().max()) / (n * max(l1_ratio, 1e-3)) if len(full.cross) else 1.0
        alphas = alpha_max * np.logspace(0, -3, 10)
    alphas = np.asarray(alphas, dtype=float)
    order = np.argsort(-alphas, kind="stable")
    sse = np.zeros(len(alphas))
    converged = True
    for i in range(len(folds.sums)):
        train_m, val_m = _split_moments(folds.total, folds.fold(i), edges, fit_intercept, standardize)
        sse += float(val_m.yy[edges.empty].sum())
        for group in edges.groups:
            w = torch.zeros(group.valid.shape, dtype=xt.dtype, device=xt.device)
            problem = _enet_problem(train_m, group)
            gv, cv = _sub_gram(val_m.gram, group), _sub_edges(val_m.cross, group)
            for i in order:
                w, _, ok = _fista(problem, w, alphas[i] * l1_ratio, alphas[i] * (1 - l1_ratio), tol, max_iter)
                converged &= bool(ok.all())
                err = val_m.yy[group.targets] - 2 * (w * cv).sum(-1) + ((gv @ w[..., None])[..., 0] * w).sum(-1)
                sse[i] += float(err.sum())
    if not converged:
        warnings.warn(f"select_alpha_enet: some fits did not converge in max_iter={max_iter}", ConvergenceWarning,
                      stacklevel=2)
    scores = sse / (xt.shape[0] * edges.n_targets)
    return least_cv_error(scores, alphas), scores


class MaskedElasticNetCV(_FistaRegressor):
    """:class:`~transgrn.solvers.elastic_net.MaskedElasticNet` at one alpha for all targets, chosen by
    K-fold CV (``n_folds`` folds drawn from ``cv_seed``, over ``alphas``; :func:`select_alpha_enet`), as
    ``sklearn.linear_model.ElasticNetCV``. After fit: ``alpha_``, the error curve ``cv_scores_``, and
    the plain fit's ``n_iter_`` and ``converged_``."""

    def __init__(self, alphas: Sequence[float] | None = None, l1_ratio: float = 0.5, n_folds: int = 5,
                 cv_seed: int = 0, fit_intercept: bool = True, standardize: bool = False, tol: float = 1e-4,
                 max_iter: int = 5000, device: str = "auto", dtype: str = "float64",
                 max_group_elements: int = 2**22) -> None:
        super().__init__(l1_ratio, fit_intercept, standardize, tol, max_iter, device, dtype, max_group_elements)
        self.alphas, self.n_folds, self.cv_seed = alphas, n_folds, cv_seed

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedElasticNetCV":
        mask = self._check(x, y, mask)
        alpha, self.cv_scores_ = select_alpha_enet(
            x, y, mask, self.alphas, l1_ratio=self.l1_ratio, n_folds=self.n_folds, seed=self.cv_seed,
            fit_intercept=self.fit_intercept, standardize=self.standardize, tol=self.tol, max_iter=self.max_iter,
            device=self.device, dtype=self.dtype, max_group_elements=self.max_group_elements)
        return self._fit_at(x, y, mask, alpha)


class MaskedLassoCV(MaskedElasticNetCV):
    """:class:`MaskedElasticNetCV` of the lasso (``l1_ratio = 1``), as ``sklearn.linear_model.LassoCV``."""

    def __init__(self, alphas: Sequence[float] | None = None, n_folds: int = 5, cv_seed: int = 0,
                 fit_intercept: bool = True, standardize: bool = False, tol: float = 1e-4, max_iter: int = 5000,
                 device: str = "auto", dtype: str = "float64", max_group_elements: int = 2**22) -> None:
        super().__init__(alphas=alphas, l1_ratio=1.0, n_folds=n_folds, cv_seed=cv_seed, fit_intercept=fit_intercept,
                         standardize=standardize, tol=tol, max_iter=max_iter, device=device, dtype=dtype,
                         max_group_elements=max_group_elements)

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("l1_ratio")  # fixed at 1: keeps ``MaskedLassoCV(**model.get_params())`` valid
        return params
