"""The report page: one self-contained HTML file, assembled section by section.

Everything is inline (PNG figures as data URIs, the CSS and a few lines of JS from ``static/``), so the
page opens offline from disk and makes no network request. Per-transition panels are HTML
``<template>`` elements that the page clones on demand, and only the ``detail`` best transitions carry
figures, so a run with hundreds of transitions stays small and opens quickly.

Memory stays bounded on large runs: each transition's tables are read (from their files, where
:class:`TransitionResult` holds paths) and reduced to a :class:`TransitionSummary` one transition at
a time, and the transitions' weight correlation accumulates over blocks of edges
(:class:`~transgrn.report.summaries.WeightCorrelation`) instead of from a dense transitions x edges matrix.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..columns import RECOVERY_CHANCE
from .figures import (
    branch_figure,
    cluster_graph_figure,
    figure_png,
    mapping_figure,
    placeholder_figure,
    r2_comparison_figure,
    r2_heatmap_figure,
    recovery_figure,
    similarity_figure,
    tf_activity_figure,
)
from .runinfo import design_label, used_parameters
from .summaries import (
    DIFFERENTIAL_Q,
    DIFFERENTIAL_READ,
    STRONG_QUANTILE,
    WeightCorrelation,
    below_null,
    detail_transitions,
    differential_tf_ranking,
    format_number,
    has_values,
    headline_r2,
    mapping_diagnostics,
    n_strong_edges,
    r2_panels,
    ranked_transitions,
    same_cell_design,
    sibling_pairs,
    similarity_tree,
    strong_threshold,
    strongest_edges,
    tf_frames,
    tf_sums,
    top_differential,
    transition_tf_scores,
)

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
NOT_ABOVE_NULL = ("held-out targets not predicted better than by the random-pairing null: treat these edges as "
                  "unsupported")

# the page's style sheet and script, package data (pyproject.toml) inlined into every page
STYLE = files(__package__).joinpath("static/report.css").read_text(encoding="utf-8")
SCRIPT = files(__package__).joinpath("static/report.js").read_text(encoding="utf-8")


def _transition_labels(table: pd.DataFrame) -> pd.Series:
    """'A → B' per transition id, as the page names transitions."""
    return pd.Series([f"{a} → {b}" for a, b in zip(table["source_cluster"], table["target_cluster"])],
                     index=table["transition"])


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any, float_format: str, column: str) -> str:
    """One table cell; numbers carry data-v so that the sort is numeric."""
    if isinstance(value, (bool, np.bool_)):
        if column == "above_null" and not value:  # its edges are unsupported: make it stand out
            return "<td class='warn' title='held-out targets not predicted better than by the random-pairing null'>no ⚠</td>"
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, np.integer)):
        return f'<td class="num" data-v="{int(value)}">{int(value)}</td>'
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return '<td class="num" data-v="NaN">NA</td>'
        sign = ' pos' if column == "weight" and value > 0 else ' neg' if column == "weight" and value < 0 else ""
        return f'<td class="num{sign}" data-v="{float(value)!r}">{format_number(value, float_format)}</td>'
    return f"<td>{_e(value)}</td>"


def _number(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return format_number(value)
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
MAPPING_DIAGNOSTIC_COLUMNS = ("source_cell", "target_cell", "cost")  # what the report reads of mapping_main.parquet


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
    tf_scores: pd.DataFrame | None = None  # results/tf_scores.tsv (transgrn.network_scores), when given
    network_metrics: dict | None = None  # results/network_metrics.json (the run-level network), when given
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
            mapping = None if ctx.same_cell else read_table(result.mapping, MAPPING_DIAGNOSTIC_COLUMNS)
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
    return format_number(table[column].median(), fmt) if has_values(table, column) else "NA"


def _cards(ctx: ReportContext, skipped: pd.DataFrame) -> str:
    """Headline numbers; the per-gene R² summaries first (:data:`POOLED_R2_NOTE`)."""
    table, prior = ctx.table, ctx.summary.get("prior", {})
    cards = [(len(table), "transitions fitted"), (len(skipped), "transitions skipped")]
    if has_values(table, "r2_test_median"):
        cards.append((_median(table, "r2_test_median"), "median per-gene held-out R² (median over transitions)"))
    if has_values(table, "frac_targets_above_null"):
        cards.append((_median(table, "frac_targets_above_null", "{:.0%}"),
                      "targets beating the null by 0.05 (median over transitions)"))
    cards += [(f"{int((~ctx.flagged).sum())} of {len(table)}", "transitions above their null (pooled R²)"),
              (_median(table, "r2_test"), "pooled held-out R² (median over transitions)"),
              (_median(table, "r2_test_null"), "pooled null R² (median)")]
    if "auprc_ratio" in table:
        scored = int(table["auprc_ratio"].notna().sum())
        cards.append((_median(table, "auprc_ratio", "{:.2f}"),
                      f"median AUPRC ratio over {scored} transitions (each transition's network)"))
    if (network_auprc := _network_metric(ctx, "auprc_ratio")) is not None:
        cards.append((format_number(network_auprc, "{:.2f}"), "AUPRC ratio of the run-level network (all transitions)"))
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
    from ..io import package_versions  # one definition, shared with the outputs' provenance

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
        parts += ["<h3>Wall time per stage</h3><p class='note'>From each job's times file (<code>logs/benchmarks/</code>): "
                  "seconds per job, summed over the stage's jobs (jobs may have run in parallel).</p>", table_html(times, "{:.2f}")]
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
                      "the same fit on a random pairing; dashed: held-out targets not predicted better than by the "
                      "random-pairing null (<code>above_null</code>).")
        + figure_html(heat, "held-out R2 heatmaps", f"Held-out R² of every source × target pair: {_e(panels)}. "
                      "A mapping carries signal where its R² clearly exceeds the null's (which is ≈ 0 or below). "
                      + POOLED_R2_NOTE)
        + "<h3>All transitions</h3><p class='note'>Click a column to sort; click a transition for its details. "
        "<code>above_null</code>: more targets beat the random-pairing null's held-out R² by 0.05 than the "
        "null beats them by 0.05 (one-sided sign test, p &lt; 0.05), not the pooled R².</p>"
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
    metrics = {k: row[k] for k in (*R2_COLUMNS, "n_source_cells", "n_target_cells", "n_pairs", *RECOVERY_CHANCE)
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
        right = (f"<p class='note'>Figures are drawn for the {detail} transitions with the highest held-out R² "
                 "only (<code>report.detail_transitions</code>); draw this one's network in Python with "
                 f"<code>transgrn.read_results(\"results\").plot_network(\"{_e(transition)}\")</code>.</p>")
        if summary.gene_r2 is not None:
            median, above, finite = summary.gene_r2
            right += f"<p>Per-gene held-out R²: median {format_number(median)}, {above} of {finite} genes above 0.</p>"
        bottom = ""
    # shown where the edges are: a fit that predicts held-out pairs no better than random pairing has no support
    flag = (f"<p class='badge warn' data-flag='below-null'>⚠ {NOT_ABOVE_NULL} (pooled R² {_number(row['r2_test'])} vs "
            f"null {_number(row['r2_test_null'])}).</p>" if ctx.flagged.get(transition, False) else "")
    return (f"<template id='tpl-{_e(transition)}'><article><h3>{_e(title)}</h3>{flag}{metric_table}"
            f"<div class='grid'><div><h4>Strongest edges (<span class='pos'>+ activating</span>, "
            f"<span class='neg'>− repressing</span>)</h4>{edges}</div><div>{right}</div></div>"
            f"<div class='grid'>{bottom}</div>{_tf_score_table(ctx, transition)}</article></template>")


def _tf_score_table(ctx: ReportContext, transition: str) -> str:
    """The transition's TF scores (network_scores), the strongest TFs by weighted out-degree; '' without scores."""
    if ctx.tf_scores is None:
        return ""
    scores = transition_tf_scores(ctx.tf_scores, transition)
    shown = len(scores)
    return ("<h4 data-part='tf-scores'>TF scores</h4><p class='note'>Over the transition's confident edges (the rows of "
            "<code>edges_filtered.parquet</code>): out-degree, signed and absolute weighted out-degree, betweenness and "
            "eigenvector centrality; the share of the explained variance over every fitted edge (README, Differential "
            f"edges and TF scores). The {shown} TFs with the largest absolute weighted out-degree; all TFs are in "
            "<code>results/tf_scores.tsv</code>.</p>" + table_html(scores, scroll=True))


def transitions_section(ctx: ReportContext, top: int, detail: int) -> str:
    """A selector over every transition; the ``detail`` best by held-out R^2 carry figures."""
    column = headline_r2(ctx.table)
    name = "median per-gene R²" if column == "r2_test_median" else "R²"
    ranked = ranked_transitions(ctx.table)
    with_figures = set(detail_transitions(ctx.table, detail))
    options = "".join(f"<option value='{_e(t)}'>{_e(ctx.labels[t])} — {name} {format_number(r2)}"
                      f"{' ⚠ not above null' if ctx.flagged.get(t, False) else ''}"
                      f"{'' if t in with_figures else ' (tables only)'}</option>"
                      for t, r2 in zip(ranked, ctx.table.set_index("transition").loc[ranked, column]))
    templates = "".join(_transition_panel(ctx, t, top, t in with_figures, detail) for t in ranked)
    return (f"<section id='transitions'><h2>Per transition</h2><p class='note'>Transitions are listed by held-out {name}; "
            "⚠ marks a transition whose held-out targets are not predicted better than by its random-pairing null "
            "(<code>above_null</code>). "
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


RUN_NETWORK_LABEL = "run-level network"
RUN_NETWORK_NOTE = ("The last row, <i>run-level network</i>, scores one network for the whole run "
                    "(<code>results/network.parquet</code>): per prior edge the mean |weight| over the transitions, each "
                    "weighted by its held-out R², signed by the sum of the weights.")


def _network_metric(ctx: ReportContext, metric: str) -> float | None:
    """A recovery metric of the run-level network (network_metrics.json); None where the run has none."""
    value = (ctx.network_metrics or {}).get(metric)
    return None if value is None else float(value)


def _recovery_table(ctx: ReportContext, metrics: list[str]) -> pd.DataFrame:
    """The transitions' recovery metrics, one row each, then the run-level network's where the run scored it."""
    table = _named(ctx, ctx.table[metrics])
    network = {m: _network_metric(ctx, m) for m in metrics}
    if any(value is not None for value in network.values()):
        n_transitions = (ctx.network_metrics or {}).get("n_transitions", len(ctx.table))
        row = {"transition": f"{RUN_NETWORK_LABEL} ({n_transitions} transitions)",
               **{m: np.nan if v is None else v for m, v in network.items()}}
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    return table


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
    metrics = [m for m in RECOVERY_CHANCE if m in ctx.table and ctx.table[m].notna().any()]
    if metrics:
        recovery = ctx.figure("recovery", recovery_figure(ctx.table, metrics))
        parts.append("<h3>Recovery of the reference network</h3>" + figure_html(
            recovery, "recovery metrics", "AUPRC ratio = average precision of |weight| for the reference edges among the "
            "prior's edges divided by chance (dashed line = chance for every metric); AUROC; sign accuracy = fraction "
            "of reference edges whose weight has the right sign (a zero weight counts as wrong; "
            "<code>sign_accuracy_called</code>: over the non-zero weights only); EPR = early precision ratio where "
            "computed."))
        table = _recovery_table(ctx, metrics)
        if len(table) > len(ctx.table):
            parts.append(f"<p class='note'>{RUN_NETWORK_NOTE}</p>")
        parts.append(table_html(table, scroll=True))
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


def differential_section(ctx: ReportContext, differential: pd.DataFrame, top: int, detail: int) -> str:
    """Branch views of the sibling pairs in ``differential`` (results/differential.parquet) and the
    TFs ranked by how much their outgoing regulation changes between siblings."""
    pairs = sibling_pairs(differential, ctx.table)
    parts = ["<section id='differential'><h2>Differential edges</h2><p class='note'>Edges whose weight differs between "
             "two transitions, with a standard error from a cell bootstrap that refits both transitions on the same "
             f"resampled cells (shared cells counted once); q-values are Benjamini–Hochberg within each pair, called at "
             f"q ≤ {DIFFERENTIAL_Q:g}. A difference compares fitted weights: a change in the other TFs' programs can move "
             "a weight without any rewiring (README, Differential edges and TF scores). All compared pairs are in "
             "<code>results/differential.parquet</code>.</p>"]
    if not pairs:
        parts.append("<p class='muted'>No sibling pairs (transitions from the same source) were compared "
                     "(<code>differential.pairs</code>).</p></section>")
        return "".join(parts)
    key = differential["transition_1"] + "|" + differential["transition_2"]
    called = differential.loc[differential["qvalue"] <= DIFFERENTIAL_Q].groupby(key).size()
    ranked = sorted(pairs, key=lambda p: -called.get(f"{p[0]}|{p[1]}", 0))
    for i, (first, second) in enumerate(ranked):
        pair = differential[key == f"{first}|{second}"]
        label_1, label_2 = ctx.labels[first], ctx.labels[second]
        n_called = int(called.get(f"{first}|{second}", 0))
        figure = (img_html(figure_png(branch_figure(pair, label_1, label_2, DIFFERENTIAL_Q)), f"branch {label_1} vs {label_2}")
                  if i < detail else f"<p class='note'>The scatter is drawn for the {detail} pairs with the most "
                  "differential edges only (<code>report.detail_transitions</code>).</p>")
        edges = top_differential(pair, top).rename(columns={"target_gene": "target", "weight_1": "weight 1st",
                                                            "weight_2": "weight 2nd"})
        parts.append(f"<article class='branch'><h3>{_e(label_1)} <span class='muted'>vs</span> {_e(label_2)}</h3>"
                     f"<p>1st = {_e(label_1)}, 2nd = {_e(label_2)}: {n_called} of {len(pair)} edges at "
                     f"q ≤ {DIFFERENTIAL_Q:g}.</p><div class='grid'><div>{figure}</div><div><h4>Top differential "
                     f"edges</h4>{table_html(edges, scroll=True)}</div></div></article>")
    siblings = differential[key.isin([f"{a}|{b}" for a, b in pairs])]
    ranking = differential_tf_ranking(siblings).head(max(top, 20))
    parts.append("<h3>TFs whose regulation changes between siblings</h3><p class='note'>Over every sibling pair: the "
                 f"TF's edges called at q ≤ {DIFFERENTIAL_Q:g}, the summed |difference| of its outgoing weights and the "
                 "largest |z|; ranked by edges called, then summed |difference|.</p>"
                 + table_html(ranking, scroll=True) + "</section>")
    return "".join(parts)


def _read_optional(table: pd.DataFrame | str | Path | None, columns: tuple[str, ...] | None = None) -> pd.DataFrame | None:
    """A table given as a frame or a file (.parquet or .tsv); None when not given or not there."""
    if table is None or isinstance(table, pd.DataFrame):
        return table
    if not Path(table).exists():
        return None
    if Path(table).suffix == ".parquet":
        return pd.read_parquet(table, columns=list(columns) if columns else None)
    header = pd.read_csv(table, sep="\t", nrows=0).columns
    labels = [c for c in header if c in ("transition", "tf", "target_gene")]  # text: a TF called "NA" stays so
    return pd.read_csv(table, sep="\t", dtype=dict.fromkeys(labels, str), keep_default_na=False,
                       na_values={c: ["NA", ""] for c in header if c not in labels})


def build_report(table: pd.DataFrame, summary: dict, skipped: pd.DataFrame, config: dict[str, Any],
                 transitions: dict[str, TransitionResult], reference: pd.DataFrame | None = None,
                 times: pd.DataFrame | None = None, figure_dir: str | Path | None = None, top: int = 15,
                 detail: int = 30, scratch_dir: str | Path | None = None, demo: bool = False,
                 tf_scores: pd.DataFrame | str | Path | None = None,
                 differential: pd.DataFrame | str | Path | None = None, network_metrics: dict | None = None) -> str:
    """The report's HTML text; overview and validation figures are also written to ``figure_dir``.

    ``transitions`` may name files rather than hold tables (see :class:`TransitionResult`); they
    are read one at a time. ``scratch_dir`` takes a temporary file of 4 bytes per transition and
    edge (:class:`WeightCorrelation`; default: the system's temporary folder). ``demo``: the demo
    data were simulated, so the ``demo.*`` parameters are listed. ``tf_scores`` (tf_scores.tsv) adds a
    TF-score table to every transition's panel; ``differential`` (differential.parquet, when the run
    computed it) adds the Differential edges section; ``network_metrics`` (network_metrics.json, the
    run-level network's recovery) a card and a row of the recovery table.
    """
    table = table.reset_index(drop=True)
    transitions = {t: transitions[t] for t in table["transition"]}
    ctx = ReportContext(table=table, summary=summary, config=config, transitions=transitions,
                        labels=_transition_labels(table), strong={},
                        figure_dir=None if figure_dir is None else Path(figure_dir), reference=reference, demo=demo,
                        same_cell=same_cell_design(config.get("mapping", {}).get("method")), flagged=below_null(table),
                        tf_scores=_read_optional(tf_scores), network_metrics=network_metrics)
    summarize_transitions(ctx, top, scratch_dir)
    sections = [run_section(ctx, skipped, times), overview_section(ctx), transitions_section(ctx, top, detail),
                across_section(ctx)]
    differential = _read_optional(differential, DIFFERENTIAL_READ)
    if differential is not None:
        sections.append(differential_section(ctx, differential, top, detail))
    sections.append(validation_section(ctx))
    mapping = html.escape(design_label(summary, table, config))
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f"<a href='#{k}'>{v}</a>" for k, v in (("run", "Run"), ("overview", "Transitions at a glance"),
                                                       ("transitions", "Per transition"), ("across", "Across transitions"),
                                                       *((("differential", "Differential edges"),) if differential is not None else ()),
                                                       ("validation", "Validation")))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width'>"
            f"<title>transgrn report</title><link rel='icon' href='data:,'><style>{STYLE}</style></head><body>"
            f"<header><h1>transgrn report</h1><p>{len(table)} transitions · mapping <b>{mapping}</b> · generated {now}</p></header>"
            f"<nav>{nav}</nav><main>{''.join(sections)}</main><script>{SCRIPT}</script></body></html>")


def write_report(path: str | Path, **kwargs: Any) -> None:
    """Build the report and move it into place only once complete."""
    from ..io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(build_report(**kwargs), encoding="utf-8")
