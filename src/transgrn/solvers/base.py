"""What every masked solver shares: reading Y a block of targets at a time, the torch device and
dtype, the layout of the prior's edges in per-target groups, and :class:`MaskedRegressor`.

``Y ~ X @ W + b`` with ``W`` zero outside a prior mask decomposes into one regression per target on
that target's prior TFs. Targets are sorted by their number of TFs and solved in groups, padded only
to the largest support within each group (:class:`_Group`).

Memory: ``Y`` (dense or scipy-sparse) is read one block of targets at a time
(:func:`target_blocks`, ``BLOCK_BYTES`` each), and fitted weights are kept per prior edge
(``edge_coef_``); no ``rows x targets`` or ``TFs x targets`` float array is built, except the
dense ``coef_`` on request and in :class:`~transgrn.solvers.adam.MaskedAdam`. Freed blocks go back
to the OS (:func:`_return_freed_memory`).
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Union

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
    """Within the ``with`` block, read Y and build Gram matrices in blocks of at most ``nbytes``."""
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


def fixed_penalty(alpha: float, chooser: str) -> float:
    """A solver's given penalty as a float; a string (the config's ``alpha: auto``) is refused, naming
    the estimator ``chooser`` that cross-validates it (:func:`transgrn.fit.make_transition_solver` picks it)."""
    if isinstance(alpha, str):
        raise ValueError(f"alpha must be a number, got {alpha!r}; {chooser} chooses it by cross-validation")
    return float(alpha)


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at ``max_iter`` before reaching its tolerance."""


def resolve_device(device: str = "auto") -> "torch.device":
    import torch

    _match_job_threads(torch)
    _return_freed_memory()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        from ..errors import ConfigError
        from ..config import CUDA_UNAVAILABLE

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
