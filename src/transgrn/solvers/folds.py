"""K-fold cross-validation from per-fold sums: one pass over the data gives every fold's training
and validation moments (:func:`_split_moments`), for the ridge's and the elastic net's penalty
choice alike; :func:`least_cv_error` picks the penalty."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from .base import MaskedRegressor, Outputs, _blocks, _edges, _Edges
from .moments import _column_scale, _Moments

if TYPE_CHECKING:
    import torch


def kfold_indices(n: int, n_folds: int = 5, seed: int = 0, groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Validation rows of each fold: a seeded shuffle split into ``n_folds`` near-equal parts.

    With ``groups`` (e.g. the source cell of each pair), whole groups go to one fold, so that
    duplicated rows cannot sit on both sides of a split.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return [np.sort(f) for f in np.array_split(rng.permutation(n), n_folds)]
    labels, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(labels) < n_folds:
        raise ValueError(f"{len(labels)} groups cannot make {n_folds} folds")
    fold_of_group = np.empty(len(labels), dtype=int)
    fold_of_group[rng.permutation(len(labels))] = np.arange(len(labels)) % n_folds
    return [np.flatnonzero(fold_of_group[inverse] == f) for f in range(n_folds)]


@dataclass
class _Sums:
    """Uncentred sums of one fold: everything needed to centre any union of folds afterwards."""

    n: float
    sx: "torch.Tensor"
    sy: "torch.Tensor"
    gram: "torch.Tensor"
    cross: "torch.Tensor"
    yy: "torch.Tensor"

    def __sub__(self, other: "_Sums") -> "_Sums":
        return _Sums(*(getattr(self, f) - getattr(other, f) for f in _SUM_FIELDS))

    def __add__(self, other: "_Sums") -> "_Sums":
        return _Sums(*(getattr(self, f) + getattr(other, f) for f in _SUM_FIELDS))

    def empty(self) -> "_Sums":
        """Sums of no rows (to get the full-data moments from :func:`_split_moments`)."""
        return self - self


_SUM_FIELDS = ("n", "sx", "sy", "gram", "cross", "yy")


@dataclass
class _Folds:
    """Per-fold sums (:func:`_fold_sums`) and their total. A fold's ``p x p`` Gram matrix is formed
    when the fold is used (:meth:`fold`), not kept: K of them at once cost ``K p^2`` floats (72 MB
    more for 5 folds of 1,500 TFs, at the peak of a fit)."""

    sums: list[_Sums]  # gram left empty (0 x 0)
    total: _Sums
    centred: "Callable[[int], torch.Tensor]"  # fold i's rows of X minus the shift
    x_shift: "torch.Tensor"  # what the sums' X and Y were shifted by (their means, with intercept)
    y_shift: "torch.Tensor"

    def fold(self, i: int) -> _Sums:
        xf = self.centred(i)
        return replace(self.sums[i], gram=xf.T @ xf)


def _fold_sums(x: "torch.Tensor", y: Outputs, folds: list[np.ndarray], edges: _Edges,
               fit_intercept: bool) -> _Folds:
    """Per-fold sums; together they cost one pass over the data, however many folds and alphas."""
    import torch

    zeros = lambda m: torch.zeros(m, dtype=x.dtype, device=x.device)  # noqa: E731
    x_shift = x.mean(0) if fit_intercept else torch.zeros_like(x[0])
    rows = [torch.as_tensor(r, device=x.device) for r in folds]
    # a fold's centred rows are formed again where needed, in one reused buffer: keeping every fold's
    # would hold a second X, and fresh pages for every block and fold cost more than the copy
    buffer = torch.empty(max(len(r) for r in rows), x.shape[1], dtype=x.dtype, device=x.device)
    centred = lambda i: torch.index_select(x, 0, rows[i], out=buffer[:len(rows[i])]).sub_(x_shift)  # noqa: E731
    sums, gram = [], None
    for i, r in enumerate(rows):
        xf = centred(i)
        fold_gram = xf.T @ xf
        gram = fold_gram if gram is None else gram + fold_gram  # the folds' sum, in fold order
        sums.append(_Sums(float(len(r)), xf.sum(0), zeros(edges.n_targets), zeros((0, 0)), zeros(len(edges.tf)),
                          zeros(edges.n_targets)))
    del xf, fold_gram
    y_shift = zeros(edges.n_targets)
    for b in _blocks(y, edges, x):
        if fit_intercept:
            y_shift[b.cols] = b.y.mean(0)
        for i, s in enumerate(sums):
            xf, yf = centred(i), b.y[rows[i]] - y_shift[b.cols]
            s.sy[b.cols], s.cross[b.edge], s.yy[b.cols] = yf.sum(0), (xf.T @ yf)[b.tf, b.target], (yf * yf).sum(0)
    total = sums[0]
    for s in sums[1:]:
        total = total + s  # (their empty grams add up to an empty one)
    return _Folds(sums, replace(total, gram=gram), centred, x_shift, y_shift)


def _full_moments(folds: _Folds, edges: _Edges, fit_intercept: bool, standardize: bool) -> _Moments:
    """The whole design's moments from the folds' total: those of :func:`_moments` (to rounding)
    without another pass over the data."""
    full, _ = _split_moments(folds.total, folds.total.empty(), edges, fit_intercept, standardize)
    return replace(full, x_mean=full.x_mean + folds.x_shift, y_mean=full.y_mean + folds.y_shift)


def _split_moments(total: _Sums, val: _Sums, edges: _Edges, fit_intercept: bool,
                   standardize: bool) -> tuple[_Moments, _Moments]:
    """Training moments and validation moments, both centred and scaled with the training statistics.

    The validation ``gram``/``cross``/``yy`` are those of ``(X_v - mx) / s`` and ``Y_v - my``, so
    ``yy - 2 w'cross + w'gram w`` is the held-out squared error of the trained model.
    """
    import torch

    train = total - val  # fresh sums: the p x p updates below work in place
    tf, tg = edges.tf, edges.target
    zeros = torch.zeros_like
    mx = train.sx / train.n if fit_intercept else zeros(train.sx)
    my = train.sy / train.n if fit_intercept else zeros(train.sy)
    # training variance about the training mean (train.gram is uncentred without intercept)
    var = torch.diagonal(train.gram) / train.n - (train.sx / train.n) ** 2
    g_tr = train.gram.addr_(mx, mx, alpha=-train.n)
    c_tr = train.cross - train.n * mx[tf] * my[tg]
    yy_tr = train.yy - train.n * my**2
    g_va = val.gram.clone().addr_(val.sx, mx, alpha=-1).addr_(mx, val.sx, alpha=-1).addr_(mx, mx, alpha=val.n)
    c_va = val.cross - val.sx[tf] * my[tg] - mx[tf] * val.sy[tg] + val.n * mx[tf] * my[tg]
    yy_va = val.yy - 2 * val.sy * my + val.n * my**2
    scale = torch.ones_like(mx)
    if standardize:  # (dividing by a scale of 1 would change nothing and cost two p x p temporaries)
        scale = _column_scale(torch.clamp(var, min=0), 1.0)
        outer = torch.outer(scale, scale)
        g_tr, g_va, c_tr, c_va = g_tr.div_(outer), g_va.div_(outer), c_tr / scale[tf], c_va / scale[tf]
    return (_Moments(g_tr, c_tr, yy_tr, train.n, mx, my, scale),
            _Moments(g_va, c_va, yy_va, val.n, mx, my, scale))


def _cv_setup(x: np.ndarray, y: Outputs, mask: np.ndarray, n_folds: int, seed: int, groups: np.ndarray | None,
              fit_intercept: bool, device: str, dtype: str, budget: int):
    """X as a tensor, edges and the folds' sums (:class:`_Folds`), shared by the CV selectors."""
    mask = MaskedRegressor()._check(x, y, mask)
    xt = MaskedRegressor(device=device, dtype=dtype)._tensor(x)
    edges = _edges(mask, xt.device, budget)
    return xt, edges, _fold_sums(xt, y, kfold_indices(xt.shape[0], n_folds, seed, groups), edges, fit_intercept)


def least_cv_error(scores: np.ndarray, alphas: np.ndarray) -> float:
    """The alpha with the least cross-validated error ``scores`` (estimated held-out MSE per alpha,
    pooled over rows and targets; the first of equals): the plain CV optimum, as scikit-learn's
    ``RidgeCV`` and ``LassoCV`` take it, for the ridge and the elastic net alike.

    A one-standard-error rule towards less shrinkage ranked edges better on the project's own
    simulator but worse on data it did not make -- counts with dropout (the Hill track) and Guo
    2010's qPCR (README, "Choosing the penalty") -- where noisy TF inputs need the penalty that
    predicts best.
    """
    return float(alphas[int(np.argmin(scores))])
