"""The run's summary report: one self-contained HTML page and the figures it embeds.

Everything is inline (PNG figures as data URIs, CSS and a few lines of JS), so the page opens
offline from disk and makes no network request. Per-transition panels are HTML ``<template>``
elements that the page clones on demand, and only the ``detail`` best transitions carry
figures, so a run with hundreds of transitions stays small and opens quickly.

Figures are written as PNG files too (``figure_dir``) so that Snakemake's ``--report`` can
register them with captions.

Memory stays bounded on large runs: each transition's tables are read (from their files, where
:class:`TransitionResult` holds paths) and reduced to a :class:`TransitionSummary` one transition at
a time, and the transitions' weight correlation accumulates over blocks of edges
(:class:`WeightCorrelation`) instead of from a dense transitions x edges matrix.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import html
import io as _io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Recovery metrics and the value a random ranking or sign would get (drawn as a reference line).
RECOVERY_METRICS = {"auprc_ratio": 1.0, "auroc": 0.5, "sign_accuracy": 0.5, "sign_accuracy_called": 0.5, "epr": 1.0,
                    "epr_activation": 1.0, "epr_repression": 1.0}
# Held-out R² columns of transitions.tsv, most telling first. The per-gene median and the share of targets
# beating the null come first: the pooled r2_test is variance-weighted over all targets, so a few noisy
# high-variance genes dominate it on real data (columns absent in older runs are skipped).
R2_COLUMNS = ("r2_test_median", "r2_test_null_median", "frac_targets_above_null", "above_null", "r2_test",
              "r2_test_null", "r2_train", "r2_test_mlp")
POOLED_R2_NOTE = ("The pooled held-out R² (<code>r2_test</code>) is variance-weighted over all target genes: on real "
                  "data a few noisy, high-variance genes dominate it, so it can be negative while many genes are "
                  "predicted well. Read the per-gene median (<code>r2_test_median</code>, over targets that vary) and "
                  "the share of targets whose held-out R² beats the random-pairing null's by 0.05 "
                  "(<code>frac_targets_above_null</code>) first.")
NOT_ABOVE_NULL = ("held-out R² not above the random-pairing null: treat these edges as unsupported")
# An edge is "strong" when |weight| exceeds this quantile of |weight| fitted on the random null pairing.
STRONG_QUANTILE = 0.99
OVERVIEW_FIGURES = ("cluster_graph", "r2_heatmap", "tf_activity", "grn_similarity")
VALIDATION_FIGURES = ("r2_comparison", "recovery", "mapping")
TRANSITION_FIGURES = ("network", "gene_r2", "predictions")
MAX_TICK_LABELS = 60
DPI = 100
ACTIVATING, REPRESSING, NEUTRAL = "#b2182b", "#2166ac", "#7f7f7f"

# --------------------------------------------------------------------------- numbers


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
    """The ``top`` activating and ``top`` repressing edges by weight."""
    positive = edges[edges["weight"] > 0].nlargest(top, "weight")
    negative = edges[edges["weight"] < 0].nsmallest(top, "weight")
    return pd.concat([positive, negative])[["tf", "target_gene", "weight"]]


def same_cell_design(method: str | None) -> bool:
    """Whether the mapping pairs every cell of A and B with itself (``lagged``, ``joint``, ``hybrid``;
    also the effective names such as ``joint (no pseudotime)``). Then every cell is used once at
    cost 0, so the mapping diagnostics are constant and carry no information."""
    from .mapping import SAME_CELL_METHODS

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


def weight_matrix(coefficients: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Transitions x prior edges matrix of weights (0 where an edge is absent from a transition).

    Dense and in memory: for small runs and tests; the report uses :class:`WeightCorrelation`.
    """
    columns = {t: c.set_index(["tf", "target_gene"])["weight"] for t, c in coefficients.items()}
    return pd.DataFrame(columns).fillna(0.0).T


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
    """Pearson correlation between the transitions' weight vectors, as ``np.corrcoef`` of
    :func:`weight_matrix` (the union of the transitions' edges, 0 where a transition lacks one),
    without holding that matrix.

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
    ``weights`` is :func:`weight_matrix` (dense, in memory); the report builds the same from a
    :class:`WeightCorrelation` with :func:`similarity_tree`.
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


def stage_times(benchmarks: dict[str, str]) -> pd.DataFrame:
    """Wall time per stage from Snakemake benchmark files (``path -> stage``)."""
    rows = []
    for path, stage in benchmarks.items():
        seconds = pd.read_csv(path, sep="\t")["s"]
        rows.append({"stage": stage, "seconds": float(seconds.iloc[0]) if len(seconds) else float("nan")})
    if not rows:
        return pd.DataFrame(columns=["stage", "jobs", "total_s", "median_s", "max_s"])
    frame = pd.DataFrame(rows).groupby("stage", sort=False)["seconds"]
    return pd.DataFrame({"jobs": frame.size(), "total_s": frame.sum(), "median_s": frame.median(),
                         "max_s": frame.max()}).reset_index()


def transition_title(transitions_tsv: str | Path, transition: str) -> str:
    """'A → B' with the clusters' real names (ids such as ``c00_stem_cell`` lose punctuation)."""
    return _titles(str(transitions_tsv), Path(transitions_tsv).stat().st_mtime_ns)[transition]


@functools.lru_cache(maxsize=4)
def _titles(path: str, mtime_ns: int) -> dict[str, str]:
    """Titles of every transition, read once per version of the table: the DAG asks once per job."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return {t: f"{a} → {b}" for t, a, b in zip(table["transition"], table["source_cluster"], table["target_cluster"])}


def benchmark_files(patterns: dict[str, str], transitions: list[str], roles=("main", "null")) -> dict[str, str]:
    """Benchmark file -> stage, expanding each stage's pattern over transitions and mapping roles."""
    files = {}
    for stage, pattern in patterns.items():
        for transition in transitions if "{transition}" in pattern else [None]:
            for role in roles if "{role}" in pattern else [None]:
                files[pattern.format(transition=transition, role=role)] = stage
    return files


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """Dotted keys -> JSON values, so nested parameters read as one table."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = json.dumps(value, ensure_ascii=False)
    return out


def _has(table: pd.DataFrame, column: str) -> bool:
    return column in table and table[column].notna().any()


def headline_r2(table: pd.DataFrame) -> str:
    """The held-out R² column that ranks and colours transitions: the per-gene median where the run
    has it (robust to a few noisy high-variance genes), else the pooled ``r2_test`` (older runs)."""
    return "r2_test_median" if _has(table, "r2_test_median") else "r2_test"


def below_null(table: pd.DataFrame) -> pd.Series:
    """Per transition (index: transition id): True where the pooled held-out R² is not above the
    random-pairing null's, so its edges are not supported by held-out prediction.

    ``above_null`` where the run wrote it, else (older runs, or a missing value) computed as
    ``r2_test <= r2_test_null``; an R² that could not be computed (NaN) is flagged too.
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


def design_label(summary: dict, table: pd.DataFrame, config: dict) -> str:
    """The mapping design the run used, e.g. ``joint (no pseudotime)`` where ``lagged`` was configured
    but the data had no pseudotime: the checkpoint's summary, else the table's column, else the config."""
    if summary.get("mapping_method"):
        return str(summary["mapping_method"])
    if "mapping" in table and len(table):
        return ", ".join(dict.fromkeys(table["mapping"].astype(str)))
    return str(config.get("mapping", {}).get("method", "?"))


# Options that only some choices use: (section, option) -> (the key that chooses, the values that use it).
# Options not listed are always used (e.g. mapping.n_pairs and n_pcs also shape the random-pairing null).
_COUPLINGS_WITH_BARYCENTRIC = ("ot", "knn", "pseudotime", "random")
OPTION_USED_BY = {
    ("mapping", "lag_grid"): ("mapping.method", ("lagged",)),
    ("mapping", "lag_bandwidth"): ("mapping.method", ("lagged",)),
    ("mapping", "barycentric"): ("mapping.method", _COUPLINGS_WITH_BARYCENTRIC),
    ("mapping", "knn_k"): ("mapping.method", ("knn",)),
    ("mapping", "pseudotime_lag"): ("mapping.method", ("pseudotime",)),
    ("mapping", "pseudotime_bandwidth"): ("mapping.method", ("pseudotime",)),
    ("mapping", "exact_max_cells"): ("mapping.method", ("ot", "hybrid")),
    ("mapping", "entropic_reg"): ("mapping.method", ("ot", "hybrid")),
    ("mapping", "unbalanced_reg"): ("mapping.method", ("ot", "hybrid")),
    ("fit", "l1_ratio"): ("fit.solver", ("elasticnet",)),
    ("fit", "epochs"): ("fit.solver", ("adam",)),
    ("fit", "lr"): ("fit.solver", ("adam",)),
    ("transitions", "explicit"): ("transitions.mode", ("explicit",)),
    ("transitions", "paga_threshold"): ("transitions.mode", ("paga",)),
}


def used_parameters(config: dict, demo: bool = False) -> dict[str, str]:
    """:func:`flatten` of the parameters the run used: ``demo.*`` only when the demo data were
    simulated, options of other mapping methods, solvers and transition modes left out, and a
    disabled section (``cofactors``) reduced to its switch."""
    def chosen(dotted: str) -> Any:
        section, key = dotted.split(".")
        return config.get(section, {}).get(key)

    def used(section: str, key: str) -> bool:
        if section == "demo":
            return demo
        if section == "cofactors" and key != "enabled":
            return bool(config.get("cofactors", {}).get("enabled"))
        if (section, key) == ("mapping", "max_targets"):  # barycentric pairs: hybrid's, or a coupling's on request
            return chosen("mapping.method") == "hybrid" or (
                bool(chosen("mapping.barycentric")) and chosen("mapping.method") in _COUPLINGS_WITH_BARYCENTRIC)
        if (section, key) == ("filter", "min_confidence"):  # needs the bootstrap's q-values
            return bool(chosen("fit.bootstrap"))
        selector, values = OPTION_USED_BY.get((section, key), (None, ()))
        return selector is None or chosen(selector) in values

    kept = {section: {k: v for k, v in value.items() if used(section, k)} if isinstance(value, dict) else value
            for section, value in config.items() if section != "demo" or demo}
    return flatten(kept)


# --------------------------------------------------------------------------- figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
                         "figure.facecolor": "white"})
    return plt


def figure_png(fig, path: str | Path | None = None) -> bytes:
    """Render (and close) a figure as PNG; also write it to ``path`` atomically if given."""
    plt = _pyplot()
    from PIL import Image

    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    # A 256-colour palette looks the same for plots and makes the files (and the page) ~4x smaller.
    image = Image.open(buffer).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    palette = np.array(image.getpalette(), dtype=np.uint8).reshape(-1, 3)
    palette[(palette >= 250).all(axis=1)] = 255  # keep the background white, not the palette's near-white
    image.putpalette(palette.ravel().tolist())
    buffer = _io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    if path is not None:
        from .io import atomic_path

        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
    return data


def placeholder_figure(title: str, message: str):
    """A figure that says why there is nothing to draw (outputs are declared before the data exist)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 1.6))
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", color=NEUTRAL, wrap=True)
    return fig


@dataclass(frozen=True)
class ColorScale:
    """A colormap and the normalization that maps values onto it."""

    cmap: Any
    norm: Any
    kind: str  # "sequential" or "diverging"

    def text_color(self, value: float) -> str:
        """Black or white, whichever reads on the cell's colour."""
        red, green, blue, _ = self.cmap(self.norm(value))
        return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"


def color_scale(*arrays, floor: float = 1e-9) -> ColorScale:
    """A scale that fits the data: sequential over the values' range when they all share a sign
    (reds for ≥ 0, blues for ≤ 0, the colours of the diverging scale's two sides), diverging and
    centred on 0 otherwise. Missing values are light grey.

    A fixed −1…1 scale drew a similarity matrix whose values all lay in 0.75…1 uniformly red.
    """
    plt = _pyplot()
    from matplotlib.colors import Normalize

    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
    from matplotlib.colors import ListedColormap

    # sequential scales leave out the palest fifth: the value nearest 0 must still show (an arrow, a point)
    if low >= 0:
        cmap = ListedColormap(plt.get_cmap("Reds")(np.linspace(0.2, 1.0, 256)))
        kind, norm = "sequential", Normalize(low, max(high, low + floor))
    elif high <= 0:
        cmap = ListedColormap(plt.get_cmap("Blues_r")(np.linspace(0.0, 0.8, 256)))
        kind, norm = "sequential", Normalize(min(low, high - floor), high)
    else:
        limit = max(floor, -low, high)
        cmap, kind, norm = plt.get_cmap("RdBu_r"), "diverging", Normalize(-limit, limit)
    return ColorScale(cmap.with_extremes(bad="#e6e6e6"), norm, kind)


def _scale_label(scale: ColorScale) -> str:
    return "diverging, centred on 0" if scale.kind == "diverging" else "sequential: all values share a sign"


def cluster_positions(clusters: list[str], layout: dict | None) -> tuple[dict[str, tuple[float, float]], str]:
    """Where to draw each cluster: UMAP or PAGA coordinates when the data had them, else layered
    by median pseudotime, else on a circle. Returns positions and a description of the layout."""
    layout = layout or {}
    for key, name in (("umap_centroids", "UMAP (median of each cluster's cells)"), ("paga_pos", "PAGA layout")):
        coords = layout.get(key) or {}
        if clusters and all(c in coords for c in clusters):
            return {c: (float(coords[c][0]), float(coords[c][1])) for c in clusters}, name
    pseudotime = layout.get("median_pseudotime") or {}
    if len(clusters) > 1 and all(c in pseudotime for c in clusters):
        return _layered(clusters, pseudotime), "x = median pseudotime of the cluster"
    angles = np.linspace(0, 2 * np.pi, len(clusters), endpoint=False) + np.pi / 2
    return {c: (float(np.cos(a)), float(np.sin(a))) for c, a in zip(clusters, angles)}, "clusters on a circle"


def _layered(clusters: list[str], pseudotime: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Clusters with close median pseudotimes share a column and are spread vertically."""
    order = sorted(clusters, key=lambda c: (pseudotime[c], c))
    values = np.array([pseudotime[c] for c in order], dtype=float)
    span = float(values.max() - values.min()) or 1.0
    layers, current = [], [order[0]]
    for previous, cluster in zip(order, order[1:]):
        if pseudotime[cluster] - pseudotime[previous] < 0.08 * span:
            current.append(cluster)
        else:
            layers.append(current)
            current = [cluster]
    layers.append(current)
    positions = {}
    for layer in layers:
        x = float(np.mean([pseudotime[c] for c in layer]))
        for k, cluster in enumerate(layer):
            positions[cluster] = (x, 0.25 * span * ((len(layer) - 1) / 2 - k))
    return positions


def _wrap_label(text: str, width: int = 16) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=True)) or text


def _overlaps(box, boxes, pad: float = 1.0) -> bool:
    return any(box.x0 < b.x1 + pad and b.x0 < box.x1 + pad and box.y0 < b.y1 + pad and b.y0 < box.y1 + pad for b in boxes)


def _node_boxes(ax, xy: np.ndarray, sizes: list[float]):
    """Display-space boxes of the scatter's circles (``sizes`` in points², as ``scatter``'s ``s``)."""
    from matplotlib.transforms import Bbox

    scale = ax.figure.dpi / 72.0
    centres = ax.transData.transform(xy)
    return [Bbox.from_extents(x - r, y - r, x + r, y + r)
            for (x, y), r in zip(centres, np.sqrt(np.asarray(sizes)) / 2 * scale)]


def place_labels(ax, xy: np.ndarray, texts: list[str], sizes: list[float], fontsize: float = 7.5) -> list:
    """Annotate each node without overlapping another label or node: the first free place among
    below, above, right and left of the node (then farther out), else the least crowded one.

    Works in display space, so the figure's layout must be final (see :func:`cluster_graph_figure`).
    """
    renderer = ax.figure.canvas.get_renderer()
    nodes = _node_boxes(ax, xy, sizes)
    placed, labels = [], []
    for (x, y), text, size in zip(xy, texts, sizes):
        gap = np.sqrt(size) / 2 + 3
        candidates = [c for k in (1, 2.2) for c in (((0, -gap * k), "center", "top"), ((0, gap * k), "center", "bottom"),
                                                     ((gap * k, 0), "left", "center"), ((-gap * k, 0), "right", "center"))]
        best, best_hits = None, None
        for offset, ha, va in candidates:
            label = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=fontsize,
                                zorder=3, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
            box = label.get_window_extent(renderer)
            hits = sum(_overlaps(box, [b]) for b in placed + nodes)
            if best is None or hits < best_hits:
                if best is not None:
                    best[0].remove()
                best, best_hits = (label, box), hits
            else:
                label.remove()
            if hits == 0:
                break
        placed.append(best[1])
        labels.append(best[0])
    return labels


def cluster_graph_figure(table: pd.DataFrame, strong: dict[str, int], summary: dict):
    """Clusters as nodes, each transition an arrow coloured by held-out R^2 (the per-gene median where
    the run has it), as wide as its strong edges, dashed where the fit is not above its null."""
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    sizes = summary.get("cluster_sizes", {})
    clusters = list(dict.fromkeys(list(table["source_cluster"]) + list(table["target_cluster"])))
    positions, basis = cluster_positions(clusters, summary.get("cluster_layout"))
    r2_column = headline_r2(table)
    scale = color_scale(table[r2_column], floor=0.01)
    flagged = below_null(table)
    counts = np.array([strong.get(t, 0) for t in table["transition"]], dtype=float)
    top = max(1.0, counts.max(initial=0))
    widest, alpha = (6.0, 0.9) if len(table) <= 30 else (2.5, 0.6)  # keep many arrows apart
    fig, ax = plt.subplots(figsize=(7.5, 5.4), layout="constrained")
    node_size = {c: 200 + 600 * sizes.get(c, 1) / max(sizes.values(), default=1) for c in clusters}
    for row, count in zip(table.itertuples(), counts):
        start, end = positions[row.source_cluster], positions[row.target_cluster]
        value = getattr(row, r2_column)
        color = scale.cmap(scale.norm(value)) if np.isfinite(value) else NEUTRAL
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle="arc3,rad=0.18", arrowstyle="-|>", mutation_scale=14,
                                     lw=0.5 + widest * count / top, color=color, alpha=alpha, zorder=1,
                                     linestyle="--" if flagged[row.transition] else "-",
                                     shrinkA=np.sqrt(node_size[row.source_cluster]) / 2 + 2,
                                     shrinkB=np.sqrt(node_size[row.target_cluster]) / 2 + 2))
    xy = np.array([positions[c] for c in clusters])
    ax.scatter(xy[:, 0], xy[:, 1], s=[node_size[c] for c in clusters], color="#d9d9d9", edgecolor="#444", zorder=2)
    pad_x = 0.22 * (np.ptp(xy[:, 0]) or 1.0)
    pad_y = 0.22 * (np.ptp(xy[:, 1]) or 1.0)
    ax.set_xlim(xy[:, 0].min() - pad_x, xy[:, 0].max() + pad_x)
    ax.set_ylim(xy[:, 1].min() - pad_y, xy[:, 1].max() + pad_y)
    ax.set_xlabel(f"layout: {basis}")
    ax.set_yticks([])
    ax.spines[["left", "top", "right"]].set_visible(False)
    if "pseudotime" not in basis:
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
    ax.set_title("Cluster graph: transitions coloured by held-out R², width = strong edges")
    label = "median per-gene held-out R²" if r2_column == "r2_test_median" else "held-out R² (pooled)"
    fig.colorbar(plt.cm.ScalarMappable(norm=scale.norm, cmap=scale.cmap), ax=ax, shrink=0.7, label=label)
    examples = sorted({int(v) for v in np.quantile(counts, [0.0, 0.5, 1.0])}) if len(counts) else []
    handles = [Line2D([], [], color=NEUTRAL, lw=0.5 + widest * v / top, label=f"{v} strong edges") for v in examples]
    if flagged.any():
        handles.append(Line2D([], [], color=NEUTRAL, lw=1.5, ls="--", label="not above its null"))
    # outside the axes, under them: a legend inside could cover a node
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=7, frameon=False,
               title="arrow width", title_fontsize=7)
    # labels go last, in display space, once the layout is final (the engine would otherwise move the axes)
    fig.canvas.draw()
    fig.set_layout_engine("none")
    place_labels(ax, xy, [f"{_wrap_label(c)}\n{sizes.get(c, '?')} cells" for c in clusters],
                 [node_size[c] for c in clusters])
    return fig


def r2_panels(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, title) of the held-out R² heatmaps: the per-gene median and its null first where the
    run has them, then the pooled R² (with its null only when there is no median), then the MLP."""
    panels = [("r2_test_median", "median per-gene R² (mapping)"), ("r2_test_null_median", "median per-gene R² (null)")]
    panels = [p for p in panels if _has(table, p[0])]
    panels.append(("r2_test", "pooled R² (mapping)"))
    if not panels[:-1]:
        panels.append(("r2_test_null", "pooled R² (random null)"))
    if _has(table, "r2_test_mlp"):
        panels.append(("r2_test_mlp", "pooled R² (MLP)"))
    return panels


def r2_heatmap_figure(table: pd.DataFrame):
    """Source x target heatmaps of held-out R^2 (:func:`r2_panels`) on one scale that fits their values."""
    plt = _pyplot()
    clusters = list(dict.fromkeys(list(table["source_cluster"]) + list(table["target_cluster"])))
    panels = r2_panels(table)
    grids = [table.pivot(index="source_cluster", columns="target_cluster", values=c)
             .reindex(index=clusters, columns=clusters).to_numpy(dtype=float) for c, _ in panels]
    scale = color_scale(*grids, floor=0.05)
    n = len(clusters)
    cell = min(0.55, (13.0 / len(panels) - 1.6) / n)  # the figure stays about as wide as the page
    annotate, ticks = cell >= 0.4, 8 if cell >= 0.3 else 6
    fig, axes = plt.subplots(1, len(panels), figsize=(len(panels) * (1.6 + cell * n), 1.8 + cell * n),
                             constrained_layout=True, squeeze=False)
    for ax, grid, (_, title) in zip(axes[0], grids, panels):
        image = ax.imshow(grid, cmap=scale.cmap, norm=scale.norm)
        labels = clusters if n <= MAX_TICK_LABELS else []
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=ticks)
        ax.set_yticks(range(len(labels)), labels, fontsize=ticks)
        ax.set_xlabel("target cluster (B)")
        ax.set_ylabel("source cluster (A)")
        ax.set_title(title)
        if annotate:
            for (i, j), value in np.ndenumerate(grid):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=scale.text_color(value))
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8,
                 label=f"held-out R² ({_scale_label(scale)}); grey = not fitted")
    return fig


def _transition_labels(table: pd.DataFrame) -> pd.Series:
    return pd.Series([f"{a} → {b}" for a, b in zip(table["source_cluster"], table["target_cluster"])],
                     index=table["transition"])


def tf_activity_figure(total: pd.DataFrame, net: pd.DataFrame, labels: pd.Series, order: list[str], max_tfs: int = 40):
    """TF x transition heatmaps: total |outgoing weight| (drive) beside the net signed weight (direction)."""
    plt = _pyplot()
    tfs = total.sum(axis=1).sort_values(ascending=False).index[:max_tfs]
    total, net = total.loc[tfs, order], net.loc[tfs, order]
    n_t = len(order)
    width = min(7.5, 1.2 + 0.3 * n_t) if n_t <= MAX_TICK_LABELS else 7.5
    fig, axes = plt.subplots(1, 2, figsize=(2 * width + 1.5, 2.2 + 0.2 * len(tfs)), constrained_layout=True)
    from matplotlib.colors import Normalize

    drive = ColorScale(plt.get_cmap("viridis"), Normalize(0.0, max(float(np.nanmax(total.to_numpy(), initial=0)), 1e-9)),
                       "sequential")  # a sum of |weight|: never negative
    direction = color_scale(net.to_numpy())
    for ax, frame, scale, title, label in (
        (axes[0], total, drive, "total |outgoing weight| (drive)", "Σ |weight| over targets"),
        (axes[1], net, direction, "net outgoing weight (direction)", "Σ weight (+ activating, − repressing)"),
    ):
        image = ax.imshow(frame.to_numpy(), aspect="auto", cmap=scale.cmap, norm=scale.norm, interpolation="nearest")
        ax.set_yticks(range(len(tfs)), tfs)
        if n_t <= MAX_TICK_LABELS:
            ax.set_xticks(range(n_t), [labels[t] for t in order], rotation=60, ha="right", fontsize=7)
        else:
            ax.set_xticks([])
        ax.set_xlabel(f"transition ({n_t})")
        ax.set_title(title)
        fig.colorbar(image, ax=ax, shrink=0.8, label=label)
    axes[0].set_ylabel(f"TF (top {len(tfs)} by total |weight|)")
    fig.suptitle("TF × transition: outgoing weight (transitions ordered as in the similarity tree)")
    return fig


def similarity_figure(similarity: pd.DataFrame, tree, labels: pd.Series):
    """Dendrogram over a heatmap of the correlation between the transitions' weight vectors."""
    plt = _pyplot()
    from scipy.cluster.hierarchy import dendrogram

    n = len(similarity)
    size = min(11.0, 3.0 + 0.32 * n)
    fig = plt.figure(figsize=(size + 1.5, size + 1.2), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 4], width_ratios=[30, 1])
    top, ax, cax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    leaves = dendrogram(tree, ax=top, no_labels=True, color_threshold=0, above_threshold_color="#555")["leaves"]
    top.set_ylabel("1 − r")
    top.set_xticks([])
    top.spines[["bottom"]].set_visible(False)
    fig.suptitle("Transitions clustered by GRN similarity (correlation of edge weights)")
    order = similarity.index[leaves]
    values = similarity.loc[order, order].to_numpy()
    scale = color_scale(values)
    image = ax.imshow(values, cmap=scale.cmap, norm=scale.norm, interpolation="nearest",
                      aspect="auto")  # fills the axes, so columns line up with the dendrogram's leaves
    names = [labels[t] for t in order] if n <= MAX_TICK_LABELS else []
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("transition")
    ax.set_ylabel("transition")
    fig.colorbar(image, cax=cax, label=f"Pearson r of weights ({_scale_label(scale)})")
    return fig, list(order)


def r2_comparison_figure(table: pd.DataFrame, labels: pd.Series):
    """Held-out R^2 of the mapping against its random null (and the linear fit against the MLP)."""
    plt = _pyplot()
    pairs = [("r2_test_null", "r2_test", "random null", "mapping (linear)", "Mapping vs random null (pooled)")]
    if _has(table, "r2_test_median") and _has(table, "r2_test_null_median"):
        pairs.insert(0, ("r2_test_null_median", "r2_test_median", "random null, per-gene median",
                         "mapping, per-gene median", "Mapping vs random null (per-gene median)"))
    if "r2_test_mlp" in table and table["r2_test_mlp"].notna().any():
        pairs.append(("r2_test", "r2_test_mlp", "linear", "MLP", "Linear vs MLP (same mapping)"))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.2), constrained_layout=True, squeeze=False)
    for ax, (x, y, xlabel, ylabel, title) in zip(axes[0], pairs, strict=True):
        values = table[[x, y]].to_numpy(dtype=float)
        low, high = np.nanmin(values), np.nanmax(values)
        pad = 0.05 * (high - low or 1.0)
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color=NEUTRAL, lw=0.8, ls="--", label="y = x")
        ax.axhline(0, color="#ccc", lw=0.6)
        ax.axvline(0, color="#ccc", lw=0.6)
        ax.scatter(values[:, 0], values[:, 1], s=22, color="#4c72b0", edgecolor="white", lw=0.5, label="transition")
        order = np.argsort(-np.nan_to_num(values[:, 1], nan=-np.inf))
        named = order if len(order) <= 6 else np.r_[order[:3], order[-1:]]  # the best three and the worst
        for k in named:
            ax.annotate(labels[table["transition"].iloc[k]], values[k], fontsize=6, xytext=(4, -2), textcoords="offset points")
        ax.set_xlabel(f"held-out R², {xlabel}")
        ax.set_ylabel(f"held-out R², {ylabel}")
        ax.set_title(title)
        ax.legend(fontsize=7, loc="lower right")
    return fig


def recovery_figure(table: pd.DataFrame, metrics: list[str]):
    """One strip per recovery metric (a point per transition) with the chance level marked."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(2.3 * len(metrics) + 0.6, 3.8), constrained_layout=True,
                             squeeze=False)
    rng = np.random.default_rng(0)
    for ax, metric in zip(axes[0], metrics):
        values = table[metric].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        ax.boxplot(values, widths=0.5, showfliers=False, medianprops={"color": "black"})
        ax.scatter(1 + rng.uniform(-0.15, 0.15, len(values)), values, s=14, color="#4c72b0", alpha=0.8, zorder=3,
                   label="transition")
        ax.axhline(RECOVERY_METRICS[metric], color=ACTIVATING, ls="--", lw=1, label="chance")
        ax.set_xticks([])
        ax.set_ylabel(metric)
        ax.set_title(f"{metric}\n({len(values)} transitions)", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Recovery of the reference network per transition")
    return fig


def mapping_figure(diagnostics: pd.DataFrame, table: pd.DataFrame):
    """How many cells of each cluster a coupling used, how often it reused them, and its OT cost
    (same-cell designs have no such figure: every cell is used once, at cost 0)."""
    plt = _pyplot()
    with_cost = "mean_cost" in diagnostics and diagnostics["mean_cost"].notna().any()
    fig, axes = plt.subplots(1, 3 if with_cost else 2, figsize=(4.2 * (3 if with_cost else 2), 3.8),
                             constrained_layout=True)
    r2_column = headline_r2(table)
    r2_label = "median per-gene held-out R²" if r2_column == "r2_test_median" else "held-out R² (pooled)"
    r2 = table.set_index("transition").loc[diagnostics.index, r2_column].to_numpy(dtype=float)
    scale = color_scale(r2, floor=0.01)
    points = axes[0].scatter(diagnostics["source_fraction_used"], diagnostics["target_fraction_used"], c=r2,
                             cmap=scale.cmap, norm=scale.norm, s=26, edgecolor="#444", lw=0.4)
    axes[0].set_xlabel("fraction of source (A) cells paired")
    axes[0].set_ylabel("fraction of target (B) cells paired")
    axes[0].set_title("Cells used by the mapping")
    fig.colorbar(points, ax=axes[0], label=r2_label)
    for offset, (column, name, color) in enumerate((("pairs_per_source_cell_max", "source (A)", "#4c72b0"),
                                                    ("pairs_per_target_cell_max", "target (B)", "#dd8452"))):
        values = diagnostics[column].to_numpy(dtype=float)
        axes[1].scatter(np.full(len(values), offset) + np.linspace(-0.15, 0.15, len(values)), values, s=16,
                        color=color, label=name)
    axes[1].set_xticks([0, 1], ["source (A)", "target (B)"])
    axes[1].set_ylabel("most pairs sharing one cell")
    axes[1].set_title("Reuse of single cells")
    axes[1].legend(fontsize=7)
    if with_cost:
        axes[2].scatter(diagnostics["mean_cost"], r2, s=22, color="#4c72b0", label="transition")
        axes[2].set_xlabel("mean OT cost of the pairs")
        axes[2].set_ylabel(r2_label)
        axes[2].set_title("Transport cost vs fit")
        axes[2].legend(fontsize=7)
    return fig


def _spread(n: int) -> np.ndarray:
    return np.linspace(0.0, -1.0, n) if n > 1 else np.array([-0.5])


def network_figure(coefficients: pd.DataFrame, title: str, n_edges: int = 40):
    """The transition's strongest edges as a two-column graph: TFs (in A) left, targets (in B) right."""
    plt = _pyplot()
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    edges = coefficients.loc[coefficients["weight"].abs().nlargest(n_edges).index]
    edges = edges[edges["weight"] != 0]
    if edges.empty:
        return placeholder_figure(f"{title}: network", "every weight is zero")
    drive = edges.assign(a=edges["weight"].abs()).groupby("tf")["a"].sum().sort_values(ascending=False)
    tf_y = dict(zip(drive.index, _spread(len(drive))))
    # targets sorted by the mean height of their TFs, which keeps crossings few
    barycenter = edges.assign(y=edges["tf"].map(tf_y)).groupby("target_gene")["y"].mean().sort_values(ascending=False)
    target_y = dict(zip(barycenter.index, _spread(len(barycenter))))
    limit = float(edges["weight"].abs().max())
    norm, cmap = TwoSlopeNorm(0.0, -limit, limit), plt.get_cmap("RdBu_r")
    rows = max(len(tf_y), len(target_y))
    fig, ax = plt.subplots(figsize=(6.2, 1.6 + 0.2 * rows), constrained_layout=True)
    for row in edges.sort_values("weight", key=np.abs).itertuples():
        ax.plot([0, 1], [tf_y[row.tf], target_y[row.target_gene]], color=cmap(norm(row.weight)),
                lw=0.5 + 3.5 * abs(row.weight) / limit, alpha=0.85, solid_capstyle="round")
    ax.scatter([0] * len(tf_y), list(tf_y.values()), s=40, color="#333", zorder=3, label="TF (expression in A)")
    ax.scatter([1] * len(target_y), list(target_y.values()), s=30, color="white", edgecolor="#333", zorder=3,
               label="target (expression in B)")
    for tf, y in tf_y.items():
        ax.text(-0.04, y, tf, ha="right", va="center", fontsize=7)
    for gene, y in target_y.items():
        ax.text(1.04, y, gene, ha="left", va="center", fontsize=7)
    ax.set_xlim(-0.4, 1.4)
    ax.set_axis_off()
    ax.set_title(f"{title}: top {len(edges)} edges by |weight|")
    sign_handles = [Line2D([], [], color=cmap(norm(limit)), lw=2.5, label="activating (+)"),
                    Line2D([], [], color=cmap(norm(-limit)), lw=2.5, label="repressing (−)")]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + sign_handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7,
              frameon=False)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.5, pad=0.0, label="weight (width ∝ |weight|)")
    return fig


def gene_r2_figure(gene_r2: pd.DataFrame, title: str, low: float = -1.0):
    """Distribution of per-gene held-out R^2 for the mapping and for its null (values below ``low`` clipped)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.4), constrained_layout=True)
    columns = [("r2_test", "mapping", "#4c72b0"), ("r2_test_null", "random null", NEUTRAL)]
    values = {c: gene_r2[c].to_numpy(dtype=float) for c, _, _ in columns if c in gene_r2}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()]) if values else np.array([])
    if not finite.size:
        plt.close(fig)
        return placeholder_figure(f"{title}: per-gene R²", "no gene could be evaluated")
    bins = np.linspace(max(low, finite.min()), max(finite.max(), 0.05), 40)
    clipped = 0
    for column, name, color in columns:
        if column not in values:
            continue
        v = values[column][np.isfinite(values[column])]
        clipped += int((v < bins[0]).sum())
        ax.hist(np.clip(v, bins[0], None), bins=bins, histtype="stepfilled" if column == "r2_test" else "step",
                alpha=0.55 if column == "r2_test" else 1.0, color=color, lw=1.2,
                label=f"{name} (median {np.median(v):.3f})")
    ax.axvline(0, color="black", lw=0.8, ls="--")
    ax.set_xlabel("held-out R² per target gene" + (f" ({clipped} values < {bins[0]:.1f} shown at it)" if clipped else ""))
    ax.set_ylabel("genes")
    ax.set_title(f"{title}: per-gene R²")
    ax.legend(fontsize=7)
    return fig


def predictions_figure(predictions: pd.DataFrame, gene_r2: pd.DataFrame, title: str):
    """Predicted vs observed (top row) and residuals (bottom row) for the best and worst predicted genes."""
    plt = _pyplot()
    genes = list(predictions.drop_duplicates("target_gene")[["kind", "target_gene"]].itertuples(index=False))
    if not genes:
        return placeholder_figure(f"{title}: predictions", "no gene could be evaluated")
    r2 = gene_r2.set_index("target_gene")["r2_test"] if "r2_test" in gene_r2 else pd.Series(dtype=float)
    fig, axes = plt.subplots(2, len(genes), figsize=(2.3 * len(genes) + 0.4, 4.8), squeeze=False, constrained_layout=True)
    for col, (kind, gene) in enumerate(genes):
        sub = predictions[predictions["target_gene"] == gene]
        top, bottom = axes[0, col], axes[1, col]
        color = ACTIVATING if kind == "worst" else REPRESSING
        top.scatter(sub["observed"], sub["predicted"], s=5, alpha=0.5, color=color, label="test pair")
        both = sub[["observed", "predicted"]].to_numpy(dtype=float)
        low, high = np.nanmin(both), np.nanmax(both)
        top.plot([low, high], [low, high], color=NEUTRAL, lw=0.8, ls="--", label="y = x")
        score = r2.get(gene, np.nan)
        top.set_title(f"{gene} ({kind}, R² {score:.2f})", fontsize=8)
        top.set_xlabel("observed in B")
        bottom.scatter(sub["predicted"], sub["observed"] - sub["predicted"], s=5, alpha=0.5, color=color)
        bottom.axhline(0, color="black", lw=0.8)
        bottom.set_xlabel("predicted from A")
    axes[0, 0].set_ylabel("predicted from A")
    axes[1, 0].set_ylabel("residual (observed − predicted)")
    axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.suptitle(f"{title}: best (blue) and worst (red) predicted genes on held-out pairs", fontsize=9)
    return fig


def write_transition_figures(coefficients: pd.DataFrame, gene_r2: pd.DataFrame, predictions: pd.DataFrame, title: str,
                             paths: dict[str, str | Path], n_edges: int = 40) -> None:
    """Draw one transition's figures (``paths`` keyed by :data:`TRANSITION_FIGURES`)."""
    figure_png(network_figure(coefficients, title, n_edges), paths["network"])
    figure_png(gene_r2_figure(gene_r2, title), paths["gene_r2"])
    figure_png(predictions_figure(predictions, gene_r2, title), paths["predictions"])


# --------------------------------------------------------------------------- HTML

STYLE = """
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--accent:#2f5fa7;--pos:#b2182b;--neg:#2166ac}
*{box-sizing:border-box} body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:1.2rem 2rem} header h1{margin:0;font-size:1.5rem} header p{margin:.2rem 0 0;color:#c9d1e0}
nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);padding:.5rem 2rem;display:flex;gap:1.2rem;flex-wrap:wrap}
nav a{color:var(--accent);text-decoration:none;font-weight:600;font-size:.9rem}
main{max-width:1280px;margin:0 auto;padding:1rem 2rem 3rem}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.4rem;margin:1.2rem 0}
h2{margin:.2rem 0 .6rem;font-size:1.25rem} h3{font-size:1.05rem;margin:1rem 0 .4rem} h4{margin:.6rem 0 .3rem;font-size:.95rem}
p.note,.muted{color:var(--muted)} p.note{font-size:.88rem;max-width:75em}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:.4rem 0}
.card{border:1px solid var(--line);border-radius:8px;padding:.5rem .9rem;min-width:9rem;background:var(--bg)}
.card b{display:block;font-size:1.3rem} .card span{color:var(--muted);font-size:.8rem}
table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0} th,td{border-bottom:1px solid var(--line);padding:.22rem .55rem;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600} td.num{text-align:right;font-variant-numeric:tabular-nums} td a{white-space:nowrap} table.wrap td:last-child{word-break:break-all}
table.wrap td:first-child{white-space:nowrap} .tablewrap{max-width:100%;overflow-x:auto}
.badge{display:inline-block;border-radius:5px;padding:.15rem .55rem;font-size:.85rem;font-weight:600;margin:.2rem 0 .5rem}
.badge.warn{background:#fff4e5;border:1px solid #f5a524;color:#7a4100} td.warn{color:#7a4100;font-weight:600}
table.sortable th{cursor:pointer;user-select:none} table.sortable th:hover{background:#e9edf5}
th[data-dir=asc]::after{content:" ▲";font-size:.7em} th[data-dir=desc]::after{content:" ▼";font-size:.7em}
.scroll{max-height:32rem;overflow:auto;border:1px solid var(--line);border-radius:6px}
.scroll th{position:sticky;top:0;box-shadow:0 1px 0 var(--line)}
.kv{display:flex;flex-wrap:wrap;gap:.3rem .5rem;margin:.3rem 0 .6rem} .kv span{background:var(--bg);border:1px solid var(--line);border-radius:5px;padding:.1rem .5rem;font-size:.82rem;color:var(--muted)}
.kv b{color:var(--fg);margin-left:.3rem;font-variant-numeric:tabular-nums}
.pos{color:var(--pos);font-weight:600} .neg{color:var(--neg);font-weight:600}
img{max-width:100%;height:auto;display:block;margin:.4rem 0}
figure{margin:.6rem 0} figcaption{color:var(--muted);font-size:.85rem;max-width:75em}
.grid{display:flex;flex-wrap:wrap;gap:1.2rem;align-items:flex-start} .grid>div{flex:1 1 420px;min-width:0}
.picker{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:.4rem 0 .8rem}
.picker select{font-size:.95rem;padding:.25rem;max-width:min(38rem,100%)} .picker button{font-size:.9rem;padding:.25rem .7rem}
code{font-size:.85em;background:var(--bg);padding:0 .25em;border-radius:3px}
details summary{cursor:pointer;font-weight:600;margin:.4rem 0}
"""

SCRIPT = """
document.addEventListener('click', function (event) {
  var th = event.target.closest('table.sortable th');
  if (!th) return;
  var table = th.closest('table'), body = table.tBodies[0], index = Array.prototype.indexOf.call(th.parentNode.children, th);
  var ascending = th.dataset.dir !== 'asc';
  table.querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; });
  th.dataset.dir = ascending ? 'asc' : 'desc';
  var key = function (row) { var c = row.children[index]; return c.dataset.v !== undefined ? parseFloat(c.dataset.v) : c.textContent; };
  var rows = Array.prototype.slice.call(body.rows).sort(function (a, b) {
    var x = key(a), y = key(b);
    if (typeof x === 'number') { if (isNaN(x)) return 1; if (isNaN(y)) return -1; return ascending ? x - y : y - x; }
    return ascending ? String(x).localeCompare(y) : String(y).localeCompare(x);
  });
  rows.forEach(function (row) { body.appendChild(row); });
});
(function () {
  var select = document.getElementById('transition-select'), view = document.getElementById('transition-view');
  if (!select) return;
  function show(id) {
    var template = document.getElementById('tpl-' + id);
    if (!template) return;
    view.replaceChildren(template.content.cloneNode(true));
    select.value = id;
  }
  function fromHash() {
    var match = location.hash.match(/^#t=(.+)$/);
    if (match) { show(decodeURIComponent(match[1])); document.getElementById('transitions').scrollIntoView(); }
  }
  function step(delta) {
    var i = Math.min(select.options.length - 1, Math.max(0, select.selectedIndex + delta));
    location.hash = 't=' + select.options[i].value;
  }
  select.addEventListener('change', function () { location.hash = 't=' + select.value; });
  document.getElementById('transition-prev').addEventListener('click', function () { step(-1); });
  document.getElementById('transition-next').addEventListener('click', function () { step(1); });
  window.addEventListener('hashchange', fromHash);
  show(select.value);
  fromHash();
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any, float_format: str, column: str) -> str:
    """One table cell; numbers carry data-v so that the sort is numeric."""
    if isinstance(value, (bool, np.bool_)):
        if column == "above_null" and not value:  # its edges are unsupported: make it stand out
            return "<td class='warn' title='held-out R² not above the random-pairing null'>no ⚠</td>"
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, np.integer)):
        return f'<td class="num" data-v="{int(value)}">{int(value)}</td>'
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return '<td class="num" data-v="NaN">NA</td>'
        sign = ' pos' if column == "weight" and value > 0 else ' neg' if column == "weight" and value < 0 else ""
        return f'<td class="num{sign}" data-v="{float(value)!r}">{float_format.format(value)}</td>'
    return f"<td>{_e(value)}</td>"


def _number(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "NA" if not np.isfinite(value) else f"{value:.3f}"
    return str(value)


def table_html(frame: pd.DataFrame, float_format: str = "{:.3f}", links: dict[str, str] | None = None,
               scroll: bool = False, wrap: bool = False) -> str:
    """A sortable HTML table; ``links`` maps values of the first column to hrefs; ``wrap`` breaks long words."""
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = [_cell(v, float_format, c) for v, c in zip(record, frame.columns)]
        if links and record[0] in links:
            cells[0] = f'<td><a href="{_e(links[record[0]])}">{_e(record[0])}</a></td>'
        rows.append("<tr>" + "".join(cells) + "</tr>")
    table = f'<table class="sortable{" wrap" if wrap else ""}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    # a table wider than its card scrolls inside it instead of spilling over the page
    return f'<div class="{"scroll" if scroll else "tablewrap"}">{table}</div>'


def img_html(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def figure_html(png: bytes, alt: str, caption: str) -> str:
    return f"<figure>{img_html(png, alt)}<figcaption>{caption}</figcaption></figure>"


# the only columns the report reads of a transition's tables (not, e.g., the bootstrap's confidence columns)
COEFFICIENT_COLUMNS = ("tf", "target_gene", "weight", "null_weight")
GENE_R2_COLUMNS = ("r2_test",)
MAPPING_COLUMNS = ("source_cell", "target_cell", "cost")


def read_table(table: pd.DataFrame | str | Path | None, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """A transition's table as given, or read from its parquet file (only those of ``columns`` it has)."""
    if table is None or isinstance(table, pd.DataFrame):
        return table
    import pyarrow.parquet as pq

    names = set(pq.read_schema(table).names)
    return pd.read_parquet(table, columns=[c for c in columns if c in names])


@dataclass
class TransitionResult:
    """What the report needs of one transition (any missing piece drops only its own panel).

    The tables are data frames or the paths of their parquet files; files are read one
    transition at a time (:func:`summarize_transitions`), so a large run never holds them all.
    """

    coefficients: pd.DataFrame | str | Path
    gene_r2: pd.DataFrame | str | Path | None = None
    mapping: pd.DataFrame | str | Path | None = None
    figures: dict[str, Path] = field(default_factory=dict)


@dataclass
class TransitionSummary:
    """What the page shows of one transition, reduced from its tables by :func:`summarize_transitions`."""

    strong: int  # edges stronger than the null's noise (n_strong_edges)
    edges: pd.DataFrame  # the strongest edges, as the panel's table (_edge_table)
    tf_total: pd.Series  # per TF: sum of |weight| and of weight (tf_sums)
    tf_net: pd.Series
    mapping: dict[str, float] | None = None  # mapping_diagnostics
    gene_r2: tuple[float, int, int] | None = None  # per-gene held-out R²: median, genes above 0, genes with a value


@dataclass
class ReportContext:
    """Everything derived once from the inputs and shared by the sections."""

    table: pd.DataFrame
    summary: dict
    config: dict
    transitions: dict[str, TransitionResult]
    labels: pd.Series
    strong: dict[str, int]
    figure_dir: Path | None
    reference: pd.DataFrame | None = None
    order: list[str] = field(default_factory=list)
    summaries: dict[str, TransitionSummary] = field(default_factory=dict)
    similarity: np.ndarray | None = None  # transitions x transitions correlation of the weights, in ``transitions`` order
    demo: bool = False  # the demo data were simulated (its demo.* parameters were used)
    same_cell: bool = False  # a same-cell design: no mapping diagnostics (same_cell_design)
    flagged: pd.Series = field(default_factory=lambda: pd.Series(dtype=bool))  # below_null, by transition
    _reference_signs: pd.Series | None = field(default=None, init=False, repr=False)

    def figure(self, name: str, fig) -> bytes:
        return figure_png(fig, None if self.figure_dir is None else self.figure_dir / f"{name}.png")

    def reference_signs(self) -> pd.Series:
        """The reference's sign per (tf, target_gene) edge, indexed once for every transition's table."""
        if self._reference_signs is None:
            self._reference_signs = self.reference.drop_duplicates(["tf", "target_gene"]).set_index(
                ["tf", "target_gene"])["sign"]
        return self._reference_signs


def summarize_transitions(ctx: ReportContext, top: int, scratch_dir: str | Path | None = None) -> None:
    """Read each transition's tables in turn and keep only what the page shows: fills
    ``ctx.summaries``, ``ctx.strong`` and ``ctx.similarity`` (via a :class:`WeightCorrelation`
    whose scratch file goes to ``scratch_dir``, the system's temporary folder if None)."""
    rows = ctx.table.set_index("transition")
    tfs = None
    with WeightCorrelation(scratch_dir) as correlation:
        for transition, result in ctx.transitions.items():
            coefficients = read_table(result.coefficients, COEFFICIENT_COLUMNS)
            total, net = tf_sums(coefficients)
            if tfs is not None and total.index.equals(tfs):
                total.index = net.index = tfs  # one index object for all transitions' TF sums
            else:
                tfs = net.index = total.index
            # same-cell designs use every cell once at cost 0: nothing to diagnose, nothing to read
            mapping = None if ctx.same_cell else read_table(result.mapping, MAPPING_COLUMNS)
            gene_r2 = read_table(result.gene_r2, GENE_R2_COLUMNS)
            row = rows.loc[transition]
            r2 = None if gene_r2 is None else gene_r2["r2_test"]
            ctx.summaries[transition] = TransitionSummary(
                strong=n_strong_edges(coefficients), edges=_edge_table(ctx, coefficients, top), tf_total=total, tf_net=net,
                mapping=None if mapping is None else mapping_diagnostics(mapping, int(row["n_source_cells"]),
                                                                         int(row["n_target_cells"])),
                gene_r2=None if r2 is None else (float(r2.median()), int((r2 > 0).sum()), int(r2.notna().sum())))
            correlation.add(coefficients)
            del coefficients, mapping, gene_r2, r2
        ctx.similarity = correlation.correlation()
    ctx.strong = {t: s.strong for t, s in ctx.summaries.items()}


def _median(table: pd.DataFrame, column: str, fmt: str = "{:.3f}") -> str:
    return fmt.format(table[column].median()) if _has(table, column) else "NA"


def _cards(ctx: ReportContext, skipped: pd.DataFrame) -> str:
    """Headline numbers; the per-gene R² summaries first (:data:`POOLED_R2_NOTE`)."""
    table, prior = ctx.table, ctx.summary.get("prior", {})
    cards = [(len(table), "transitions fitted"), (len(skipped), "transitions skipped")]
    if _has(table, "r2_test_median"):
        cards.append((_median(table, "r2_test_median"), "median per-gene held-out R² (median over transitions)"))
    if _has(table, "frac_targets_above_null"):
        cards.append((_median(table, "frac_targets_above_null", "{:.0%}"),
                      "targets beating the null by 0.05 (median over transitions)"))
    cards += [(f"{int((~ctx.flagged).sum())} of {len(table)}", "transitions above their null (pooled R²)"),
              (_median(table, "r2_test"), "pooled held-out R² (median over transitions)"),
              (_median(table, "r2_test_null"), "pooled null R² (median)")]
    if "auprc_ratio" in table:
        cards.append((_median(table, "auprc_ratio", "{:.2f}"), "median AUPRC ratio"))
    cards += [(ctx.summary.get("n_cells", "?"), "cells"), (prior.get("n_tfs", "?"), "TFs"),
              (prior.get("n_targets", "?"), "targets"), (prior.get("n_edges", "?"), "prior edges")]
    return ('<div class="cards">' + "".join(f"<div class='card'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in cards)
            + f"</div><p class='note'>{POOLED_R2_NOTE}</p>")


def run_section(ctx: ReportContext, skipped: pd.DataFrame, times: pd.DataFrame | None) -> str:
    """Inputs and checksums, counts after alignment, parameters, versions, wall times, skipped transitions."""
    summary = ctx.summary
    inputs = pd.DataFrame([{"input": k, "path": v["path"], "sha256": v["sha256"]} for k, v in summary.get("inputs", {}).items()])
    p = summary.get("prior", {})
    counts = pd.DataFrame([
        {"what": "cells", "in the data": summary.get("n_cells"), "used": summary.get("n_cells", 0) - summary.get("n_unlabelled_cells", 0)},
        {"what": "genes", "in the data": summary.get("n_genes"), "used": p.get("n_genes_used")},
        {"what": "TFs (prior)", "in the data": p.get("n_tfs_input"), "used": p.get("n_tfs")},
        {"what": "targets (prior)", "in the data": p.get("n_targets_input"), "used": p.get("n_targets")},
        {"what": "edges (prior)", "in the data": p.get("n_edges_input"), "used": p.get("n_edges")},
    ]).rename(columns={"in the data": "in the input"})
    if "reference" in summary:
        counts.loc[len(counts)] = ["edges (reference)", summary["reference"]["n_edges"], summary["reference"]["n_edges_in_prior"]]
    sizes = pd.DataFrame(list(summary.get("cluster_sizes", {}).items()), columns=["cluster", "cells"])
    params = pd.DataFrame(list(used_parameters(ctx.config, ctx.demo).items()), columns=["parameter", "value"])
    from .io import package_versions  # one definition, shared with the outputs' provenance

    versions = pd.DataFrame(list(package_versions().items()), columns=["package", "version"])
    parts = ["<section id='run'><h2>Run summary</h2>", _cards(ctx, skipped), "<div class='grid'><div><h3>Inputs</h3>",
             table_html(inputs, wrap=True) if len(inputs) else "<p class='muted'>No inputs recorded.</p>",
             "<h3>Counts after alignment</h3><p class='note'>Only genes in both the data and the prior are used; "
             f"prior format: {_e(summary.get('prior_format', '?'))}.</p>", table_html(counts.astype(object)),
             "<h3>Cluster sizes</h3>", table_html(sizes), "</div><div><h3>Parameters</h3><p class='note'>The ones this "
             "run used: options of other mapping methods, solvers and transition modes are left out.</p>",
             table_html(params, scroll=True, wrap=True),
             "<h3>Package versions</h3>", table_html(versions, wrap=True), "</div></div>"]
    if times is not None and len(times):
        parts += ["<h3>Wall time per stage</h3><p class='note'>From Snakemake's benchmark files: seconds per job, "
                  "summed over the stage's jobs (jobs may have run in parallel).</p>", table_html(times, "{:.2f}")]
    parts.append("<h3>Skipped transitions</h3>")
    parts.append(table_html(skipped) if len(skipped) else "<p>No transition was skipped.</p>")
    return "".join(parts) + "</section>"


def transitions_overview(ctx: ReportContext) -> pd.DataFrame:
    """The transitions table as shown: held-out R² columns in :data:`R2_COLUMNS` order (per-gene
    first), ``above_null`` always present, strong edges beside the edge count."""
    table = ctx.table.copy()
    if "mapping" in table and table["mapping"].nunique() <= 1:  # the header names it
        table = table.drop(columns=["mapping"])
    table["above_null"] = ~ctx.flagged.reindex(table["transition"]).to_numpy(dtype=bool)
    r2 = [c for c in R2_COLUMNS if c in table]
    first = min(table.columns.get_loc(c) for c in r2)
    rest = [c for c in table.columns if c not in r2]
    table = table[rest[:first] + r2 + rest[first:]]
    if "n_edges" in table:
        table.insert(table.columns.get_loc("n_edges") + 1, "strong_edges", table["transition"].map(ctx.strong).astype(int))
    return table


def overview_section(ctx: ReportContext) -> str:
    """Cluster graph, R^2 heatmaps and the transitions table."""
    graph = ctx.figure("cluster_graph", cluster_graph_figure(ctx.table, ctx.strong, ctx.summary))
    heat = ctx.figure("r2_heatmap", r2_heatmap_figure(ctx.table))
    table = transitions_overview(ctx)
    links = {t: f"#t={t}" for t in table["transition"]}
    panels = ", ".join(title for _, title in r2_panels(ctx.table))
    median = headline_r2(ctx.table) == "r2_test_median"
    flagged = int(ctx.flagged.sum())
    warning = (f"<p class='badge warn'>⚠ {flagged} of {len(ctx.flagged)} transitions: {NOT_ABOVE_NULL} "
               "(dashed arrows; <code>above_null</code> = no in the table).</p>" if flagged else "")
    return (
        "<section id='overview'><h2>Transitions at a glance</h2>" + warning
        + figure_html(graph, "cluster graph", "Each arrow is a fitted transition A → B. Colour: "
                      + ("median per-gene held-out R²" if median else "held-out R² (pooled)")
                      + " (a sequential scale when all values share a sign, else diverging around 0); width: number "
                      f"of <i>strong</i> edges, whose |weight| exceeds the {STRONG_QUANTILE:.0%} quantile of |weight| in "
                      "the same fit on a random pairing; dashed: held-out R² not above the random-pairing null.")
        + figure_html(heat, "held-out R2 heatmaps", f"Held-out R² of every source × target pair: {_e(panels)}. "
                      "A mapping carries signal where its R² clearly exceeds the null's (which is ≈ 0 or below). "
                      + POOLED_R2_NOTE)
        + "<h3>All transitions</h3><p class='note'>Click a column to sort; click a transition for its details. "
        "<code>above_null</code>: the pooled held-out R² beats the random-pairing null's.</p>"
        + table_html(table, links=links, scroll=True) + "</section>"
    )


def _edge_table(ctx: ReportContext, coefficients: pd.DataFrame, top: int) -> pd.DataFrame:
    edges = strongest_edges(coefficients, top).reset_index(drop=True)
    threshold = strong_threshold(coefficients)
    if np.isfinite(threshold) and threshold > 0:
        edges["× null q99"] = edges["weight"].abs() / threshold
    if ctx.reference is not None and len(ctx.reference):
        known = ctx.reference_signs()
        keys = pd.MultiIndex.from_frame(edges[["tf", "target_gene"]])
        sign = known.reindex(keys).to_numpy()
        edges["reference"] = ["no" if pd.isna(s) else {1: "yes (+)", -1: "yes (−)"}.get(int(s), "yes") for s in sign]
    return edges.rename(columns={"target_gene": "target"})


def _transition_panel(ctx: ReportContext, transition: str, top: int, with_figures: bool, detail: int) -> str:
    """One transition's details, as a template the page clones when it is selected."""
    row = ctx.table.set_index("transition").loc[transition]
    result, summary = ctx.transitions[transition], ctx.summaries[transition]
    metrics = {k: row[k] for k in (*R2_COLUMNS, "n_source_cells", "n_target_cells", "n_pairs", *RECOVERY_METRICS)
               if k in row.index and k != "above_null"}
    metrics["n_edges"], metrics["strong_edges"] = row.get("n_edges"), ctx.strong.get(transition, 0)
    if summary.mapping is not None:
        metrics.update({k: summary.mapping[k] for k in ("source_cells_used", "target_cells_used", "mean_cost")
                        if k in summary.mapping})
    metric_table = "<div class='kv'>" + "".join(f"<span>{_e(k)}<b>{_e(_number(v))}</b></span>" for k, v in metrics.items()) + "</div>"
    edges = table_html(summary.edges, scroll=True)
    title = ctx.labels[transition]
    figures = {k: Path(v).read_bytes() for k, v in result.figures.items() if with_figures and Path(v).exists()}
    if figures:
        right = img_html(figures["network"], f"network {title}") if "network" in figures else ""
        bottom = "".join(img_html(figures[k], f"{k} {title}") for k in ("gene_r2", "predictions") if k in figures)
    else:
        right = (f"<p class='note'>Figures are embedded for the {detail} "
                 "transitions with the highest held-out R² only (<code>report.detail_transitions</code>); this one's are in "
                 f"<code>results/figures/transitions/{_e(transition)}/</code> and in Snakemake's report.</p>")
        if summary.gene_r2 is not None:
            median, above, finite = summary.gene_r2
            right += f"<p>Per-gene held-out R²: median {median:.3f}, {above} of {finite} genes above 0.</p>"
        bottom = ""
    # shown where the edges are: a fit that predicts held-out pairs no better than random pairing has no support
    flag = (f"<p class='badge warn' data-flag='below-null'>⚠ {NOT_ABOVE_NULL} (pooled R² {_number(row['r2_test'])} vs "
            f"null {_number(row['r2_test_null'])}).</p>" if ctx.flagged.get(transition, False) else "")
    return (f"<template id='tpl-{_e(transition)}'><article><h3>{_e(title)}</h3>{flag}{metric_table}"
            f"<div class='grid'><div><h4>Strongest edges (<span class='pos'>+ activating</span>, "
            f"<span class='neg'>− repressing</span>)</h4>{edges}</div><div>{right}</div></div>"
            f"<div class='grid'>{bottom}</div></article></template>")


def transitions_section(ctx: ReportContext, top: int, detail: int) -> str:
    """A selector over every transition; the ``detail`` best by held-out R^2 carry figures."""
    column = headline_r2(ctx.table)
    name = "median per-gene R²" if column == "r2_test_median" else "R²"
    ranked = ctx.table.sort_values(column, ascending=False, na_position="last")["transition"].tolist()
    with_figures = set(ranked[:detail])
    options = "".join(f"<option value='{_e(t)}'>{_e(ctx.labels[t])} — {name} {r2:.3f}"
                      f"{' ⚠ not above null' if ctx.flagged.get(t, False) else ''}"
                      f"{'' if t in with_figures else ' (tables only)'}</option>"
                      for t, r2 in zip(ranked, ctx.table.set_index("transition").loc[ranked, column]))
    templates = "".join(_transition_panel(ctx, t, top, t in with_figures, detail) for t in ranked)
    return (f"<section id='transitions'><h2>Per transition</h2><p class='note'>Transitions are listed by held-out {name}; "
            "⚠ marks a transition whose held-out R² is not above its random-pairing null. "
            "The network shows the strongest edges: TFs (expression in the source cluster A) on the left, targets "
            "(expression in B) on the right; colour = sign, width = |weight|. '× null q99' compares |weight| with the "
            "noise level of the random-pairing fit.</p>"
            "<div class='picker'><button id='transition-prev' type='button'>◀</button>"
            f"<select id='transition-select' aria-label='transition'>{options}</select>"
            "<button id='transition-next' type='button'>▶</button></div>"
            f"<div id='transition-view'></div>{templates}</section>")


def across_section(ctx: ReportContext) -> str:
    """TF x transition drive and the clustering of transitions by GRN similarity."""
    similarity, tree = similarity_tree(ctx.similarity, pd.Index(list(ctx.summaries)))
    if tree is not None:
        fig, ctx.order = similarity_figure(similarity, tree, ctx.labels)
        similar = ctx.figure("grn_similarity", fig)
        similar_html = figure_html(similar, "GRN similarity", "Pearson correlation between the transitions' weight vectors "
                                   "(every prior edge), ordered by an average-linkage tree on 1 − r. Red blocks are "
                                   "transitions that use the same edges with the same signs.")
    else:
        ctx.order = list(ctx.table["transition"])
        ctx.figure("grn_similarity", placeholder_figure("GRN similarity", "needs at least 2 transitions"))
        similar_html = "<p class='muted'>Clustering needs at least 2 transitions.</p>"
    total, net = tf_frames({t: (s.tf_total, s.tf_net) for t, s in ctx.summaries.items()})
    activity = ctx.figure("tf_activity", tf_activity_figure(total, net, ctx.labels, ctx.order))
    return ("<section id='across'><h2>Across transitions</h2>"
            + figure_html(activity, "TF by transition", "Which TFs drive which transition: left, the sum of |weight| "
                          "over each TF's targets; right, the signed sum (red = net activating, blue = net repressing), "
                          "so a TF can drive strongly (left) with mixed signs (white on the right).")
            + similar_html + "</section>")


def _named(ctx: ReportContext, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the transitions table with the transition named 'A → B' in front."""
    named = frame.reset_index(drop=True).copy()
    named.insert(0, "transition", [ctx.labels[t] for t in ctx.table["transition"]])
    return named


def validation_section(ctx: ReportContext) -> str:
    """Recovery of the reference, model comparison and mapping diagnostics."""
    parts = ["<section id='validation'><h2>Validation</h2>"]
    compare = ctx.figure("r2_comparison", r2_comparison_figure(ctx.table, ctx.labels))
    has_mlp = "r2_test_mlp" in ctx.table and ctx.table["r2_test_mlp"].notna().any()
    parts.append("<h3>Held-out R² against baselines</h3>" + figure_html(
        compare, "R2 comparison", "Each point is a transition; above the dashed line the mapping beats its random null"
        + (", and on the right the MLP beats the linear fit." if has_mlp else ".")))
    if has_mlp:
        diff = ctx.table[["r2_test", "r2_test_mlp"]].assign(mlp_minus_linear=ctx.table["r2_test_mlp"] - ctx.table["r2_test"])
        parts.append(table_html(_named(ctx, diff), scroll=True))
    metrics = [m for m in RECOVERY_METRICS if m in ctx.table and ctx.table[m].notna().any()]
    if metrics:
        recovery = ctx.figure("recovery", recovery_figure(ctx.table, metrics))
        parts.append("<h3>Recovery of the reference network</h3>" + figure_html(
            recovery, "recovery metrics", "AUPRC ratio = average precision of |weight| for the reference edges among the "
            "prior's edges divided by chance (dashed line = chance for every metric); AUROC; sign accuracy = fraction "
            "of reference edges whose weight has the right sign (a zero weight counts as wrong; "
            "<code>sign_accuracy_called</code>: over the non-zero weights only); EPR = early precision ratio where "
            "computed."))
        parts.append(table_html(_named(ctx, ctx.table[metrics]), scroll=True))
    elif ctx.config.get("reference"):
        ctx.figure("recovery", placeholder_figure("Recovery", "no finite recovery metric (reference edges outside the prior?)"))
    diagnostics = pd.DataFrame({t: s.mapping for t, s in ctx.summaries.items() if s.mapping is not None}).T
    if ctx.same_cell:  # the figure is not written either (report.smk declares it only for couplings)
        parts.append("<h3>Mapping diagnostics</h3><p class='note'>None for this design: a same-cell design "
                     f"(<code>{_e(design_label(ctx.summary, ctx.table, ctx.config))}</code>) pairs every cell of A and B "
                     "with itself, so every cell is used once, none is reused and the cost is 0.</p>")
    elif not len(diagnostics):
        ctx.figure("mapping", placeholder_figure("Mapping diagnostics", "no mapping table was given"))
    else:
        mapping = ctx.figure("mapping", mapping_figure(diagnostics.astype(float), ctx.table))
        parts.append("<h3>Mapping diagnostics</h3>" + figure_html(
            mapping, "mapping diagnostics", "How many distinct cells of each cluster the main mapping paired and how often "
            "one cell was reused (a mapping that pairs everything with a few cells fits only those states)"
            + ("; OT cost where recorded." if "mean_cost" in diagnostics else ".")))
        named = diagnostics.astype(float)
        named = named.astype({c: int for c in named if c.startswith(("pairs", "source_cells", "target_cells"))})
        named.insert(0, "transition", [ctx.labels[t] for t in named.index])
        parts.append(table_html(named.reset_index(drop=True), scroll=True))
    return "".join(parts) + "</section>"


def build_report(table: pd.DataFrame, summary: dict, skipped: pd.DataFrame, config: dict[str, Any],
                 transitions: dict[str, TransitionResult], reference: pd.DataFrame | None = None,
                 times: pd.DataFrame | None = None, figure_dir: str | Path | None = None, top: int = 15,
                 detail: int = 30, scratch_dir: str | Path | None = None, demo: bool = False) -> str:
    """The report's HTML text; overview and validation figures are also written to ``figure_dir``.

    ``transitions`` may name files rather than hold tables (see :class:`TransitionResult`); they
    are read one at a time. ``scratch_dir`` takes a temporary file of 4 bytes per transition and
    edge (:class:`WeightCorrelation`; default: the system's temporary folder). ``demo``: the demo
    data were simulated, so the ``demo.*`` parameters are listed.
    """
    table = table.reset_index(drop=True)
    transitions = {t: transitions[t] for t in table["transition"]}
    ctx = ReportContext(table=table, summary=summary, config=config, transitions=transitions,
                        labels=_transition_labels(table), strong={},
                        figure_dir=None if figure_dir is None else Path(figure_dir), reference=reference, demo=demo,
                        same_cell=same_cell_design(config.get("mapping", {}).get("method")), flagged=below_null(table))
    summarize_transitions(ctx, top, scratch_dir)
    sections = [run_section(ctx, skipped, times), overview_section(ctx), transitions_section(ctx, top, detail),
                across_section(ctx), validation_section(ctx)]
    mapping = html.escape(design_label(summary, table, config))
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f"<a href='#{k}'>{v}</a>" for k, v in (("run", "Run"), ("overview", "Transitions at a glance"),
                                                       ("transitions", "Per transition"), ("across", "Across transitions"),
                                                       ("validation", "Validation")))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>transgrn report</title><link rel='icon' href='data:,'><style>{STYLE}</style></head><body>"
            f"<header><h1>transgrn report</h1><p>{len(table)} transitions · mapping <b>{mapping}</b> · generated {now}</p></header>"
            f"<nav>{nav}</nav><main>{''.join(sections)}</main><script>{SCRIPT}</script></body></html>")


def write_report(path: str | Path, **kwargs: Any) -> None:
    """Build the report and move it into place only once complete."""
    from .io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(build_report(**kwargs), encoding="utf-8")
