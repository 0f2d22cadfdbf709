"""transgrn.report.figures: PNG output (reproducible, cropped or at its size), the per-transition
figures' fallbacks and labels, on hand-made tables."""
import io

import numpy as np
import pandas as pd
from PIL import Image

from transgrn.report import figures


def texts(fig) -> str:
    """Every text drawn on a figure (titles, labels, annotations), one per line."""
    return "\n".join(t.get_text() for t in fig.findobj(lambda artist: hasattr(artist, "get_text")))


def test_png_is_the_same_bytes_on_every_render_and_written_as_returned(tmp_path):
    fig = figures.placeholder_figure("a title", "nothing to draw")
    first = figures.figure_png(fig, tmp_path / "figure.png", crop=False)
    assert figures.figure_png(figures.placeholder_figure("a title", "nothing to draw"), crop=False) == first
    assert (tmp_path / "figure.png").read_bytes() == first
    image = Image.open(io.BytesIO(first))
    assert image.size == (500, 160)  # 5 x 1.6 inches at figures.DPI: uncropped
    assert image.mode == "P" and not image.text  # 256 colours, no metadata (a date would change every rerun)


def test_crop_keeps_the_content_and_a_margin_only():
    fig = figures._figure(figsize=(6, 6))
    fig.text(0.5, 0.5, "small", ha="center", va="center")
    width, height = Image.open(io.BytesIO(figures.figure_png(fig))).size
    pad = 2 * round(figures.PAD_INCHES * figures.DPI)
    assert pad < width < 200 and pad < height < 60  # the word and its margin, not the 600 x 600 canvas


def test_transition_figures_say_when_no_gene_could_be_evaluated():
    no_genes = pd.DataFrame({"target_gene": ["x"], "r2_test": [np.nan], "r2_test_null": [np.nan]})
    assert "no gene could be evaluated" in texts(figures.gene_r2_figure(no_genes, "a → b"))
    empty = pd.DataFrame(columns=["kind", "target_gene", "observed", "predicted"])
    assert "no gene could be evaluated" in texts(figures.predictions_figure(empty, no_genes, "a → b"))


def test_per_gene_r2_below_the_axis_is_counted_in_its_label():
    gene_r2 = pd.DataFrame({"target_gene": list("abcd"), "r2_test": [-7.0, -3.0, 0.2, 0.6],
                            "r2_test_null": [-0.1, 0.0, 0.05, 0.1]})
    fig = figures.gene_r2_figure(gene_r2, "a → b")
    assert "(2 values < -1.0 shown at it)" in fig.axes[0].get_xlabel()
    assert "mapping (median -1.400)" in texts(fig)  # the median of the values, not of the clipped ones


def test_labels_on_a_colour_read_black_on_light_and_white_on_dark():
    scale = figures.color_scale([0.0, 1.0])  # sequential reds
    assert scale.kind == "sequential"
    assert scale.text_color(0.0) == "black" and scale.text_color(1.0) == "white"
