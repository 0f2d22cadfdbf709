"""The original notebook's fit, kept only for comparison: dense masked weights trained by
full-batch Adam (:class:`MaskedAdam`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import MaskedRegressor, Outputs
from .moments import _column_scale

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
