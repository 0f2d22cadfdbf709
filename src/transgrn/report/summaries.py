"""The report's numbers, reduced from a transition's tables without drawing anything: strong edges,
mapping diagnostics, per-TF sums, the transitions' weight correlation (streamed, :class:`WeightCorrelation`)
and its similarity tree, and which held-out R² columns a run has and which transitions are below their null.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..edges import own_edges


# An edge is "strong" when |weight| exceeds this quantile of |weight| fitted on the random null pairing.
STRONG_QUANTILE = 0.99


def strong_threshold(coefficients: pd.DataFrame) -> float:
    """|weight| above which an edge is stronger than 99% of the null fit's edges.

    The null (random pairing) shows how large weights get from sampling noise alone at this
    transition's size; NaN if the null was not fitted.
    """
    if "null_weight" not in coefficients or not len(coefficients):
        return float("nan")
    null = coefficients["null_weight"].abs().to_numpy()
    null = null[null > 0]
    return float(np.quantile(null, STRONG_QUANTILE)) if null.size else float("nan")


def n_strong_edges(coefficients: pd.DataFrame) -> int:
    """Number of edges stronger than the null's noise level (see :func:`strong_threshold`)."""
    threshold = strong_threshold(coefficients)
    return int((coefficients["weight"].abs() > threshold).sum()) if np.isfinite(threshold) else 0


def strongest_edges(edges: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` activating and ``top`` repressing edges by weight, of the transition's own (:func:`own_edges`)."""
    edges = own_edges(edges)
    positive = edges[edges["weight"] > 0].nlargest(top, "weight")
    negative = edges[edges["weight"] < 0].nsmallest(top, "weight")
    return pd.concat([positive, negative])[["tf", "target_gene", "weight"]]


def same_cell_design(method: str | None) -> bool:
    """Whether the mapping pairs every cell of A and B with itself (``lagged``, ``joint``, ``hybrid``;
    also the effective names such as ``joint (no pseudotime)``). Then every cell is used once at
    cost 0, so the mapping diagnostics are constant and carry no information."""
    from ..options import SAME_CELL_METHODS

    return bool(method) and str(method).split()[0] in SAME_CELL_METHODS


def mapping_diagnostics(mapping: pd.DataFrame, n_source: int, n_target: int, same_cell: bool = False) -> dict[str, float]:
    """How the mapping used the clusters: a mapping that reuses few cells fits few states.

    The fractions are distinct cells paired over the cells the design may pair: the source (A)
    or target (B) cluster for couplings, both clusters for same-cell designs, whose inputs and
    outputs are cells of A and of B (counting those against A alone gave "fractions" near 2).
    """
    per_source = mapping["source_cell"].value_counts()
    per_target = mapping["target_cell"].value_counts()
    source_pool, target_pool = (n_source + n_target,) * 2 if same_cell else (n_source, n_target)
    out = {
        "pairs": int(len(mapping)),
        "source_cells_used": int(len(per_source)), "target_cells_used": int(len(per_target)),
        "source_fraction_used": len(per_source) / source_pool if source_pool else float("nan"),
        "target_fraction_used": len(per_target) / target_pool if target_pool else float("nan"),
        "pairs_per_source_cell_max": int(per_source.max()) if len(per_source) else 0,
        "pairs_per_target_cell_max": int(per_target.max()) if len(per_target) else 0,
    }
    if "cost" in mapping:
        out["mean_cost"] = float(mapping["cost"].mean())
    return out

def tf_sums(coefficients: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """One transition's total |weight| and net signed weight per TF (see :func:`tf_outgoing`)."""
    weight = coefficients["weight"]
    return weight.abs().groupby(coefficients["tf"]).sum(), weight.groupby(coefficients["tf"]).sum()


def tf_frames(sums: dict[str, tuple[pd.Series, pd.Series]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """TF x transition frames of total and net weight from each transition's :func:`tf_sums`."""
    total = pd.DataFrame({t: s[0] for t, s in sums.items()}).fillna(0.0)
    net = pd.DataFrame({t: s[1] for t, s in sums.items()}).fillna(0.0)
    return total, net.reindex_like(total)


def tf_outgoing(coefficients: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per TF and transition: total |weight| (how strongly it drives) and net signed weight (which way)."""
    return tf_frames({t: tf_sums(c) for t, c in coefficients.items()})


class WeightCorrelation:
    """Pearson correlation between the transitions' weight vectors, as ``np.corrcoef`` of the dense
    transitions x edges matrix of weights (the union of the transitions' edges, 0 where a transition
    lacks one; ``weight_matrix`` in tests/reference.py), without holding that matrix.

    :meth:`add` appends one transition's weights (as float32, in a common edge order) to an
    unnamed scratch file, removed by the system when closed, even if the process dies;
    :meth:`correlation` then accumulates the centred Gram matrix over blocks of edges, each
    read from every transition's row (about ``block_mb`` MB of float64 at a time). Memory:
    transitions² plus one block; scratch disk: 4 bytes per transition and edge. The result
    depends only on the inputs (the block size follows from the number of transitions).
    """

    def __init__(self, scratch_dir: str | Path | None = None, block_mb: float = 64.0):
        self._file = tempfile.TemporaryFile(dir=scratch_dir, prefix=".transgrn-report-")
        self._block_bytes = int(block_mb * 2**20)
        self._first: tuple[np.ndarray, np.ndarray] | None = None  # the first transition's edges, in its order
        self._index: pd.MultiIndex | None = None  # the union of the edges, built once a transition differs
        self._n_edges = 0
        self._rows: list[tuple[int, int]] = []  # (byte offset, length) of each transition's row
        self._sums: list[float] = []

    def __enter__(self) -> WeightCorrelation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def __len__(self) -> int:
        return len(self._rows)

    def _positions(self, tf: np.ndarray, target: np.ndarray) -> np.ndarray | None:
        """Columns of a transition's edges in the union (None: the first transition's order)."""
        if self._first is None:
            self._first, self._n_edges = (tf, target), len(tf)
            return None
        if np.array_equal(tf, self._first[0]) and np.array_equal(target, self._first[1]):
            return None
        if self._index is None:
            self._index = pd.MultiIndex.from_arrays(self._first, names=["tf", "target_gene"])
            if not self._index.is_unique:
                raise ValueError("a transition lists an edge more than once")
        keys = pd.MultiIndex.from_arrays([tf, target], names=["tf", "target_gene"])
        positions = self._index.get_indexer(keys)
        new = positions < 0
        if new.any():  # edges no earlier transition had: new columns, 0 in the earlier rows
            self._index = self._index.append(keys[new].drop_duplicates())
            positions[new] = self._index.get_indexer(keys[new])
            self._n_edges = len(self._index)
        return positions

    def add(self, coefficients: pd.DataFrame) -> None:
        """Append one transition's ``weight`` per (``tf``, ``target_gene``) edge (NaN counts as 0)."""
        weight = coefficients["weight"].to_numpy(dtype=np.float64)
        weight = np.where(np.isnan(weight), 0.0, weight)
        positions = self._positions(coefficients["tf"].to_numpy(), coefficients["target_gene"].to_numpy())
        if positions is None:
            row = weight.astype(np.float32)
        else:
            row = np.zeros(self._n_edges, dtype=np.float32)
            row[positions] = weight
        self._rows.append((self._file.tell(), len(row)))
        self._sums.append(float(row.sum(dtype=np.float64)))
        self._file.write(row.tobytes())

    def correlation(self) -> np.ndarray:
        """Transitions x transitions Pearson r (NaN where a transition's weights are constant)."""
        n_rows, n_edges = len(self._rows), self._n_edges
        gram = np.zeros((n_rows, n_rows))
        if n_rows == 0:
            return gram
        self._file.flush()
        mean = np.asarray(self._sums) / max(n_edges, 1)
        width = max(1, min(n_edges, self._block_bytes // (8 * n_rows)))
        block = np.zeros((n_rows, width), dtype=np.float32)
        for start in range(0, n_edges, width):
            stop = min(start + width, n_edges)
            values = block[:, :stop - start]
            for i, (offset, length) in enumerate(self._rows):
                n = max(0, min(stop, length) - start)
                if n:
                    read = os.preadv(self._file.fileno(), [values[i, :n]], offset + 4 * start)
                    if read != 4 * n:
                        raise OSError(f"short read from the report's scratch file ({read} of {4 * n} bytes)")
                values[i, n:] = 0.0
            centred = values.astype(np.float64)
            centred -= mean[:, None]
            gram += centred @ centred.T
        scale = np.sqrt(np.diag(gram))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = gram / scale[:, None] / scale[None, :]
        return np.clip(corr, -1.0, 1.0)


def grn_similarity(weights: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Correlation of the transitions' weight vectors and an average-linkage tree on 1 - r.

    Correlation ignores a transition-wide scale of the weights, so transitions group by which
    edges they use and with which sign. The tree is None for fewer than 2 transitions.
    ``weights`` is the dense transitions x edges matrix (``weight_matrix`` in tests/reference.py);
    the report builds the same from a :class:`WeightCorrelation` with :func:`similarity_tree`.
    """
    values = weights.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(values) if len(values) > 1 else np.ones((len(values), len(values)))
    return similarity_tree(np.atleast_2d(corr), weights.index)


def similarity_tree(corr: np.ndarray, index) -> tuple[pd.DataFrame, np.ndarray | None]:
    """:func:`grn_similarity` from a correlation matrix (e.g. :meth:`WeightCorrelation.correlation`)."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    corr = np.nan_to_num(np.array(corr, dtype=float), nan=0.0)
    np.fill_diagonal(corr, 1.0)
    frame = pd.DataFrame(corr, index=index, columns=index)
    if len(corr) < 2:
        return frame, None
    distance = np.clip(1.0 - (corr + corr.T) / 2, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    return frame, linkage(squareform(distance, checks=False), method="average")


def format_number(value: float, fmt: str = "{:.3f}") -> str:
    """``value`` as the report writes it: NA when missing, and a value that is zero at the shown
    precision without a minus sign (a null's R² of -3e-16 or -0.0004 reads 0.000, not -0.000)."""
    if not np.isfinite(value):
        return "NA"
    text = fmt.format(value)
    return text[1:] if text.startswith("-") and not any(digit in text for digit in "123456789") else text


def has_values(table: pd.DataFrame, column: str) -> bool:
    """Whether the table has the column with at least one value (older runs lack some columns)."""
    return column in table and table[column].notna().any()


def headline_r2(table: pd.DataFrame) -> str:
    """The held-out R² column that ranks and colours transitions: the per-gene median where the run
    has it (robust to a few noisy high-variance genes), else the pooled ``r2_test`` (older runs)."""
    return "r2_test_median" if has_values(table, "r2_test_median") else "r2_test"


def ranked_transitions(table: pd.DataFrame) -> list[str]:
    """The transitions best held-out R² first (:func:`headline_r2`; missing values last): the order of
    the report's transition picker, whose first ``report.detail_transitions`` get figures."""
    return table.sort_values(headline_r2(table), ascending=False, na_position="last", kind="stable")["transition"].tolist()


def detail_transitions(table: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` transitions whose figures a run draws and its report embeds, best held-out R² first."""
    return ranked_transitions(table)[:n]


def below_null(table: pd.DataFrame) -> pd.Series:
    """Per transition (index: transition id): True where held-out prediction does not beat the
    random-pairing null (``above_null`` false: :func:`transgrn.metrics.beats_null`, a sign test over
    targets), so its edges are not supported by held-out prediction.

    ``above_null`` where the run wrote it, else (older runs, or a missing value) computed from the
    pooled R², ``r2_test <= r2_test_null``; an R² that could not be computed (NaN) is flagged too.
    """
    with np.errstate(invalid="ignore"):
        computed = ~(table["r2_test"].to_numpy(dtype=float) > table["r2_test_null"].to_numpy(dtype=float))
    flag = pd.Series(computed, index=table["transition"].to_numpy())
    if "above_null" in table:
        written = table["above_null"].map(_as_bool).to_numpy()
        known = pd.notna(written)
        flag[known] = ~written[known].astype(bool)
    return flag.astype(bool)


def _as_bool(value: Any) -> bool | None:
    """A boolean cell of a TSV (True/False, true/false, 1/0) or None when missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_, int, np.integer, float)):
        return bool(value)
    text = str(value).strip().lower()
    return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)


def r2_panels(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, title) of the held-out R² heatmaps: the per-gene median and its null first where the
    run has them, then the pooled R² (with its null only when there is no median), then the MLP."""
    panels = [("r2_test_median", "median per-gene R² (mapping)"), ("r2_test_null_median", "median per-gene R² (null)")]
    panels = [p for p in panels if has_values(table, p[0])]
    panels.append(("r2_test", "pooled R² (mapping)"))
    if not panels[:-1]:
        panels.append(("r2_test_null", "pooled R² (random null)"))
    if has_values(table, "r2_test_mlp"):
        panels.append(("r2_test_mlp", "pooled R² (MLP)"))
    return panels


# --------------------------------------------------------------------------------------------
# Differential edges (results/differential.parquet, transgrn.differential) and TF scores
# --------------------------------------------------------------------------------------------

# q-value at which the report calls an edge differential (the calibration threshold)
DIFFERENTIAL_Q = 0.1
DIFFERENTIAL_READ = ("transition_1", "transition_2", "tf", "target_gene", "weight_1", "weight_2", "difference", "z",
                     "qvalue")


def sibling_pairs(differential: pd.DataFrame, table: pd.DataFrame) -> list[tuple[str, str]]:
    """The compared pairs whose two transitions share their source cluster (a branch point), in file order."""
    source = table.set_index("transition")["source_cluster"]
    pairs = differential[["transition_1", "transition_2"]].drop_duplicates()
    return [(a, b) for a, b in pairs.itertuples(index=False)
            if a in source.index and b in source.index and source[a] == source[b]]


def top_differential(pair: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` edges of one pair by q-value, then |z|, with the direction of the change."""
    ranked = pair.assign(abs_z=pair["z"].abs()).sort_values(["qvalue", "abs_z"], ascending=[True, False]).head(top)
    ranked["direction"] = np.where(ranked["difference"] > 0, "higher in 2nd", "higher in 1st")
    return ranked[["tf", "target_gene", "weight_1", "weight_2", "difference", "z", "qvalue", "direction"]]


def differential_tf_ranking(sibling_rows: pd.DataFrame, threshold: float = DIFFERENTIAL_Q) -> pd.DataFrame:
    """TFs ranked by how much their outgoing regulation changes between siblings: over every sibling
    pair, the number of the TF's edges called at ``qvalue <= threshold``, the summed ``|difference|``
    of its edges (the L1 distance between its two outgoing weight vectors) and the largest ``|z|``."""
    if not len(sibling_rows):
        return pd.DataFrame(columns=["tf", "sibling_pairs", "edges_tested", "edges_called", "sum_abs_difference",
                                     "max_abs_z"])
    rows = sibling_rows.assign(called=sibling_rows["qvalue"] <= threshold, abs_difference=sibling_rows["difference"].abs(),
                               abs_z=sibling_rows["z"].abs(),
                               pair=sibling_rows["transition_1"] + "|" + sibling_rows["transition_2"])
    grouped = rows.groupby("tf", sort=False)
    ranking = pd.DataFrame({"sibling_pairs": grouped["pair"].nunique(), "edges_tested": grouped.size(),
                            "edges_called": grouped["called"].sum().astype(int),
                            "sum_abs_difference": grouped["abs_difference"].sum(), "max_abs_z": grouped["abs_z"].max()})
    ranking = ranking.sort_values(["edges_called", "sum_abs_difference"], ascending=False)
    return ranking.reset_index()


# TF scores shown per transition: the strongest by weighted out-degree (all of them are in results/tf_scores.tsv)
TF_SCORE_ROWS = 30


def transition_tf_scores(scores: pd.DataFrame, transition: str, rows: int = TF_SCORE_ROWS) -> pd.DataFrame:
    """One transition's rows of tf_scores.tsv, the ``rows`` TFs with the largest ``weighted_out_degree_abs``."""
    part = scores[scores["transition"] == transition].drop(columns="transition")
    return part.nlargest(rows, "weighted_out_degree_abs").reset_index(drop=True)
