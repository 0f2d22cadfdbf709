"""Masked ridge in closed form: per target ``min ||y - X_S w - b||^2 + alpha ||w||^2`` over its prior
TFs S, every target at once by batched Cholesky from the design's moments
(:class:`MaskedRidge`; :class:`~transgrn.solvers.ridge_cv.MaskedRidgeCV` chooses ``alpha``)."""

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


def _ridge_edges(m: _Moments, edges: _Edges, alpha: float) -> "torch.Tensor":
    """Ridge weights at every prior edge (leading batch dims of ``m`` are kept)."""
    import torch

    out = torch.zeros(m.cross.shape, dtype=m.cross.dtype, device=m.cross.device)
    for group in edges.groups:
        solution = _ridge_solve(_sub_gram(m.gram, group), _sub_edges(m.cross, group), group.valid, alpha)
        _scatter_edges(out, group, solution)
    return out


def _ridge_fit(m: _Moments, edges: _Edges, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights at every prior edge and the intercepts, on the original scale (float64)."""
    return _original_scale(_ridge_edges(m, edges, alpha), m, edges)


class MaskedRidge(MaskedRegressor):
    """Ridge per target, ``min ||y - X_S w - b||^2 + alpha ||w||^2`` over the target's prior TFs S.

    Same objective as ``sklearn.linear_model.Ridge(alpha)`` fitted on the masked columns; ``alpha_``
    holds ``alpha`` after fit (as :class:`~transgrn.solvers.ridge_cv.MaskedRidgeCV`'s chosen one).
    ``max_group_elements`` bounds the memory of one group of targets' padded Gram sub-matrices.
    """

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, device: str = "auto",
                 dtype: str = "float64", max_group_elements: int = 2**20, standardize: bool = False) -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.alpha = alpha
        self.max_group_elements = max_group_elements

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedRidge":
        mask = self._check(x, y, mask)
        self.alpha_ = fixed_penalty(self.alpha, "MaskedRidgeCV")
        xt = self._tensor(x)
        edges = _edges(mask, xt.device, self.max_group_elements)
        m = _moments(xt, y, edges, self.fit_intercept, self.standardize, need_yy=False)
        self.mask_ = mask
        self.edge_coef_, self.intercept_ = _ridge_fit(m, edges, self.alpha_)
        return self

    def fit_weightings(self, x: np.ndarray, y: Outputs, mask: np.ndarray, sample_weight: np.ndarray,
                           dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """Refit once per row of ``sample_weight`` (``B x n``): one pass over Y for all of them, then
        as many Gram matrices at a time as fill ``BLOCK_BYTES``.

        Row weights ``w`` give ``sum_r w_r (y_r - x_r b - c)^2 + alpha ||b||^2`` (sklearn's
        ``sample_weight``); integer bootstrap counts make this the fit on the resampled rows. Returns
        edge weights ``B x n_edges`` (edges in ``np.nonzero(mask)`` order, original scale; as ``dtype``,
        e.g. float32 to halve the largest array where that precision is enough) and intercepts
        ``B x n_targets``.
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
            weights[chunk], intercepts[chunk] = _ridge_fit(m, edges, alpha)
            done = chunk.stop
        return weights, intercepts
