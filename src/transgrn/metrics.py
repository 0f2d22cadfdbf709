"""How well a transition GRN predicts held-out pairs, and how well it recovers a known network."""

from __future__ import annotations

import numpy as np
import pandas as pd


def squared_sums(y_true: np.ndarray, y_pred: np.ndarray, center: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-column residual and total sums of squares, R^2's ingredients: blocks of columns can be
    summed separately (one scratch array of ``y_true``'s size).

    The total is taken about ``center``: for held-out data pass the mean of the rows the model was
    fitted on (out-of-sample R^2), so that a model that predicts nothing -- the training mean --
    scores exactly 0. About the test rows' own mean (``center=None``) even that model scores
    below 0 on a small test split, which no fit could beat.
    """
    scratch = np.subtract(y_true, y_pred)
    ss_res = np.einsum("ij,ij->j", scratch, scratch)
    np.subtract(y_true, y_true.mean(0) if center is None else center, out=scratch)
    return ss_res, np.einsum("ij,ij->j", scratch, scratch)


# An R^2 closer to 0 than this is a prediction equal to the centre up to rounding -- a fit that
# shrank every weight to 0 predicts its intercept, the training mean summed in another order, so
# SSE and SST differ in their last bits -- and is reported as 0, not as noise like -3e-16.
R2_ROUNDING = 1e-12


def _zero_rounding(r2: np.ndarray) -> np.ndarray:
    return np.where(np.abs(r2) < R2_ROUNDING, 0.0, r2)  # NaN stays NaN


def r2_from_sums(ss_res: np.ndarray, ss_tot: np.ndarray) -> np.ndarray:
    """R^2 per gene from :func:`squared_sums`; NaN for genes constant in ``y_true``, 0 within
    :data:`R2_ROUNDING` of 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _zero_rounding(np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, np.nan))


def r2_overall_from_sums(ss_res: np.ndarray, ss_tot: np.ndarray) -> float:
    """Variance-weighted R^2 over all genes (sklearn's ``multioutput='variance_weighted'``) from
    :func:`squared_sums`, 0 within :data:`R2_ROUNDING` of 0. Weighting by variance keeps
    near-constant genes from dominating the summary."""
    total = ss_tot.sum()
    return float(_zero_rounding(1.0 - ss_res.sum() / total)) if total > 0 else float("nan")


def column_means(y) -> np.ndarray:
    """Per-column means of a dense or sparse matrix, as a float64 vector (a fit's training mean)."""
    return np.asarray(y.mean(axis=0), dtype=np.float64).ravel()


def r2_per_gene(y_true: np.ndarray, y_pred: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Coefficient of determination per column (about ``center``, see :func:`squared_sums`); NaN for constant genes."""
    return r2_from_sums(*squared_sums(y_true, y_pred, center))


def r2_overall(y_true: np.ndarray, y_pred: np.ndarray, center: np.ndarray | None = None) -> float:
    """Variance-weighted R^2 over all genes (see :func:`r2_overall_from_sums`)."""
    return r2_overall_from_sums(*squared_sums(y_true, y_pred, center))


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


def _threshold_counts(score: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each distinct score, from the highest down: the points of the
    ROC and precision-recall curves, one per threshold (tied edges enter together)."""
    order = np.argsort(score, kind="stable")[::-1]
    ranked = score[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # the last edge of each tie group
    tps = np.cumsum(label[order], dtype=np.float64)[last]
    return tps, (last + 1) - tps


def average_precision(label: np.ndarray, score: np.ndarray) -> float:
    """scikit-learn's ``average_precision_score``, the step integral ``sum_k (R_k - R_{k-1}) P_k``
    over thresholds, in sklearn's order of operations (the same value bit for bit, checked in
    tests/test_evaluate.py, ties included). Written here because importing sklearn costs every
    evaluation job about a second (issue #11)."""
    tps, fps = _threshold_counts(np.asarray(score, dtype=float), np.asarray(label, dtype=bool))
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]
    recall = np.r_[(tps / tps[-1])[::-1], 0.0]
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def roc_auc(label: np.ndarray, score: np.ndarray) -> float:
    """scikit-learn's ``roc_auc_score`` for one binary label, bit for bit: trapezoids under the ROC
    curve, a tie group one segment (so a tie counts half), collinear points dropped first as
    ``roc_curve`` does."""
    tps, fps = _threshold_counts(np.asarray(score, dtype=float), np.asarray(label, dtype=bool))
    if len(fps) > 2:
        corners = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        tps, fps = tps[corners], fps[corners]
    tpr, fpr = np.r_[0.0, tps] / tps[-1], np.r_[0.0, fps] / fps[-1]
    return float(np.add.reduce(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


# A target's held-out R^2 "beats the null" when it exceeds the random pairing's by this much
# (frac_targets_above_null): per-gene null R^2 scatters around 0 by a few hundredths.
NULL_MARGIN = 0.05


def gene_r2_summary(r2_test: np.ndarray, r2_null: np.ndarray, margin: float = NULL_MARGIN) -> dict[str, float]:
    """Per-gene summaries of held-out accuracy over the targets that vary in the test pairs.

    The pooled (variance-weighted) R^2 is dominated by the highest-variance genes, which on real
    data are often the noisiest, so it can be negative while many genes are predicted well; the
    median and the share of targets beating the null say how typical genes fare.
    """
    r2_test, r2_null = np.asarray(r2_test, dtype=float), np.asarray(r2_null, dtype=float)
    varies = ~np.isnan(r2_test)
    both = varies & ~np.isnan(r2_null)
    nan = float("nan")
    return {
        "r2_test_median": float(np.median(r2_test[varies])) if varies.any() else nan,
        "r2_test_null_median": float(np.median(r2_null[both])) if both.any() else nan,
        "frac_targets_above_null": float(np.mean(r2_test[both] > r2_null[both] + margin)) if both.any() else nan,
    }


# above_null's sign test: one-sided level for "more targets beat the null than the null beats them"
ABOVE_NULL_LEVEL = 0.05


def beats_null(r2_test: np.ndarray, r2_null: np.ndarray, margin: float = NULL_MARGIN,
               level: float = ABOVE_NULL_LEVEL) -> bool:
    """Whether the fit predicts its held-out targets better than the random-pairing null: among the
    targets where one of the two is ahead by more than ``margin``, the fit is ahead in more of them
    than chance allows (one-sided sign test, p < ``level``).

    Per target, not on the pooled R^2: a pooled difference of a few thousandths, which noise decides,
    set the old flag either way for two near-identical fits; a sign test over targets needs many
    genes to agree (under no signal it is set in at most ``level`` of transitions).
    """
    from scipy.special import bdtrc  # the binomial tail (scipy.stats costs a job 0.65 s to import)

    r2_test, r2_null = np.asarray(r2_test, dtype=float), np.asarray(r2_null, dtype=float)
    both = ~np.isnan(r2_test) & ~np.isnan(r2_null)
    ahead = int(np.sum(r2_test[both] > r2_null[both] + margin))
    behind = int(np.sum(r2_null[both] > r2_test[both] + margin))
    if ahead == 0:
        return False
    # P(X >= ahead) for X ~ Binomial(ahead + behind, 1/2)
    return bool(bdtrc(ahead - 1, ahead + behind, 0.5) < level)


RECOVERY_KEYS = ("auprc_ratio", "auroc", "epr", "epr_activation", "epr_repression", "sign_accuracy",
                 "sign_accuracy_called", "n_true_edges")


def recovery_metrics(edges: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Agreement of fitted edge weights with a known network, scored as an outside scorer would.

    ``edges``: ``tf, target_gene, weight`` for EVERY prior edge of the transition; an edge that
    was not estimated (inactive) has weight 0, which is no call: it ranks last, tied with the
    other zeros (ties are scored fairly: :func:`average_precision` and :func:`roc_auc`, sklearn's
    definitions, treat a tie as one threshold, and the EPR includes every edge tied with the k-th). ``reference``: ``tf,
    target_gene, sign`` of the true edges (sign 0 = unknown); only its edges among the prior's
    count, so the ratios measure what the fit adds beyond the prior.

    - ``auprc_ratio`` = average precision of ``|weight|`` / fraction of true edges (1 = chance);
      ``auroc``; ``epr`` = :func:`early_precision_ratio` of ``|weight|``.
    - ``epr_activation`` ranks edges by ``weight`` against the true activations, ``epr_repression``
      by ``-weight`` against the true repressions (BEELINE's signed EPR, but an edge only counts
      when the fit's direction is right too).
    - ``sign_accuracy`` = share of true signed edges whose weight has the right sign, a zero
      weight counting as wrong; ``sign_accuracy_called`` = the same over non-zero weights only.
    Sign metrics are NaN when the reference has no signs.
    """
    merged = edges[["tf", "target_gene", "weight"]].merge(reference[["tf", "target_gene", "sign"]].drop_duplicates(
        ["tf", "target_gene"]), on=["tf", "target_gene"], how="left")
    label = merged["sign"].notna().to_numpy()
    weight = np.nan_to_num(merged["weight"].to_numpy(dtype=float))
    score = np.abs(weight)
    sign = merged["sign"].fillna(0).to_numpy(dtype=float)
    nan = float("nan")
    out = dict.fromkeys(RECOVERY_KEYS, nan)
    out["n_true_edges"] = int(label.sum())
    if 0 < label.sum() < len(label):
        out["auprc_ratio"] = float(average_precision(label, score) / label.mean())
        out["auroc"] = roc_auc(label, score)
    out["epr"] = early_precision_ratio(score, label)
    out["epr_activation"] = early_precision_ratio(weight, label & (sign > 0))
    out["epr_repression"] = early_precision_ratio(-weight, label & (sign < 0))
    signed = label & (sign != 0)
    if signed.any():
        right = np.sign(weight[signed]) == sign[signed]
        out["sign_accuracy"] = float(right.mean())
        called = weight[signed] != 0
        out["sign_accuracy_called"] = float(right[called].mean()) if called.any() else nan
    return out
