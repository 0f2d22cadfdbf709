"""Masked ridge in closed form: per target ``min ||y - X_S w - b||^2 + alpha ||w||^2`` over its prior
TFs S, every target at once by batched Cholesky from the design's moments
(:class:`MaskedRidge`; :class:`~transgrn.solvers.ridge_cv.MaskedRidgeCV` chooses ``alpha``).

With ``sign="correlation"`` each weight is held to the sign of its TF's marginal association with the
target over the fit's rows (the sign of ``X_S'y`` after the fit's centring and scaling): the same
objective subject to ``w_j c_j >= 0``, a non-negative ridge after flipping each column by that sign
(:func:`_sign_constrained_solve`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import MaskedRegressor, Outputs, fixed_penalty, _edges, _Edges, _scatter_edges, _sub_edges, _sub_gram
from .moments import _moments, _Moments, _original_scale, _weighted_moments

if TYPE_CHECKING:
    import torch


def _ridge_solve(system: "torch.Tensor", rhs: "torch.Tensor", valid: "torch.Tensor", alpha: float) -> "torch.Tensor":
    """Batched ``(G + alpha I) w = c`` with ``G`` given as ``system`` (overwritten, saving a copy).

    Padding slots get identity rows and zero right-hand side, so they solve to 0.
    """
    import torch

    diagonal = torch.full(valid.shape, alpha, dtype=system.dtype, device=system.device).masked_fill_(~valid, 1.0)
    system.diagonal(dim1=-2, dim2=-1).add_(diagonal)
    factor, info = torch.linalg.cholesky_ex(system)
    solution = torch.cholesky_solve(rhs[..., None], factor)[..., 0]
    singular = info != 0
    if singular.any():  # alpha = 0 with collinear TFs: minimum-norm least squares
        solution[singular] = (torch.linalg.pinv(system[singular]) @ rhs[singular][..., None])[..., 0]
    return solution * valid


# fit.sign: each weight free; held to the sign of its TF's marginal association with the target; or held to it
# only where the free fit's sign disagrees with a confident association (|r| beyond SIGN_CONFIDENT_Z)
SIGNS = ("free", "correlation", "confident")
# the sign-constrained solve: projected-gradient (FISTA) iterations between exact active-set polishes, at most
SIGN_MAX_ITER = 5000
SIGN_POLISH_EVERY = 25
SIGN_TOL = 1e-9  # KKT tolerance relative to the target's largest |X_S'y|
# sign: confident -- an association is confident where Fisher's z of r, atanh(|r|) sqrt(n - 3), is at least this
# (two-sided p < 0.01)
SIGN_CONFIDENT_Z = 2.576


def _check_sign(sign: str) -> str:
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}")
    return sign


def _sign_constrained_solve(gram: "torch.Tensor", cross: "torch.Tensor", valid: "torch.Tensor", alpha: float,
                            bounded: "torch.Tensor | None" = None, max_iter: int = SIGN_MAX_ITER,
                            polish_every: int = SIGN_POLISH_EVERY) -> tuple["torch.Tensor", int, bool]:
    """Batched ``min 1/2 w'(G + alpha I)w - c'w`` subject to ``w_j c_j >= 0`` on the ``bounded`` slots (default:
    every valid slot) -- ``gram`` ``(..., k, k)``, ``cross`` ``(..., k)``, ``valid`` and ``bounded``
    broadcastable to ``cross``; a bounded slot with ``c_j = 0`` (no marginal association, e.g. a constant TF)
    and an invalid slot are 0.

    With ``s = sign(c)``, ``v = s w`` solves the problem with ``S G S``, ``|c|`` and ``v_j >= 0`` on the bounded
    slots. Each target starts from its unconstrained ridge solution projected on the constraints; an *active-set
    polish* solves the ridge on the current support (the positive bounded slots and every unbounded one) exactly
    (Cholesky) and accepts it where the KKT conditions hold (>= 0 on the bounded support, gradient >= 0 on the
    bounded slots outside it) -- for most targets at once. The others take ``polish_every`` accelerated
    projected-gradient (FISTA, adaptive restart, step 1 / largest eigenvalue) steps between polishes, at most
    ``max_iter`` in all (then the last iterate, feasible, is kept and ``converged`` is False). Deterministic:
    fixed order, no randomness. Returns (w, iterations, converged)."""
    import torch

    shape = cross.shape
    k = shape[-1]
    valid = valid.expand(shape).reshape(-1, k)
    bounded = valid if bounded is None else (bounded.expand(shape).reshape(-1, k) & valid)
    sign = torch.sign(cross).reshape(-1, k)
    sign = torch.where(bounded | (sign != 0), sign, torch.ones_like(sign)) * valid
    active = sign != 0  # the variables: valid, and associated or unbounded
    bounded = bounded & active
    loose = active & ~bounded
    flipped = (gram.reshape(-1, k, k) * sign[:, :, None] * sign[:, None, :])  # zero off the active slots
    rhs = (cross.reshape(-1, k) * sign)  # = |c| on the bounded slots
    tol = SIGN_TOL * rhs.abs().amax(-1, keepdim=True).clamp(min=torch.finfo(rhs.dtype).tiny)

    def project(v: "torch.Tensor", rows: "torch.Tensor") -> "torch.Tensor":
        return torch.where(bounded[rows], v.clamp(min=0), v) * active[rows]

    def polish(rows: "torch.Tensor", support: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
        """The ridge on each row's ``support`` slots, and whether it satisfies the KKT conditions."""
        both = support[:, :, None] & support[:, None, :]
        z = _ridge_solve(flipped[rows].masked_fill(~both, 0.0), rhs[rows] * support, support, alpha)
        gradient = (flipped[rows] @ z[..., None])[..., 0] + alpha * z - rhs[rows]
        scale = z.abs().amax(-1, keepdim=True)
        ok = (((z >= -1e-12 * scale) | ~support | ~bounded[rows]).all(-1)
              & ((gradient >= -tol[rows]) | support | ~bounded[rows]).all(-1))
        return project(z, rows), ok

    everything = torch.arange(len(rhs), device=rhs.device)
    start = project(_ridge_solve(flipped.clone(), rhs, active, alpha), everything)
    out, ok = polish(everything, (start > 0) | loose)
    pending = everything[~ok]
    iterations = 0
    if len(pending):
        eigenvalues = torch.linalg.eigvalsh(flipped[pending])
        step = 1.0 / (eigenvalues[:, -1:].clamp(min=0) + alpha).clamp(min=torch.finfo(rhs.dtype).tiny)
        current = start[pending]
        momentum = current.clone()
        t = torch.ones(len(pending), 1, dtype=rhs.dtype, device=rhs.device)
    while len(pending) and iterations < max_iter:
        system, target = flipped[pending], rhs[pending]
        for _ in range(polish_every):
            gradient = (system @ momentum[..., None])[..., 0] + alpha * momentum - target
            following = project(momentum - step * gradient, pending)
            restart = ((momentum - following) * (following - current)).sum(-1, keepdim=True) > 0
            t_next = torch.where(restart, torch.ones_like(t), (1 + torch.sqrt(1 + 4 * t * t)) / 2)
            beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_next)
            momentum = following + beta * (following - current)
            current, t = following, t_next
        iterations += polish_every
        z, ok = polish(pending, (current > 0) | loose[pending])
        out[pending[ok]] = z[ok]
        out[pending[~ok]] = current[~ok]
        keep = ~ok
        pending, current, momentum, t, step = pending[keep], current[keep], momentum[keep], t[keep], step[keep]
    return (out * sign).reshape(shape), iterations, len(pending) == 0


def _confident_disagreement(gram: "torch.Tensor", cross: "torch.Tensor", yy: "torch.Tensor", n: float,
                            valid: "torch.Tensor", alpha: float) -> "torch.Tensor":
    """The slots (``sign="confident"``) whose free ridge weight has the other sign than a confident marginal
    association: Fisher's z of ``r = c_j / sqrt(G_jj yy)`` at least :data:`SIGN_CONFIDENT_Z`."""
    import torch

    free = _ridge_solve(gram.clone(), cross, valid, alpha)
    r = cross / torch.sqrt(torch.diagonal(gram, dim1=-2, dim2=-1) * yy[..., None]).clamp(min=torch.finfo(cross.dtype).tiny)
    confident = torch.atanh(r.abs().clamp(max=1 - 1e-15)) * max(n - 3, 0.0) ** 0.5 >= SIGN_CONFIDENT_Z
    return valid & confident & (torch.sign(free) == -torch.sign(cross))


def _ridge_edges(m: _Moments, edges: _Edges, alpha: float, sign: str = "free",
                 stats: dict | None = None) -> "torch.Tensor":
    """Ridge weights at every prior edge (leading batch dims of ``m`` are kept); ``sign="correlation"``
    holds each to the sign of its ``X_S'y`` (:func:`_sign_constrained_solve`), ``sign="confident"`` only
    those where the free weight disagrees with a confident association (:func:`_confident_disagreement`);
    the largest iteration count and whether every target converged go to ``stats``."""
    import torch

    out = torch.zeros(m.cross.shape, dtype=m.cross.dtype, device=m.cross.device)
    for group in edges.groups:
        gram, cross = _sub_gram(m.gram, group), _sub_edges(m.cross, group)
        if sign == "free":
            solution = _ridge_solve(gram, cross, group.valid, alpha)
        else:
            bounded = None
            if sign == "confident":
                if m.yy is None or not isinstance(m.n, float):
                    raise NotImplementedError("sign='confident' needs the unweighted design's moments")
                bounded = _confident_disagreement(gram, cross, m.yy[group.targets], m.n, group.valid, alpha)
            solution, n_iter, converged = _sign_constrained_solve(gram, cross, group.valid, alpha, bounded)
            if stats is not None:
                stats["n_iter"] = max(stats.get("n_iter", 0), n_iter)
                stats["converged"] = stats.get("converged", True) and converged
        _scatter_edges(out, group, solution)
    return out


def _ridge_fit(m: _Moments, edges: _Edges, alpha: float, sign: str = "free",
               stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights at every prior edge and the intercepts, on the original scale (float64)."""
    return _original_scale(_ridge_edges(m, edges, alpha, sign, stats), m, edges)


class MaskedRidge(MaskedRegressor):
    """Ridge per target, ``min ||y - X_S w - b||^2 + alpha ||w||^2`` over the target's prior TFs S.

    Same objective as ``sklearn.linear_model.Ridge(alpha)`` fitted on the masked columns; ``alpha_``
    holds ``alpha`` after fit (as :class:`~transgrn.solvers.ridge_cv.MaskedRidgeCV`'s chosen one).
    ``max_group_elements`` bounds the memory of one group of targets' padded Gram sub-matrices.
    ``sign="correlation"`` holds each weight to the sign of its TF's marginal association with the target
    over the fitted rows (:func:`_sign_constrained_solve`; ``n_iter_`` and ``converged_`` after fit).
    """

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, device: str = "auto",
                 dtype: str = "float64", max_group_elements: int = 2**20, standardize: bool = False,
                 sign: str = "free") -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.alpha = alpha
        self.max_group_elements = max_group_elements
        self.sign = _check_sign(sign)

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedRidge":
        mask = self._check(x, y, mask)
        self.alpha_ = fixed_penalty(self.alpha, "MaskedRidgeCV")
        xt = self._tensor(x)
        edges = _edges(mask, xt.device, self.max_group_elements)
        m = _moments(xt, y, edges, self.fit_intercept, self.standardize, need_yy=self.sign == "confident")
        self.mask_ = mask
        stats: dict = {}
        self.edge_coef_, self.intercept_ = _ridge_fit(m, edges, self.alpha_, self.sign, stats)
        if self.sign != "free":
            self.n_iter_, self.converged_ = stats.get("n_iter", 0), stats.get("converged", True)
        return self

    def fit_weightings(self, x: np.ndarray, y: Outputs, mask: np.ndarray, sample_weight: np.ndarray,
                           dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """Refit once per row of ``sample_weight`` (``B x n``): one pass over Y for all of them, then
        as many Gram matrices at a time as fill ``BLOCK_BYTES``.

        Row weights ``w`` give ``sum_r w_r (y_r - x_r b - c)^2 + alpha ||b||^2`` (sklearn's
        ``sample_weight``); integer bootstrap counts make this the fit on the resampled rows. Returns
        edge weights ``B x n_edges`` (edges in ``np.nonzero(mask)`` order, original scale; as ``dtype``,
        e.g. float32 to halve the largest array where that precision is enough) and intercepts
        ``B x n_targets``. With ``sign="correlation"`` each refit holds its weights to the signs of its own
        weighted ``X_S'y``.
        """
        import torch

        mask = self._check(x, y, mask)
        alpha = fixed_penalty(self.alpha, "MaskedRidgeCV")
        xt = self._tensor(x)
        wt = torch.as_tensor(np.asarray(sample_weight), dtype=xt.dtype, device=xt.device)
        if wt.ndim != 2 or wt.shape[1] != xt.shape[0]:
            raise ValueError(f"sample_weight {tuple(wt.shape)} must be (n_fits, n_rows={xt.shape[0]})")
        edges = _edges(mask, xt.device, self.max_group_elements // wt.shape[0])
        # filled a chunk of weightings at a time: concatenating per-chunk parts would hold them twice
        weights, intercepts = np.empty((len(wt), len(edges.tf)), dtype=dtype), np.empty((len(wt), edges.n_targets))
        done = 0
        for m in _weighted_moments(xt, y, wt, edges, self.fit_intercept, self.standardize):
            chunk = slice(done, done + len(m.gram))
            weights[chunk], intercepts[chunk] = _ridge_fit(m, edges, alpha, self.sign)
            done = chunk.stop
        return weights, intercepts
