"""The ridge penalty chosen by cross-validation: :class:`MaskedRidgeCV` (generalized CV by
default, exact leave-one-out, or K-fold; :func:`select_alpha_ridge`), and :func:`ridge_cv_r2`, the
held-out R^2 of a fixed penalty over given folds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from .base import (MaskedRegressor, Outputs, _edges, _Edges, _Group, _scatter_edges, _sub_edges, _sub_gram, block_bytes,
                   target_blocks)
from .folds import _cv_setup, _full_moments, _split_moments, least_cv_error
from .moments import _moments, _Moments, _original_scale
from .ridge import MaskedRidge, _check_sign, _ridge_fit

if TYPE_CHECKING:
    import torch


def _batched_eigh(a: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
    """``torch.linalg.eigh`` of many small matrices, on one CPU thread.

    Above 25 x 25, LAPACK's divide-and-conquer threads the work inside each tiny matrix; the
    synchronisation then costs 10-50x the arithmetic (measured on 2 shared cores), while one
    thread is fastest. Torch's thread count is restored afterwards.
    """
    import torch

    if a.device.type != "cpu":
        return torch.linalg.eigh(a)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(a)
    finally:
        torch.set_num_threads(threads)


def _ridge_path_error(train: _Moments, val: _Moments, group: _Group, alphas: "torch.Tensor") -> "torch.Tensor":
    """Held-out squared error of one group's targets for every alpha from one eigendecomposition.

    With ``G = V diag(lam) V'`` and ``q = V'c``, ``w(alpha) = V q / (lam + alpha)``; the error
    ``yy_v - 2 w'c_v + w'G_v w`` only needs ``V'c_v`` and ``V'G_v V``, computed once.
    """
    import torch

    padding = torch.diag_embed((~group.valid).to(train.gram.dtype))  # identity on padding slots
    lam, vec = _batched_eigh(_sub_gram(train.gram, group) + padding)
    q = (vec.transpose(-1, -2) @ _sub_edges(train.cross, group)[..., None])[..., 0]
    a = (vec.transpose(-1, -2) @ _sub_edges(val.cross, group)[..., None])[..., 0]
    m = vec.transpose(-1, -2) @ _sub_gram(val.gram, group) @ vec
    d = q[:, None, :] / (lam[:, None, :] + alphas[None, :, None])  # (b, n_alphas, k)
    err = val.yy[group.targets][:, None] - 2 * (d * a[:, None, :]).sum(-1) + ((d @ m) * d).sum(-1)
    return err.sum(0)


# The default CV grid: mean(diag(X'X)) * logspace(*RIDGE_ALPHA_GRID). The floor keeps a noiseless
# data set (krumsiek11) from choosing almost no penalty, which ranks edges badly
# (benchmarks/recovery.py; README "Choosing the penalty").
RIDGE_ALPHA_GRID = (-1.5, 1, 6)


def select_alpha_ridge(x: np.ndarray, y: Outputs, mask: np.ndarray, alphas: Sequence[float] | None = None,
                       cv: str | int = "gcv", seed: int = 0, *, fit_intercept: bool = True,
                       standardize: bool = False, groups: np.ndarray | None = None, device: str = "auto",
                       dtype: str = "float64", max_group_elements: int = 2**20) -> tuple[float, np.ndarray]:
    """One ridge alpha for all targets of a transition: the least estimated prediction error (MSE
    pooled over rows and targets, :func:`least_cv_error`), returned with the error per alpha in the
    order of ``alphas``.

    ``cv`` says how the error is estimated, each target on its own prior TFs (its own masked design):

    * ``"gcv"`` (default): generalized cross-validation, ``RSS(alpha) / n / (1 - df(alpha) / n)^2``
      per target, from one eigendecomposition of the target's Gram matrix (``G = V diag(lam) V'``,
      ``q = V'X'y``): ``RSS = y'y - sum q^2 (lam + 2 alpha) / (lam + alpha)^2`` and
      ``df = [1] + sum lam / (lam + alpha)`` (the intercept's 1 with ``fit_intercept``). It needs
      nothing but the sufficient statistics of one pass over the data;
    * ``"loo"``: exact leave-one-out, ``mean((e_i / (1 - h_ii))^2)`` with ``e`` the full fit's
      residuals and ``h_ii`` the hat matrix's diagonal (intercept unpenalized, as scikit-learn's
      ``RidgeCV(cv=None)``), from the same eigendecomposition and each target's ``n x k`` design;
    * an integer K: K-fold CV over :func:`kfold_indices` (``seed``; ``groups`` keeps groups
      together), one eigendecomposition per target and fold.

    GCV is LOO with every ``h_ii`` replaced by their mean ``df / n``. Default ``alphas``:
    ``mean(diag(X'X)) * logspace(*RIDGE_ALPHA_GRID)`` on the (scaled, centred) design, so the grid
    follows the data's scale. With ``standardize`` the TF scales are the whole design's, also for
    LOO and GCV (as in scikit-learn, where scaling is not refitted per left-out row).
    """
    alpha, scores, _, _, _ = _ridge_cv(x, y, mask, alphas, cv, seed, groups, fit_intercept, standardize, device,
                                       dtype, max_group_elements)
    return alpha, scores


def _ridge_cv(x: np.ndarray, y: Outputs, mask: np.ndarray, alphas: Sequence[float] | None, cv: str | int,
              seed: int, groups: np.ndarray | None, fit_intercept: bool, standardize: bool, device: str, dtype: str,
              max_group_elements: int, with_weights: bool = False
              ) -> tuple[float, np.ndarray, _Moments, _Edges, "torch.Tensor | None"]:
    """:func:`select_alpha_ridge`'s alpha and scores, with the whole design's moments and the edges
    (for the fit at that alpha, :meth:`MaskedRidgeCV.fit`); with ``with_weights`` and GCV also the
    (centred, scaled) weights at every prior edge for the chosen alpha, from the eigendecompositions
    the GCV made (else None: the caller solves at that alpha)."""
    import torch

    if cv not in ("gcv", "loo") and not (isinstance(cv, (int, np.integer)) and not isinstance(cv, bool) and cv >= 2):
        raise ValueError(f"select_alpha_ridge: cv must be 'gcv', 'loo' or a number of folds >= 2, got {cv!r}")
    if cv in ("gcv", "loo"):
        mask = MaskedRegressor()._check(x, y, mask)
        xt = MaskedRegressor(device=device, dtype=dtype)._tensor(x)
        edges = _edges(mask, xt.device, max_group_elements)
        full = _moments(xt, y, edges, fit_intercept, standardize)
    else:
        xt, edges, folds = _cv_setup(x, y, mask, int(cv), seed, groups, fit_intercept, device, dtype,
                                     max_group_elements)
        full = _full_moments(folds, edges, fit_intercept, standardize)
    if alphas is None:
        alphas = float(torch.diagonal(full.gram).mean()) * np.logspace(*RIDGE_ALPHA_GRID)
    alphas = np.asarray(alphas, dtype=float)
    alpha_t = torch.as_tensor(alphas, dtype=xt.dtype, device=xt.device)
    if (alpha_t <= 0).any():
        raise ValueError("select_alpha_ridge: alphas must be > 0")
    n = xt.shape[0]
    # estimated held-out squared errors summed over rows and targets; targets without TFs: their mean's
    path = None
    if cv == "gcv":
        # every alpha's weights come from the decompositions at little cost (alphas x edges): the fit at
        # the chosen alpha then needs no second gather of the Gram sub-matrices and no Cholesky
        path = torch.zeros(len(alphas), len(edges.tf), dtype=xt.dtype, device=xt.device) if with_weights else None
        sse = sum((_ridge_gcv_error(full, group, alpha_t, fit_intercept, path) for group in edges.groups),
                  _intercept_only_error(full, edges, fit_intercept))
    elif cv == "loo":
        sse = _intercept_only_error(full, edges, fit_intercept) + _ridge_loo_error(
            xt, y, full, edges, alpha_t, fit_intercept)
    else:
        sse = torch.zeros_like(alpha_t)
        for i in range(len(folds.sums)):
            train_m, val_m = _split_moments(folds.total, folds.fold(i), edges, fit_intercept, standardize)
            sse += val_m.yy[edges.empty].sum()
            for group in edges.groups:
                sse += _ridge_path_error(train_m, val_m, group, alpha_t)
            del train_m, val_m  # before the next fold's are made
    scores = (sse / (n * edges.n_targets)).cpu().numpy().astype(np.float64)
    alpha = least_cv_error(scores, alphas)
    weights = None if path is None else path[int(np.flatnonzero(alphas == alpha)[0])]
    return alpha, scores, full, edges, weights


def _intercept_only_error(m: _Moments, edges: _Edges, fit_intercept: bool) -> "torch.Tensor":
    """The summed leave-one-out (= GCV) squared errors of the targets without prior TFs, predicted
    by their mean (``e_i / (1 - 1/n)``) or, without intercept, by 0."""
    inflation = (m.n / (m.n - 1)) ** 2 if fit_intercept and m.n > 1 else 1.0
    return m.yy[edges.empty].sum() * inflation


def _eigen_system(m: _Moments, group: _Group) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """Eigenvalues ``lam`` and vectors ``V`` of a group's Gram sub-matrices and ``q = V'c`` (``c``:
    ``X_S'y``), ``(b, k)``, ``(b, k, k)``, ``(b, k)``. Padding slots are zero rows and columns: their
    eigenvalue 0 adds nothing to a fit, its residuals or its degrees of freedom."""
    lam, vec = _batched_eigh(_sub_gram(m.gram, group))
    q = (vec.transpose(-1, -2) @ _sub_edges(m.cross, group)[..., None])[..., 0]
    return lam.clamp_(min=0), vec, q


def _ridge_gcv_error(m: _Moments, group: _Group, alphas: "torch.Tensor", fit_intercept: bool,
                     path: "torch.Tensor | None" = None) -> "torch.Tensor":
    """GCV estimate of one group's held-out squared errors for every alpha, ``RSS / (1 - df/n)^2``
    summed over its targets, from one eigendecomposition per target (:func:`select_alpha_ridge`).
    With ``path`` (alphas x edges) also writes each alpha's weights ``V (q / (lam + alpha))`` there."""
    lam, vec, q = _eigen_system(m, group)
    shrink = 1.0 / (lam[:, None, :] + alphas[None, :, None])  # (b, n_alphas, k)
    if path is not None:
        _scatter_edges(path, group, ((q[:, None, :] * shrink) @ vec.transpose(-1, -2)).transpose(0, 1))
    rss = m.yy[group.targets][:, None] - (q * q)[:, None, :].mul(lam[:, None, :] + 2 * alphas[None, :, None]).mul_(
        shrink * shrink).sum(-1)
    df = float(fit_intercept) + (lam[:, None, :] * shrink).sum(-1)
    return (rss.clamp_(min=0) / (1 - df / m.n) ** 2).sum(0)


def _ridge_loo_error(x: "torch.Tensor", y: Outputs, m: _Moments, edges: _Edges, alphas: "torch.Tensor",
                     fit_intercept: bool) -> "torch.Tensor":
    """Summed leave-one-out squared errors of every target with prior TFs, for every alpha.

    Per target: ``Z = X_S V`` (centred, scaled), ``h_i = [1/n] + sum_m Z_im^2 / (lam_m + alpha)``,
    fitted ``Z (q / (lam + alpha))``; targets are taken a chunk at a time so that their ``n x k``
    designs stay within a block (:func:`block_bytes`)."""
    import torch

    n = x.shape[0]
    xc = (x - m.x_mean) / m.scale
    sse = torch.zeros_like(alphas)
    for group in edges.groups:
        lam, vec, q = _eigen_system(m, group)
        k = group.support.shape[1]
        width = max(1, block_bytes() // (8 * n * max(k, len(alphas))))
        for start in range(0, len(group.targets), width):
            part = slice(start, start + width)
            targets = group.targets[part]
            ys = np.hstack([b for _, b in target_blocks(y, targets.cpu().numpy())])
            ys = torch.as_tensor(ys, dtype=x.dtype, device=x.device).T - m.y_mean[targets][:, None]  # (b, n)
            design = xc.T[group.support[part]].masked_fill_(~group.valid[part][..., None], 0.0)  # (b, k, n)
            z = design.transpose(-1, -2) @ vec[part]  # (b, n, k)
            shrink = 1.0 / (lam[part][:, None, :] + alphas[None, :, None])  # (b, n_alphas, k)
            leverage = (z * z) @ shrink.transpose(-1, -2) + (1.0 / n if fit_intercept else 0.0)  # (b, n, n_alphas)
            residual = ys[..., None] - z @ (q[part][:, None, :] * shrink).transpose(-1, -2)
            sse += (residual / (1 - leverage)).square_().sum((0, 1))
    return sse


class MaskedRidgeCV(MaskedRegressor):
    """:class:`~transgrn.solvers.ridge.MaskedRidge` at one alpha for all targets, chosen over ``alphas``
    (default: a log grid relative to the mean TF sum of squares) by the least estimated prediction
    error pooled over targets, each target on its own masked design (:func:`select_alpha_ridge`), as
    ``sklearn.linear_model.RidgeCV``: ``cv="gcv"`` (default) generalized cross-validation, ``"loo"``
    exact leave-one-out (as ``RidgeCV(cv=None)``), an integer K-fold CV with folds drawn from
    ``cv_seed``. After fit: the chosen ``alpha_`` and the error curve ``cv_scores_`` (order of the grid).
    ``sign="correlation"``: the penalty is chosen as for the free ridge, then the weights are fitted at it
    with each held to the sign of its TF's marginal association (:class:`~transgrn.solvers.ridge.MaskedRidge`).
    """

    def __init__(self, alphas: Sequence[float] | None = None, cv: str | int = "gcv", cv_seed: int = 0,
                 fit_intercept: bool = True, device: str = "auto", dtype: str = "float64",
                 max_group_elements: int = 2**20, standardize: bool = False, sign: str = "free") -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.alphas, self.cv, self.cv_seed, self.max_group_elements = alphas, cv, cv_seed, max_group_elements
        self.sign = _check_sign(sign)

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedRidgeCV":
        mask = self._check(x, y, mask)
        # the whole design's moments come with the choice: no second pass over Y
        self.alpha_, self.cv_scores_, m, edges, weights = _ridge_cv(
            x, y, mask, self.alphas, self.cv, self.cv_seed, None, self.fit_intercept, self.standardize,
            self.device, self.dtype, self.max_group_elements, with_weights=self.sign == "free")
        self.mask_ = mask
        stats: dict = {}
        self.edge_coef_, self.intercept_ = (_ridge_fit(m, edges, self.alpha_, self.sign, stats) if weights is None
                                            else _original_scale(weights, m, edges))
        if self.sign != "free":
            self.n_iter_, self.converged_ = stats.get("n_iter", 0), stats.get("converged", True)
        return self

    def fit_weightings(self, x: np.ndarray, y: Outputs, mask: np.ndarray, sample_weight: np.ndarray,
                           dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`MaskedRidge.fit_weightings <transgrn.solvers.ridge.MaskedRidge.fit_weightings>`
        at the alpha chosen once on the unweighted data."""
        mask = self._check(x, y, mask)
        self.alpha_, self.cv_scores_ = select_alpha_ridge(
            x, y, mask, self.alphas, cv=self.cv, seed=self.cv_seed, fit_intercept=self.fit_intercept,
            standardize=self.standardize, device=self.device, dtype=self.dtype,
            max_group_elements=self.max_group_elements)
        return self.at(self.alpha_).fit_weightings(x, y, mask, sample_weight, dtype)

    def at(self, alpha: float) -> MaskedRidge:
        """The plain ridge with this estimator's settings at ``alpha``."""
        return MaskedRidge(alpha, fit_intercept=self.fit_intercept, device=self.device, dtype=self.dtype,
                           max_group_elements=self.max_group_elements, standardize=self.standardize, sign=self.sign)


def ridge_cv_r2(x: np.ndarray, y: Outputs, mask: np.ndarray, folds: list[np.ndarray], alpha: float, *,
                device: str = "auto", dtype: str = "float64") -> float:
    """Pooled held-out R^2 of a masked ridge (penalty ``alpha`` > 0, with intercept) over ``folds``
    (validation rows of each): ``1 - total SSE / total SS``, each fold's about its training mean.

    The same numbers as refitting on each fold's training rows, from each target's own sums over
    its TF columns (``n k^2`` per target, a block of targets at a time): the lagged design's lag
    choice scores 300 targets for 8 lags x 5 folds, where ``p x p`` Gram matrices per fold (as
    :func:`select_alpha_ridge` builds for all targets) cost 4x more at 1,500 TFs. NaN when the
    held-out rows do not vary.
    """
    import torch

    if not alpha > 0:
        raise ValueError(f"ridge_cv_r2: alpha must be > 0, got {alpha}")
    mask = MaskedRegressor()._check(x, y, mask)
    xt = MaskedRegressor(device=device, dtype=dtype)._tensor(x)
    order = np.concatenate([np.asarray(rows, dtype=int) for rows in folds])
    bounds = np.cumsum([0] + [len(rows) for rows in folds])
    # TFs x rows with each fold's rows contiguous, about the column means (well-conditioned sums)
    # rows gathered, then transposed: 1.5x faster than gathering columns of the transpose
    columns = torch.index_select(xt, 0, torch.as_tensor(order, device=xt.device)).T.contiguous()
    columns -= columns.mean(1, keepdim=True)
    # groups of targets whose gathered targets x slots x rows columns fit in a block
    width = block_bytes() // (8 * max(xt.shape[0], 1))
    edges = _edges(mask, xt.device, width, power=1)

    def blocks():  # (targets, their TF columns: targets x slots x rows, valid slots), one block at a time
        for g in edges.groups:
            yield g.targets, columns[g.support].masked_fill_(~g.valid[..., None], 0.0), g.valid
        # targets without TFs: predicted by their training mean (one zero column, no weight)
        no_tf = torch.zeros(1, 1, 1, dtype=xt.dtype, device=xt.device)
        for start in range(0, len(edges.empty), max(width, 1)):
            targets = edges.empty[start:start + max(width, 1)]
            yield (targets, no_tf.expand(len(targets), 1, xt.shape[0]),
                   torch.zeros(len(targets), 1, dtype=torch.bool, device=xt.device))

    sse = sst = 0.0
    for targets, xs, valid in blocks():
        ys = np.hstack([b for _, b in target_blocks(y, targets.cpu().numpy())])[order].T
        ys = torch.as_tensor(ys, dtype=xt.dtype, device=xt.device)
        block_sse, block_sst = _target_cv_errors(xs, ys - ys.mean(1, keepdim=True), bounds, valid, float(alpha))
        sse, sst = sse + block_sse, sst + block_sst
    return 1.0 - sse / sst if sst > 0 else float("nan")


def _target_cv_errors(xs: "torch.Tensor", ys: "torch.Tensor", bounds: np.ndarray, valid: "torch.Tensor",
                      alpha: float) -> tuple[float, float]:
    """Held-out SSE and SS (about the training means) summed over folds and targets, for targets
    whose TF columns are ``xs`` (targets x slots x rows, zero on padding) and outputs ``ys``
    (targets x rows), fold ``i`` the rows ``bounds[i]:bounds[i + 1]``; each fold's training sums are
    the total's minus the fold's."""
    import torch

    def sums(lo: int, hi: int) -> tuple:
        xf, yf = xs[..., lo:hi], ys[:, lo:hi]
        return (float(hi - lo), xf.sum(-1), yf.sum(-1), xf @ xf.transpose(-1, -2), (xf @ yf[..., None])[..., 0],
                (yf * yf).sum(-1))

    parts = [sums(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    total = [sum(part[j] for part in parts) for j in range(6)]
    # identity on padding slots (whose columns are zero), so that they solve to 0
    penalty = torch.diag_embed(torch.full(valid.shape, alpha, dtype=xs.dtype, device=xs.device).masked_fill_(~valid, 1.0))
    outer = lambda a, b: a[..., :, None] * b[..., None, :]  # noqa: E731
    sse = sst = 0.0
    for n_v, sx_v, sy_v, g_v, c_v, yy_v in parts:
        n, sx, sy, g, c = (t - v for t, v in zip(total, (n_v, sx_v, sy_v, g_v, c_v)))
        mx, my = sx / n, sy / n
        w = torch.linalg.solve(g - n * outer(mx, mx) + penalty, (c - n * mx * my[:, None])[..., None])[..., 0]
        # the held-out rows' sums about the training means
        g_va = g_v - outer(sx_v, mx) - outer(mx, sx_v) + n_v * outer(mx, mx)
        c_va = c_v - sx_v * my[:, None] - mx * sy_v[:, None] + n_v * mx * my[:, None]
        yy_va = yy_v - 2 * sy_v * my + n_v * my * my
        err = yy_va - 2 * (w * c_va).sum(-1) + ((g_va @ w[..., None])[..., 0] * w).sum(-1)
        sse, sst = sse + float(err.sum()), sst + float(yy_va.sum())
    return sse, sst
