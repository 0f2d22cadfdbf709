"""Masked linear regression ``Y ~ X @ W + b`` with ``W`` zero outside a prior mask.

The problem decomposes into one regression per target on that target's prior TFs. All the
Gram-based solvers here work from the same sufficient statistics (the TF Gram matrix, ``X^T Y``
at the prior edges and each target's sum of squares) and solve every target at once: targets
are sorted by their number of TFs and solved in batches, padded only to the largest support
within each batch (:class:`_Group`).

Memory: ``Y`` (dense or scipy-sparse) is read one block of targets at a time
(:func:`target_blocks`, ``BLOCK_BYTES`` each), and fitted weights are kept per prior edge
(``edge_coef_``); no ``rows x targets`` or ``TFs x targets`` float array is built, except the
dense ``coef_`` on request and in :class:`MaskedAdam`. Freed blocks go back to the OS
(:func:`_return_freed_memory`).

* :class:`MaskedRidge` -- closed form, batched Cholesky; ``alpha="auto"`` picks the penalty
  by generalized cross-validation from one eigendecomposition per target (or exact leave-one-out,
  or K-fold CV: :func:`select_alpha_ridge`), and fits at it from the same moments.
  :meth:`MaskedRidge.fit_weighted_batch` refits many row-weightings at once (bootstrap).
* :class:`MaskedElasticNet` / :class:`MaskedLasso` -- batched FISTA with adaptive restart and a
  per-target Lipschitz step, stopped on sklearn's duality-gap criterion
  (:func:`select_alpha_enet` for CV).
* :class:`MaskedAdam` -- the original notebook's dense masked weights trained by Adam, kept only
  for comparison.

Torch is imported lazily so that importing :mod:`transgrn` stays cheap.
"""

from __future__ import annotations

import functools
import os
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, Union

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    import torch


# Size of one dense float64 block of outputs (rows x targets): everything that reads Y does so one
# block of targets at a time, and holds two blocks at most (the next is built before the last is
# released). `block_budget` changes it for a piece of code (a tight memory limit; the tests use it
# to check that blocking changes no result).
BLOCK_BYTES = 32 * 2**20
_BLOCK_BYTES: ContextVar[int] = ContextVar("block_bytes", default=BLOCK_BYTES)


def block_bytes() -> int:
    """The current size of a block (:data:`BLOCK_BYTES` unless inside :func:`block_budget`)."""
    return _BLOCK_BYTES.get()


@contextmanager
def block_budget(nbytes: int) -> Iterator[None]:
    """Within the ``with`` block, read Y and batch Gram matrices in blocks of at most ``nbytes``."""
    token = _BLOCK_BYTES.set(int(nbytes))
    try:
        yield
    finally:
        _BLOCK_BYTES.reset(token)
Outputs = Union[np.ndarray, sp.spmatrix]  # Y: dense, or sparse (CSC slices targets fastest)


def target_blocks(y: Outputs, columns: np.ndarray | None = None,
                  height: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Y's ``columns`` (default: all, in order) as dense float64 blocks ``(column indices, rows x
    len(indices) copy)``, column-major (so that ``block.T`` is contiguous). The one place where Y is
    densified. A block holds at most :func:`block_bytes`, and so does a ``height x len(indices)`` array
    the caller builds per block (e.g. ``X^T Y``)."""
    columns = np.arange(y.shape[1]) if columns is None else np.asarray(columns)
    width = max(1, block_bytes() // (8 * max(y.shape[0], height, 1)))
    y = y.tocsc() if sp.issparse(y) else y
    for start in range(0, len(columns), width):
        cols = columns[start:start + width]
        block = y[:, cols].toarray(order="F") if sp.issparse(y) else y.T[cols].T
        yield cols, np.asarray(block, np.float64)


def values_at(mask: np.ndarray, values: np.ndarray, tf: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``A[tf, target]`` of the ``mask``-shaped ``A`` that holds ``values`` on the mask's edges
    (``np.nonzero(mask)`` order) and 0 elsewhere, without building ``A`` densely."""
    return np.asarray(sp.csr_matrix((values, np.nonzero(mask)), shape=mask.shape)[tf, target]).ravel()


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""


def resolve_device(device: str = "auto") -> "torch.device":
    import torch

    _match_job_threads(torch)
    _return_freed_memory()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from .errors import ConfigError
        from .options import CUDA_UNAVAILABLE

        raise ConfigError(CUDA_UNAVAILABLE)  # a setting to change, not a bug: one line in the log
    return torch.device(device)


def _match_job_threads(torch: Any) -> None:
    """Run torch's CPU kernels on the job's threads. Every solve makes its tensors through
    :func:`resolve_device`, so this runs before any torch work. Torch reads ``OMP_NUM_THREADS``
    (which Snakemake and :func:`transgrn.script.run` set from the rule's ``threads``) only when it
    is first imported; one imported earlier, e.g. by a notebook or test before the variable was
    set, would use every core (2 threads in a 1-thread job is slower on a shared machine, issue #11)."""
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0 and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))


@functools.cache
def _return_freed_memory() -> None:
    """Have glibc return large freed blocks to the OS (once per process; a no-op elsewhere).

    glibc raises its mmap threshold to the largest block freed so far (up to 32 MB); after the
    first Gram matrix is freed, the 1-50 MB tensors of a fit (Gram matrices, blocks of Y, the
    centred X) come from the heap, whose freed pages stay resident, fragmented. At atlas scale a
    job's resident memory then sat 200-400 MB above its live memory (2,500 cells a cluster, 20,000
    genes, 500,000 prior edges: a fit with ``fit.bootstrap: 20`` peaked at 1.12 GB instead of
    0.92 GB). A fixed threshold keeps blocks from 1 MB up on ``mmap``, unmapped when freed; code
    that allocates such blocks in a loop reuses a buffer instead (fresh pages cost time).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS)
        return
    m_mmap_threshold = -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 2**20)


def _torch_dtype(dtype: str) -> "torch.dtype":
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[dtype]


# --------------------------------------------------------------------------------------------
# Layout: prior edges and padded per-target groups
# --------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Targets solved together; each row lists one target's TFs, padded to the group's largest.

    ``support[i, j]`` is the TF in slot ``j`` of target ``targets[i]``, ``edge[i, j]`` its position
    in the edge list, and ``valid[i, j]`` says whether the slot is a real prior edge (padding
    slots repeat a real TF and are masked out everywhere).
    """

    targets: "torch.Tensor"
    support: "torch.Tensor"
    edge: "torch.Tensor"
    valid: "torch.Tensor"


@dataclass
class _Edges:
    """Prior edges in row-major mask order (so ``coef[mask]`` lists edge values) and the groups."""

    tf: "torch.Tensor"
    target: "torch.Tensor"
    n_tfs: int
    n_targets: int
    groups: list[_Group]
    empty: "torch.Tensor"  # targets without prior TFs: predicted by their intercept alone
    by_target: np.ndarray  # edge ids sorted by target, then TF ...
    bounds: np.ndarray  # ... those of target j at by_target[bounds[j]:bounds[j + 1]]


def _group_targets(sizes: np.ndarray, budget: int, power: int = 2) -> list[np.ndarray]:
    """Targets grouped by support size so that padding stays small and memory bounded.

    A group's padded block (``len(group) x k_max^power`` elements) stays within ``budget``
    unless a single target exceeds it alone.
    """
    order = np.argsort(sizes, kind="stable")
    order = order[sizes[order] > 0]
    groups, start = [], 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * int(sizes[order[stop]]) ** power <= budget:
            stop += 1
        groups.append(order[start:stop])
        start = stop
    return groups


def _edges(mask: np.ndarray, device: "torch.device", budget: int, power: int = 2) -> _Edges:
    """Edge list and padded groups of a mask (each group's ``len x k_max^power`` within ``budget``,
    :func:`_group_targets`); built once per fit and shared by all solves."""
    import torch

    tf, target = (np.ascontiguousarray(a) for a in np.nonzero(mask))
    by_target = np.lexsort((tf, target))  # edge ids sorted by target, then TF
    sizes = np.bincount(target, minlength=mask.shape[1])
    starts = np.cumsum(sizes) - sizes
    groups = []
    for targets in _group_targets(sizes, max(int(budget), 1), power):
        k = int(sizes[targets].max())
        slot = np.arange(k)[None, :]
        size = sizes[targets][:, None]
        edge = by_target[starts[targets][:, None] + np.minimum(slot, size - 1)]
        groups.append(_Group(*(torch.as_tensor(a, device=device) for a in (targets, tf[edge], edge, slot < size))))
    as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    return _Edges(as_t(tf), as_t(target), mask.shape[0], mask.shape[1], groups, as_t(np.flatnonzero(sizes == 0)),
                  by_target, np.append(starts, len(tf)))


@dataclass
class _Block:
    """One block of targets (:func:`_blocks`): its columns of Y and its prior edges (TF-major order)."""

    cols: slice
    y: "torch.Tensor"
    edge: "torch.Tensor"
    tf: "torch.Tensor"
    target: "torch.Tensor"  # relative to the block


def _blocks(y: Outputs, edges: _Edges, like: "torch.Tensor") -> Iterator[_Block]:
    """:func:`target_blocks` of Y on ``like``'s device and dtype, with the edges of each block."""
    import torch

    for cols, block in target_blocks(y, height=like.shape[1]):
        start, stop = int(cols[0]), int(cols[-1]) + 1
        edge = torch.as_tensor(np.sort(edges.by_target[edges.bounds[start]:edges.bounds[stop]]), device=like.device)
        yield _Block(slice(start, stop), torch.as_tensor(block, dtype=like.dtype, device=like.device), edge,
                     edges.tf[edge], edges.target[edge] - start)


def _sub_gram(gram: "torch.Tensor", group: _Group) -> "torch.Tensor":
    """Per-target Gram sub-matrices ``(..., b, k, k)``, zero on padding slots."""
    if gram.dim() == 2:  # one flat gather, the same values: 6.8 s instead of 7.8 s of an atlas fit's gathers
        import torch

        sub = torch.take(gram, group.support[:, :, None] * gram.shape[1] + group.support[:, None, :])
    else:
        sub = gram[..., group.support[:, :, None], group.support[:, None, :]]
    return sub.masked_fill_(~(group.valid[:, :, None] & group.valid[:, None, :]), 0.0)


def _sub_edges(values: "torch.Tensor", group: _Group) -> "torch.Tensor":
    """Per-target slices ``(..., b, k)`` of an edge-indexed tensor, zero on padding slots."""
    return values[..., group.edge].masked_fill_(~group.valid, 0.0)


def _scatter_edges(out: "torch.Tensor", group: _Group, solution: "torch.Tensor") -> None:
    """Write a group's ``(..., b, k)`` solution into the edge-indexed ``out`` (valid slots only)."""
    out[..., group.edge[group.valid]] = solution[..., group.valid]


# --------------------------------------------------------------------------------------------
# Sufficient statistics
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Base class
# --------------------------------------------------------------------------------------------


class MaskedRegressor:
    """Common interface: ``fit(X, Y, mask)``, ``predict(X)``, ``coef_``, ``intercept_``.

    ``Y`` may be dense or scipy-sparse (it is read a block of targets at a time). ``coef_`` is
    ``n_tfs x n_targets`` float64 and exactly zero outside ``mask``; it is built on access from
    ``edge_coef_`` (the weights of the mask's edges, ``np.nonzero(mask)`` order) and ``mask_``
    -- at scale, read weights with :meth:`coef_at` instead. ``standardize`` scales TF columns to
    unit (population) variance for fitting -- which changes what a penalty means, not the
    model -- and the weights are mapped back to the original scale.
    """

    edge_coef_: np.ndarray
    mask_: np.ndarray
    intercept_: np.ndarray

    @property
    def coef_(self) -> np.ndarray:
        coef = np.zeros(self.mask_.shape)
        coef[self.mask_] = self.edge_coef_
        return coef

    @coef_.setter
    def coef_(self, value: np.ndarray) -> None:  # a dense assignment keeps every entry
        self.mask_, self.edge_coef_ = np.ones(np.shape(value), dtype=bool), np.asarray(value, np.float64).ravel()

    def coef_at(self, tf: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``coef_[tf, target]`` without the dense ``coef_``."""
        return values_at(self.mask_, self.edge_coef_, tf, target)

    def __init__(self, fit_intercept: bool = True, device: str = "auto", dtype: str = "float64",
                 standardize: bool = False) -> None:
        self.fit_intercept = fit_intercept
        self.device = device
        self.dtype = dtype
        self.standardize = standardize

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def _check(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"X {x.shape} and Y {y.shape} must be 2-D with the same number of rows")
        if mask.shape != (x.shape[1], y.shape[1]):
            raise ValueError(f"mask {mask.shape} must be (n_tfs, n_targets) = {(x.shape[1], y.shape[1])}")
        return mask

    def _tensor(self, a: np.ndarray) -> "torch.Tensor":
        """``a`` on the resolved device and dtype (no copy for float64 numpy on CPU)."""
        import torch

        return torch.as_tensor(np.asarray(a), dtype=_torch_dtype(self.dtype), device=resolve_device(self.device))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.coef_ + self.intercept_


# --------------------------------------------------------------------------------------------
# Ridge
# --------------------------------------------------------------------------------------------


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


class MaskedRidge(MaskedRegressor):
    """Ridge per target, ``min ||y - X_S w - b||^2 + alpha ||w||^2`` over the target's prior TFs S.

    Same objective as ``sklearn.linear_model.Ridge(alpha)`` fitted on the masked columns.
    ``alpha="auto"`` chooses one alpha for all targets over ``alphas`` (default: a log grid
    relative to the mean TF sum of squares) by the least estimated prediction error pooled over
    targets, each target on its own masked design: ``cv="gcv"`` (default) generalized
    cross-validation, ``"loo"`` exact leave-one-out (as ``RidgeCV(cv=None)``), an integer K-fold CV
    with folds drawn from ``cv_seed`` (:func:`select_alpha_ridge`). It stores the alpha in
    ``alpha_`` and the error curve in ``cv_scores_``. ``max_batch_elements`` bounds the memory of
    one batch of padded Gram sub-matrices.
    """

    def __init__(self, alpha: float | str = 1.0, fit_intercept: bool = True, device: str = "auto",
                 dtype: str = "float64", max_batch_elements: int = 2**20, standardize: bool = False,
                 alphas: Sequence[float] | None = None, cv: str | int = "gcv", cv_seed: int = 0) -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.alpha = alpha
        self.max_batch_elements = max_batch_elements
        self.alphas = alphas
        self.cv = cv
        self.cv_seed = cv_seed

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedRidge":
        mask = self._check(x, y, mask)
        if self.alpha == "auto":  # the whole design's moments come with the choice: no second pass over Y
            self.alpha_, self.cv_scores_, m, edges = _ridge_cv(
                x, y, mask, self.alphas, self.cv, self.cv_seed, None, self.fit_intercept, self.standardize,
                self.device, self.dtype, self.max_batch_elements)
        else:
            self.alpha_ = float(self.alpha)
            xt = self._tensor(x)
            edges = _edges(mask, xt.device, self.max_batch_elements)
            m = _moments(xt, y, edges, self.fit_intercept, self.standardize, need_yy=False)
        self.mask_ = mask
        self.edge_coef_, self.intercept_ = _original_scale(_ridge_edges(m, edges, self.alpha_), m, edges)
        return self

    def _resolve_alpha(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> float:
        if self.alpha != "auto":
            return float(self.alpha)
        alpha, self.cv_scores_ = select_alpha_ridge(
            x, y, mask, self.alphas, cv=self.cv, seed=self.cv_seed, fit_intercept=self.fit_intercept,
            standardize=self.standardize, device=self.device, dtype=self.dtype,
            max_batch_elements=self.max_batch_elements)
        return alpha

    def fit_weighted_batch(self, x: np.ndarray, y: Outputs, mask: np.ndarray, sample_weight: np.ndarray,
                           dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """Refit once per row of ``sample_weight`` (``B x n``): one pass over Y for all of them, then
        as many Gram matrices at a time as fill ``BLOCK_BYTES``.

        Row weights ``w`` give ``sum_r w_r (y_r - x_r b - c)^2 + alpha ||b||^2`` (sklearn's
        ``sample_weight``); integer bootstrap counts make this the fit on the resampled rows. The
        alpha is resolved once on the unweighted data when ``alpha="auto"``. Returns edge weights
        ``B x n_edges`` (edges in ``np.nonzero(mask)`` order, original scale; as ``dtype``, e.g.
        float32 to halve the largest array where that precision is enough) and intercepts
        ``B x n_targets``.
        """
        import torch

        mask = self._check(x, y, mask)
        alpha = self._resolve_alpha(x, y, mask)
        xt = self._tensor(x)
        wt = torch.as_tensor(np.asarray(sample_weight), dtype=xt.dtype, device=xt.device)
        if wt.ndim != 2 or wt.shape[1] != xt.shape[0]:
            raise ValueError(f"sample_weight {tuple(wt.shape)} must be (n_fits, n_rows={xt.shape[0]})")
        edges = _edges(mask, xt.device, self.max_batch_elements // wt.shape[0])
        # filled a chunk of weightings at a time: concatenating per-chunk parts would hold them twice
        weights, intercepts = np.empty((len(wt), len(edges.tf)), dtype=dtype), np.empty((len(wt), edges.n_targets))
        done = 0
        for m in _weighted_moments(xt, y, wt, edges, self.fit_intercept, self.standardize):
            chunk = slice(done, done + len(m.gram))
            weights[chunk], intercepts[chunk] = _original_scale(_ridge_edges(m, edges, alpha), m, edges)
            done = chunk.stop
        return weights, intercepts


# --------------------------------------------------------------------------------------------
# Elastic net / lasso (batched FISTA)
# --------------------------------------------------------------------------------------------


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
    convergence on these strongly convex problems. Targets leave the batch once their duality
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
        if done.any():  # drop converged targets from the batch
            keep = ~done
            q, b, yy, w, z, t, idx = q[keep], b[keep], yy[keep], w[keep], z[keep], t[keep], idx[keep]
            step, threshold = step[keep], threshold[keep]
    return out, n_iter, converged


class MaskedElasticNet(MaskedRegressor):
    """Elastic net per target on its prior TFs, as ``sklearn.linear_model.ElasticNet(alpha, l1_ratio)``.

    Minimizes ``||y - X_S w - b||^2 / (2n) + alpha l1_ratio |w|_1 + alpha (1 - l1_ratio) / 2 |w|^2``
    with batched FISTA over all targets until every target's duality gap is below
    ``tol * ||y - mean(y)||^2 / n`` (sklearn's criterion) or ``max_iter``; warns when some target
    did not converge. After fit: ``n_iter_`` (largest number of iterations), ``converged_``.
    ``alpha="auto"`` picks alpha by K-fold CV (:func:`select_alpha_enet`), stored in ``alpha_``.
    """

    def __init__(self, alpha: float | str = 1.0, l1_ratio: float = 0.5, fit_intercept: bool = True,
                 standardize: bool = False, tol: float = 1e-4, max_iter: int = 5000, device: str = "auto",
                 dtype: str = "float64", max_batch_elements: int = 2**22, alphas: Sequence[float] | None = None,
                 n_folds: int = 5, cv_seed: int = 0) -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.alpha, self.l1_ratio, self.tol, self.max_iter = alpha, l1_ratio, tol, max_iter
        self.max_batch_elements, self.alphas, self.n_folds, self.cv_seed = max_batch_elements, alphas, n_folds, cv_seed

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedElasticNet":
        import torch

        mask = self._check(x, y, mask)
        self.alpha_ = self._resolve_alpha(x, y, mask)
        xt = self._tensor(x)
        edges = _edges(mask, xt.device, self.max_batch_elements)
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
                          f"targets (tol={self.tol}); increase max_iter or alpha", ConvergenceWarning, stacklevel=2)
        self.mask_ = mask
        self.edge_coef_, self.intercept_ = _original_scale(weights, m, edges)
        return self

    def _resolve_alpha(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> float:
        if self.alpha != "auto":
            return float(self.alpha)
        alpha, self.cv_scores_ = select_alpha_enet(
            x, y, mask, self.alphas, l1_ratio=self.l1_ratio, n_folds=self.n_folds, seed=self.cv_seed,
            fit_intercept=self.fit_intercept, standardize=self.standardize, tol=self.tol, max_iter=self.max_iter,
            device=self.device, dtype=self.dtype, max_batch_elements=self.max_batch_elements)
        return alpha


class MaskedLasso(MaskedElasticNet):
    """Lasso per target on its prior TFs, as ``sklearn.linear_model.Lasso(alpha)`` (``l1_ratio = 1``)."""

    def __init__(self, alpha: float | str = 1.0, fit_intercept: bool = True, standardize: bool = False,
                 tol: float = 1e-4, max_iter: int = 5000, device: str = "auto", dtype: str = "float64",
                 max_batch_elements: int = 2**22, alphas: Sequence[float] | None = None, n_folds: int = 5,
                 cv_seed: int = 0) -> None:
        super().__init__(alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept, standardize=standardize, tol=tol,
                         max_iter=max_iter, device=device, dtype=dtype, max_batch_elements=max_batch_elements,
                         alphas=alphas, n_folds=n_folds, cv_seed=cv_seed)

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.pop("l1_ratio")  # fixed at 1: keeps ``MaskedLasso(**model.get_params())`` valid
        return params


# --------------------------------------------------------------------------------------------
# Adam (the notebook's method, for comparison)
# --------------------------------------------------------------------------------------------


class MaskedAdam(MaskedRegressor):
    """The original notebook's fit: dense ``W * mask`` trained by full-batch Adam on the MSE.

    Loss ``mean((Y - X (W*M) - b)^2) + alpha / (n T) ||W*M||^2``, so that its minimizer is
    :class:`MaskedRidge` with the same ``alpha``; after ``epochs`` steps it is only approximately
    reached. Kept for comparison: it costs ``O(n p T)`` per epoch for every epoch. The initial
    weights (``nn.Linear``'s uniform(+-1/sqrt(p))) come from a CPU ``torch.Generator`` seeded with
    ``seed``, so fits are reproducible and identical across devices. ``loss_history_`` holds the
    loss at every epoch.
    """

    def __init__(self, alpha: float = 0.0, lr: float = 1e-2, epochs: int = 1000, seed: int = 0,
                 fit_intercept: bool = True, standardize: bool = False, device: str = "auto",
                 dtype: str = "float64") -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype, standardize=standardize)
        self.alpha, self.lr, self.epochs, self.seed = alpha, lr, epochs, seed

    def fit(self, x: np.ndarray, y: Outputs, mask: np.ndarray) -> "MaskedAdam":
        import torch

        mask = self._check(x, y, mask)
        xt, yt = self._tensor(x), self._tensor(y.toarray() if sp.issparse(y) else y)  # dense by design
        n, p = xt.shape
        scale = torch.ones(p, dtype=xt.dtype, device=xt.device)
        if self.standardize:
            scale = _column_scale(torch.var(xt, 0, correction=0), 1.0)
        xs = xt / scale
        mask_t = torch.as_tensor(mask, dtype=xt.dtype, device=xt.device)
        generator = torch.Generator().manual_seed(int(self.seed))
        init = (torch.rand(mask.shape, generator=generator, dtype=xt.dtype) * 2 - 1) / np.sqrt(p)
        weight = init.to(xt.device).requires_grad_(True)
        bias = torch.zeros(yt.shape[1], dtype=xt.dtype, device=xt.device, requires_grad=self.fit_intercept)
        optimizer = torch.optim.Adam([weight, bias] if self.fit_intercept else [weight], lr=self.lr)
        history = torch.empty(self.epochs, dtype=xt.dtype, device=xt.device)
        penalty = float(self.alpha) / yt.numel()
        for epoch in range(self.epochs):
            optimizer.zero_grad(set_to_none=True)
            masked = weight * mask_t
            loss = ((xs @ masked + bias - yt) ** 2).mean() + penalty * (masked * masked).sum()
            loss.backward()
            optimizer.step()
            history[epoch] = loss.detach()
        self.loss_history_ = history.cpu().numpy().astype(np.float64)
        self.mask_ = mask
        weights = (weight.detach() / scale[:, None])[torch.as_tensor(mask, device=xt.device)]
        self.edge_coef_ = weights.cpu().numpy().astype(np.float64)
        self.intercept_ = bias.detach().cpu().numpy().astype(np.float64)
        return self


# --------------------------------------------------------------------------------------------
# Penalty selection by K-fold CV
# --------------------------------------------------------------------------------------------


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


def select_alpha_ridge(x: np.ndarray, y: Outputs, mask: np.ndarray, alphas: Sequence[float] | None = None,
                       cv: str | int = "gcv", seed: int = 0, *, fit_intercept: bool = True,
                       standardize: bool = False, groups: np.ndarray | None = None, device: str = "auto",
                       dtype: str = "float64", max_batch_elements: int = 2**20) -> tuple[float, np.ndarray]:
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
    alpha, scores, _, _ = _ridge_cv(x, y, mask, alphas, cv, seed, groups, fit_intercept, standardize, device,
                                    dtype, max_batch_elements)
    return alpha, scores


def _ridge_cv(x: np.ndarray, y: Outputs, mask: np.ndarray, alphas: Sequence[float] | None, cv: str | int,
              seed: int, groups: np.ndarray | None, fit_intercept: bool, standardize: bool, device: str, dtype: str,
              max_batch_elements: int) -> tuple[float, np.ndarray, _Moments, _Edges]:
    """:func:`select_alpha_ridge`'s alpha and scores, with the whole design's moments and the edges
    (for the fit at that alpha, :meth:`MaskedRidge.fit`)."""
    import torch

    if cv not in ("gcv", "loo") and not (isinstance(cv, (int, np.integer)) and not isinstance(cv, bool) and cv >= 2):
        raise ValueError(f"select_alpha_ridge: cv must be 'gcv', 'loo' or a number of folds >= 2, got {cv!r}")
    if cv in ("gcv", "loo"):
        mask = MaskedRegressor()._check(x, y, mask)
        xt = MaskedRegressor(device=device, dtype=dtype)._tensor(x)
        edges = _edges(mask, xt.device, max_batch_elements)
        full = _moments(xt, y, edges, fit_intercept, standardize)
    else:
        xt, edges, folds = _cv_setup(x, y, mask, int(cv), seed, groups, fit_intercept, device, dtype,
                                     max_batch_elements)
        full = _full_moments(folds, edges, fit_intercept, standardize)
    if alphas is None:
        alphas = float(torch.diagonal(full.gram).mean()) * np.logspace(*RIDGE_ALPHA_GRID)
    alphas = np.asarray(alphas, dtype=float)
    alpha_t = torch.as_tensor(alphas, dtype=xt.dtype, device=xt.device)
    if (alpha_t <= 0).any():
        raise ValueError("select_alpha_ridge: alphas must be > 0")
    n = xt.shape[0]
    # estimated held-out squared errors summed over rows and targets; targets without TFs: their mean's
    if cv == "gcv":
        sse = sum((_ridge_gcv_error(full, group, alpha_t, fit_intercept) for group in edges.groups),
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
    return least_cv_error(scores, alphas), scores, full, edges


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


def _ridge_gcv_error(m: _Moments, group: _Group, alphas: "torch.Tensor", fit_intercept: bool) -> "torch.Tensor":
    """GCV estimate of one group's held-out squared errors for every alpha, ``RSS / (1 - df/n)^2``
    summed over its targets, from one eigendecomposition per target (:func:`select_alpha_ridge`)."""
    lam, _, q = _eigen_system(m, group)
    shrink = 1.0 / (lam[:, None, :] + alphas[None, :, None])  # (b, n_alphas, k)
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
    columns = torch.index_select(xt.T, 1, torch.as_tensor(order, device=xt.device))
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


def select_alpha_enet(x: np.ndarray, y: Outputs, mask: np.ndarray, alphas: Sequence[float] | None = None,
                      l1_ratio: float = 1.0, n_folds: int = 5, seed: int = 0, *, fit_intercept: bool = True,
                      standardize: bool = False, groups: np.ndarray | None = None, tol: float = 1e-4,
                      max_iter: int = 5000, device: str = "auto", dtype: str = "float64",
                      max_batch_elements: int = 2**22) -> tuple[float, np.ndarray]:
    """One lasso/elastic-net alpha for all targets, by K-fold CV with warm starts down the path.

    The folds and moments of :func:`select_alpha_ridge`'s K-fold CV; per fold the alphas are visited from
    large to small, each solve starting from the previous solution. Default ``alphas``: 10 values
    log-spaced from ``alpha_max`` (all weights zero) down to ``1e-3 alpha_max``, as in
    sklearn's ``LassoCV``. Returns the best alpha and the CV MSE per alpha (order of ``alphas``).
    """
    import torch

    xt, edges, folds = _cv_setup(x, y, mask, n_folds, seed, groups, fit_intercept, device, dtype,
                                 max_batch_elements)
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


SOLVERS: dict[str, type[MaskedRegressor]] = {
    "ridge": MaskedRidge,
    "lasso": MaskedLasso,
    "elasticnet": MaskedElasticNet,
    "adam": MaskedAdam,
}


def make_solver(name: str, **params: Any) -> MaskedRegressor:
    if name not in SOLVERS:
        raise ValueError(f"fit.solver: unknown solver {name!r}; choose one of {sorted(SOLVERS)}")
    return SOLVERS[name](**params)
