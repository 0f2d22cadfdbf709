"""transgrn.report.html: the page's building blocks (tables, images, a transition's tables read
from files), on hand-made frames."""
import base64
import re

import numpy as np
import pandas as pd

from transgrn.report import html as report_html


def cells(table: str) -> list[str]:
    """Each <td ...>...</td> of an HTML table, with its attributes."""
    return re.findall(r"<td[^>]*>.*?</td>", table)


def test_table_cells_are_escaped_numeric_where_numbers_and_signed_for_weights():
    frame = pd.DataFrame({"tf": ["<Gata1>", "Spi1"], "n": [3, 12], "weight": [0.25, -0.0004], "r2": [np.nan, 1 / 3]})
    table = report_html.table_html(frame)
    first, n, weight, r2, *second = cells(table)
    assert first == "<td>&lt;Gata1&gt;</td>"  # a gene name is text, never markup
    assert n == '<td class="num" data-v="3">3</td>'
    assert weight == '<td class="num pos" data-v="0.25">0.250</td>'
    assert r2 == '<td class="num" data-v="NaN">NA</td>'
    # sorting reads data-v (the full value), the text is rounded: -0.0004 reads 0.000, not -0.000
    assert second[1:] == ['<td class="num" data-v="12">12</td>', '<td class="num neg" data-v="-0.0004">0.000</td>',
                          f'<td class="num" data-v="{1 / 3!r}">0.333</td>']
    assert table.count("<tr>") == 3 and "<th>weight</th>" in table and 'class="tablewrap"' in table


def test_table_links_its_first_column_and_flags_transitions_not_above_their_null():
    frame = pd.DataFrame({"transition": ["a → b", "b → c"], "above_null": [True, False]})
    table = report_html.table_html(frame, links={"b → c": "#t1"}, scroll=True)
    assert cells(table)[:2] == ["<td>a → b</td>", "<td>yes</td>"]
    assert cells(table)[2] == '<td><a href="#t1">b → c</a></td>'
    assert "class='warn'" in cells(table)[3] and "no ⚠" in cells(table)[3]
    assert 'class="scroll"' in table


def test_images_are_embedded_as_base64_with_an_escaped_alt_text():
    png = b"\x89PNG\r\n\x1a\n-not-really-a-png"
    tag = report_html.img_html(png, 'A "quoted" title')
    assert 'alt="A &quot;quoted&quot; title"' in tag
    assert base64.b64decode(re.search(r"base64,([^\"]+)", tag).group(1)) == png
    figure = report_html.figure_html(png, "alt", "the <b>caption</b>")
    assert figure.startswith("<figure><img") and figure.endswith("<figcaption>the <b>caption</b></figcaption></figure>")


def test_read_table_reads_only_the_columns_the_report_uses(tmp_path):
    coefficients = pd.DataFrame({"tf": ["A"], "target_gene": ["x"], "weight": [0.5], "q_value": [0.01]})
    coefficients.to_parquet(tmp_path / "coefficients.parquet")
    read = report_html.read_table(tmp_path / "coefficients.parquet", report_html.COEFFICIENT_COLUMNS)
    assert list(read.columns) == ["tf", "target_gene", "weight"]  # null_weight is absent, q_value not read
    assert report_html.read_table(coefficients, report_html.COEFFICIENT_COLUMNS) is coefficients
    assert report_html.read_table(None, report_html.COEFFICIENT_COLUMNS) is None
