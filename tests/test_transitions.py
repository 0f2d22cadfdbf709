import pandas as pd
import pytest

from transgrn.errors import InputError
from transgrn.transitions import cluster_ids, enumerate_transitions

SIZES = {"stem cell": 50, "prog/β": 40, "fate A": 30, "tiny": 3}


def test_cluster_ids_are_safe_unique_and_readable():
    ids = cluster_ids(["stem cell", "prog/β", "fate A", "fate-A", "ü", "a__b", "ß"])
    assert ids == {"stem cell": "c00_stem_cell", "prog/β": "c01_prog", "fate A": "c02_fate_A",
                   "fate-A": "c03_fate_A", "ü": "c04_u", "a__b": "c05_a_b", "ß": "c06"}
    assert len(set(ids.values())) == len(ids)
    assert all("__" not in value for value in ids.values())


def test_all_mode_every_ordered_pair_and_small_clusters_listed():
    table, skipped = enumerate_transitions(SIZES, "all", min_cells=10)
    assert len(table) == 3 * 2
    assert set(zip(table.source_cluster, table.target_cluster)) == {
        (a, b) for a in ["stem cell", "prog/β", "fate A"] for b in ["stem cell", "prog/β", "fate A"] if a != b}
    assert len(skipped) == 6  # every pair that touches "tiny", in both directions
    assert skipped["reason"].str.contains("'tiny' has 3 cells < transitions.min_cells=10").all()
    assert table.loc[0, "transition"] == "c00_stem_cell__c01_prog"


def test_pseudotime_mode_chains_clusters_by_median():
    medians = {"stem cell": 0.1, "prog/β": 0.4, "fate A": 0.8, "tiny": 0.9}
    table, skipped = enumerate_transitions(SIZES, "pseudotime", min_cells=10, pseudotime_medians=medians)
    assert list(zip(table.source_cluster, table.target_cluster)) == [("stem cell", "prog/β"), ("prog/β", "fate A")]
    assert list(zip(skipped.source_cluster, skipped.target_cluster)) == [("fate A", "tiny")]


def test_explicit_mode_keeps_order_and_checks_names():
    table, _ = enumerate_transitions(SIZES, "explicit", 10, explicit=[["prog/β", "fate A"], ["stem cell", "prog/β"]])
    assert list(table.source_cluster) == ["prog/β", "stem cell"]
    with pytest.raises(InputError, match=r"'fate B'.*not in the data.*stem cell, prog/β, fate A, tiny"):
        enumerate_transitions(SIZES, "explicit", 10, explicit=[["prog/β", "fate B"]])


def test_explicit_mode_accepts_integer_labels():
    table, _ = enumerate_transitions({"0": 20, "1": 20}, "explicit", 10, explicit=[[0, 1]])
    assert list(table.transition) == ["c00_0__c01_1"]


def chain_adata(n_per_cluster=60, seed=0):
    """Four clusters strung along a line in expression space: s0 - s1 - s2 - s3 (a known chain)."""
    import anndata as ad
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = ["s0", "s1", "s2", "s3"]
    position = np.concatenate([rng.uniform(i, i + 1, n_per_cluster) for i in range(4)])
    direction = rng.normal(size=10)
    x = (position[:, None] * 2.0 * direction / np.linalg.norm(direction) + rng.normal(0, 0.3, (len(position), 10)))
    x -= x.min()  # non-negative, as log-normalized expression is (the checkpoint refuses negative values)
    obs = pd.DataFrame({"cluster": pd.Categorical(np.repeat(names, n_per_cluster), categories=names),
                        "pseudotime": position}, index=[f"cell{i}" for i in range(len(position))])
    return ad.AnnData(X=x.astype(np.float32), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(10)]))


def test_paga_mode_in_the_checkpoint_returns_a_known_chain(tmp_path, schema):
    import pandas as pd

    from transgrn.config import validate_config
    from transgrn.prepare import prepare, read_transitions

    adata = chain_adata()
    adata.write_h5ad(tmp_path / "chain.h5ad")
    pd.DataFrame({"tf": ["g0", "g1"], "target_gene": ["g2", "g3"]}).to_csv(tmp_path / "prior.csv", index=False)
    config = validate_config({"data": {"adata": str(tmp_path / "chain.h5ad"), "prior": str(tmp_path / "prior.csv"),
                                       "cluster_key": "cluster", "pseudotime_key": "pseudotime"},
                              "transitions": {"mode": "paga", "paga_threshold": 0.1}}, schema)
    prepare(config, tmp_path / "out")  # the data has no neighbour graph: the checkpoint builds one
    table = read_transitions(tmp_path / "out/transitions.tsv")
    assert list(zip(table.source_cluster, table.target_cluster)) == [("s0", "s1"), ("s1", "s2"), ("s2", "s3")]


def test_paga_without_pseudotime_gives_both_directions_and_uses_an_existing_graph(monkeypatch):
    import pandas as pd
    import scanpy as sc

    from transgrn.transitions import paga_connectivities

    adata = chain_adata(seed=1)
    sc.pp.pca(adata, n_comps=5, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=10, method="gauss", random_state=0)
    monkeypatch.setattr(sc.pp, "neighbors", lambda *a, **k: pytest.fail("the existing neighbour graph was not used"))
    connectivities = paga_connectivities(adata, adata.obs["cluster"])
    assert list(connectivities.index) == ["s0", "s1", "s2", "s3"]
    assert (pd.Series([connectivities.loc[a, b] for a, b in [("s0", "s1"), ("s1", "s2"), ("s2", "s3")]]) > 0.1).all()
    sizes = {c: 60 for c in ["s0", "s1", "s2", "s3"]}
    table, _ = enumerate_transitions(sizes, "paga", 10, paga=connectivities, paga_threshold=0.1)
    assert set(zip(table.source_cluster, table.target_cluster)) == {
        ("s0", "s1"), ("s1", "s0"), ("s1", "s2"), ("s2", "s1"), ("s2", "s3"), ("s3", "s2")}


def test_long_labels_give_ids_that_match_the_workflow_pattern():
    """Defect 5: a 40-character slug ending in '_' gave 'c00_..._cells___c01_...', which the
    Snakemake wildcard does not match (MissingInputException in aggregate)."""
    import re

    from helpers import REPO

    from transgrn.columns import TRANSITION_PATTERN

    assert "transition=TRANSITION_PATTERN," in (REPO / "workflow/rules/common.smk").read_text()  # one definition
    labels = ["Hematopoietic stem and progenitor cells (HSPC)", "Megakaryocyte-erythroid progenitor cells (MEP)"]
    table, _ = enumerate_transitions(dict.fromkeys(labels, 30), "all", 10)
    assert cluster_ids(labels)[labels[0]] == "c00_Hematopoietic_stem_and_progenitor_cells"
    for transition in table["transition"]:
        assert "___" not in transition and re.fullmatch(TRANSITION_PATTERN, transition), transition


def test_constant_pseudotime_is_refused():
    """Defect 7: a constant pseudotime chained the clusters alphabetically without a word."""
    with pytest.raises(InputError, match=r"every cluster has the same median pseudotime \(0.5\).*transitions.mode: explicit"):
        enumerate_transitions(SIZES, "pseudotime", 10, pseudotime_medians=dict.fromkeys(SIZES, 0.5))


def test_tied_median_pseudotimes_are_named(caplog):
    medians = {"stem cell": 0.1, "prog/β": 0.4, "fate A": 0.4, "tiny": 0.9}
    with caplog.at_level("WARNING", logger="transgrn"):
        table, _ = enumerate_transitions(SIZES, "pseudotime", 10, pseudotime_medians=medians)
    assert "clusters 'fate A', 'prog/β' have the same median pseudotime (0.4); they are chained by name" in caplog.text
    assert list(table.source_cluster) == ["stem cell", "fate A"]


def test_paga_ignores_leftovers_of_other_scanpy_tools():
    """Issue: sc.tl.diffmap then ``del uns['diffmap_evals']`` ended in scanpy's KeyError
    'diffmap_evals': PAGA got the whole AnnData, and scanpy's Neighbors reads X_diffmap's uns entry."""
    import numpy as np
    import scanpy as sc

    from transgrn.transitions import paga_connectivities

    adata = chain_adata(seed=2)
    sc.pp.pca(adata, n_comps=5, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=10, method="gauss", random_state=0)
    clean = paga_connectivities(adata, adata.obs["cluster"])
    adata.obsm["X_diffmap"] = np.random.default_rng(0).normal(size=(adata.n_obs, 5))  # no uns['diffmap_evals']
    adata.uns["neighbors"]["params"]["n_neighbors"] = np.array([10])  # as older scanpy stored it
    leftovers = paga_connectivities(adata, adata.obs["cluster"])
    pd.testing.assert_frame_equal(leftovers, clean)
    assert (clean.to_numpy() > 0.1).sum() == 6  # the chain's three links, both ways: a real graph was used


def test_a_failure_inside_scanpys_paga_names_the_fix(monkeypatch):
    import scanpy as sc

    from transgrn.transitions import paga_connectivities

    adata = chain_adata(seed=3)
    sc.pp.pca(adata, n_comps=5, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=10, method="gauss", random_state=0)

    def broken(*args, **kwargs):
        raise KeyError("something scanpy wanted")

    monkeypatch.setattr(sc.tl, "paga", broken)
    with pytest.raises(InputError, match=r"PAGA failed on the data's neighbour graph.*KeyError: 'something scanpy "
                                         r"wanted'.*recompute it with scanpy.pp.neighbors.*transitions.mode: explicit"):
        paga_connectivities(adata, adata.obs["cluster"])


def test_pseudotime_chain_steps_over_a_small_cluster():
    """Issue: an 8-cell cluster in the middle of the chain cut it in two (both its links skipped,
    its neighbours never paired)."""
    sizes = {"A": 50, "B": 5, "C": 50}
    table, skipped = enumerate_transitions(sizes, "pseudotime", 20, pseudotime_medians={"A": 0.1, "B": 0.5, "C": 0.9})
    assert list(zip(table.source_cluster, table.target_cluster)) == [("A", "C")]
    assert list(table.transition) == ["c00_A__c02_C"]
    assert list(zip(skipped.source_cluster, skipped.target_cluster)) == [("A", "B"), ("B", "C")]
    assert skipped["reason"].eq("cluster 'B' has 5 cells < transitions.min_cells=20").all()


def test_messages_list_at_most_ten_clusters():
    from transgrn.transitions import listed

    assert listed(range(3)) == "0, 1, 2"
    assert listed(range(25)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 15 more"
    sizes = {f"k{i}": 30 for i in range(40)}
    with pytest.raises(InputError, match=r"\(clusters: k0, k1, .*, k9 and 30 more\)"):
        enumerate_transitions(sizes, "explicit", 10, explicit=[["k0", "k99"]])
