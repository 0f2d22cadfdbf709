"""Masked elastic net and lasso by batched FISTA with adaptive restart and a per-target Lipschitz
step, stopped on scikit-learn's duality-gap criterion (:class:`MaskedElasticNet`, :class:`MaskedLasso`;
:mod:`~transgrn.solvers.elastic_net_cv` chooses ``alpha``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import (ConvergenceWarning, MaskedRegressor, Outputs, _edges, _Group, _scatter_edges, _sub_edges, _sub_gram,
                   fixed_penalty)
from .moments import _moments, _Moments, _original_scale

if TYPE_CHECKING:
    import torch


def _enet_gap(q: "torch.Tensor", b: "torch.Tensor", yy: "torch.Tensor", w: "torch.Tensor",
              l1: float, l2: float) -> "torch.Tensor":
    """Duality gap of ``w`` per target, sklearn's ``enet_coordinate_descent_gram`` divided by n.

    Objective ``w'Qw/2 - b'w + yy/2 + l1 |w|_1 + l2/2 |w|^2`` with ``Q = X'X/n``, ``b = X'y/n``,
    ``yy = y'y/n``. Comparable to ``tol * yy`` as in sklearn.
    """
    import torch

    qw = (q @ w[..., None])[..., 0]
    w_b = (w * b).sum(-1)
    r2 = torch.clamp(yy - 2 * w_b + (w * qw).sum(-1), min=0)
    dual_norm = (b - qw - l2 * w).abs().amax(-1)
    const = torch.where(dual_norm > l1, l1 / torch.clamp(dual_norm, min=torch.finfo(w.dtype).tiny), 1.0)
    return (0.5 * r2 * (1 + const**2) + l1 * w.abs().sum(-1) - const * (yy - w_b)
            + 0.5 * l2 * (1 + const**2) * (w * w).sum(-1))


@dataclass
class _EnetProblem:
    """One group's elastic-net data scaled by ``1/n``: ``Q = X'X/n``, ``b = X'y/n``, ``yy = y'y/n``.

    ``lam_max`` (largest eigenvalue of each ``Q``) sets the step; it does not depend on alpha,
    so a path over alphas computes it once.
    """

    q: "torch.Tensor"
    b: "torch.Tensor"
    yy: "torch.Tensor"
    lam_max: "torch.Tensor"


def _enet_problem(m: _Moments, group: _Group) -> _EnetProblem:
    import torch

    q = _sub_gram(m.gram, group) / m.n
    lam_max = torch.linalg.eigvalsh(q)[..., -1]
    return _EnetProblem(q, _sub_edges(m.cross, group) / m.n, m.yy[group.targets] / m.n, lam_max)


def _fista(problem: _EnetProblem, w0: "torch.Tensor", l1: float, l2: float, tol: float, max_iter: int,
           check_every: int = 10) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """Batched FISTA with gradient restart for ``min w'Qw/2 - b'w + l1|w|_1 + l2/2|w|^2``.

    One step size per target (1 / its Lipschitz constant), so badly and well conditioned targets
    do not slow each other down; restarting the momentum when it points uphill gives linear
    convergence on these strongly convex problems. Targets leave the active set once their duality
    gap is below ``tol * yy`` (checked every ``check_every`` iterations). Returns the solution,
    the iterations per target and whether each converged.
    """
    import torch

    q, b, yy = problem.q, problem.b, problem.yy
    step = (1 / torch.clamp(problem.lam_max + l2, min=torch.finfo(q.dtype).tiny))[..., None]
    threshold = l1 * step
    out, n_iter = w0.clone(), torch.full(yy.shape, max_iter, device=q.device)
    converged = torch.zeros(yy.shape, dtype=torch.bool, device=q.device)
    idx = torch.arange(len(yy), device=q.device)
    w, z, t = w0.clone(), w0.clone(), torch.ones_like(yy)
    for it in range(1, max_iter + 1):
        grad = (q @ z[..., None])[..., 0] - b
        if l2:
            grad.add_(z, alpha=l2)
        u = torch.addcmul(z, step, grad, value=-1.0)
        w_new = u - torch.clamp(u, -threshold, threshold)  # soft-thresholding
        delta = w_new - w
        restart = ((z - w_new) * delta).sum(-1) > 0
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        momentum = torch.where(restart, 0.0, (t - 1) / t_new)[..., None]
        t = torch.where(restart, 1.0, t_new)
        z = torch.addcmul(w_new, momentum, delta)
        w = w_new
        if it % check_every and it != max_iter:
            continue
        done = _enet_gap(q, b, yy, w, l1, l2) <= tol * yy
        out[idx] = w
        converged[idx[done]], n_iter[idx[done]] = True, it
        if done.all():
            break
        if done.any():  # drop converged targets from the active set
            keep = ~done
            q, b, yy, w, z, t, idx = q[keep], b[keep], yy[keep], w[keep], z[keep], t[keep], idx[keep]
            step, threshold = step[keep], threshold[keep]
    return out, n_iter, converged


class _FistaRegressor(MaskedRegressor):
    """The elastic net's fit at a given penalty (:meth:`_fit_at`), shared by :class:`MaskedElasticNet`
    and its cross-validated sibling :class:`~transgrn.solvers.elastic_net_cv.MaskedElasticNetCV`.

    Minimizes ``||y - X_S w - b||^2 / (2n) + alpha l1_ratio |w|_1 + alpha (1 - l1_ratio) / 2 |w|^2``
    with batched FISTA over all targets until every target's duality gap is below
    ``tol * ||y - mean(y)||^2 / n`` (sklearn's criterion) or ``max_iter``; warns when some target
    did not converge. After fit: ``alpha_``, ``n_iter_`` (largest number of iterations), ``converged_``.
    """

    def __init__(self, l1_ratio: float, fit_intercept: bool, standardize: bool, tol: float, max_iter: int,
                 device: str, dtype: str, max_group_elements: int) -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.l1_ratio, self.tol, self.max_iter, self.max_group_elements = l1_ratio, tol, max_iter, max_group_elements

    def _fit_at(self, x: np.ndarray, y: Outputs, mask: np.ndarray, alpha: float) -> "_FistaRegressor":
        import torch

        self.alpha_ = alpha
        xt = self._tensor(x)
        edges = _edges(mask, xt.device, self.max_group_elements)
        m = _moments(xt, y, edges, self.fit_intercept, self.standardize)
        l1, l2 = self.alpha_ * self.l1_ratio, self.alpha_ * (1 - self.l1_ratio)
        weights = torch.zeros_like(m.cross)
        self.n_iter_, self.converged_ = 0, True
        for group in edges.groups:
            w0 = torch.zeros(group.valid.shape, dtype=xt.dtype, device=xt.device)
            solution, n_iter, converged = _fista(_enet_problem(m, group), w0, l1, l2, self.tol, self.max_iter)
            _scatter_edges(weights, group, solution)
            self.n_iter_ = max(self.n_iter_, int(n_iter.max()))
            self.converged_ = self.converged_ and bool(converged.all())
        if not self.converged_:
            warnings.warn(f"{type(self).__name__} did not converge in max_iter={self.max_iter} iterations for some "
                          f"targets (tol={self.tol}); increase max_iter or alpha", ConvergenceWarning, stacklevel=3)
        self.mask_ = mask
        self.edge_coef_, self.intercept_ = _original_scale(weights, m, edges)
        return self


class MaskedElasticNet(_FistaRegressor):
    """Elastic net per target on its prior TFs, as ``sklearn.linear_model.ElasticNet(alpha, l1_ratio)``
    (the objective and stopping rule of :class:`_FistaRegressor`)."""

    def __init__(self, alpha: float = 1.0, l1_ratio: float = 0.5, fit_intercept: bool = True,
                 standardize: bool = False, tol: float = 1e-4, max_iter: int = 5000, device: str = "auto",
                 dtype: str = "float64", max_group_elements: int = 2**22) -> None:
        super().__init__(l1_ratio, fit_intercept, standardize, tol, max_iter, device, dtype, max_group_elements)
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedElasticNet":
        mask = self._check(x, y, mask)
        return self._fit_at(x, y, mask, fixed_penalty(self.alpha, f"{type(self).__name__}CV"))


class MaskedLasso(MaskedElasticNet):
    """Lasso per target on its prior TFs, as ``sklearn.linear_model.Lasso(alpha)`` (``l1_ratio = 1``)."""

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, standardize: bool = False,
                 tol: float = 1e-4, max_iter: int = 5000, device: str = "auto", dtype: str = "float64",
                 max_group_elements: int = 2**22) -> None:
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept, standardize=standardize, tol=tol,
                         max_iter=max_iter, device=device, dtype=dtype, max_group_elements=max_group_elements)

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("l1_ratio")  # fixed at 1: keeps ``MaskedLasso(**model.get_params())`` valid
        return params
