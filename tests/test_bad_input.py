"""Every kind of bad input stops (or warns) with a message that names the problem and the fix,
and nothing is half-written. Cases already covered elsewhere are not repeated here:
missing cluster/pseudotime key and layer, NaN in dense X, duplicate genes, a prior without shared
genes (tests/test_prepare.py, tests/test_io.py), a non-binary wide prior (tests/test_io.py),
unknown clusters in transitions.explicit (tests/test_transitions.py), config typos
(tests/test_config.py, tests/test_workflow.py)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from helpers import write_inputs

from transgrn.config import validate_config
from transgrn.errors import ConfigError, InputError
from transgrn.io import read_adata
from transgrn.networks import read_network
from transgrn.prepare import normalize_log1p, prepare
from transgrn.transitions import read_transitions
from transgrn.options import MappingOptions


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


def test_raw_counts_are_refused_with_the_fix(tmp_path, small_simulation, schema):
    adata = small_simulation.adata.copy()
    adata.X = adata.layers["counts"].astype(np.float32)
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    refused(config_for(data, schema), tmp_path / "out",
            r"the expression in X looks like raw counts \(integer values up to \d+\), not log-normalized. "
            r"Set data.normalize: true")


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
    import scanpy as sc

    reference = ad.AnnData(counts.copy())
    sc.pp.normalize_total(reference)  # default: every cell to the median total count
    sc.pp.log1p(reference)
    expected = reference.X.toarray()[rows]  # scanpy normalize_total + log1p, over all genes
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


# ------------------------------------------------------------------------------------ checks in the checkpoint (issue 14)


def scaled(adata, keep_genes=None):
    """``adata`` after scanpy's usual path: the log data kept in .raw, X on some genes and z-scored."""
    import scanpy as sc

    adata = adata.copy()
    adata.raw = adata
    adata = adata[:, keep_genes].copy() if keep_genes is not None else adata
    sc.pp.scale(adata)
    return adata


def test_duplicate_cell_names_stop_the_checkpoint(tmp_path, small_simulation, schema):
    """Defect 6: repeated cell names gave an InvalidIndexError in fit_grn, after 20 jobs had run."""
    adata = small_simulation.adata.copy()
    names = adata.obs_names.to_numpy().copy()
    names[1] = names[0]  # two cells of the same cluster
    adata.obs_names = names
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    refused(config_for(data, schema), tmp_path / "out",
            rf"1 cell names occur more than once \(e.g. {names[0]} \(2 times\)\); .*adata.obs_names_make_unique\(\)")


def test_z_scored_x_is_refused_and_points_to_raw(tmp_path, small_simulation, schema):
    data = write_inputs(with_adata(small_simulation, scaled(small_simulation.adata)), tmp_path / "in")
    message = refused(config_for(data, schema), tmp_path / "out",
                      r"the expression in X is not log-normalized: it looks z-scored \(per-gene mean about 0 and sd "
                      r"about 1, as after scanpy.pp.scale; minimum -\d")
    assert "adata.raw holds 72 genes" in message and "set data.use_raw: true" in message


def test_negative_values_are_refused(tmp_path, small_simulation, schema):
    adata = small_simulation.adata.copy()
    adata.X[3, 5] = -0.5
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    message = refused(config_for(data, schema), tmp_path / "out",
                      r"X is not log-normalized: it holds negative values \(minimum -0.5")
    assert "data.layer to a log-normalized layer (layers: counts" in message and "use_raw" not in message


def test_use_raw_takes_expression_and_genes_from_raw(tmp_path, small_simulation, schema):
    import anndata as ad

    genes = small_simulation.adata.var_names
    adata = scaled(small_simulation.adata, keep_genes=genes[:-10])  # X lacks 10 target genes, as after HVG selection
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    summary = prepare(config_for({**data, "use_raw": True}, schema), tmp_path / "out")
    assert summary["prior"]["n_edges"] == int(small_simulation.prior.to_numpy().sum()) and summary["n_genes"] == 72
    sliced = ad.read_h5ad(tmp_path / "out/clusters/c01_progenitor.h5ad")
    original = small_simulation.adata[sliced.obs_names, sliced.var_names].X
    assert set(genes[-10:]) <= set(sliced.var_names)
    np.testing.assert_allclose(np.asarray(sliced.X), original, rtol=1e-6)


def test_use_raw_without_raw_or_with_a_layer_is_refused(tmp_path, small_simulation, schema):
    data = write_inputs(small_simulation, tmp_path / "in")
    refused(config_for({**data, "use_raw": True}, schema), tmp_path / "out",
            r"data.use_raw is true but the AnnData has no .raw; .*layers: counts")
    with pytest.raises(ConfigError, match=r"data.use_raw is true and data.layer is set"):
        config_for({**data, "use_raw": True, "layer": "counts"}, schema)


def test_scanpys_pbmc68k_reduced_is_refused_then_runs_with_use_raw(tmp_path, schema):
    """scanpy's bundled pbmc68k_reduced: z-scored X (min -2.03), log data in .raw."""
    import scanpy as sc

    adata = sc.datasets.pbmc68k_reduced()
    adata.write_h5ad(tmp_path / "pbmc.h5ad")
    genes = list(adata.raw.var_names)
    pd.DataFrame({"tf": genes[:5] * 8, "target_gene": genes[100:140]}).to_csv(tmp_path / "prior.csv", index=False)
    clusters = adata.obs["bulk_labels"].value_counts().index[:2]
    data = {"adata": str(tmp_path / "pbmc.h5ad"), "prior": str(tmp_path / "prior.csv"), "cluster_key": "bulk_labels"}
    sections = {"transitions": {"mode": "explicit", "explicit": [list(clusters)]}}
    refused(config_for(data, schema, **sections), tmp_path / "out",
            r"looks z-scored .*minimum -2.03\).*adata.raw holds 765 genes .*set data.use_raw: true")
    summary = prepare(config_for({**data, "use_raw": True}, schema, **sections), tmp_path / "out")
    assert summary["n_transitions"] == 1 and summary["prior"]["n_edges"] == 40


def test_non_negative_qpcr_values_pass(tmp_path, small_simulation, schema):
    """qPCR shipped as LOD - Ct (>= 0, two decimals, not counts) is log-scale data and must pass."""
    adata = small_simulation.adata.copy()
    adata.X = np.round(adata.X * 2.5, 2)
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    assert prepare(config_for(data, schema), tmp_path / "out")["n_transitions"] == 12


@pytest.mark.parametrize("mapping, pseudotime_key, expected, warned", [
    ({}, None, "joint (no pseudotime)", True),
    ({}, "pseudotime", "lagged", False),
    ({"method": "ot"}, None, "ot", False),
])
def test_design_without_pseudotime_is_warned_once_and_recorded(tmp_path, small_simulation, schema, caplog,
                                                               mapping, pseudotime_key, expected, warned):
    data = {**write_inputs(small_simulation, tmp_path / "in"), "pseudotime_key": pseudotime_key}
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        summary = prepare(config_for(data, schema, mapping=mapping), tmp_path / "out")
    assert summary["mapping_method"] == expected
    lagged = [r for r in caplog.records if "mapping.method 'lagged'" in r.getMessage()]
    assert len(lagged) == int(warned)
    assert ("data.pseudotime_key is not set" in " ".join(summary["warnings"])) == warned


def test_prior_silent_in_a_transition_is_named(tmp_path, small_simulation, schema, caplog):
    adata = small_simulation.adata.copy()
    fates = adata.obs["cell_type"].isin(["fate A", "fate B"]).to_numpy()
    tfs = adata.var_names.isin(small_simulation.prior.index)
    adata.X[np.ix_(fates, tfs)] = 0.0  # no TF expressed in either fate
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        summary = prepare(config_for(data, schema), tmp_path / "out")
    assert "none of the prior's 12 TFs varies in the cells of transition(s) fate A -> fate B, fate B -> fate A" in caplog.text
    assert "progenitor -> fate A" not in caplog.text and summary["n_transitions"] == 12


def test_reference_sharing_no_gene_with_the_data_is_refused(tmp_path, small_simulation, schema):
    """Defect 2: passed the checkpoint, then a KeyError in aggregate."""
    data = write_inputs(small_simulation, tmp_path / "in")
    pd.DataFrame({"tf": ["ENSG01", "ENSG02"], "target_gene": ["ENSG03", "ENSG04"], "sign": [1, -1]}).to_csv(
        tmp_path / "in/reference.csv", index=False)
    refused(config_for(data, schema, reference=str(tmp_path / "in/reference.csv")), tmp_path / "out",
            rf"reference: no edge of the network .*look like ENSG01.*data genes look like {small_simulation.adata.var_names[0]}"
            r".*Or set reference: null")


def test_empty_cells_are_dropped_and_counted(tmp_path, small_simulation, schema, caplog):
    """Defect 4: 10 all-zero source cells moved r2_test from 0.117 to 0.514 without a word."""
    import anndata as ad

    adata = small_simulation.adata.copy()
    stem = np.flatnonzero((adata.obs["cell_type"] == "stem cell").to_numpy())[:10]
    adata.X[stem] = 0.0
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        summary = prepare(config_for(data, schema), tmp_path / "out")
    assert "10 cells have no expression at all (every value 0): they are left out" in caplog.text
    assert "filter_cells(adata, min_genes=1)" in caplog.text
    assert summary["n_empty_cells"] == 10 and summary["cluster_sizes"]["stem cell"] == 73 - 10
    sliced = ad.read_h5ad(tmp_path / "out/clusters/c00_stem_cell.h5ad")
    assert sliced.n_obs == 63 and not set(adata.obs_names[stem]) & set(sliced.obs_names)


def test_cluster_labels_that_look_like_missing_values_or_numbers_stay_text(tmp_path, small_simulation, schema):
    """Defect 10: a cluster named 'NA' showed as 'nan'."""
    adata = small_simulation.adata.copy()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.rename_categories(
        {"stem cell": "NA", "progenitor": "01", "fate B": "nan"})
    data = write_inputs(with_adata(small_simulation, adata), tmp_path / "in")
    prepare(config_for(data, schema, transitions={"min_cells": 100}), tmp_path / "out")
    table = read_transitions(tmp_path / "out/transitions.tsv")
    assert set(table["source_cluster"]) == {"01", "fate A", "nan"}
    skipped = read_transitions(tmp_path / "out/skipped.tsv")
    assert "NA" in set(skipped["source_cluster"]) and skipped["reason"].str.startswith("cluster 'NA' has 73").any()
    results = tmp_path / "results.tsv"  # as aggregate writes results/transitions.tsv: missing metrics as NA
    pd.DataFrame({"transition": ["t"], "source_cluster": ["NA"], "target_cluster": ["01"], "r2_test": ["NA"],
                  "auprc_ratio": [1.5]}).to_csv(results, sep="\t", index=False)
    row = read_transitions(results).iloc[0]
    assert (row["source_cluster"], row["target_cluster"]) == ("NA", "01")
    assert np.isnan(row["r2_test"]) and row["auprc_ratio"] == 1.5


@pytest.mark.parametrize("section, says", [
    ({"mapping": {"lag_bandwidth": 1e-6}}, r"mapping.lag_bandwidth': 1e-06 is less than the minimum of 0.005"),
    ({"mapping": {"n_pairs": 10_000_000}}, r"mapping.n_pairs': 10000000 is greater than the maximum of 1000000"),
    ({"mapping": {"test_fraction": 0.99}}, r"mapping.test_fraction': 0.99 is greater than the maximum of 0.5"),
    ({"mapping": {"test_fraction": 0.001}}, r"mapping.test_fraction': 0.001 is less than the minimum of 0.05"),
    ({"fit": {"bootstrap": 1}}, r"fit.bootstrap is 1: .*set fit.bootstrap: 0 \(off\) or >= 2"),
    ({"mapping": {"method": "pseudotime"}}, r"mapping.method is 'pseudotime' but data.pseudotime_key is not set"),
])
def test_settings_that_cannot_work_are_config_errors(schema, section, says):
    """Defects 11 and 13, and defect 1's test_fraction triggers: refused before anything runs."""
    data = {"adata": "a.h5ad", "prior": "p.csv", "cluster_key": "c"}
    with pytest.raises(ConfigError, match=says):
        validate_config({"data": data, **section}, schema)


def test_settings_too_large_for_the_data_are_refused_or_warned(caplog, schema):
    from transgrn.prepare import CheckpointOptions, _check_sizes

    table = pd.DataFrame({"source_cluster": ["a", "b"], "target_cluster": ["b", "c"], "n_source_cells": [30, 200_000],
                          "n_target_cells": [40, 5]})
    data = {"adata": "a.h5ad", "prior": "p.csv", "cluster_key": "c", "smooth": 0}

    def options(mapping):
        return CheckpointOptions.from_config(validate_config({"data": data, "mapping": mapping}, schema))

    config = options({"method": "ot", "n_pairs": 1_000_000, "test_fraction": 0.05})
    with pytest.raises(InputError, match=r"mapping.n_pairs: 1000000 pairs x 1000 genes need about 7.5 GiB"):
        _check_sizes(config, table, 1000, True)
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        _check_sizes(config, table, 10, True)
    assert "mapping.test_fraction: 0.05 holds out fewer than 3 cells in transition(s) a -> b, so" in caplog.text
    lagged = options({"method": "lagged", "lag_bandwidth": 0.005, "lag_grid": [0, 0.4]})
    with pytest.raises(InputError, match=r"lag_bandwidth: 0.005 needs a trend grid of about 4.3 GiB .*200005 cells"):
        _check_sizes(lagged, table, 10, True)
    _check_sizes(lagged, table, 10, False)  # no pseudotime: no trend grid


def test_smoothing_over_more_cells_than_a_transition_has(tmp_path, small_simulation, schema, caplog):
    """Defect 1's trigger data.smooth >= the number of cells made every cell the same average."""
    data = write_inputs(small_simulation, tmp_path / "in")
    refused(config_for({**data, "smooth": 400}, schema), tmp_path / "out",
            r"data.smooth: 400 neighbours is at least the number of cells of transition\(s\) stem cell -> progenitor")
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        prepare(config_for({**data, "smooth": 80}, schema), tmp_path / "out")
    assert "data.smooth: 80 neighbours is at least the size of the smaller cluster of transition(s) stem cell -> " \
           "progenitor" in caplog.text


# ------------------------------------------------------------------------------------ end to end


@pytest.mark.workflow
def test_truncated_h5ad_through_the_workflow(tmp_path, small_simulation, workflow_runner):
    data = write_inputs(small_simulation, tmp_path / "in")
    whole = open(data["adata"], "rb").read()
    open(data["adata"], "wb").write(whole[: len(whole) // 2])
    workdir = tmp_path / "run"
    result = workflow_runner(workdir, {"data": data}, "--cores", "1", timeout=600)
    assert result.returncode != 0
    assert "could not be read as an .h5ad file: the file is truncated" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "results/prepared").exists() or not any((workdir / "results/prepared").iterdir())


def test_few_cells_per_prior_tf_warn_once_in_the_checkpoint(caplog):
    """Issue #10: warn when a transition has fewer rows than about 5x the median number of prior TFs
    per target -- once for the run, naming the transitions, not once per job."""
    import logging

    from transgrn.prepare import _warn_few_rows

    transitions = pd.DataFrame({"source_cluster": ["2C", "32C"], "target_cluster": ["4C", "64C"],
                                "n_source_cells": [19, 109], "n_target_cells": [23, 159]})
    prior = pd.DataFrame({"tf": [f"tf{i}" for i in range(16)] * 3, "target_gene": ["a"] * 16 + ["b"] * 16 + ["c"] * 16})
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        _warn_few_rows(transitions, prior, "joint")  # 16 TFs per target: 80 rows needed; 42 and 268 given
    warnings = [r.getMessage() for r in caplog.records if "cells per prior TF" in r.getMessage()]
    assert len(warnings) == 1 and "2C" in warnings[0] and "32C" not in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        _warn_few_rows(transitions.iloc[1:], prior, "ot")  # mapped designs: the 109 source cells count
    assert not caplog.records


def test_continuous_cluster_key_is_refused_by_name(tmp_path, small_simulation, schema):
    """Issue: data.cluster_key: n_counts listed hundreds of one-cell "clusters" in the error."""
    adata = small_simulation.adata.copy()
    adata.obs["n_counts"] = np.asarray(adata.X.sum(axis=1)).ravel()
    data = {**write_inputs(with_adata(small_simulation, adata), tmp_path / "in"), "cluster_key": "n_counts"}
    message = refused(config_for(data, schema), tmp_path / "out",
                      rf"obs column 'n_counts' looks continuous, not a cluster label: \d+ distinct numbers for "
                      rf"{adata.n_obs} cells.*categorical columns: cell_type")
    assert len(message) < 600


# ------------------------------------------------------------------------------------ issue 27: last crashes and clips


def test_cuda_without_a_gpu_is_a_config_error_naming_the_fix(monkeypatch):
    import torch

    from transgrn.solvers import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"fit.device is 'cuda' but torch finds no CUDA GPU here .*Set fit.device: "
                                          r"auto .* or cpu"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def ensembl_named(sim, symbols_column: str | None):
    """The simulation's AnnData with Ensembl-like ids as var_names, the symbols in ``symbols_column`` (or dropped)."""
    adata = sim.adata.copy()
    symbols = adata.var_names.copy()
    adata.var_names = [f"ENSG{index:011d}" for index in range(adata.n_vars)]
    if symbols_column:
        adata.var[symbols_column] = list(symbols)
    return with_adata(sim, adata)


def test_ensembl_ids_against_a_symbol_prior_name_the_var_column_that_fits(tmp_path, small_simulation, schema):
    data = write_inputs(ensembl_named(small_simulation, "gene_symbols"), tmp_path / "in")
    message = refused(config_for(data, schema), tmp_path / "out", "no edge of the network has both its TF")
    assert "var['gene_symbols'] holds 72 of the prior's 72 genes (its var_names 0)" in message
    assert "adata.var_names = adata.var['gene_symbols'].astype(str); adata.var_names_make_unique()" in message


def test_ensembl_ids_without_a_symbol_column_say_where_scanpy_keeps_them(tmp_path, small_simulation, schema):
    data = write_inputs(ensembl_named(small_simulation, None), tmp_path / "in")
    message = refused(config_for(data, schema), tmp_path / "out", "no edge of the network has both its TF")
    assert "The data's genes are Ensembl IDs and the prior's are gene symbols" in message
    assert "var['gene_symbols']" in message and "give a prior in Ensembl IDs" in message


def test_a_symbol_column_holding_more_of_the_prior_is_pointed_out_when_few_edges_match(
        tmp_path, small_simulation, schema, caplog):
    sim = ensembl_named(small_simulation, "gene_name")
    sim.adata.var_names = [symbol if index < 30 else ensembl for index, (symbol, ensembl) in
                           enumerate(zip(sim.adata.var["gene_name"], sim.adata.var_names))]
    data = write_inputs(sim, tmp_path / "in")
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        prepare(config_for(data, schema), tmp_path / "out")
    assert "var['gene_name'] holds 72 of the prior's 72 genes (its var_names 30)" in caplog.text


def test_a_reference_equal_to_the_prior_says_why_recovery_is_nan(tmp_path, small_simulation, schema, caplog):
    from helpers import edges_of

    data = write_inputs(small_simulation, tmp_path / "in")
    edges_of(small_simulation.prior)[["tf", "target_gene"]].to_csv(tmp_path / "in/same.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        prepare(config_for(data, schema, reference=str(tmp_path / "in/same.csv")), tmp_path / "out")
    assert "every one of the prior's" in caplog.text and "is it the prior itself?" in caplog.text
    assert "auprc_ratio and auroc are NaN" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transgrn"):  # the simulation's own reference: a part of the prior
        prepare(config_for(data, schema, reference=str(tmp_path / "in/reference.csv")), tmp_path / "out2")
    assert "auprc_ratio and auroc are NaN" not in caplog.text


def test_knn_k_covering_the_target_cluster_is_warned_in_the_mapping_log(caplog):
    from transgrn.cells import CellSet
    from transgrn.mapping import map_transition

    rng = np.random.default_rng(0)
    source = CellSet(np.array([f"s{i}" for i in range(30)]), rng.normal(size=(30, 8)))
    target = CellSet(np.array([f"t{i}" for i in range(12)]), rng.normal(size=(12, 8)))
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        map_transition(source, target, "main", "c0_a__c1_b", MappingOptions.from_config({"method": "knn", "knn_k": 12, "n_pairs": 100}), seed=0)
    assert "mapping.knn_k: 12 neighbours is at least the target cluster's cells in transition(s) c0_a__c1_b" in caplog.text
    assert "random null's coupling" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transgrn"):
        map_transition(source, target, "main", "c0_a__c1_b", MappingOptions.from_config({"method": "knn", "knn_k": 11, "n_pcs": 50,
                                                               "n_pairs": 100}), seed=0)
    assert "knn_k" not in caplog.text
    assert "mapping.n_pcs: 50 principal components is more than transition(s) c0_a__c1_b allow" in caplog.text
    assert "only 8 are used there" in caplog.text
