"""Masked linear regression ``Y ~ X @ W + b`` with ``W`` zero outside a prior mask.

The problem decomposes into one regression per target on that target's prior TFs.
:class:`MaskedRidge` solves all of them in closed form from one Gram matrix: targets are
sorted by their number of TFs and solved in batches of Cholesky factorizations, padded
only to the largest support within each batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def resolve_device(device: str = "auto") -> "torch.device":  # noqa: F821
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("fit.device is 'cuda' but torch sees no CUDA device; use 'auto' or 'cpu'")
    return torch.device(device)


def _torch_dtype(dtype: str):
    import torch

    return {"float32": torch.float32, "float64": torch.float64}[dtype]


class MaskedRegressor:
    """Common interface: ``fit(X, Y, mask)``, ``predict(X)``, ``coef_``, ``intercept_``."""

    coef_: np.ndarray
    intercept_: np.ndarray

    def __init__(self, fit_intercept: bool = True, device: str = "auto", dtype: str = "float64") -> None:
        self.fit_intercept = fit_intercept
        self.device = device
        self.dtype = dtype

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def _check(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask, dtype=bool)
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"X {x.shape} and Y {y.shape} must be 2-D with the same number of rows")
        if mask.shape != (x.shape[1], y.shape[1]):
            raise ValueError(f"mask {mask.shape} must be (n_tfs, n_targets) = {(x.shape[1], y.shape[1])}")
        return mask

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.coef_ + self.intercept_


class MaskedRidge(MaskedRegressor):
    """Ridge per target, ``min ||y - X_S w - b||^2 + alpha ||w||^2`` over the target's prior TFs S.

    Same objective as ``sklearn.linear_model.Ridge(alpha)`` fitted on the masked columns.
    ``max_batch_elements`` bounds the memory of one batch of padded Gram sub-matrices.
    """

    def __init__(self, alpha: float = 1.0, fit_intercept: bool = True, device: str = "auto",
                 dtype: str = "float64", max_batch_elements: int = 2**22) -> None:
        super().__init__(fit_intercept=fit_intercept, device=device, dtype=dtype)
        self.alpha = alpha
        self.max_batch_elements = max_batch_elements

    def fit(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> "MaskedRidge":
        import torch

        mask = self._check(x, y, mask)
        device, dtype = resolve_device(self.device), _torch_dtype(self.dtype)
        xt = torch.as_tensor(np.asarray(x), dtype=dtype, device=device)
        yt = torch.as_tensor(np.asarray(y), dtype=dtype, device=device)
        x_mean = xt.mean(0) if self.fit_intercept else torch.zeros(xt.shape[1], dtype=dtype, device=device)
        y_mean = yt.mean(0) if self.fit_intercept else torch.zeros(yt.shape[1], dtype=dtype, device=device)
        xc, yc = xt - x_mean, yt - y_mean
        gram, cross = xc.T @ xc, xc.T @ yc
        coef = torch.zeros(xt.shape[1], yt.shape[1], dtype=dtype, device=device)
        mask_t = torch.as_tensor(mask, device=device)
        for targets in self._batches(mask):
            coef[:, targets] = self._solve_batch(gram, cross, mask_t, torch.as_tensor(targets, device=device))
        self.coef_ = coef.cpu().numpy().astype(np.float64)
        self.intercept_ = (y_mean - x_mean @ coef).cpu().numpy().astype(np.float64)
        return self

    def _batches(self, mask: np.ndarray) -> list[np.ndarray]:
        """Targets grouped by support size so that padding stays small and memory bounded."""
        sizes = mask.sum(0)
        order = np.argsort(sizes, kind="stable")
        order = order[sizes[order] > 0]
        batches, start = [], 0
        while start < len(order):
            # grow the batch while the padded block (batch x k_max^2) fits the budget
            stop = start + 1
            while stop < len(order) and (stop - start + 1) * int(sizes[order[stop]]) ** 2 <= self.max_batch_elements:
                stop += 1
            batches.append(order[start:stop])
            start = stop
        return batches

    def _solve_batch(self, gram, cross, mask_t, targets):
        import torch

        sub_mask = mask_t[:, targets].T  # batch x n_tfs
        k = int(sub_mask.sum(1).max())
        # indices of each target's TFs first (stable sort keeps TF order), padded with other TFs
        support = torch.argsort((~sub_mask).to(torch.int8), dim=1, stable=True)[:, :k]
        valid = torch.gather(sub_mask, 1, support)
        pair_valid = valid[:, :, None] & valid[:, None, :]
        eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
        system = gram[support[:, :, None], support[:, None, :]] * pair_valid
        # padded coordinates become identity rows with zero right-hand side, so they solve to 0
        system = system + eye * torch.where(valid, self.alpha, 1.0).to(gram.dtype)[:, None, :]
        rhs = (cross[support, targets[:, None]] * valid)[..., None]
        factor, info = torch.linalg.cholesky_ex(system)
        solution = torch.cholesky_solve(rhs, factor)
        singular = info != 0
        if singular.any():  # alpha = 0 with collinear TFs: minimum-norm least squares
            solution[singular] = torch.linalg.pinv(system[singular]) @ rhs[singular]
        out = torch.zeros(gram.shape[0], len(targets), dtype=gram.dtype, device=gram.device)
        out.scatter_(0, support.T, (solution[..., 0] * valid).T)
        return out


SOLVERS: dict[str, type[MaskedRegressor]] = {"ridge": MaskedRidge}


def make_solver(name: str, **params: Any) -> MaskedRegressor:
    if name not in SOLVERS:
        raise ValueError(f"fit.solver: unknown solver {name!r}; choose one of {sorted(SOLVERS)}")
    return SOLVERS[name](**params)
