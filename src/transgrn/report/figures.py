"""The report's figures (matplotlib), rendered as PNG bytes and written to files.

matplotlib is imported inside the functions (:func:`_matplotlib`), so importing this module (and the
package, e.g. from report.smk at every DAG build) does not load it. Only its object API is used
(:func:`_figure`), never pyplot: the figure jobs run as threads inside Snakemake's process, where
pyplot's current figure and figure registry would be shared between them.
"""

from __future__ import annotations

import functools
import io as _io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import RECOVERY_CHANCE
from ..edges import own_edges
from .summaries import below_null, format_number, has_values, headline_r2, r2_panels

# the figures' file names (``{name}.png``): the page's overview and validation figures, written to the report's
# figure folder, and each transition's (rule plot_transition); report.smk declares them as outputs
OVERVIEW_FIGURES = ("cluster_graph", "r2_heatmap", "tf_activity", "grn_similarity")
VALIDATION_FIGURES = ("r2_comparison", "recovery", "mapping")
TRANSITION_FIGURES = ("network", "gene_r2", "predictions")
MAX_TICK_LABELS = 60
DPI = 100
PAD_INCHES = 0.1  # around a cropped figure's content, as savefig's bbox_inches="tight"
ACTIVATING, REPRESSING, NEUTRAL = "#b2182b", "#2166ac", "#7f7f7f"


# The report's look. matplotlib's rcParams are one dict for the whole process, read as each artist is
# made; the figure jobs run as threads in one process (Snakemake's), so the style is set once per process,
# under a lock, before the first figure (:func:`_matplotlib`), never per figure.
STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False,
         "figure.facecolor": "white"}
_STYLE_LOCK = threading.Lock()


def _matplotlib():
    """matplotlib with the report's :data:`STYLE` applied; imported here, on first use.

    No pyplot: its figure registry and current figure are state shared between threads."""
    with _STYLE_LOCK:  # functools.cache alone would let two threads run the update at once
        return _styled_matplotlib()


@functools.cache
def _styled_matplotlib():
    import matplotlib

    # The backend is named, not left "auto": a figure that reads every rcParam (a boxplot does) would
    # otherwise resolve "auto" by importing pyplot. Figures here draw on Agg canvases whatever it names.
    matplotlib.use("Agg")
    matplotlib.rcParams.update(STYLE)
    return matplotlib


def preload_matplotlib() -> None:
    """matplotlib styled, its Agg canvas and figure modules imported and the style's font looked up:
    what the worker processes' server does once (:mod:`transgrn.jobs.preload`)."""
    _matplotlib()
    from matplotlib import font_manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401

    font_manager.findfont(font_manager.FontProperties())


def _figure(**kwargs):
    """A new :class:`~matplotlib.figure.Figure` (``kwargs`` as its constructor's) on its own Agg canvas.

    The figure belongs to no pyplot registry: nothing to close, it is freed with its last reference.
    The canvas is attached here because :func:`figure_png` draws it once and reads its pixels (a bare
    Figure's canvas cannot draw; only ``savefig`` would switch it to Agg).
    """
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _subplots(nrows: int = 1, ncols: int = 1, *, squeeze: bool = True, **figure_kwargs):
    """A :func:`_figure` and a grid of axes on it, as ``pyplot.subplots`` returns them."""
    fig = _figure(**figure_kwargs)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def _colormap(name: str):
    """A copy of matplotlib's colormap ``name`` (each figure gets its own; their lookup tables fill lazily)."""
    return _matplotlib().colormaps[name]


def _scalar_mappable(norm, cmap):
    """What a colorbar without an image reads its scale from."""
    _matplotlib()
    from matplotlib.cm import ScalarMappable

    return ScalarMappable(norm=norm, cmap=cmap)


def figure_png(fig, path: str | Path | None = None, *, crop: bool = True) -> bytes:
    """Render a figure as a 256-colour PNG; also write it to ``path`` atomically if given.

    The figure is drawn once. ``crop`` trims it to its content plus :data:`PAD_INCHES`, as
    ``savefig(bbox_inches="tight")`` does, but from that one drawing (savefig draws twice); figures
    laid out to their size (:func:`_fixed_grid`) pass ``crop=False``. The file has no metadata, so
    reruns write the same bytes.
    """
    from PIL import Image

    pixels = _render(fig, crop)
    # A 256-colour palette looks the same for plots and makes the files (and the page) ~4x smaller. The
    # octree quantizer is ~6x faster than median cut and its files are smaller; zlib's default level is
    # ~8x faster than optimize=True for files ~5% larger.
    image = Image.fromarray(pixels).quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    palette = np.array(image.getpalette(), dtype=np.uint8).reshape(-1, 3)
    palette[(palette >= 250).all(axis=1)] = 255  # keep the background white, not the palette's near-white
    image.putpalette(palette.ravel().tolist())
    buffer = _io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    data = buffer.getvalue()
    if path is not None:
        from ..io import atomic_path

        with atomic_path(path) as tmp:
            Path(tmp).write_bytes(data)
    return data


def _render(fig, crop: bool) -> np.ndarray:
    """The figure's RGB pixels at :data:`DPI`, drawn once (the layout engine, if any, runs in that drawing)."""
    fig.set_dpi(DPI)
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    if not crop:
        return np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches, origin bottom left
    x0, x1 = int(np.floor(box.x0 * DPI)), int(np.ceil(box.x1 * DPI))
    top, bottom = int(np.floor(height - box.y1 * DPI)), int(np.ceil(height - box.y0 * DPI))
    if x0 >= 0 and top >= 0 and x1 <= width and bottom <= height:
        # the margin is the figure's background, as savefig draws it around the content
        pad = round(PAD_INCHES * DPI)
        background = np.round(np.asarray(fig.get_facecolor()[:3]) * 255).astype(np.uint8)
        padded = np.full((bottom - top + 2 * pad, x1 - x0 + 2 * pad, 3), background, dtype=np.uint8)
        padded[pad:pad + bottom - top, pad:pad + x1 - x0] = pixels[top:bottom, x0:x1]
        return padded
    # content beyond the figure's edge (rare: a label pushed out): let savefig grow the canvas to it
    from PIL import Image

    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=PAD_INCHES)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _fixed_grid(fig, nrows: int = 1, ncols: int = 1, *, left: float, right: float, bottom: float, top: float,
                wspace: float = 0.0, hspace: float = 0.0) -> np.ndarray:
    """A grid of axes whose margins and gaps are given in inches (for text of known size around them).

    The per-transition figures have short labels at fixed font sizes, so their margins are known in
    advance: no layout engine (constrained layout drew each figure 2-3 times to find them) and no crop.
    """
    fig_width, fig_height = fig.get_size_inches()
    axes_width = (fig_width - left - right - (ncols - 1) * wspace) / ncols
    axes_height = (fig_height - top - bottom - (nrows - 1) * hspace) / nrows
    return fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={
        "left": left / fig_width, "right": 1 - right / fig_width, "bottom": bottom / fig_height,
        "top": 1 - top / fig_height, "wspace": wspace / axes_width, "hspace": hspace / axes_height})


def placeholder_figure(title: str, message: str):
    """A figure that says why there is nothing to draw (outputs are declared before the data exist)."""
    fig = _figure(figsize=(5, 1.6))
    ax = _fixed_grid(fig, left=0.1, right=0.1, bottom=0.1, top=0.4)[0, 0]  # drawn uncropped by the transition jobs
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
    from matplotlib.colors import Normalize

    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays]) if arrays else np.array([])
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if values.size else (-1.0, 1.0)
    from matplotlib.colors import ListedColormap

    # sequential scales leave out the palest fifth: the value nearest 0 must still show (an arrow, a point)
    if low >= 0:
        cmap = ListedColormap(_colormap("Reds")(np.linspace(0.2, 1.0, 256)))
        kind, norm = "sequential", Normalize(low, max(high, low + floor))
    elif high <= 0:
        cmap = ListedColormap(_colormap("Blues_r")(np.linspace(0.0, 0.8, 256)))
        kind, norm = "sequential", Normalize(min(low, high - floor), high)
    else:
        limit = max(floor, -low, high)
        cmap, kind, norm = _colormap("RdBu_r"), "diverging", Normalize(-limit, limit)
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
    fig, ax = _subplots(figsize=(7.5, 5.4), layout="constrained")
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
    fig.colorbar(_scalar_mappable(norm=scale.norm, cmap=scale.cmap), ax=ax, shrink=0.7, label=label)
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



def r2_heatmap_figure(table: pd.DataFrame):
    """Source x target heatmaps of held-out R^2 (:func:`r2_panels`) on one scale that fits their values."""
    clusters = list(dict.fromkeys(list(table["source_cluster"]) + list(table["target_cluster"])))
    panels = r2_panels(table)
    grids = [table.pivot(index="source_cluster", columns="target_cluster", values=c)
             .reindex(index=clusters, columns=clusters).to_numpy(dtype=float) for c, _ in panels]
    scale = color_scale(*grids, floor=0.05)
    n = len(clusters)
    cell = min(0.55, (13.0 / len(panels) - 1.6) / n)  # the figure stays about as wide as the page
    annotate, ticks = cell >= 0.4, 8 if cell >= 0.3 else 6
    fig, axes = _subplots(1, len(panels), figsize=(len(panels) * (1.6 + cell * n), 1.8 + cell * n),
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
                    ax.text(j, i, format_number(value, "{:.2f}"), ha="center", va="center", fontsize=7, color=scale.text_color(value))
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8,
                 label=f"held-out R² ({_scale_label(scale)}); grey = not fitted")
    return fig



def tf_activity_figure(total: pd.DataFrame, net: pd.DataFrame, labels: pd.Series, order: list[str], max_tfs: int = 40):
    """TF x transition heatmaps: total |outgoing weight| (drive) beside the net signed weight (direction)."""
    tfs = total.sum(axis=1).sort_values(ascending=False).index[:max_tfs]
    total, net = total.loc[tfs, order], net.loc[tfs, order]
    n_t = len(order)
    width = min(7.5, 1.2 + 0.3 * n_t) if n_t <= MAX_TICK_LABELS else 7.5
    fig, axes = _subplots(1, 2, figsize=(2 * width + 1.5, 2.2 + 0.2 * len(tfs)), constrained_layout=True)
    from matplotlib.colors import Normalize

    drive = ColorScale(_colormap("viridis"), Normalize(0.0, max(float(np.nanmax(total.to_numpy(), initial=0)), 1e-9)),
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
    from scipy.cluster.hierarchy import dendrogram

    n = len(similarity)
    size = min(11.0, 3.0 + 0.32 * n)
    fig = _figure(figsize=(size + 1.5, size + 1.2), constrained_layout=True)
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
    pairs = [("r2_test_null", "r2_test", "random null", "mapping (linear)", "Mapping vs random null (pooled)")]
    if has_values(table, "r2_test_median") and has_values(table, "r2_test_null_median"):
        pairs.insert(0, ("r2_test_null_median", "r2_test_median", "random null, per-gene median",
                         "mapping, per-gene median", "Mapping vs random null (per-gene median)"))
    if "r2_test_mlp" in table and table["r2_test_mlp"].notna().any():
        pairs.append(("r2_test", "r2_test_mlp", "linear", "MLP", "Linear vs MLP (same mapping)"))
    fig, axes = _subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4.2), constrained_layout=True, squeeze=False)
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
    fig, axes = _subplots(1, len(metrics), figsize=(2.3 * len(metrics) + 0.6, 3.8), constrained_layout=True,
                             squeeze=False)
    rng = np.random.default_rng(0)
    for ax, metric in zip(axes[0], metrics):
        values = table[metric].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        ax.boxplot(values, widths=0.5, showfliers=False, medianprops={"color": "black"})
        ax.scatter(1 + rng.uniform(-0.15, 0.15, len(values)), values, s=14, color="#4c72b0", alpha=0.8, zorder=3,
                   label="transition")
        ax.axhline(RECOVERY_CHANCE[metric], color=ACTIVATING, ls="--", lw=1, label="chance")
        ax.set_xticks([])
        ax.set_ylabel(metric)
        ax.set_title(f"{metric}\n({len(values)} transitions)", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Recovery of the reference network per transition")
    return fig


def mapping_figure(diagnostics: pd.DataFrame, table: pd.DataFrame):
    """How many cells of each cluster a coupling used, how often it reused them, and its OT cost
    (same-cell designs have no such figure: every cell is used once, at cost 0)."""
    with_cost = "mean_cost" in diagnostics and diagnostics["mean_cost"].notna().any()
    fig, axes = _subplots(1, 3 if with_cost else 2, figsize=(4.2 * (3 if with_cost else 2), 3.8),
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


def _text_width(fig, text: str, fontsize: float) -> float:
    """Width in inches of one line of ``text`` in the figure's font, measured without drawing (cached by matplotlib)."""
    from matplotlib.font_manager import FontProperties

    renderer = fig.canvas.get_renderer()
    return renderer.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)[0] / fig.dpi


def _fit_text(fig, text: str, fontsize: float, width: float) -> str:
    """``text`` wrapped into lines no wider than ``width`` inches: a fixed layout cannot grow the
    figure around a long title (a long cluster or gene name) as a crop could."""
    measured = _text_width(fig, text, fontsize)
    return text if measured <= width else _wrap_label(text, max(8, int(len(text) * width / measured)))


def _lines(text: str) -> int:
    return text.count("\n") + 1


def _label_margin(fig, names, axes_width: float, fontsize: float = 7.0, gap: float = 0.04) -> float:
    """How far (in data units, the columns at x = 0 and 1) the x-axis must reach beyond each column so
    that the longest of ``names`` fits inside an axes ``axes_width`` inches wide (at least 0.4)."""
    need = max((_text_width(fig, str(n), fontsize) for n in names), default=0.0) + 0.05  # inches
    # with x from -m to 1 + m, one inch is (1 + 2m) / axes_width data units; a label starts `gap` from its column
    room = axes_width - 2 * need
    return max(0.4, (need + gap * axes_width) / room) if room > 0.5 else 2.0


# the network figure's warning where the fit does not beat its null (above_null false): the PNG is also
# shown on its own (snakemake --report), without the report page's flag beside it
UNSUPPORTED_NOTE = "⚠ held-out targets not predicted better than by the random null: edges unsupported"


def network_figure(coefficients: pd.DataFrame, title: str, n_edges: int = 40, unsupported: bool = False):
    """The transition's strongest edges as a two-column graph: TFs (in A) left, targets (in B) right;
    ``unsupported`` adds :data:`UNSUPPORTED_NOTE` to the heading."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    own = own_edges(coefficients)  # a borrowed weight is the pooled network's, not this transition's
    edges = own.loc[own["weight"].abs().nlargest(n_edges).index]
    edges = edges[edges["weight"] != 0]
    if edges.empty:
        return placeholder_figure(f"{title}: network", "every weight is zero")
    drive = edges.assign(a=edges["weight"].abs()).groupby("tf")["a"].sum().sort_values(ascending=False)
    tf_y = dict(zip(drive.index, _spread(len(drive))))
    # targets sorted by the mean height of their TFs, which keeps crossings few
    barycenter = edges.assign(y=edges["tf"].map(tf_y)).groupby("target_gene")["y"].mean().sort_values(ascending=False)
    target_y = dict(zip(barycenter.index, _spread(len(barycenter))))
    limit = float(edges["weight"].abs().max())
    norm, cmap = TwoSlopeNorm(0.0, -limit, limit), _colormap("RdBu_r")
    rows = max(len(tf_y), len(target_y))
    fig = _figure(figsize=(6.2, 1.6 + 0.2 * rows))
    left, right, bottom = 0.1, 1.25, 0.45  # the legend (2 rows) below, the colorbar and its label on the right
    heading = _fit_text(fig, f"{title}: top {len(edges)} edges by |weight|" + (f" — {UNSUPPORTED_NOTE}" if unsupported
                                                                                 else ""),
                        10, fig.get_figwidth() - left - right)
    ax = _fixed_grid(fig, left=left, right=right, bottom=bottom, top=0.2 + 0.17 * _lines(heading))[0, 0]
    ordered = edges.sort_values("weight", key=np.abs)  # strongest drawn last, on top
    weights = ordered["weight"].to_numpy(dtype=float)
    segments = [[(0.0, tf_y[tf]), (1.0, target_y[gene])] for tf, gene in zip(ordered["tf"], ordered["target_gene"])]
    ax.add_collection(LineCollection(segments, colors=cmap(norm(weights)), linewidths=0.5 + 3.5 * np.abs(weights) / limit,
                                     alpha=0.85, capstyle="round"))
    ax.scatter([0] * len(tf_y), list(tf_y.values()), s=40, color="#333", zorder=3, label="TF (expression in A)")
    ax.scatter([1] * len(target_y), list(target_y.values()), s=30, color="white", edgecolor="#333", zorder=3,
               label="target (expression in B)")
    for tf, y in tf_y.items():
        ax.text(-0.04, y, tf, ha="right", va="center", fontsize=7)
    for gene, y in target_y.items():
        ax.text(1.04, y, gene, ha="left", va="center", fontsize=7)
    margin = _label_margin(fig, list(tf_y) + list(target_y), fig.get_figwidth() - left - right)
    ax.set_xlim(-margin, 1 + margin)
    ax.set_ylim(-1.05, 0.05)
    ax.set_axis_off()
    ax.set_title(heading)
    sign_handles = [Line2D([], [], color=cmap(norm(limit)), lw=2.5, label="activating (+)"),
                    Line2D([], [], color=cmap(norm(-limit)), lw=2.5, label="repressing (−)")]
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + sign_handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7,
              frameon=False)
    box = ax.get_position()
    cax = fig.add_axes((box.x1 + 0.25 / fig.get_figwidth(), box.y0 + 0.25 * box.height, 0.12 / fig.get_figwidth(),
                        0.5 * box.height))
    fig.colorbar(_scalar_mappable(norm=norm, cmap=cmap), cax=cax, label="weight (width ∝ |weight|)")
    return fig


def gene_r2_figure(gene_r2: pd.DataFrame, title: str, low: float = -1.0):
    """Distribution of per-gene held-out R^2 for the mapping and for its null (values below ``low`` clipped)."""
    columns = [("r2_test", "mapping", "#4c72b0"), ("r2_test_null", "random null", NEUTRAL)]
    values = {c: gene_r2[c].to_numpy(dtype=float) for c, _, _ in columns if c in gene_r2}
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()]) if values else np.array([])
    if not finite.size:
        return placeholder_figure(f"{title}: per-gene R²", "no gene could be evaluated")
    fig = _figure(figsize=(5.2, 3.4))
    heading = _fit_text(fig, f"{title}: per-gene R²", 10, 4.4)
    ax = _fixed_grid(fig, left=0.62, right=0.15, bottom=0.5, top=0.13 + 0.17 * _lines(heading))[0, 0]
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
    ax.set_title(heading)
    ax.legend(fontsize=7)
    return fig


def predictions_figure(predictions: pd.DataFrame, gene_r2: pd.DataFrame, title: str):
    """Predicted vs observed (top row) and residuals (bottom row) for the best and worst predicted genes."""
    from matplotlib.ticker import MaxNLocator

    genes = list(predictions.drop_duplicates("target_gene")[["kind", "target_gene"]].itertuples(index=False))
    if not genes:
        return placeholder_figure(f"{title}: predictions", "no gene could be evaluated")
    r2 = gene_r2.set_index("target_gene")["r2_test"] if "r2_test" in gene_r2 else pd.Series(dtype=float)
    fig = _figure(figsize=(2.3 * len(genes) + 0.4, 4.8))
    heading = _fit_text(fig, f"{title}: best (blue) and worst (red) predicted genes on held-out pairs", 9,
                        fig.get_figwidth() - 0.2)
    names = [_fit_text(fig, f"{gene} ({kind}, R² {r2.get(gene, np.nan):.2f})", 8, 1.95) for kind, gene in genes]
    titles = 0.15 * (_lines(heading) + max(map(_lines, names)))  # the figure's title, then the panels'
    # margins and gaps: tick labels and axis labels around each panel, the titles above
    axes = _fixed_grid(fig, 2, len(genes), left=0.62, right=0.12, bottom=0.42, top=0.22 + titles, wspace=0.42,
                       hspace=0.5)
    by_gene = dict(tuple(predictions.groupby("target_gene", sort=False)[["observed", "predicted"]]))
    for ax in axes.flat:  # at most 5 ticks a side: each tick label costs ~0.7 ms to draw, and 12 panels have many
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(4))
    for col, ((kind, gene), name) in enumerate(zip(genes, names)):
        observed, predicted = (by_gene[gene][c].to_numpy(dtype=float) for c in ("observed", "predicted"))
        top, bottom = axes[0, col], axes[1, col]
        color = ACTIVATING if kind == "worst" else REPRESSING
        top.scatter(observed, predicted, s=5, alpha=0.5, color=color, label="test pair")
        low, high = np.nanmin([observed, predicted]), np.nanmax([observed, predicted])
        top.plot([low, high], [low, high], color=NEUTRAL, lw=0.8, ls="--", label="y = x")
        top.set_title(name, fontsize=8, y=1.0)  # a fixed y: no search for tick labels above it
        top.set_xlabel("observed in B")
        bottom.scatter(predicted, observed - predicted, s=5, alpha=0.5, color=color)
        bottom.axhline(0, color="black", lw=0.8)
        bottom.set_xlabel("predicted from A")
    axes[0, 0].set_ylabel("predicted from A")
    axes[1, 0].set_ylabel("residual (observed − predicted)")
    axes[0, 0].legend(fontsize=6, loc="upper left")
    fig.suptitle(heading, fontsize=9, y=1 - 0.08 / fig.get_figheight(), va="top")
    return fig


def write_transition_figures(coefficients: pd.DataFrame, gene_r2: pd.DataFrame, predictions: pd.DataFrame, title: str,
                             paths: dict[str, str | Path], n_edges: int = 40) -> None:
    """Draw one transition's figures (``paths`` keyed by :data:`TRANSITION_FIGURES`), each drawn once at its
    own size (fixed layouts, no crop): the job of rule plot_transition."""
    figure_png(network_figure(coefficients, title, n_edges, unsupported=not _beats_null(gene_r2)), paths["network"],
               crop=False)
    figure_png(gene_r2_figure(gene_r2, title), paths["gene_r2"], crop=False)
    figure_png(predictions_figure(predictions, gene_r2, title), paths["predictions"], crop=False)


def _beats_null(gene_r2: pd.DataFrame) -> bool:
    """``above_null`` from a transition's per-gene R² (:func:`transgrn.metrics.beats_null`); True when
    the table lacks the columns (nothing to warn about)."""
    from ..metrics import beats_null

    if not {"r2_test", "r2_test_null"} <= set(gene_r2.columns):
        return True
    return beats_null(gene_r2["r2_test"].to_numpy(dtype=float), gene_r2["r2_test_null"].to_numpy(dtype=float))


def branch_figure(pair: pd.DataFrame, label_1: str, label_2: str, threshold: float = 0.1, max_points: int = 20000):
    """A sibling pair's weights, ``label_1`` (x) against ``label_2`` (y), coloured by q-value; edges
    called at ``qvalue <= threshold`` drawn on top with a dark edge. At most ``max_points`` are drawn
    (the called edges first, then a fixed sample of the rest), so the page stays small."""
    called = pair[pair["qvalue"] <= threshold]
    rest = pair[pair["qvalue"] > threshold]
    if len(called) + len(rest) > max_points:
        rest = rest.sample(max(0, max_points - len(called)), random_state=0)
    # fixed margins, wide enough for two-line labels (figure_png crops to the content): a constrained
    # layout took half of the drawing time, and a report draws one of these per sibling pair
    fig, ax = _subplots(figsize=(4.6, 4.2))
    fig.subplots_adjust(left=0.2, bottom=0.18, right=0.97, top=0.92)
    values = pair[["weight_1", "weight_2"]].to_numpy(dtype=float)
    low, high = (np.nanmin(values), np.nanmax(values)) if len(values) else (-1.0, 1.0)
    pad = 0.05 * (high - low or 1.0)
    ax.plot([low - pad, high + pad], [low - pad, high + pad], color=NEUTRAL, lw=0.8, ls="--")
    ax.axhline(0, color="#ccc", lw=0.6)
    ax.axvline(0, color="#ccc", lw=0.6)
    style = {"c": None, "cmap": "viridis", "vmin": 0.0, "vmax": 1.0, "s": 10}
    points = ax.scatter(rest["weight_1"], rest["weight_2"], **{**style, "c": rest["qvalue"]}, lw=0)
    if len(called):
        points = ax.scatter(called["weight_1"], called["weight_2"], **{**style, "c": called["qvalue"], "s": 18},
                            edgecolor="black", lw=0.6, label=f"q ≤ {threshold:g} ({len(called)})")
        ax.legend(fontsize=7, loc="upper left")
    fig.colorbar(points, ax=ax, label="q-value (BH within the pair)", shrink=0.8)
    ax.set_xlabel(f"weight, {_wrap_label(label_1, 28)}")
    ax.set_ylabel(f"weight, {_wrap_label(label_2, 28)}")
    ax.set_title(f"{len(pair)} edges estimable in both")
    return fig
