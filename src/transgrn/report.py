"""The self-contained HTML summary report (figures embedded as PNG, no network access)."""

from __future__ import annotations

import base64
import html
import io as _io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0} th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} .muted{color:#666} img{max-width:100%}
details{margin:.6rem 0;border:1px solid #e4e4e4;border-radius:4px;padding:.3rem .7rem} summary{cursor:pointer;font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:1.5rem} .pos{color:#b2182b} .neg{color:#2166ac}
"""


def _figure_html(fig, alt: str) -> str:
    import matplotlib.pyplot as plt

    buffer = _io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table_html(frame: pd.DataFrame, float_format: str = "{:.3f}") -> str:
    head = "".join(f'<th class="{"l" if frame[c].dtype == object else ""}">{html.escape(str(c))}</th>' for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for value in record:
            if isinstance(value, (float, np.floating)):
                text, cls = ("NA" if np.isnan(value) else float_format.format(value)), ""
            else:
                text, cls = str(value), "l" if not isinstance(value, (int, np.integer)) else ""
            cells.append(f'<td class="{cls}">{html.escape(text)}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def r2_heatmaps(table: pd.DataFrame) -> str:
    """Source x target heatmaps of held-out R^2 for the mapping and for its random null."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clusters = list(dict.fromkeys(list(table["source_cluster"]) + list(table["target_cluster"])))
    panels = [("r2_test", "held-out R² (mapping)"), ("r2_test_null", "held-out R² (random null)")]
    grids = [table.pivot(index="source_cluster", columns="target_cluster", values=c).reindex(index=clusters, columns=clusters) for c, _ in panels]
    limit = max(0.05, float(np.nanmax(np.abs(np.stack([g.to_numpy(dtype=float) for g in grids])))))
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.1 * len(clusters), 1.6 + 0.55 * len(clusters)), constrained_layout=True)
    for ax, grid, (_, title) in zip(axes, grids, panels):
        image = ax.imshow(grid.to_numpy(dtype=float), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(clusters)), clusters, rotation=45, ha="right")
        ax.set_yticks(range(len(clusters)), clusters)
        ax.set_xlabel("target cluster (B)")
        ax.set_ylabel("source cluster (A)")
        ax.set_title(title)
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="R² (variance-weighted, test pairs)")
    return _figure_html(fig, "held-out R2 heatmaps")


def prediction_plots(predictions: pd.DataFrame, title: str) -> str:
    """Predicted vs observed and residuals for the best and worst predicted genes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    genes = list(predictions.drop_duplicates("target_gene")[["kind", "target_gene"]].itertuples(index=False))
    if not genes:
        return '<p class="muted">No gene could be evaluated.</p>'
    fig, axes = plt.subplots(2, len(genes), figsize=(2.6 * len(genes), 5.0), squeeze=False, constrained_layout=True)
    for col, (kind, gene) in enumerate(genes):
        sub = predictions[predictions["target_gene"] == gene]
        top, bottom = axes[0, col], axes[1, col]
        top.scatter(sub["observed"], sub["predicted"], s=6, alpha=0.6, color="#b2182b" if kind == "worst" else "#2166ac")
        low, high = np.nanmin(sub[["observed", "predicted"]].to_numpy()), np.nanmax(sub[["observed", "predicted"]].to_numpy())
        top.plot([low, high], [low, high], color="grey", lw=0.8, label="y = x")
        top.set_title(f"{gene} ({kind})", fontsize=9)
        top.set_xlabel("observed (B)")
        top.set_ylabel("predicted from A")
        bottom.scatter(sub["predicted"], sub["observed"] - sub["predicted"], s=6, alpha=0.6, color="grey")
        bottom.axhline(0, color="black", lw=0.8)
        bottom.set_xlabel("predicted")
        bottom.set_ylabel("residual")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _figure_html(fig, f"predictions {title}")


def strongest_edges(edges: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` activating and ``top`` repressing edges by weight."""
    positive = edges[edges["weight"] > 0].nlargest(top, "weight")
    negative = edges[edges["weight"] < 0].nsmallest(top, "weight")
    return pd.concat([positive, negative])[["tf", "target_gene", "weight"]]


def _summary_section(summary: dict, config: dict, skipped: pd.DataFrame) -> str:
    p = summary["prior"]
    inputs = "".join(f"<tr><td class='l'>{html.escape(k)}</td><td class='l'>{html.escape(v['path'])}</td>"
                     f"<td class='l'><code>{v['sha256'][:16]}…</code></td></tr>" for k, v in summary["inputs"].items())
    counts = (f"{summary['n_cells']} cells × {summary['n_genes']} genes; prior ({html.escape(summary['prior_format'])}): "
              f"{p['n_edges']} of {p['n_edges_input']} edges, {p['n_tfs']} of {p['n_tfs_input']} TFs and "
              f"{p['n_targets']} of {p['n_targets_input']} targets are measured in the data.")
    if "reference" in summary:
        counts += f" Reference network: {summary['reference']['n_edges']} edges, {summary['reference']['n_edges_in_prior']} in the prior."
    skipped_html = _table_html(skipped) if len(skipped) else "<p>No transition was skipped.</p>"
    params = html.escape(json.dumps({k: config[k] for k in ("transitions", "mapping", "fit", "seed") if k in config}, indent=1))
    return (f"<h2>Run</h2><table><tr><th class='l'>input</th><th class='l'>path</th><th class='l'>sha256</th></tr>{inputs}</table>"
            f"<p>{counts}</p><h3>Parameters</h3><pre>{params}</pre><h3>Skipped transitions</h3>{skipped_html}")


def build_report(table: pd.DataFrame, edges: pd.DataFrame, summary: dict, skipped: pd.DataFrame, config: dict[str, Any],
                 predictions: dict[str, pd.DataFrame], top: int = 15) -> str:
    """The report's HTML text."""
    with_reference = "auprc_ratio" in table.columns
    sections = [_summary_section(summary, config, skipped), "<h2>Transitions</h2>",
                "<p>Held-out R² is measured on pairs of source cells not used for fitting; the null column is the same fit on "
                "a random pairing. A mapping carries signal where R² clearly exceeds its null.</p>",
                _table_html(table.drop(columns=["mapping"])), r2_heatmaps(table)]
    if with_reference:
        sections.append("<h2>Recovery of the reference network</h2><p>AUPRC ratio = average precision of |weight| for the "
                        "reference edges among the prior's edges, divided by chance (1 = no better than chance). "
                        "Sign accuracy = fraction of reference edges whose weight has the right sign.</p>")
        sections.append(_table_html(table[["transition", "auprc_ratio", "auroc", "sign_accuracy"]]))
    sections.append("<h2>Per transition</h2>")
    for row in table.itertuples():
        sub = edges[(edges["source_cluster"] == row.source_cluster) & (edges["target_cluster"] == row.target_cluster)]
        title = f"{row.source_cluster} → {row.target_cluster}"
        strongest = strongest_edges(sub, top)
        sections.append(
            f"<details><summary>{html.escape(title)} — R² test {row.r2_test:.3f} (null {row.r2_test_null:.3f}), {row.n_edges} edges</summary>"
            f"<div class='grid'><div><h4>Strongest edges (<span class='pos'>+ activating</span>, <span class='neg'>− repressing</span>)</h4>"
            f"{_table_html(strongest)}</div><div>{prediction_plots(predictions[row.transition], title)}</div></div></details>"
        )
    body = "\n".join(sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>transgrn report</title><style>{STYLE}</style></head>"
            f"<body><h1>transgrn report</h1><p class='muted'>{len(table)} transitions, mapping "
            f"<b>{html.escape(str(table['mapping'].iloc[0]))}</b></p>{body}</body></html>")


def write_report(path: str | Path, **kwargs: Any) -> None:
    from .io import atomic_path

    with atomic_path(path) as tmp:
        Path(tmp).write_text(build_report(**kwargs), encoding="utf-8")
