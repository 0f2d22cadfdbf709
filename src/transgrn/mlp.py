"""A masked neural network: the nonlinear counterpart of the masked linear regression.

Each target ``j`` has its own small network that sees only its prior TFs ``S_j``::

    y_j = sum_i L[i, j] x_i  +  sum_h v[j, h] tanh(sum_{i in S_j} U[i, j, h] x_i + c[j, h])  +  b_j

The linear part ``L`` (masked like ``U``) makes the linear model a special case, so the network
can only be better than the regression where the relation really bends. All targets are
trained together: one masked ``(n, p) @ (p, T*H)`` product gives every hidden unit, so the cost
is that of a dense layer and the work runs on CUDA when ``device`` resolves to it.

Training is full-batch Adam on standardized inputs and outputs, from weights drawn with a CPU
generator seeded by the caller (so a fit is reproducible, and identical on CPU for the same
seed). Early stopping is per target: the network of target ``j`` keeps the parameters of its
epoch with the lowest loss on held-out validation pairs, and training stops once no target
has improved for ``patience`` epochs. A target whose relation is pure noise therefore stays
near its initial (mean) prediction instead of overfitting.

The attribution of edge ``i -> j`` is the mean over the given pairs of ``d y_j / d x_i`` in the
original units: for a linear network it is exactly the linear weight, so the two are
comparable, and its sign says whether the TF on average activates or represses the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .solvers import resolve_device

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 4
    max_epochs: int = 600
    patience: int = 40
    learning_rate: float = 0.02
    weight_decay: float = 1e-4
    validation_fraction: float = 0.2


def _standardize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = values.mean(0)
    scale = values.std(0)
    return mean, np.where(scale > 0, scale, 1.0)


class MaskedMLP:
    """Per-target masked networks trained together (see the module docstring).

    ``fit(x, y, mask, x_val, y_val)``; ``predict(x)``; ``attribution(x)`` gives the mean input
    gradient per prior edge (``n_tfs x n_targets``, zero outside the mask). ``best_epoch_`` holds
    each target's early-stopping epoch (0 = the initial, near-constant prediction).
    """

    def __init__(self, config: MLPConfig = MLPConfig(), seed: int = 0, device: str = "auto") -> None:
        self.config = config
        self.seed = int(seed)
        self.device = device

    # ---------------------------------------------------------------- parameters and forward

    def _init(self, mask: np.ndarray) -> dict[str, "torch.Tensor"]:
        import torch

        p, t = mask.shape
        h = self.config.hidden
        generator = torch.Generator().manual_seed(self.seed)
        fan_in = np.maximum(mask.sum(0), 1).astype(np.float32)  # prior TFs per target
        u = torch.randn(p, t, h, generator=generator) / torch.as_tensor(np.sqrt(fan_in))[None, :, None]
        params = {
            "U": u,
            "c": torch.randn(t, h, generator=generator) * 0.1,
            "v": torch.randn(t, h, generator=generator) * 0.1 / np.sqrt(h),
            "L": torch.zeros(p, t),
            "b": torch.zeros(t),
        }
        return {k: v.to(self._device).requires_grad_(True) for k, v in params.items()}

    def _hidden(self, x: "torch.Tensor", params: dict) -> "torch.Tensor":
        p, t, h = params["U"].shape
        pre = x @ (params["U"] * self._mask3).reshape(p, t * h)
        return pre.reshape(len(x), t, h) + params["c"]

    def _forward(self, x: "torch.Tensor", params: dict) -> "torch.Tensor":
        import torch

        hidden = torch.tanh(self._hidden(x, params))
        return (hidden * params["v"]).sum(-1) + x @ (params["L"] * self._mask2) + params["b"]

    # ---------------------------------------------------------------- training

    def fit(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray, x_val: np.ndarray, y_val: np.ndarray) -> "MaskedMLP":
        import torch

        self._device = resolve_device(self.device)
        mask = np.asarray(mask, dtype=bool)
        self.x_mean_, self.x_scale_ = _standardize(x)
        self.y_mean_, self.y_scale_ = _standardize(y)
        as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=self._device)  # noqa: E731
        xs, ys = as_t((x - self.x_mean_) / self.x_scale_), as_t((y - self.y_mean_) / self.y_scale_)
        xv, yv = as_t((x_val - self.x_mean_) / self.x_scale_), as_t((y_val - self.y_mean_) / self.y_scale_)
        self._mask2 = as_t(mask)
        self._mask3 = self._mask2[:, :, None]
        params = self._init(mask)
        optimizer = torch.optim.AdamW(params.values(), lr=self.config.learning_rate, weight_decay=self.config.weight_decay,
                                      foreach=True)
        best = {k: v.detach().clone() for k, v in params.items()}
        with torch.no_grad():
            best_loss = ((self._forward(xv, params) - yv) ** 2).mean(0)
        best_epoch = torch.zeros(mask.shape[1], dtype=torch.long, device=self._device)
        since = 0
        for epoch in range(1, self.config.max_epochs + 1):
            optimizer.zero_grad(set_to_none=True)
            # sum over targets of each target's mean loss: every target's network learns at the same rate
            loss = ((self._forward(xs, params) - ys) ** 2).mean(0).sum()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                val = ((self._forward(xv, params) - yv) ** 2).mean(0)
                better = val < best_loss - 1e-6
                if better.any():
                    best_loss = torch.where(better, val, best_loss)
                    best_epoch[better] = epoch
                    _copy_targets(best, params, better)
                    since = 0
                else:
                    since += 1
            if since >= self.config.patience:
                break
        self.params_ = best
        self.best_epoch_ = best_epoch.cpu().numpy()
        self.epochs_ = epoch
        return self

    # ---------------------------------------------------------------- use

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        xs = torch.as_tensor(((x - self.x_mean_) / self.x_scale_).astype(np.float32), device=self._device)
        with torch.no_grad():
            out = self._forward(xs, self.params_).cpu().numpy().astype(np.float64)
        return out * self.y_scale_ + self.y_mean_

    def attribution(self, x: np.ndarray) -> np.ndarray:
        """Mean of ``d y_j / d x_i`` over the rows of ``x``, in original units, per prior edge.

        Exact and cheap: ``y_j`` depends on ``x`` only through its own hidden units, so the
        gradient is ``L + U . mean(v * tanh'(hidden))``, one pass over the rows.
        """
        import torch

        xs = torch.as_tensor(((x - self.x_mean_) / self.x_scale_).astype(np.float32), device=self._device)
        with torch.no_grad():
            slope = 1.0 - torch.tanh(self._hidden(xs, self.params_)) ** 2  # (n, T, H)
            mean_slope = (slope * self.params_["v"]).mean(0)  # (T, H)
            grad = self.params_["L"] * self._mask2 + ((self.params_["U"] * self._mask3) * mean_slope).sum(-1)
        grad = grad.cpu().numpy().astype(np.float64)
        return grad * self.y_scale_[None, :] / self.x_scale_[:, None] * np.asarray(self._mask2.cpu().numpy(), dtype=bool)


def _copy_targets(best: dict, params: dict, better: "torch.Tensor") -> None:
    """Copy the improved targets' parameters into ``best`` (targets are the axis of size T)."""
    best["U"][:, better] = params["U"].detach()[:, better]
    best["L"][:, better] = params["L"].detach()[:, better]
    best["c"][better] = params["c"].detach()[better]
    best["v"][better] = params["v"].detach()[better]
    best["b"][better] = params["b"].detach()[better]
