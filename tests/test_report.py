"""The report: its numbers, its sections (each present exactly when its data exist), its size on
a large run, and, end to end, the workflow's report.html, figures and `snakemake --report`."""
from __future__ import annotations

import importlib.util
import json
import re
import zipfile

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from helpers import REPO, workflow_config
from reference import weight_matrix

from transgrn import report
from transgrn.report import figures, runinfo, summaries
from transgrn.report import html as report_html

SPEC = importlib.util.spec_from_file_location("report_size", REPO / "benchmarks/report_size.py")
report_size = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(report_size)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Report inputs for 6 synthetic transitions, with the figures of the best 2 drawn."""
    directory = tmp_path_factory.mktemp("synthetic")
    inputs, predictions = report_size.synthetic_run(directory, n_transitions=6, n_tfs=10, n_targets=60, tfs_per_target=3,
                                                    n_pairs=300)
    report_size.draw_figures(inputs, predictions, detail=2)
    return inputs


def build(inputs: dict, **changes) -> str:
    return report.build_report(**{**inputs, "top": 5, "detail": 2, **changes})


def text_of(page: str) -> str:
    """The page without its embedded images, whose base64 could contain any word."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:", page)


def embedded_images(page: str) -> int:
    return page.count("data:image/png;base64,")


def test_page_has_every_section_and_only_local_resources(synthetic):
    page = build(synthetic)
    text = text_of(page)
    for section in ("run", "overview", "transitions", "across", "validation"):
        assert f"<section id='{section}'>" in page
    for needle in ("sha256", "0" * 64, "Counts after alignment", "Package versions", "matplotlib", "Wall time per stage",
                   "prepare", "source has 3 cells &lt; min_cells=20", "held-out R2 heatmaps", "GRN similarity",
                   "TF by transition", "Recovery of the reference network", "Mapping diagnostics", "mean_cost",
                   "the MLP", "r2_test_mlp"):
        assert needle in text, needle
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched from anywhere
    assert "http://" not in page and "https://" not in page
    assert page.count("<template id='tpl-") == 6
    # 7 overview/validation figures, plus 3 for each of the 2 transitions with embedded figures
    assert embedded_images(page) == 7 + 2 * 3
    assert page.count("(tables only)") == 4
    for name in report.OVERVIEW_FIGURES + report.VALIDATION_FIGURES:
        assert (synthetic["figure_dir"] / f"{name}.png").stat().st_size > 1000, name


def test_importing_the_report_does_not_load_matplotlib():
    """report.smk imports the package at every DAG build; matplotlib loads with the first figure only."""
    import subprocess
    import sys

    code = "import sys, transgrn.report; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# Run in a fresh interpreter by the next test: draws every figure of figures.py (each *_figure function
# counted, also where html.py imported it by name), as the report and the plot_transition jobs do.
DRAW_EVERY_FIGURE = """
import sys
sys.path[:0] = [sys.argv[1] + "/src", sys.argv[1] + "/tests"]
from pathlib import Path
from transgrn import report
from transgrn.report import figures, html
from test_report import _differential_inputs, report_size

drawn, functions = set(), {name for name in vars(figures) if name.endswith("_figure")}
def counted(name, function):
    def draw(*args, **kwargs):
        drawn.add(name)
        return function(*args, **kwargs)
    return draw
for module in (figures, html):
    for name in functions & set(vars(module)):
        setattr(module, name, counted(name, getattr(figures, name)))
inputs, predictions = report_size.synthetic_run(Path(sys.argv[2]), n_transitions=6, n_tfs=10, n_targets=60,
                                                tfs_per_target=3, n_pairs=300)
report_size.draw_figures(inputs, predictions, detail=2)
differential, scores = _differential_inputs(inputs)
page = report.build_report(**inputs, top=5, detail=2, differential=differential, tf_scores=scores)
figures.figure_png(figures.placeholder_figure("title", "nothing to draw"))
print(sorted(functions - drawn), page.count("data:image/png"), "matplotlib.figure" in sys.modules,
      "matplotlib.pyplot" in sys.modules)
"""


def test_figures_never_load_pyplot(tmp_path):
    """The figure jobs run as threads in Snakemake's process: every figure uses matplotlib's object API,
    never pyplot (whose current figure and figure registry all threads would share)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", DRAW_EVERY_FIGURE, str(REPO), str(tmp_path)], capture_output=True,
                            text=True, check=True)
    # every figure function drawn; 7 overview/validation figures, 3 for each of 2 transitions, 1 branch figure
    assert result.stdout.split()[-4:] == ["[]", str(7 + 2 * 3 + 1), "True", "False"], result.stdout + result.stderr


def test_figures_drawn_in_threads_are_the_figures_drawn_alone(tmp_path):
    """Two transitions' figures drawn 8 times over 4 threads at once: each PNG has the bytes of the one drawn
    alone (the files carry no metadata, and the same input gives the same pixels)."""
    from concurrent.futures import ThreadPoolExecutor

    inputs, predictions = report_size.synthetic_run(tmp_path, n_transitions=2, n_tfs=10, n_targets=60,
                                                    tfs_per_target=3, n_pairs=300)
    transitions = list(inputs["transitions"])

    def draw(transition: str, directory) -> dict[str, bytes]:
        result = inputs["transitions"][transition]
        paths = {name: directory / f"{name}.png" for name in report.TRANSITION_FIGURES}
        report.write_transition_figures(result.coefficients, result.gene_r2, predictions[transition],
                                        f"{transition} title", paths)
        return {name: path.read_bytes() for name, path in paths.items()}

    alone = {t: draw(t, tmp_path / "alone" / t) for t in transitions}
    assert alone[transitions[0]]["network"] != alone[transitions[1]]["network"]  # two different inputs
    draws = [(transitions[k % 2], tmp_path / f"thread{k}") for k in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda job: draw(*job), draws))
    for (transition, _), pngs in zip(draws, threaded):
        assert pngs == alone[transition], transition


def test_optional_sections_follow_the_columns(synthetic):
    table = synthetic["table"].drop(columns=["r2_test_mlp", "auprc_ratio", "auroc", "sign_accuracy"])
    page = text_of(build(synthetic, table=table, skipped=synthetic["skipped"].iloc[:0], times=None))
    assert "MLP" not in page
    assert "Recovery of the reference network" not in page
    assert "Wall time per stage" not in page
    assert "No transition was skipped." in page

    with_epr = synthetic["table"].assign(epr=2.0, epr_activation=np.nan)
    validation = text_of(build(synthetic, table=with_epr)).split("<section id='validation'>")[1]
    assert "<th>epr</th>" in validation and "epr_activation" not in validation  # all-NaN metrics are left out


def test_edge_table_marks_signs_and_reference_edges(synthetic):
    coefficients = pd.DataFrame({"tf": ["A", "A", "B", "B"], "target_gene": ["x", "y", "x", "y"],
                                 "weight": [0.9, -0.5, 0.1, 0.0], "null_weight": [0.01, -0.02, 0.03, 0.0]})
    reference = pd.DataFrame({"tf": ["A"], "target_gene": ["y"], "sign": [-1]})
    ctx = report_html.ReportContext(table=synthetic["table"], summary={}, config={}, transitions={},
                                    labels=pd.Series(dtype=str), strong={}, figure_dir=None, reference=reference)
    edges = report_html._edge_table(ctx, coefficients, top=5)
    assert list(edges["target"]) == ["x", "x", "y"]  # activating by weight, then repressing
    assert list(edges["reference"]) == ["no", "no", "yes (−)"]
    html = report_html.table_html(edges)
    assert 'class="num pos" data-v="0.9"' in html and 'class="num neg" data-v="-0.5"' in html


def test_strong_edges_exceed_the_null_noise():
    rng = np.random.default_rng(0)
    null = rng.normal(0, 0.1, 1000)
    weight = np.r_[np.full(10, 5.0), rng.normal(0, 0.1, 990)]
    coefficients = pd.DataFrame({"weight": weight, "null_weight": null})
    assert summaries.strong_threshold(coefficients) == pytest.approx(np.quantile(np.abs(null), 0.99))
    assert 10 <= summaries.n_strong_edges(coefficients) <= 30  # the 10 real ones plus ~1% of the noise
    assert summaries.n_strong_edges(coefficients.drop(columns="null_weight")) == 0


def test_mapping_diagnostics_count_distinct_cells():
    mapping = pd.DataFrame({"source_cell": ["a", "a", "a", "b"], "target_cell": ["x", "y", "z", "z"], "cost": [1, 2, 3, 4]})
    d = summaries.mapping_diagnostics(mapping, n_source=4, n_target=3)
    assert (d["source_cells_used"], d["target_cells_used"]) == (2, 3)
    assert (d["source_fraction_used"], d["target_fraction_used"]) == (0.5, 1.0)
    assert (d["pairs_per_source_cell_max"], d["pairs_per_target_cell_max"]) == (3, 2)
    assert d["mean_cost"] == 2.5
    assert "mean_cost" not in summaries.mapping_diagnostics(mapping.drop(columns="cost"), 4, 3)


@pytest.mark.parametrize("method", ["joint", "hybrid"])
def test_fractions_of_cells_paired_are_fractions_for_same_cell_designs(method):
    """Same-cell designs pair the cells of A and B (114 + 118 cells of the demo read as '2.0 of A');
    the fraction is distinct cells over the cells the design may pair, so at most 1."""
    from transgrn.cells import CellSet
    from transgrn.mapping import pair_cells
    from transgrn.options import MappingOptions

    rng = np.random.default_rng(0)
    source = CellSet(np.array([f"a{i}" for i in range(30)]), rng.normal(size=(30, 4)))
    target = CellSet(np.array([f"b{i}" for i in range(45)]), rng.normal(size=(45, 4)))
    mapping = pair_cells(method, source, target, rng, MappingOptions.from_config({"n_pairs": 50, "n_pcs": 2}))
    same_cell = summaries.same_cell_design(method)
    d = summaries.mapping_diagnostics(mapping, len(source), len(target), same_cell=same_cell)
    assert same_cell and d["source_fraction_used"] == 1.0 and d["target_fraction_used"] == 1.0
    assert summaries.mapping_diagnostics(mapping, len(source), len(target))["source_fraction_used"] > 1  # the old reading
    assert summaries.same_cell_design("joint (no pseudotime)") and not summaries.same_cell_design("ot")


def test_same_cell_designs_leave_the_constant_mapping_panels_out(synthetic, tmp_path):
    config = {**synthetic["config"], "mapping": {"method": "lagged"}}
    summary = {**synthetic["summary"], "mapping_method": "joint (no pseudotime)"}
    page = text_of(build(synthetic, config=config, summary=summary, figure_dir=tmp_path))
    validation = page.split("<section id='validation'>")[1]
    assert "mean_cost" not in page and "source_fraction_used" not in page and "Cells used" not in validation
    assert "None for this design" in validation
    assert not (tmp_path / "mapping.png").exists() and (tmp_path / "r2_comparison.png").exists()
    assert embedded_images(build(synthetic, config=config, figure_dir=None)) == 6 + 2 * 3
    # the header names the design that ran, not the configured one
    assert "mapping <b>joint (no pseudotime)</b>" in page
    assert "mapping <b>ot</b>" in text_of(build(synthetic, figure_dir=None))  # older runs: the table's column


def test_colour_scales_fit_the_data():
    high = figures.color_scale(np.array([[1.0, 0.8], [0.75, 1.0]]))
    assert high.kind == "sequential" and (high.norm.vmin, high.norm.vmax) == (0.75, 1.0)
    assert high.cmap(high.norm(0.75))[:3] != high.cmap(high.norm(1.0))[:3]
    low = figures.color_scale([-0.3, -0.01, np.nan])
    assert low.kind == "sequential" and (low.norm.vmin, low.norm.vmax) == (-0.3, -0.01)
    both = figures.color_scale([-0.2, 0.5])
    assert both.kind == "diverging" and (both.norm.vmin, both.norm.vmax) == (-0.5, 0.5) and both.norm(0.0) == 0.5
    # the similarity heatmap spans its values, not −1..1 (all ≥ 0.75 was uniformly red)
    index = pd.Index(["t0", "t1", "t2"])
    similarity, tree = summaries.similarity_tree(np.array([[1, 0.8, 0.75], [0.8, 1, 0.9], [0.75, 0.9, 1]]), index)
    fig, _ = figures.similarity_figure(similarity, tree, pd.Series(["a", "b", "c"], index=index))
    image = next(ax.images[0] for ax in fig.axes if ax.images)
    assert image.norm.vmin == pytest.approx(0.75) and image.norm.vmax == pytest.approx(1.0)
    # the R² heatmaps and the net TF weights likewise
    table = pd.DataFrame({"transition": ["t0", "t1"], "source_cluster": ["a", "b"], "target_cluster": ["b", "c"],
                          "r2_test": [0.2, 0.4], "r2_test_null": [0.01, 0.02]})
    image = figures.r2_heatmap_figure(table).axes[0].images[0]
    assert (image.norm.vmin, image.norm.vmax) == (0.01, 0.4)
    net = pd.DataFrame({"t0": [-1.0, 2.0], "t1": [0.5, 0.1]}, index=["A", "B"])
    fig = figures.tf_activity_figure(net.abs(), net, pd.Series(["x", "y"], index=["t0", "t1"]), ["t0", "t1"])
    net_image = [ax.images[0] for ax in fig.axes if ax.images][1]
    assert (net_image.norm.vmin, net_image.norm.vmax) == (-2.0, 2.0)


def test_transitions_not_above_their_null_are_flagged_where_their_edges_are_shown(synthetic):
    table = synthetic["table"].copy()
    worst, written_no, missing = table["transition"].iloc[:3]
    table.loc[0, ["r2_test", "r2_test_null"]] = [-0.2, -0.01]  # below the null, and no above_null column
    flags = summaries.below_null(table)
    assert flags[worst] and flags.sum() == 1
    # the column written by newer runs wins; a missing value falls back to comparing the R²
    table["above_null"] = ["True", "false", None, *["true"] * (len(table) - 3)]
    flags = summaries.below_null(table)
    assert not flags[worst] and flags[written_no] and not flags[missing]
    table["above_null"] = [False, True, None, *[True] * (len(table) - 3)]
    page = text_of(build(synthetic, table=table))
    flagged = [t for t in table["transition"] if "data-flag='below-null'" in _template(page, t)]
    assert flagged == [worst]
    assert "edges as unsupported" in _template(page, worst).split("Strongest edges")[0]  # before the edges table
    assert "1 of 6 transitions: held-out targets not predicted better than by the random-pairing null" in page
    assert "⚠ not above null" in page.split("<select")[1].split("</select>")[0]


def test_the_network_png_says_when_its_edges_are_unsupported():
    """The network figure is also shown alone (snakemake --report): its heading carries the warning
    where the per-gene test (above_null) fails, and only there."""
    coefficients = pd.DataFrame({"tf": ["A", "A", "B"], "target_gene": ["x", "y", "x"], "weight": [0.5, -0.3, 0.2]})
    beaten = pd.DataFrame({"r2_test": [0.0] * 20, "r2_test_null": [0.2] * 20})
    beating = pd.DataFrame({"r2_test": [0.3] * 20, "r2_test_null": [0.0] * 20})
    assert not figures._beats_null(beaten) and figures._beats_null(beating)
    assert figures._beats_null(pd.DataFrame({"r2_test": [0.1]}))  # no null column: nothing to warn about

    def heading(unsupported):
        import matplotlib.pyplot as plt

        fig = figures.network_figure(coefficients, "A → B", 40, unsupported=unsupported)
        text = " ".join(ax.get_title().replace("\n", " ") for ax in fig.axes)
        plt.close(fig)
        return text

    assert "edges unsupported" in heading(True) and "edges unsupported" not in heading(False)


def _template(page: str, transition: str) -> str:
    start = page.index(f"<template id='tpl-{transition}'>")
    return page[start:page.index("</template>", start)]


def test_per_gene_r2_comes_first_and_the_pooled_number_is_explained(synthetic):
    table = synthetic["table"].assign(r2_test_median=np.linspace(0.1, 0.6, 6), r2_test_null_median=0.0,
                                      frac_targets_above_null=np.linspace(0.2, 0.7, 6), above_null=True,
                                      sign_accuracy_called=0.9)
    page = text_of(build(synthetic, table=table))
    cards = page.split('class="cards"')[1]
    assert cards.index("median per-gene held-out R²") < cards.index("pooled held-out R²")
    assert "targets beating the null by 0.05" in cards and f"{np.median(table['frac_targets_above_null']):.0%}" in cards
    assert "variance-weighted over all target genes" in page
    header = page.split("<section id='overview'>")[1].split("<thead>")[1].split("</thead>")[0]
    assert header.index("r2_test_median") < header.index("frac_targets_above_null") < header.index(">r2_test<")
    assert "median per-gene R² 0.600" in page  # the selector ranks by it
    assert "<th>sign_accuracy_called</th>" in page.split("<section id='validation'>")[1]


def test_rounding_noise_reads_zero_and_a_missing_lag_na(synthetic):
    """A null's R² that is zero up to rounding (-3e-16) or at the shown precision (-0.0004) reads
    0.000, never -0.000, in the cards, the table, the panels and the selector; a lag that was not
    chosen (the fallback to joint) reads NA."""
    table = synthetic["table"].assign(r2_test_median=-3e-16, r2_test_null_median=-3e-16, r2_test_null=-4e-4,
                                      lag=[0.1, np.nan, 0.0, 0.2, np.nan, 0.1])
    page = re.sub(r'data-v="[^"]*"', "", text_of(build(synthetic, table=table)))  # the raw values sort the table
    assert "-0.000" not in page and "<b>0.000</b><span>pooled null R² (median)" in page
    assert "r2_test_null_median<b>0.000</b>" in _template(page, table["transition"].iloc[0])
    assert "median per-gene R² 0.000" in page.split("<select")[1]
    assert summaries.format_number(-0.0004, "{:.0%}") == "0%" and summaries.format_number(-0.004) == "-0.004"
    header = page.split("<section id='overview'>")[1].split("<thead>")[1].split("</thead>")[0]
    column = re.findall(r"<th>([^<]*)</th>", header).index("lag")
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row)[column]
             for row in page.split("<section id='overview'>")[1].split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]]
    assert sorted(cells) == ["0.000", "0.100", "0.100", "0.200", "NA", "NA"]


def test_only_the_parameters_the_run_used_are_listed():
    config = {"data": {"adata": "x.h5ad"}, "demo": {"n_cells": 100},
              "mapping": {"method": "lagged", "lag_grid": [0, 0.1], "knn_k": 10, "barycentric": False, "max_targets": 50,
                          "n_pairs": 2000, "exact_max_cells": 3000},
              "fit": {"solver": "ridge", "alpha": 1.0, "l1_ratio": 0.5, "epochs": 1000, "bootstrap": 0},
              "filter": {"min_confidence": 0.95, "top_k": 100},
              "transitions": {"mode": "all", "explicit": [], "paga_threshold": 0.1},
              "cofactors": {"enabled": False, "fdr": 0.1}}
    used = runinfo.used_parameters(config)
    assert not any(k.startswith("demo.") for k in used)
    assert {"mapping.lag_grid", "mapping.n_pairs", "fit.alpha", "filter.top_k", "cofactors.enabled", "data.adata"} <= set(used)
    for unused in ("mapping.knn_k", "mapping.barycentric", "mapping.max_targets", "mapping.exact_max_cells", "fit.l1_ratio",
                   "fit.epochs", "filter.min_confidence", "transitions.explicit", "transitions.paga_threshold", "cofactors.fdr"):
        assert unused not in used, unused
    other = runinfo.used_parameters({**config, "mapping": {**config["mapping"], "method": "ot", "barycentric": True},
                                    "fit": {**config["fit"], "solver": "elasticnet", "bootstrap": 20}}, demo=True)
    assert {"demo.n_cells", "mapping.barycentric", "mapping.max_targets", "mapping.exact_max_cells", "fit.l1_ratio",
            "filter.min_confidence"} <= set(other)
    assert "mapping.lag_grid" not in other and "fit.epochs" not in other


def test_cluster_graph_labels_overlap_nothing_and_the_legend_covers_no_node():
    """Six clusters, four at nearly the same pseudotime (one column of close nodes), long names."""
    names = ["Hematopoietic stem and progenitor cells", "common myeloid progenitor", "megakaryocyte-erythroid progenitor",
             "granulocyte-monocyte progenitor", "erythrocyte", "monocyte"]
    pseudotime = dict(zip(names, [0.0, 0.30, 0.31, 0.32, 0.33, 1.0]))
    pairs = [(names[0], n) for n in names[1:5]] + [(n, names[5]) for n in names[1:5]]
    table = pd.DataFrame({"transition": [f"t{i}" for i in range(len(pairs))], "source_cluster": [a for a, _ in pairs],
                          "target_cluster": [b for _, b in pairs], "r2_test": np.linspace(-0.1, 0.3, len(pairs)),
                          "r2_test_null": 0.0})
    summary = {"cluster_sizes": dict(zip(names, [900, 50, 400, 300, 1000, 20])),
               "cluster_layout": {"median_pseudotime": pseudotime}}
    fig = figures.cluster_graph_figure(table, {f"t{i}": 10 * i for i in range(len(pairs))}, summary)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t.get_window_extent(renderer) for t in ax.texts]
    nodes = figures._node_boxes(ax, ax.collections[0].get_offsets(), ax.collections[0].get_sizes())
    assert len(labels) == len(names)
    for i, box in enumerate(labels):
        assert not figures._overlaps(box, labels[:i] + labels[i + 1:], pad=0), f"label {i} overlaps another label"
        assert not figures._overlaps(box, nodes, pad=0), f"label {i} overlaps a node"
    legend = fig.legends[0].get_window_extent(renderer)
    assert not figures._overlaps(legend, nodes + labels, pad=0)
    assert any(t.get_text() == "not above its null" for t in fig.legends[0].get_texts())  # t0 is below its null


def test_similarity_groups_transitions_with_the_same_network():
    rng = np.random.default_rng(1)
    base = [rng.normal(size=200) for _ in range(2)]
    coefficients = {f"t{i}": pd.DataFrame({"tf": ["A"] * 200, "target_gene": [f"g{j}" for j in range(200)],
                                           "weight": base[i % 2] + 0.1 * rng.normal(size=200)}) for i in range(4)}
    similarity, tree = summaries.grn_similarity(weight_matrix(coefficients))
    assert similarity.loc["t0", "t2"] > 0.95 and abs(similarity.loc["t0", "t1"]) < 0.3
    from scipy.cluster.hierarchy import fcluster

    groups = fcluster(tree, 2, criterion="maxclust")
    assert groups[0] == groups[2] and groups[1] == groups[3] and groups[0] != groups[1]
    total, net = summaries.tf_outgoing(coefficients)
    assert total.loc["A", "t0"] == pytest.approx(coefficients["t0"]["weight"].abs().sum())
    assert net.loc["A", "t0"] == pytest.approx(coefficients["t0"]["weight"].sum())


def test_streamed_correlation_matches_the_dense_weight_matrix(tmp_path):
    """WeightCorrelation (blocks of edges, scratch file) gives np.corrcoef of weight_matrix: edges a
    transition lacks, edges only later transitions have, another order and NaN weights count as 0."""
    rng = np.random.default_rng(2)
    edges = pd.DataFrame({"tf": np.repeat([f"T{i}" for i in range(7)], 50), "target_gene": [f"g{j}" for j in range(350)]})
    base = rng.normal(size=len(edges))
    coefficients = {}
    for i in range(9):
        frame = edges.assign(weight=base * (i % 3) + rng.normal(size=len(edges)))
        if i == 2:
            frame = frame.sample(frac=0.7, random_state=i)  # fewer edges, shuffled
        if i == 4:
            frame.loc[frame.index[:20], "weight"] = np.nan
        if i == 5:  # edges no earlier transition had
            frame = pd.concat([frame, pd.DataFrame({"tf": "T9", "target_gene": ["x", "y"], "weight": [3.0, -2.0]})])
        coefficients[f"t{i}"] = frame.reset_index(drop=True)
    coefficients["flat"] = edges.assign(weight=0.0)  # no variance: r undefined, 0 in the figure
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.corrcoef(weight_matrix(coefficients).to_numpy())
    for block_mb in (64.0, 1e-3):  # one block, and blocks of a few edges
        with summaries.WeightCorrelation(tmp_path, block_mb=block_mb) as correlation:
            for frame in coefficients.values():
                correlation.add(frame)
            corr = correlation.correlation()
        np.testing.assert_allclose(corr, expected, atol=1e-6, equal_nan=True)
        assert np.isnan(corr[-1]).all()
    assert not list(tmp_path.iterdir())  # the scratch file never has a name
    frame, tree = summaries.similarity_tree(corr, pd.Index(list(coefficients)))
    reference, _ = summaries.grn_similarity(weight_matrix(coefficients))
    np.testing.assert_allclose(frame.to_numpy(), reference.to_numpy(), atol=1e-6)
    assert tree is not None and frame.loc["flat", "flat"] == 1.0 and frame.loc["flat", "t0"] == 0.0


def test_report_from_files_is_the_report_from_tables(synthetic, tmp_path):
    """The rule passes paths (read one transition at a time): the page is the same as from tables."""
    files = {}
    for transition, result in synthetic["transitions"].items():
        directory = tmp_path / transition
        directory.mkdir()
        paths = {}
        for name in ("coefficients", "gene_r2", "mapping"):
            paths[name] = directory / f"{name}.parquet"
            getattr(result, name).to_parquet(paths[name], index=False)
        files[transition] = report.TransitionResult(**paths, figures=result.figures)
    stamp = re.compile(r"generated [^<]*UTC")
    from_tables = stamp.sub("", build(synthetic, figure_dir=None))
    from_files = stamp.sub("", build(synthetic, figure_dir=None, transitions=files, scratch_dir=tmp_path))
    assert from_files == from_tables


def test_cluster_layout_prefers_umap_then_pseudotime_then_circle():
    from transgrn.prepare import cluster_layout

    adata = ad.AnnData(np.zeros((4, 1)), obs=pd.DataFrame({"c": pd.Categorical(["a", "a", "b", "b"])}, index=list("wxyz")))
    adata.obsm["X_umap"] = np.array([[0, 0], [2, 2], [10, 0], [12, 0]], dtype=float)
    layout = cluster_layout(adata, adata.obs["c"], {"a": 0.1, "b": 0.9}, "c")
    assert layout["umap_centroids"] == {"a": [1.0, 1.0], "b": [11.0, 0.0]}
    positions, basis = figures.cluster_positions(["a", "b"], layout)
    assert positions["b"] == (11.0, 0.0) and basis.startswith("UMAP")
    adata.uns["paga"] = {"groups": "c", "pos": np.array([[0.0, 1.0], [2.0, 3.0]])}
    paga = cluster_layout(adata, adata.obs["c"], None, "c")["paga_pos"]
    assert paga == {"a": [0.0, 1.0], "b": [2.0, 3.0]}
    assert figures.cluster_positions(["a", "b"], {"paga_pos": paga})[1] == "PAGA layout"
    positions, basis = figures.cluster_positions(["a", "b", "c"], {"median_pseudotime": {"a": 0.0, "b": 1.0, "c": 1.01}})
    assert positions["a"][0] == 0.0 and positions["b"][0] == positions["c"][0] and positions["b"][1] != positions["c"][1]
    assert figures.cluster_positions(["a", "b"], None)[1] == "clusters on a circle"


def test_a_single_transition_still_makes_every_figure(tmp_path):
    inputs, predictions = report_size.synthetic_run(tmp_path, n_transitions=1, n_tfs=5, n_targets=20, tfs_per_target=2,
                                                    n_pairs=100)
    report_size.draw_figures(inputs, predictions, detail=1)
    page = text_of(build(inputs))
    assert "Clustering needs at least 2 transitions." in page
    for name in report.OVERVIEW_FIGURES + report.VALIDATION_FIGURES:
        assert (inputs["figure_dir"] / f"{name}.png").exists(), name


def test_large_runs_embed_figures_for_the_best_transitions_only(tmp_path):
    inputs, predictions = report_size.synthetic_run(tmp_path, n_transitions=40, n_tfs=20, n_targets=100, tfs_per_target=4,
                                                    n_pairs=300)
    report_size.draw_figures(inputs, predictions, detail=3)
    page = build(inputs, detail=3)
    assert page.count("<template id='tpl-") == 40
    assert embedded_images(page) == 7 + 3 * 3
    best = inputs["table"].nlargest(3, "r2_test")["transition"]
    for transition in best:  # the best three carry their three figures
        template = page[page.index(f"<template id='tpl-{transition}'>"):]
        assert embedded_images(template[:template.index("</template>")]) == 3
    # per transition without figures the page grows by a few kB (the 200-transition benchmark: ~7 MB in all)
    assert len(page.encode()) < 2_500_000


@pytest.mark.workflow
def test_workflow_writes_report_figures_and_snakemake_report(report_demo, workflow_runner):
    run = report_demo
    results = run / "results"
    page = (results / "report.html").read_text()
    assert "stem cell → progenitor" in page and "Wall time per stage" in page and "fit_grn" in page
    assert embedded_images(page) == 7 + 2 * 3  # 7 overview/validation figures (with recovery), 2 detailed transitions
    for name in report.OVERVIEW_FIGURES + report.VALIDATION_FIGURES:
        assert (results / "figures" / f"{name}.png").exists(), name
    # 3 transitions, report.detail_transitions 2: the two best transitions' figures are drawn (select_figures)
    drawn = (results / "figures/drawn_transitions.csv").read_text().split()[1:]
    assert len(drawn) == 2 and sorted(p.name for p in (results / "figures/transitions").iterdir()) == sorted(drawn)
    for transition in drawn:
        for name in report.TRANSITION_FIGURES:
            assert (results / "figures/transitions" / transition / f"{name}.png").exists()
    summary = json.loads((results / "prepared/summary.json").read_text())
    assert set(summary["cluster_layout"]["median_pseudotime"]) == {"stem cell", "progenitor", "fate A", "fate B"}

    result = workflow_runner(run, workflow_config("report_demo"), "--cores", "2", "--report", "report.zip")
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(run / "report.zip") as archive:
        names = archive.namelist()
        index = archive.read("report/report.html").decode()
    assert sum(n.endswith("/network.png") for n in names) == 2  # the drawn transitions'
    assert any(n.endswith("/report.html") and "/data/raw/" in n for n in names)
    row = pd.read_csv(results / "transitions.tsv", sep="\t").set_index("transition").loc[drawn[0]]
    # per-transition figures are labelled with the transition's name
    assert f"{row['source_cluster']} \\u2192 {row['target_cluster']}" in index
    for category in ("Overview", "Per transition", "Validation"):
        assert category in index
    assert "sequential when all values share a sign" in index  # captions are there


@pytest.mark.workflow
def test_a_run_with_more_transitions_than_detail_draws_the_best_ones_figures(tmp_path, workflow_runner):
    """Per-transition figures cost about 1 s each: a run with more transitions than
    report.detail_transitions draws those of the best (by held-out R², the ones the page embeds), chosen
    by the checkpoint select_figures once every transition is evaluated; the others get tables only."""
    config = {**workflow_config("tiny_demo"), "report": {"detail_transitions": 1}}
    result = workflow_runner(tmp_path, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results"
    table = pd.read_csv(results / "transitions.tsv", sep="\t")
    best = table.sort_values("r2_test_median", ascending=False)["transition"].iloc[0]
    assert sorted(p.name for p in (results / "figures/transitions").iterdir()) == [best]
    assert (results / "figures/drawn_transitions.csv").read_text().split() == ["transition", best]
    page = (results / "report.html").read_text()
    overview = len(list((results / "figures").glob("*.png")))  # the run-level figures
    assert embedded_images(page) == overview + 3 and "plot_network" in page
    dry = workflow_runner(tmp_path, config, "-n", "--cores", "1")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def _differential_inputs(inputs: dict, planted_tf: str = "TF003") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A differential table over the synthetic run's first sibling pair and one consecutive pair, where
    ``planted_tf``'s edges differ (small q-values) in the sibling pair, and a tf_scores table."""
    table = inputs["table"]
    rng = np.random.default_rng(1)
    source = table.set_index("transition")["source_cluster"]
    first = table["transition"].iloc[0]
    sibling = next(t for t in table["transition"][1:] if source[t] == source[first])
    consecutive = next(t for t in table["transition"] if table.set_index("transition").loc[t, "source_cluster"]
                       == table.set_index("transition").loc[first, "target_cluster"])
    edges = inputs["transitions"][first].coefficients[["tf", "target_gene"]]
    frames = []
    for a, b in ((first, sibling), (first, consecutive)):
        planted = (edges["tf"] == planted_tf).to_numpy() & (b == sibling)
        difference = np.where(planted, 0.8, rng.normal(0, 0.05, len(edges)))
        qvalue = np.where(planted, 0.001, rng.uniform(0.2, 1, len(edges)))
        frames.append(edges.assign(transition_1=a, transition_2=b, weight_1=0.1, weight_2=0.1 + difference,
                                   difference=difference, std_error=0.1, z=difference / 0.1, pvalue=qvalue / 2,
                                   qvalue=qvalue, se_method="cell bootstrap"))
    scores = pd.concat(pd.DataFrame({"transition": t, "tf": [f"TF{i:03d}" for i in range(10)], "out_degree": range(10),
                                     "weighted_out_degree": 0.5, "weighted_out_degree_abs": np.arange(10.0),
                                     "betweenness": 0.0, "eigenvector": 1.0, "explained_variance_share": 0.1})
                       for t in table["transition"])
    return pd.concat(frames, ignore_index=True), scores


def test_differential_section_shows_sibling_pairs_only_and_only_when_enabled(synthetic):
    from transgrn.report.summaries import differential_tf_ranking

    differential, scores = _differential_inputs(synthetic)
    page = build(synthetic, differential=differential, tf_scores=scores)
    assert "<section id='differential'>" in page and "href='#differential'" in page
    assert page.count("<article class='branch'>") == 1  # the consecutive pair gets no branch view
    assert page.count("data-part='tf-scores'") == 6  # a TF-score table in every transition's panel
    section = text_of(page).split("<section id='differential'>")[1].split("</section>")[0]
    ranking = section.split("TFs whose regulation changes between siblings")[1]
    assert ranking.index("TF003") < min(ranking.index(f"TF00{i}") for i in (0, 1, 2, 4, 5))  # the planted TF first
    top_edges = section.split("Top differential edges")[1]
    assert "<td>TF003</td>" in top_edges.split("</tr>")[1] and "higher in 2nd" in top_edges.split("</tr>")[1]
    siblings = differential[differential["transition_2"] == differential["transition_2"].iloc[0]]
    ranked = differential_tf_ranking(siblings).set_index("tf")
    expected = siblings.groupby("tf")["difference"].apply(lambda d: d.abs().sum())
    np.testing.assert_allclose(ranked.loc[expected.index, "sum_abs_difference"], expected)
    assert ranked.loc["TF003", "edges_called"] == (siblings["tf"] == "TF003").sum()
    # disabled (no differential table): no section, no link, and the page is otherwise the same
    plain = build(synthetic, tf_scores=scores)
    assert "id='differential'" not in plain and "#differential" not in plain


def test_the_run_level_network_has_its_card_and_its_row_of_the_recovery_table(synthetic):
    """The median AUPRC card says what it summarises; the run-level network (network_metrics.json) adds a
    card and the recovery table's last row, and neither without it."""
    n = len(synthetic["table"])
    network = {"auprc_ratio": 3.21, "auroc": 0.875, "sign_accuracy": 0.5, "n_transitions": n, "n_edges": 600}
    page = text_of(build(synthetic, network_metrics=network))
    cards = page.split('class="cards"')[1].split("</div></p>")[0]
    assert f"median AUPRC ratio over {n} transitions" in cards
    assert "<b>3.21</b><span>AUPRC ratio of the run-level network" in cards
    validation = page.split("<section id='validation'>")[1]
    rows = validation.split("Recovery of the reference network")[1].split("</tbody>")[0].split("<tr>")
    assert f"run-level network ({n} transitions)" in rows[-1] and "0.875" in rows[-1]
    assert len([r for r in rows if "<td" in r]) == n + 1

    plain = text_of(build(synthetic))
    assert "run-level network" not in plain and f"median AUPRC ratio over {n} transitions" in plain
