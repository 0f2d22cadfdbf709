"""How well a transition GRN predicts held-out pairs, and how well it recovers a known network."""

from __future__ import annotations

import numpy as np
import pandas as pd


def r2_per_gene(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column; NaN for genes constant in ``y_true``."""
    ss_res = ((y_true - y_pred) ** 2).sum(0)
    ss_tot = ((y_true - y_true.mean(0)) ** 2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan)


def r2_overall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Variance-weighted R^2 over all genes (sklearn's ``multioutput='variance_weighted'``).

    Weighting by variance keeps near-constant genes from dominating the summary.
    """
    ss_tot = ((y_true - y_true.mean(0)) ** 2).sum()
    if ss_tot <= 0:
        return float("nan")
    return float(1.0 - ((y_true - y_pred) ** 2).sum() / ss_tot)


def recovery_metrics(edges: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Agreement of fitted edge weights with a known network.

    ``edges``: ``tf, target_gene, weight`` for the transition's fitted (masked) edges.
    ``reference``: ``tf, target_gene, sign`` of the true edges. Edges are ranked by
    ``|weight|``; only edges in ``edges`` count, so the ratio measures what the fit adds
    beyond the prior. ``auprc_ratio`` = average precision / fraction of true edges (1 = chance).
    ``sign_accuracy`` = fraction of true, signed edges whose weight has the right sign.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    merged = edges.merge(reference[["tf", "target_gene", "sign"]], on=["tf", "target_gene"], how="left")
    label = merged["sign"].notna().to_numpy()
    score = merged["weight"].abs().to_numpy()
    out = {"auprc_ratio": float("nan"), "auroc": float("nan"), "sign_accuracy": float("nan"), "n_true_edges": int(label.sum())}
    if 0 < label.sum() < len(label):
        out["auprc_ratio"] = float(average_precision_score(label, score) / label.mean())
        out["auroc"] = float(roc_auc_score(label, score))
    signed = label & (merged["sign"].fillna(0).to_numpy() != 0) & (merged["weight"].to_numpy() != 0)
    if signed.any():
        agree = np.sign(merged["weight"].to_numpy()[signed]) == merged["sign"].to_numpy()[signed]
        out["sign_accuracy"] = float(agree.mean())
    return out
