"""Priors and references read in the layouts people have them (tests/data/networks has one small
file per layout), names kept as text, and gene-name case mismatches pointed out or matched."""
from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from transgrn.errors import InputError
from transgrn.networks import align_edges, read_network

NETWORKS = Path(__file__).parent / "data" / "networks"


def rows(edges: pd.DataFrame) -> list[tuple[str, str, int]]:
    return [(tf, target, int(sign)) for tf, target, sign in edges[["tf", "target_gene", "sign"]].itertuples(index=False)]


@pytest.mark.parametrize(("name", "taken", "expected"), [
    # Pathway Commons: only controls-expression-of is a TF -> target edge; in-complex-with is dropped
    ("pathway_commons.sif", "SIF", [("GATA1", "KLF1", 0), ("SPI1", "CEBPA", 0), ("TAL1", "GATA1", 0)]),
    # TRRUST: no header; Unknown beside Activation keeps +1, Activation beside Repression gives 0
    ("trrust.tsv", "TRRUST", [("AATF", "BAX", -1), ("AATF", "MYC", 1), ("AATF", "TP53", 0), ("ABL1", "BAX", 1),
                              ("ABL1", "BCL6", 0)]),
    # decoupler/CollecTRI: source,target,weight ±1 and a PMID column that is ignored
    ("collectri.csv", "edge list", [("MYC", "TERT", 1), ("SPI1", "CEBPA", 1), ("GFI1", "SPI1", -1)]),
    # CellOracle: two peaks of Klf1 give one Gata1 -> Klf1 edge; a peak without TF gives none
    ("celloracle_base_grn.csv", "CellOracle base GRN", [("Gata1", "Klf1", 0), ("Tal1", "Klf1", 0),
                                                        ("Spi1", "Cebpa", 0)]),
    # SCENIC .gmt: Gata1(+), Spi1_(+), Gfi1b(-) and SCENIC (R)'s unsigned "Tal1_extended (2g)"
    ("regulons.gmt", "SCENIC regulons", [("Gata1", "Klf1", 1), ("Gata1", "Tal1", 1), ("Gata1", "Epor", 1),
                                         ("Spi1", "Cebpa", 1), ("Spi1", "Csf1r", 1), ("Gfi1b", "Spi1", -1),
                                         ("Tal1", "Gata1", 0), ("Tal1", "Klf1", 0)]),
    # SCENIC lists: ;-separated, a Python list, pySCENIC's (gene, weight) pairs
    ("regulons.csv", "SCENIC regulons", [("Gata1", "Klf1", 1), ("Gata1", "Tal1", 1), ("Spi1", "Cebpa", 0),
                                         ("Spi1", "Csf1r", 0), ("Gfi1b", "Spi1", -1), ("Gfi1b", "Gfi1", -1)]),
    # a ;-separated signed wide matrix (was read as one column: "every entry is 0")
    ("semicolon_wide.csv", "wide matrix with TFs as rows", [("Gata1", "Klf1", 1), ("Gata1", "Tal1", 1),
                                                            ("Spi1", "Tal1", -1), ("Spi1", "Cebpa", 1)]),
    # ids stay text: 00001 is not 1, and a gene called NA is not missing
    ("numeric_ids.csv", "edge list", [("00001", "00002", 0), ("00001", "00003", 0), ("NA", "00001", 0)]),
    # an unsigned reference; its repeated edge is listed once
    ("unsigned_reference.tsv", "edge list", [("Gata1", "Klf1", 0), ("Spi1", "Cebpa", 0)]),
    # signs as words in any case, + and the unicode minus; citation and pmid columns ignored
    ("reference_words.csv", "edge list", [("Gata1", "Klf1", 1), ("Gfi1b", "Spi1", -1), ("Spi1", "Gata1", -1),
                                          ("Klf1", "Epor", 0), ("Tal1", "Gata1", -1), ("Spi1", "Cebpa", 1)]),
])
def test_each_layout_reads_its_edges_and_signs(name, taken, expected):
    edges, description = read_network(NETWORKS / name, "reference")
    assert description.startswith(taken)
    assert rows(edges) == expected
    assert list(edges.columns) == ["tf", "target_gene", "sign"] and str(edges["sign"].dtype) == "int8"


def test_sif_logs_the_ignored_relation_types_and_reads_gzip(tmp_path, caplog):
    packed = tmp_path / "PathwayCommons.hgnc.sif.gz"
    with open(NETWORKS / "pathway_commons.sif", "rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    with caplog.at_level(logging.INFO, logger="transgrn"):
        edges, _ = read_network(packed)
    assert len(edges) == 3
    assert "ignored 1 lines of other relation types (in-complex-with: 1)" in caplog.text


def test_sif_without_transcriptional_relations_is_refused(tmp_path):
    (tmp_path / "ppi.sif").write_text("A\tin-complex-with\tB\nA\tinteracts-with\tC\n")
    with pytest.raises(InputError, match=r"data.prior: .*no 'controls-expression-of' relation.*in-complex-with: 1"):
        read_network(tmp_path / "ppi.sif")


def test_sif_is_detected_without_its_suffix(tmp_path):
    shutil.copy(NETWORKS / "pathway_commons.sif", tmp_path / "pc.txt")
    edges, taken = read_network(tmp_path / "pc.txt")
    assert taken.startswith("SIF") and len(edges) == 3


def test_celloracle_base_grn_as_parquet(tmp_path):
    table = pd.read_csv(NETWORKS / "celloracle_base_grn.csv", index_col=0)
    table.to_parquet(tmp_path / "base_GRN.parquet")
    edges, taken = read_network(tmp_path / "base_GRN.parquet")
    assert taken == "CellOracle base GRN"
    assert rows(edges) == [("Gata1", "Klf1", 0), ("Tal1", "Klf1", 0), ("Spi1", "Cebpa", 0)]


def test_celloracle_scores_instead_of_0_1_are_refused(tmp_path):
    text = (NETWORKS / "celloracle_base_grn.csv").read_text().replace("1,1.0,1.0,0.0", "1,0.8,1.0,0.0")
    (tmp_path / "base.csv").write_text(text)
    with pytest.raises(InputError, match=r"data.prior: CellOracle TF column 'Gata1' must hold 0/1; found 0.8"):
        read_network(tmp_path / "base.csv")


def test_unknown_words_as_signs_are_refused_naming_the_key_and_column(tmp_path):
    (tmp_path / "ref.csv").write_text("tf,target_gene,sign\nA,B,activation\nA,C,maybe\n")
    with pytest.raises(InputError, match=r"reference: column 'sign' must hold signs.*found maybe in 1 rows"):
        read_network(tmp_path / "ref.csv", "reference")


def test_headerless_edge_list_without_signs_gets_a_fix(tmp_path):
    (tmp_path / "prior.tsv").write_text("Gata1\tKlf1\nSpi1\tCebpa\n")
    with pytest.raises(InputError, match=r"data.prior: .*give it a header naming its columns: tf"):
        read_network(tmp_path / "prior.tsv")


def test_spreadsheet_export_with_byte_order_mark_and_semicolons(tmp_path):
    (tmp_path / "prior.csv").write_bytes("\ufefftf;target_gene;sign\r\nGata1;Klf1;+\r\nSpi1;Gata1;\u2212\r\n".encode())
    edges, taken = read_network(tmp_path / "prior.csv")
    assert taken == "edge list" and rows(edges) == [("Gata1", "Klf1", 1), ("Spi1", "Gata1", -1)]


def test_binary_file_is_refused(tmp_path):
    (tmp_path / "prior.xlsx").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(InputError, match=r"data.prior: .*(not a UTF-8 text table|binary)"):
        read_network(tmp_path / "prior.xlsx")


MOUSE_GENES = pd.Index(["Gata1", "Klf1", "Tal1", "Spi1", "Cebpa", "MYC"])
# a human upper-case prior on mouse genes; MYC -> Tal1 is the one edge spelled as the data spell it
HUMAN_PRIOR = pd.DataFrame({"tf": ["GATA1", "GATA1", "SPI1", "MYC", "Gata1"],
                            "target_gene": ["KLF1", "TAL1", "CEBPA", "Tal1", "Klf1"],
                            "sign": pd.Series([1, 1, 1, -1, 0], dtype="int8")})


def test_case_mismatch_warns_naming_the_option(caplog):
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        kept = align_edges(HUMAN_PRIOR, MOUSE_GENES, "data.prior")
    assert rows(kept) == [("MYC", "Tal1", -1), ("Gata1", "Klf1", 0)]
    assert "data.prior: 2 of 5 edges have both genes in the data; 5 match when case is ignored (e.g. GATA1 ~ Gata1)" \
        in caplog.text
    assert "set data.prior_case: ignore" in caplog.text
    assert len(caplog.records) == 1  # one warning for one problem (not also "only a few shared")


def test_prior_case_ignore_matches_in_the_data_spelling(caplog):
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        kept = align_edges(HUMAN_PRIOR, MOUSE_GENES, "reference", case="ignore")
    # GATA1 -> KLF1 (+) and Gata1 -> Klf1 (unknown) are one edge, with the known sign
    assert rows(kept) == [("Gata1", "Klf1", 1), ("Gata1", "Tal1", 1), ("Spi1", "Cebpa", 1), ("MYC", "Tal1", -1)]
    assert caplog.text == ""


def test_no_exact_match_names_the_option_in_the_error():
    upper = HUMAN_PRIOR.iloc[:3]
    with pytest.raises(InputError, match=r"data.prior: no edge .* 3 edges match when case is ignored.*data.prior_case: ignore"):
        align_edges(upper, MOUSE_GENES)


def test_a_few_case_differences_do_not_warn(caplog):
    genes = pd.Index([f"G{i}" for i in range(40)])
    edges = pd.DataFrame({"tf": ["G0"] * 39, "target_gene": [f"G{i}" for i in range(1, 39)] + ["g39"], "sign": 0})
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        assert len(align_edges(edges, genes)) == 38
    assert caplog.text == ""


def test_prepare_threads_prior_case_to_prior_and_reference(tmp_path, small_simulation, schema):
    from helpers import write_inputs

    from transgrn.config import validate_config
    from transgrn.prepare import prepare

    data = write_inputs(small_simulation, tmp_path / "in", prior_format="edges")
    for name in ("prior.csv", "reference.csv"):
        table = pd.read_csv(tmp_path / "in" / name)
        table[["tf", "target_gene"]] = table[["tf", "target_gene"]].apply(lambda c: c.str.swapcase())
        table.to_csv(tmp_path / "in" / name, index=False)
    config = validate_config({"data": {**data, "prior_case": "ignore"}, "reference": str(tmp_path / "in/reference.csv")},
                             schema)
    summary = prepare(config, tmp_path / "out")
    assert summary["prior"]["n_edges"] == summary["prior"]["n_edges_input"] == int((small_simulation.prior != 0).sum().sum())
    assert summary["reference"]["n_edges"] == len(small_simulation.reference)
    prepared = pd.read_parquet(tmp_path / "out/prior_edges.parquet")
    assert set(prepared["tf"]) <= set(small_simulation.adata.var_names)
