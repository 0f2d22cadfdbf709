"""How well a transition GRN predicts held-out pairs, and how well it recovers a known network."""

from __future__ import annotations

import numpy as np
import pandas as pd


def squared_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column residual and total sums of squares, R^2's ingredients: blocks of columns can be
    summed separately (one scratch array of ``y_true``'s size)."""
    scratch = np.subtract(y_true, y_pred)
    ss_res = np.einsum("ij,ij->j", scratch, scratch)
    np.subtract(y_true, y_true.mean(0), out=scratch)
    return ss_res, np.einsum("ij,ij->j", scratch, scratch)


def r2_from_sums(ss_res: np.ndarray, ss_tot: np.ndarray) -> np.ndarray:
    """R^2 per gene from :func:`squared_sums`; NaN for genes constant in ``y_true``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def r2_overall_from_sums(ss_res: np.ndarray, ss_tot: np.ndarray) -> float:
    """Variance-weighted R^2 over all genes (sklearn's ``multioutput='variance_weighted'``) from
    :func:`squared_sums`. Weighting by variance keeps near-constant genes from dominating the summary."""
    total = ss_tot.sum()
    return float(1.0 - ss_res.sum() / total) if total > 0 else float("nan")


def r2_per_gene(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column; NaN for genes constant in ``y_true``."""
    return r2_from_sums(*squared_sums(y_true, y_pred))


def r2_overall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Variance-weighted R^2 over all genes (see :func:`r2_overall_from_sums`)."""
    return r2_overall_from_sums(*squared_sums(y_true, y_pred))


def early_precision_ratio(score: np.ndarray, label: np.ndarray) -> float:
    """BEELINE's early precision ratio: precision among the top-k scored edges, k = number of
    true edges, divided by the precision of a random ranking (the fraction of true edges).

    Edges tied with the k-th score are all included (as BEELINE does), so ties cannot be
    broken in the method's favour by edge order. NaN when there is no true or no false edge.
    """
    score, label = np.asarray(score, dtype=float), np.asarray(label, dtype=bool)
    k = int(label.sum())
    if k == 0 or k == len(label):
        return float("nan")
    threshold = np.sort(score)[::-1][k - 1]
    top = score >= threshold
    return float(label[top].mean() / label.mean())


def recovery_metrics(edges: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Agreement of fitted edge weights with a known network.

    ``edges``: ``tf, target_gene, weight`` for the transition's fitted (masked) edges.
    ``reference``: ``tf, target_gene, sign`` of the true edges. Edges are ranked by
    ``|weight|``; only edges in ``edges`` count, so the ratio measures what the fit adds
    beyond the prior. ``auprc_ratio`` = average precision / fraction of true edges (1 = chance).
    ``epr`` = :func:`early_precision_ratio` of ``|weight|``. ``epr_activation`` ranks edges by
    ``weight`` (most positive first) against the true activations, ``epr_repression`` by
    ``-weight`` against the true repressions: BEELINE's signed EPR, except that the ranking uses
    the sign the fit gives, so an edge only counts when its direction is right too.
    ``sign_accuracy`` = fraction of true, signed edges whose weight has the right sign.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    merged = edges.merge(reference[["tf", "target_gene", "sign"]], on=["tf", "target_gene"], how="left")
    label = merged["sign"].notna().to_numpy()
    weight = merged["weight"].to_numpy(dtype=float)
    score = np.abs(weight)
    sign = merged["sign"].fillna(0).to_numpy()
    out = {"auprc_ratio": float("nan"), "auroc": float("nan"), "sign_accuracy": float("nan"), "n_true_edges": int(label.sum())}
    if 0 < label.sum() < len(label):
        out["auprc_ratio"] = float(average_precision_score(label, score) / label.mean())
        out["auroc"] = float(roc_auc_score(label, score))
    out["epr"] = early_precision_ratio(score, label)
    out["epr_activation"] = early_precision_ratio(weight, label & (sign > 0))
    out["epr_repression"] = early_precision_ratio(-weight, label & (sign < 0))
    signed = label & (merged["sign"].fillna(0).to_numpy() != 0) & (merged["weight"].to_numpy() != 0)
    if signed.any():
        agree = np.sign(merged["weight"].to_numpy()[signed]) == merged["sign"].to_numpy()[signed]
        out["sign_accuracy"] = float(agree.mean())
    return out
