"""Co-factors: TF pairs whose joint effect on their shared targets is not additive.

For a TF pair ``(a, b)`` and each target ``j`` that both regulate in the prior, the additive
model of ``j`` (all its prior TFs and an intercept) is compared with the same model plus the
interaction ``x_a * x_b`` (of standardized TF levels). Adding one column to a least-squares
fit lowers the residual sum of squares by ``(r_z . r_y)^2 / |r_z|^2``, where ``r_y`` is the
additive model's residual and ``r_z`` the interaction's residual on the additive design, so
every (pair, target) test costs one projection. Per pair, the targets' F statistics (each
``F(1, n - k_j - 2)``) are averaged, ``F = mean_j gain_j / sigma_j^2``, and compared with
``F(m, min_j df_j)`` for ``m`` shared targets: the partial F-test of ``m`` interaction terms
when the targets' noises are independent, scale-free so that highly expressed targets do not
dominate. p-values are adjusted across the pairs tested by Benjamini-Hochberg.

Rows must be independent samples: :func:`transgrn.models.cofactors_transition` gives one row per
source cell (sampled partners of the same cell are averaged), not repeated pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COFACTOR_COLUMNS = ["tf_a", "tf_b", "n_shared_targets", "interaction", "f_stat", "df_num", "df_den",
                    "p_value", "q_value", "significant", "shared_targets"]


def candidate_tf_pairs(mask: np.ndarray, min_shared_targets: int, max_pairs: int) -> np.ndarray:
    """TF index pairs ``(a < b)`` sharing at least ``min_shared_targets`` prior targets, most shared first."""
    shared = mask.astype(np.int64) @ mask.T.astype(np.int64)
    a, b = np.triu_indices(len(mask), k=1)
    counts = shared[a, b]
    keep = counts >= min_shared_targets
    a, b, counts = a[keep], b[keep], counts[keep]
    order = np.lexsort((b, a, -counts))[:max_pairs]
    return np.column_stack([a[order], b[order]])


def _per_target_tests(x: np.ndarray, y: np.ndarray, mask: np.ndarray, pairs: np.ndarray) -> pd.DataFrame:
    """One row per (pair, shared target): interaction gain, the target's noise estimate and df."""
    n = len(x)
    xs = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    pair_id = {(int(a), int(b)): i for i, (a, b) in enumerate(pairs)}
    rows = []
    for j in range(mask.shape[1]):
        support = np.flatnonzero(mask[:, j])
        local = [(pair_id[(a, b)], a, b) for ia, a in enumerate(support) for b in support[ia + 1:] if (a, b) in pair_id]
        df = n - len(support) - 2
        if not local or df < 1:
            continue
        q, _ = np.linalg.qr(np.column_stack([np.ones(n), xs[:, support]]))
        resid_y = y[:, j] - q @ (q.T @ y[:, j])
        ids, a, b = (np.array(v) for v in zip(*local))
        z = xs[:, a] * xs[:, b]
        resid_z = z - q @ (q.T @ z)
        zz = (resid_z**2).sum(0)
        zy = resid_z.T @ resid_y
        ok = zz > 1e-10 * n  # an interaction already in the additive span carries no test
        gain = np.where(ok, zy**2 / np.where(ok, zz, 1.0), 0.0)
        rss1 = np.maximum((resid_y**2).sum() - gain, np.finfo(float).tiny)
        rows.append(pd.DataFrame({
            "pair": ids[ok], "target": j, "f": (gain / (rss1 / df))[ok], "df": df,
            # interaction per unit of standardized product, in units of the target's residual sd
            "coef": (zy / np.where(ok, zz, 1.0) / np.sqrt(rss1 / df))[ok],
        }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["pair", "target", "f", "df", "coef"])


def cofactor_tests(x: np.ndarray, y: np.ndarray, mask: np.ndarray, tfs, targets, min_shared_targets: int = 2,
                   max_pairs: int = 2000, fdr: float = 0.1) -> pd.DataFrame:
    """Test every candidate TF pair for a non-additive effect on its shared targets (see module docstring).

    ``x``: TF levels (samples x TFs), ``y``: target levels (samples x targets), ``mask``: the
    prior (TFs x targets). Returns :data:`COFACTOR_COLUMNS`, most significant first;
    ``interaction`` is the mean over shared targets of the interaction coefficient (per unit
    of standardized ``x_a * x_b``, in residual standard deviations of the target): positive
    when the two TFs reinforce each other (synergy), negative when one dampens the other.
    """
    from scipy import stats

    tfs, targets = np.asarray(tfs), np.asarray(targets)
    pairs = candidate_tf_pairs(np.asarray(mask, dtype=bool), min_shared_targets, max_pairs)
    tests = _per_target_tests(np.asarray(x, float), np.asarray(y, float), np.asarray(mask, bool), pairs)
    if tests.empty:
        return pd.DataFrame(columns=COFACTOR_COLUMNS)
    grouped = tests.groupby("pair")
    summary = pd.DataFrame({
        "n_shared_targets": grouped.size(), "f_stat": grouped["f"].mean(), "df_den": grouped["df"].min(),
        "interaction": grouped["coef"].mean(),
        "shared_targets": grouped["target"].agg(lambda t: ",".join(targets[np.sort(t.to_numpy())])),
    })
    summary = summary[summary["n_shared_targets"] >= min_shared_targets]
    if summary.empty:
        return pd.DataFrame(columns=COFACTOR_COLUMNS)
    summary["df_num"] = summary["n_shared_targets"]
    summary["p_value"] = stats.f.sf(summary["f_stat"], summary["df_num"], summary["df_den"])
    summary["q_value"] = stats.false_discovery_control(summary["p_value"].to_numpy(), method="bh")
    summary["significant"] = summary["q_value"] <= fdr
    summary["tf_a"] = tfs[pairs[summary.index, 0]]
    summary["tf_b"] = tfs[pairs[summary.index, 1]]
    summary = summary.sort_values(["p_value", "tf_a", "tf_b"], kind="stable")
    return summary[COFACTOR_COLUMNS].reset_index(drop=True)
