"""Sufficient statistics of a masked design: the Gram-based solvers need only the TF Gram matrix,
``X^T Y`` at the prior edges and each target's sum of squares, of the whole design
(:func:`_moments`) or of many row-weightings at once (:func:`_weighted_moments`, the bootstrap's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np
import scipy.sparse as sp

from .base import Outputs, _blocks, _Edges, _group_targets, block_bytes

if TYPE_CHECKING:
    import torch


@dataclass
class _Moments:
    """Centred (and scaled) statistics of one design; the Gram-based solvers need nothing else.

    ``gram`` is ``Xs^T Xs`` (p x p), ``cross`` is ``Xs^T Y`` at the prior edges, ``yy`` each
    target's centred sum of squares (``None`` when not needed), with ``Xs = (X - x_mean) / scale``.
    Leading batch dimensions (bootstrap replicates) are allowed on every tensor but ``n``.
    """

    gram: "torch.Tensor"
    cross: "torch.Tensor"
    yy: "torch.Tensor | None"
    n: "float | torch.Tensor"
    x_mean: "torch.Tensor"
    y_mean: "torch.Tensor"
    scale: "torch.Tensor"


def _column_scale(sum_sq: "torch.Tensor", n: "float | torch.Tensor") -> "torch.Tensor":
    """Population standard deviation from centred sums of squares; 1 for constant columns."""
    import torch

    scale = torch.sqrt(sum_sq / n)
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def _moments(x: "torch.Tensor", y: Outputs, edges: _Edges, fit_intercept: bool,
             standardize: bool, need_yy: bool = True) -> _Moments:
    """Statistics of the full design: one Gram, and per block of targets one ``X^T Y`` GEMM gathered at edges."""
    import torch

    zeros = lambda m: torch.zeros(m, dtype=x.dtype, device=x.device)  # noqa: E731
    x_mean = x.mean(0) if fit_intercept else zeros(x.shape[1])
    # unit variance about the column mean even without intercept, as StandardScaler(with_mean=False)
    scale = _column_scale(torch.var(x, 0, correction=0), 1.0) if standardize else torch.ones_like(x_mean)
    xc = x - x_mean
    xc /= scale
    if sp.issparse(y) and x.device.type == "cpu":
        return _sparse_moments(xc, y, edges, fit_intercept, need_yy, x_mean, scale)
    y_mean, cross, yy = zeros(edges.n_targets), zeros(len(edges.tf)), zeros(edges.n_targets) if need_yy else None
    for b in _blocks(y, edges, x):
        if fit_intercept:
            y_mean[b.cols] = b.y.mean(0)
        # columns of xc sum to zero when centred, so X^T Y needs no centred copy of Y
        cross[b.edge] = (xc.T @ b.y)[b.tf, b.target]
        if yy is not None:
            yy[b.cols] = (torch.var(b.y, 0, correction=0) * len(b.y) if fit_intercept
                          else torch.linalg.vector_norm(b.y, dim=0) ** 2)
    return _Moments(xc.T @ xc, cross, yy, float(x.shape[0]), x_mean, y_mean, scale)


# Sparse targets (counts-like data, ~5% non-zero at atlas scale): X^T Y at the prior edges from Y's
# non-zeros alone -- sum over edges of nnz(target), 91 million products on an atlas transition --
# instead of the dense rows x TFs x targets product gathered at the edges (240 G multiply-adds; 18.5
# of the fit job's 36.7 s). The sums run in another order than the GEMM's: results move in their last
# bits (at most 6e-16 in the atlas weights), reruns stay byte-identical.
EDGE_PRODUCTS_PER_CHUNK = 1 << 20


def sparse_edge_cross(xc: np.ndarray, y: sp.csc_matrix, tf: np.ndarray, target: np.ndarray,
                      chunk: int = EDGE_PRODUCTS_PER_CHUNK) -> np.ndarray:
    """``sum_r xc[r, tf_e] * y[r, target_e]`` for every edge ``e`` from the non-zeros of Y's columns,
    ``chunk`` products at a time (edges in any order)."""
    n_rows = xc.shape[0]
    flat = np.ascontiguousarray(xc.T).ravel()  # TF-major: xc[r, tf] = flat[tf * n_rows + r]
    counts = np.diff(y.indptr)[target]
    ends = np.cumsum(counts)
    indices = y.indices.astype(np.int64)
    out = np.zeros(len(tf))
    start = 0
    while start < len(tf):
        stop = max(start + 1, int(np.searchsorted(ends, ends[start] - counts[start] + chunk, side="right")))
        n = counts[start:stop]
        first = np.cumsum(n) - n
        positions = np.repeat(y.indptr[target[start:stop]] - first, n) + np.arange(int(n.sum()))
        flat_index = np.repeat(tf[start:stop].astype(np.int64) * n_rows, n) + indices[positions]
        products = flat[flat_index] * y.data[positions]
        nonempty = n > 0
        if nonempty.any():
            out[start:stop][nonempty] = np.add.reduceat(products, first[nonempty])
        start = stop
    return out


def sparse_column_moments(y: sp.csc_matrix, centred: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the mean and the sum of squares (about the mean when ``centred``, else about 0),
    from the non-zeros (the zeros add ``(n - nnz) mean^2``)."""
    n = y.shape[0]
    nnz = np.diff(y.indptr)
    column = np.repeat(np.arange(y.shape[1]), nnz)
    mean = np.bincount(column, weights=y.data, minlength=y.shape[1]) / n
    if not centred:
        return mean, np.bincount(column, weights=y.data * y.data, minlength=y.shape[1])
    deviation = y.data - mean[column]
    return mean, np.bincount(column, weights=deviation * deviation, minlength=y.shape[1]) + (n - nnz) * mean**2


def _sparse_moments(xc: "torch.Tensor", y: sp.spmatrix, edges: _Edges, fit_intercept: bool, need_yy: bool,
                    x_mean: "torch.Tensor", scale: "torch.Tensor") -> _Moments:
    """:func:`_moments` of a sparse Y on the CPU, from its non-zeros (``xc`` is already centred and scaled)."""
    import torch

    y = sp.csc_matrix(y, dtype=np.float64)
    # columns of xc sum to zero when centred, so X^T Y needs no centred copy of Y
    cross = sparse_edge_cross(xc.double().numpy(), y, edges.tf.cpu().numpy(), edges.target.cpu().numpy())
    mean, yy = sparse_column_moments(y, fit_intercept)
    as_tensor = lambda values: torch.as_tensor(values, dtype=xc.dtype)  # noqa: E731
    y_mean = as_tensor(mean) if fit_intercept else torch.zeros(edges.n_targets, dtype=xc.dtype)
    return _Moments(xc.T @ xc, as_tensor(cross), as_tensor(yy) if need_yy else None, float(xc.shape[0]),
                    x_mean, y_mean, scale)


def _weighted_moments(x: "torch.Tensor", y: Outputs, weights: "torch.Tensor", edges: _Edges,
                      fit_intercept: bool, standardize: bool) -> Iterator[_Moments]:
    """Statistics of ``B`` row-weightings (``weights`` is ``B x n``, e.g. bootstrap counts), yielded
    for as many weightings at a time as their Gram matrices (dense, ``p x p`` each) fill ``BLOCK_BYTES``.

    ``X^T diag(w) Y`` is computed for all weightings in one pass over Y, only at the prior edges
    (:func:`_weighted_edge_cross`): ``2 B n E`` flops instead of ``2 B n p T`` for dense
    products, which matters when the prior is sparse.
    """
    import torch

    # centring is shift invariant; shifting keeps the weighted sums well conditioned (X - shift is
    # formed where needed, a few rows or columns at a time)
    shift = x.mean(0) if fit_intercept else torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    total = weights.sum(1)  # (B,)
    mx = (weights @ (x - shift) / total[:, None] if fit_intercept
          else torch.zeros(len(weights), x.shape[1], dtype=x.dtype, device=x.device))
    scale = torch.ones_like(mx)
    if standardize:  # weighted variance about the weighted mean, with or without intercept
        xv = x - x.mean(0)
        scale = _column_scale(weights @ (xv * xv) / total[:, None] - (weights @ xv / total[:, None]) ** 2, 1.0)
        del xv  # the generator would keep it
    my, cross = _weighted_cross(x, shift, y, weights, edges, fit_intercept, mx, scale)
    step = max(1, block_bytes() // (8 * x.shape[1] ** 2))
    for i in range(0, len(weights), step):
        c = slice(i, i + step)
        gram = torch.stack([_weighted_gram(x, shift, w) for w in weights[c]])
        gram -= total[c, None, None] * mx[c, :, None] * mx[c, None, :]
        gram /= scale[c, :, None] * scale[c, None, :]
        yield _Moments(gram, cross[c], None, total[c], mx[c] + shift, my[c], scale[c])


def _weighted_cross(x: "torch.Tensor", shift: "torch.Tensor", y: Outputs, weights: "torch.Tensor", edges: _Edges,
                    fit_intercept: bool, mx: "torch.Tensor",
                    scale: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
    """Weighted means of Y (``B x n_targets``) and centred, scaled ``X^T diag(w) Y`` at the edges
    (``B x n_edges``) of every row-weighting, one block of targets at a time."""
    import torch

    my = torch.zeros(len(weights), edges.n_targets, dtype=x.dtype, device=x.device)
    cross = torch.zeros(len(weights), len(edges.tf), dtype=x.dtype, device=x.device)
    total = weights.sum(1)
    for b in _blocks(y, edges, x):
        if fit_intercept:
            my[:, b.cols] = weights @ b.y / total[:, None]
        cross[:, b.edge] = ((_weighted_edge_cross(x, shift, b.y, weights, b.tf, b.target)
                             - total[:, None] * mx[:, b.tf] * my[:, b.cols][:, b.target]) / scale[:, b.tf])
    return my, cross


def _weighted_edge_cross(x: "torch.Tensor", shift: "torch.Tensor", y: "torch.Tensor", weights: "torch.Tensor",
                         tf_t: "torch.Tensor", target_t: "torch.Tensor", budget: int | None = None) -> "torch.Tensor":
    """``(X - shift)^T diag(w_b) Y`` at the edges ``(tf, target)`` (TF-major) for every row-weighting
    ``w_b`` (``B x n_edges``).

    TFs are grouped by out-degree (as targets are by support size); per group, one gather of the
    rows of ``Y^T`` of each TF's targets (padded to the group's largest out-degree) and one
    batched GEMM with every replicate's weighted TF column, both within ``budget`` elements
    (default ``BLOCK_BYTES / 8``). Few large operations rather than one per TF: per-operation
    thread-pool overhead dominates otherwise.
    """
    import torch

    n_boot, n = weights.shape
    budget = budget or block_bytes() // 8
    y_rows = y.T.contiguous()  # no copy for a column-major block (target_blocks)
    tf, target = tf_t.cpu().numpy(), target_t.cpu().numpy()
    degree = np.bincount(tf, minlength=x.shape[1])
    starts = np.cumsum(degree) - degree  # edges are TF-major
    out = torch.empty(n_boot, len(tf), dtype=y.dtype, device=y.device)
    # per TF: its gathered rows and its B weighted columns
    groups = _group_targets(np.where(degree > 0, degree + n_boot, 0), max(budget // n, 1), power=1)
    # buffers for the gathered rows and the weighted columns, reused by every group: fresh pages cost
    # more than the copy (and large blocks are fresh pages every time, _return_freed_memory)
    buffer = torch.empty(max([len(g) * int(degree[g].max()) for g in groups] + [0]), n, dtype=y.dtype, device=y.device)
    columns = torch.empty(max([len(g) for g in groups] + [0]) * n_boot * n, dtype=y.dtype, device=y.device)
    as_t = lambda a: torch.as_tensor(a, device=y.device)  # noqa: E731
    for tfs in groups:
        slot = np.arange(int(degree[tfs].max()))[None, :]
        valid = slot < degree[tfs][:, None]
        pos = starts[tfs][:, None] + np.minimum(slot, degree[tfs][:, None] - 1)
        rows = buffer[:pos.size]
        gathered = torch.index_select(y_rows, 0, as_t(target[pos].ravel()), out=rows).view(*pos.shape, n)  # (g, m, n)
        tfs_t = as_t(tfs)
        weighted = torch.mul(weights[None, :, :], (x[:, tfs_t] - shift[tfs_t]).T[:, None, :],
                             out=columns[:len(tfs) * n_boot * n].view(len(tfs), n_boot, n))  # (g, B, n)
        products = torch.bmm(gathered, weighted.transpose(1, 2))  # (g, m, B)
        out[:, as_t(pos[valid])] = products[as_t(valid)].T
    return out


def _weighted_gram(x: "torch.Tensor", shift: "torch.Tensor", w: "torch.Tensor") -> "torch.Tensor":
    """``(X - shift)^T diag(w) (X - shift)`` over the rows with nonzero weight (a third of them are 0
    in a bootstrap)."""
    import torch

    rows = w > 0
    xr = x[rows]  # a copy, centred and weighted in place
    xr -= shift
    xr *= torch.sqrt(w[rows])[:, None]
    return xr.T @ xr


def _original_scale(values: "torch.Tensor", m: _Moments, edges: _Edges) -> tuple[np.ndarray, np.ndarray]:
    """Standardized edge weights (leading batch dims allowed) back on the original scale, and the
    intercepts ``y_mean - x_mean @ W``, float64; per-target sums in a fixed order on the CPU."""
    weights = (values / m.scale[..., edges.tf]).cpu().numpy().astype(np.float64)
    tf, target = edges.tf.cpu().numpy(), edges.target.cpu().numpy()
    shift = m.x_mean.cpu().numpy().astype(np.float64)[..., tf]
    shift *= weights
    y_mean = m.y_mean.cpu().numpy().astype(np.float64)
    rows = shift.reshape(int(np.prod(shift.shape[:-1], dtype=int)), len(tf))  # (-1, 0) would fail without edges
    per_target = [np.bincount(target, row, minlength=edges.n_targets) for row in rows]
    return weights, y_mean - np.reshape(per_target, y_mean.shape)
