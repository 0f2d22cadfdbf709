"""Every kind of bad input stops (or warns) with a message that names the problem and the fix,
and nothing is half-written. Cases already covered elsewhere are not repeated here:
missing cluster/pseudotime key and layer, NaN in dense X, duplicate genes, a prior without shared
genes (tests/test_prepare.py, tests/test_io.py), a non-binary wide prior (tests/test_io.py),
unknown clusters in transitions.explicit (tests/test_transitions.py), config typos
(tests/test_config.py, tests/test_workflow.py)."""
from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import yaml
from conftest import REPO, write_inputs

from transgrn.config import validate_config
from transgrn.errors import ConfigError, InputError
from transgrn.io import read_adata, read_network
from transgrn.prepare import normalize_log1p, prepare, read_transitions


def config_for(data, schema, **sections):
    return validate_config({"data": data, **sections}, schema)


def with_adata(sim, adata):
    return type(sim)(adata=adata, prior=sim.prior, reference=sim.reference)


def refused(config, outdir, match):
    """prepare() raises InputError matching ``match`` and writes nothing."""
    with pytest.raises(InputError, match=match) as info:
        prepare(config, outdir)
    assert not outdir.exists(), "the checkpoint wrote files before failing"
    assert "Traceback" not in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------------------ the file


def test_truncated_h5ad(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    whole = open(data["adata"], "rb").read()
    open(data["adata"], "wb").write(whole[: len(whole) * 2 // 3])
    refused(config_for(data, schema), tmp_path / "out", r"data.adata: .*could not be read as an .h5ad file: the file is "
                                                       r"truncated.*Copy or write it again")


@pytest.mark.parametrize("content, says", [
    (b"cell,GATA1,KLF1\nc1,0,3\n", r"a text file \(starts with 'cell,GATA1,KLF1'\).*scanpy.read_csv"),
    (b"%%MatrixMarket matrix coordinate real general\n", r"Matrix Market.*read_10x_mtx"),
    (b"\x1f\x8b\x08\x00rest", r"gzip-compressed.*gunzip"),
    (b"", r"it is empty \(0 bytes\)"),
])
def test_file_that_is_not_h5ad(tmp_path, content, says):
    path = tmp_path / "data.h5ad"
    path.write_bytes(content)
    with pytest.raises(InputError, match=rf"data.adata: '.*data.h5ad' could not be read as an .h5ad file: .*{says}"):
        read_adata(path)


# ------------------------------------------------------------------------------------ values


def test_raw_counts_warn_with_the_fix(tmp_path, small_simulation, schema, caplog):
    adata = small_simulation.adata.copy()
    adata.X = adata.layers["counts"].astype(np.float32)
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        prepare(config_for(data, schema), tmp_path / "out")
    assert "looks like raw counts" in caplog.text and "Set data.normalize: true" in caplog.text


def test_normalize_true_normalizes_raw_counts(tmp_path, small_simulation, schema, caplog):
    import anndata as ad

    adata = small_simulation.adata.copy()
    counts = sp.csr_matrix(adata.layers["counts"].astype(np.float32))
    adata.X = counts
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    with caplog.at_level(logging.INFO, logger="transgrn"):
        prepare(config_for({**data, "normalize": True}, schema), tmp_path / "out")
    assert "looks like raw counts" not in caplog.text and "data.normalize: scaling every cell" in caplog.text
    sliced = ad.read_h5ad(tmp_path / "out/clusters/c00_stem_cell.h5ad")
    rows = adata.obs_names.get_indexer(sliced.obs_names)
    dense = counts.toarray()[rows]
    expected = np.log1p(dense / dense.sum(1, keepdims=True) * 1e4)  # scanpy normalize_total + log1p, all genes
    cols = adata.var_names.get_indexer(sliced.var_names)
    np.testing.assert_allclose(sliced.X.toarray(), expected[:, cols], rtol=1e-5, atol=1e-6)


def test_normalize_refuses_negative_values():
    with pytest.raises(InputError, match=r"negative values.*set data.normalize: false"):
        normalize_log1p(np.array([[1.0, -0.5], [2.0, 3.0]]))


def test_infinite_values_in_sparse_x_name_the_gene(tmp_path, small_simulation, schema):
    adata = small_simulation.adata.copy()
    matrix = sp.csr_matrix(adata.X)
    matrix.data[0] = np.inf
    gene = adata.var_names[matrix.indices[0]]
    adata.X = matrix
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    refused(config_for(data, schema), tmp_path / "out", rf"1 NaN/inf values in 1 genes \(e.g. {gene}\); impute or remove")


# ------------------------------------------------------------------------------------ the prior


def test_prior_sharing_only_a_few_genes_warns_with_examples(tmp_path, small_simulation, schema, caplog):
    data = write_inputs(small_simulation, tmp_path / "in")
    genes = list(small_simulation.adata.var_names)
    edges = pd.DataFrame({"tf": [genes[0]] * 2 + [f"ENSG{i:05d}" for i in range(8)],
                          "target_gene": [genes[20], genes[21]] + [f"ENSG1{i:04d}" for i in range(8)]})
    edges.to_csv(tmp_path / "in/prior.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        summary = prepare(config_for(data, schema), tmp_path / "out")
    assert summary["prior"]["n_edges"] == 2
    assert "only 2 of 10 edges (20.0%; 1 of 9 TFs) have both genes in the data" in caplog.text
    assert "look like ENSG00000" in caplog.text and f"data genes look like {genes[0]}" in caplog.text


def test_case_mismatch_is_pointed_out(tmp_path, small_simulation, schema, caplog):
    data = write_inputs(small_simulation, tmp_path / "in")
    genes = list(small_simulation.adata.var_names)
    pd.DataFrame({"tf": [genes[0], genes[1].lower(), genes[2].lower()],
                  "target_gene": [genes[20], genes[21].lower(), genes[22].lower()]}).to_csv(
        tmp_path / "in/prior.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        prepare(config_for(data, schema), tmp_path / "out")
    assert "match when case is ignored" in caplog.text


def test_edge_list_with_confidence_weights_is_refused(tmp_path):
    pd.DataFrame({"tf": ["A", "B"], "target_gene": ["X", "Y"], "weight": [0.7, 0.2]}).to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputError, match=r"column 'weight' must hold signs.*found 0.7, 0.2 in 2 rows.*keep the edges you trust"):
        read_network(tmp_path / "p.csv")


def test_signed_priors_in_common_layouts_keep_the_sign(tmp_path):
    # decoupler/CollecTRI: source,target,weight in {-1, 1}
    pd.DataFrame({"source": ["A", "A", "B"], "target": ["X", "Y", "X"], "weight": [1, -1, 1]}).to_csv(
        tmp_path / "collectri.csv", index=False)
    edges, taken = read_network(tmp_path / "collectri.csv")
    assert taken == "edge list" and list(edges.itertuples(index=False)) == [("A", "X", 1), ("A", "Y", -1), ("B", "X", 1)]
    # DoRothEA-like mode of regulation; a 0/1 weight column is a mask (0 = no edge), not a sign
    pd.DataFrame({"tf": ["A", "B"], "target": ["X", "Y"], "mor": [1, 0]}).to_csv(tmp_path / "mask.tsv", sep="\t", index=False)
    edges, _ = read_network(tmp_path / "mask.tsv")
    assert list(edges.itertuples(index=False)) == [("A", "X", 0)]
    # a sign column may leave signs unknown; an edge listed with both signs gets an unknown sign
    pd.DataFrame({"tf": ["A", "A", "B", "C"], "target_gene": ["X", "X", "Y", "Z"], "sign": ["+", "-", "", "repression"]}).to_csv(
        tmp_path / "signed.csv", index=False)
    edges, _ = read_network(tmp_path / "signed.csv")
    assert list(edges.itertuples(index=False)) == [("A", "X", 0), ("B", "Y", 0), ("C", "Z", -1)]


def test_signed_prior_sign_reaches_the_prepared_edges(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in", prior_format="edges")
    edges = pd.read_csv(tmp_path / "in/prior.csv")
    edges["sign"] = np.where(np.arange(len(edges)) % 3 == 0, -1, 1)
    edges.to_csv(tmp_path / "in/prior.csv", index=False)
    summary = prepare(config_for(data, schema), tmp_path / "out")
    prepared = pd.read_parquet(tmp_path / "out/prior_edges.parquet")
    assert summary["prior"]["signed"] and set(prepared["sign"]) == {-1, 1}
    assert (prepared.merge(edges, on=["tf", "target_gene"]).eval("sign_x == sign_y")).all()


def test_prior_orientation_can_be_forced(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")  # wide, TFs x genes
    small_simulation.prior.T.to_csv(tmp_path / "in/prior.csv", index_label="gene")  # genes x TFs
    summary = prepare(config_for({**data, "prior_orientation": "gene_by_tf"}, schema), tmp_path / "out")
    assert summary["prior"]["n_edges"] == int(small_simulation.prior.to_numpy().sum())
    assert "genes as rows" in summary["prior_format"]


# ------------------------------------------------------------------------------------ clusters


def test_empty_and_single_cell_clusters_are_skipped_with_the_reason(tmp_path, small_simulation, schema, caplog):
    adata = small_simulation.adata.copy()
    labels = adata.obs["cell_type"].cat.add_categories(["doublets", "lonely"])
    labels.iloc[0] = "lonely"
    adata.obs["cell_type"] = labels
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    explicit = [["stem cell", "progenitor"], ["progenitor", "lonely"], ["progenitor", "doublets"]]
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        summary = prepare(config_for(data, schema, transitions={"mode": "explicit", "explicit": explicit}), tmp_path / "out")
    assert "1 categories without cells ('doublets')" in caplog.text
    assert list(read_transitions(tmp_path / "out/transitions.tsv")["target_cluster"]) == ["progenitor"]
    skipped = pd.read_csv(tmp_path / "out/skipped.tsv", sep="\t").set_index("target_cluster")["reason"]
    assert skipped["doublets"] == "cluster 'doublets' has 0 cells"
    assert "cluster 'lonely' has 1 cells < transitions.min_cells=20" in skipped["lonely"]
    assert summary["cluster_sizes"]["lonely"] == 1 and "doublets" not in summary["cluster_sizes"]


def test_only_one_cluster_is_refused(tmp_path, small_simulation, schema):
    adata = small_simulation.adata.copy()
    adata.obs["everything"] = "all cells"
    data = {**write_inputs(with_adata(small_simulation, adata), tmp_path / "in"), "cluster_key": "everything"}
    refused(config_for(data, schema), tmp_path / "out", r"obs column 'everything' has 1 cluster\(s\) with cells "
                                                       r"\('all cells'\); a transition needs two")


def test_explicit_pairs_that_all_fail_explain_why(tmp_path, small_simulation, schema):
    adata = small_simulation.adata.copy()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.add_categories(["doublets"])
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    config = config_for(data, schema, transitions={"mode": "explicit", "explicit": [["progenitor", "doublets"]]})
    refused(config, tmp_path / "out", r"skipped: progenitor -> doublets: cluster 'doublets' has 0 cells\).*fix transitions.explicit")


def test_explicit_pair_with_an_unknown_cluster_writes_nothing(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    config = config_for(data, schema, transitions={"mode": "explicit", "explicit": [["stem cell", "progentior"]]})
    refused(config, tmp_path / "out", r"cluster\(s\) 'progentior'.*are not in the data \(clusters: stem cell, progenitor")


def test_typo_in_a_data_key_lists_the_allowed_keys(schema):
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) 'normalise' under 'data'; allowed keys are: .*normalize"):
        validate_config({"data": {"adata": "a.h5ad", "prior": "p.csv", "cluster_key": "c", "normalise": True}}, schema)
    with pytest.raises(ConfigError, match=r"data.prior_orientation.*'genes_by_tf' is not one of"):
        validate_config({"data": {"adata": "a.h5ad", "prior": "p.csv", "cluster_key": "c",
                                  "prior_orientation": "genes_by_tf"}}, schema)


# ------------------------------------------------------------------------------------ end to end


@pytest.mark.workflow
def test_truncated_h5ad_through_the_workflow(tmp_path, small_simulation):
    data = write_inputs(small_simulation, tmp_path / "in")
    whole = open(data["adata"], "rb").read()
    open(data["adata"], "wb").write(whole[: len(whole) // 2])
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
                             str(workdir), "--configfile", str(workdir / "config.yaml"), "--cores", "1"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "could not be read as an .h5ad file: the file is truncated" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "results/prepared").exists() or not any((workdir / "results/prepared").iterdir())
