"""The real data set end to end: Guo et al. 2010 mouse preimplantation qPCR (data/guo2010).

Runs config/guo.yaml as shipped except that only the 32-cell -> 64-cell transition is fitted (the
pseudotime chain has five; one keeps the test near 30 s on one core, and its numbers are the same
as in the full run: same transition id, so the same random streams). Then checks the
literature-curated reference (data/guo2010/reference.csv) where data/guo2010/README.md says the
fit recovers it; the edges it does not recover are listed there, not asserted here.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import REPO

from transgrn.config import validate_config

pytestmark = pytest.mark.workflow

GUO = REPO / "data/guo2010"
# (tf, target, sign, top fraction, largest q): edges with strong evidence that the 32C->64C fit ranks
# high (measured with seeds 0-3 under the default penalty, the network refitted on every pair:
# Gata6 -> Pdgfra top 2.9%, q <= 0.0004; Sox2 -> Fgf4 top 4.9-5.0%, q <= 0.0009; Gata6 -> Gata4 top
# 7.5-7.7%, q <= 0.044), and the Nanog/Gata6 mutual repression: negative with every seed (top 34-36%,
# not significant) although the
# two genes correlate positively over the 32- and 64-cell cells (both inner-cell-mass genes, off in
# trophectoderm), so the sign comes from the multivariate fit, not from co-expression.
TOP_EDGES = [("Gata6", "Pdgfra", 1, 0.06, 0.02), ("Sox2", "Fgf4", 1, 0.13, 0.05), ("Gata6", "Gata4", 1, 0.16, 0.15)]
SIGN_ONLY_EDGES = [("Nanog", "Gata6", -1), ("Gata6", "Nanog", -1)]


def guo_config() -> dict:
    """config/guo.yaml with absolute input paths and the 32C->64C transition only."""
    config = yaml.safe_load((REPO / "config/guo.yaml").read_text())
    for key in ("adata", "prior"):
        config["data"][key] = str(REPO / config["data"][key])
    config["reference"] = str(REPO / config["reference"])
    config["transitions"].update(mode="explicit", explicit=[["32C", "64C"]])
    return config


@pytest.fixture(scope="module")
def guo_run(tmp_path_factory, workflow_runner) -> Path:
    workdir = tmp_path_factory.mktemp("guo")
    result = workflow_runner(workdir, guo_config(), "--cores", "1")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir / "results"


def edges_32_64(results: Path) -> pd.DataFrame:
    edges = pd.read_parquet(results / "edges.parquet")
    edges = edges[(edges.source_cluster == "32C") & (edges.target_cluster == "64C")].copy()
    edges["rank_fraction"] = edges.weight.abs().rank(ascending=False) / len(edges)
    return edges.set_index(["tf", "target_gene"])


def test_the_shipped_config_is_valid_and_stand_alone(schema):
    config = validate_config(yaml.safe_load((REPO / "config/guo.yaml").read_text()), schema)
    assert "demo" not in config
    assert config["transitions"]["mode"] == "pseudotime" and config["data"]["cluster_key"] == "stage"
    for path in (config["data"]["adata"], config["data"]["prior"], config["reference"]):
        assert (REPO / path).is_file(), path


def test_the_checked_edges_are_the_reference_files_own():
    reference = pd.read_csv(GUO / "reference.csv")
    assert reference[["tf", "target_gene", "sign", "evidence", "citation"]].notna().all().all()
    listed = set(zip(reference.tf, reference.target_gene, reference.sign))
    assert {edge[:3] for edge in TOP_EDGES} | set(SIGN_ONLY_EDGES) <= listed
    prior = pd.read_csv(GUO / "prior.csv")
    assert set(zip(reference.tf, reference.target_gene)) <= set(zip(prior.tf, prior.target_gene))


def test_the_fit_beats_chance_and_the_null(guo_run):
    table = pd.read_csv(guo_run / "transitions.tsv", sep="\t")
    assert len(table) == 1
    row = table.iloc[0]
    assert (row.n_source_cells, row.n_target_cells) == (109, 159)
    assert row.n_edges == len(pd.read_csv(GUO / "prior.csv"))  # every gene varies: every prior edge estimated
    # measured with seeds 0-3 (the split and the CV folds follow the seed): r2_test 0.64-0.67 against
    # a null of -0.003 to 0.001; auprc_ratio 1.73 with every seed (1 = chance; |correlation| over the
    # same cells: 1.38; the network is refitted on every pair, so the split no longer moves it);
    # sign_accuracy 8 of the 12 reference edges with every seed
    assert row.r2_test > row.r2_test_null + 0.3
    assert row.auprc_ratio > 1.3
    assert row.sign_accuracy > 0.6


@pytest.mark.parametrize("tf, target, sign, top, max_q", TOP_EDGES)
def test_strong_reference_edges_rank_high_with_the_right_sign(guo_run, tf, target, sign, top, max_q):
    edge = edges_32_64(guo_run).loc[(tf, target)]
    assert edge.weight * sign > 0
    assert edge.rank_fraction < top
    assert edge.qvalue < max_q


@pytest.mark.parametrize("tf, target, sign", SIGN_ONLY_EDGES)
def test_nanog_gata6_mutual_repression_has_the_right_sign(guo_run, tf, target, sign):
    assert edges_32_64(guo_run).loc[(tf, target)].weight * sign > 0
