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
    assert ("the pseudotime does not order the clusters of 1 transition(s), so their direction and the chain's "
            "order is a guess: 'fate A' -> 'prog/β' (the same median pseudotime, 0.4: ordered by name)") in caplog.text
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


# --- mode trajectory: a tree over the cluster graph, oriented by pseudotime ---

BRANCHES = ["root", "mid", "A1", "B1", "A2", "B2"]
BRANCH_MEDIANS = {"root": 0.0, "mid": 0.2, "A1": 0.5, "B1": 0.5, "A2": 0.9, "B2": 0.9}


def connectivity(names, edges):
    """A symmetric cluster-connectivity table with the given {(a, b): value} and 0 elsewhere."""
    table = pd.DataFrame(0.0, index=names, columns=names)
    for (a, b), value in edges.items():
        table.loc[a, b] = table.loc[b, a] = value
    return table


def branching_graph():
    """root - mid, which parts into A1 - A2 and B1 - B2, with weaker links across the branches (as
    PAGA gives between sibling clusters that touch) and a shortcut mid - A2."""
    return connectivity(BRANCHES, {("root", "mid"): 0.9, ("mid", "A1"): 0.8, ("mid", "B1"): 0.7,
                                   ("A1", "A2"): 0.9, ("B1", "B2"): 0.6, ("A1", "B1"): 0.3, ("A2", "B2"): 0.2,
                                   ("mid", "A2"): 0.25})


def pairs_of(table):
    return set(zip(table.source_cluster, table.target_cluster))


def test_trajectory_is_the_maximum_spanning_tree_oriented_by_pseudotime():
    sizes = dict.fromkeys(BRANCHES, 50)
    table, skipped = enumerate_transitions(sizes, "trajectory", 10, pseudotime_medians=BRANCH_MEDIANS,
                                           paga=branching_graph())
    assert pairs_of(table) == {("root", "mid"), ("mid", "A1"), ("mid", "B1"), ("A1", "A2"), ("B1", "B2")}
    assert skipped.empty
    chain, _ = enumerate_transitions(sizes, "pseudotime", 10, pseudotime_medians=BRANCH_MEDIANS)
    assert ("A1", "B1") in pairs_of(chain) and ("A2", "B2") in pairs_of(chain)  # what the tree is for


def test_trajectory_orients_each_edge_by_median_pseudotime_not_by_cluster_order():
    backwards = list(reversed(BRANCHES))
    medians = {c: 1.0 - m for c, m in BRANCH_MEDIANS.items()}  # B2 and A2 now earliest: the tree runs the other way
    table, _ = enumerate_transitions(dict.fromkeys(backwards, 50), "trajectory", 10, pseudotime_medians=medians,
                                     paga=branching_graph())
    assert pairs_of(table) == {("mid", "root"), ("A1", "mid"), ("B1", "mid"), ("A2", "A1"), ("B2", "B1")}


def test_trajectory_ties_go_to_the_clusters_closer_in_pseudotime():
    """PAGA's connectivities are capped at 1, so along a steady stretch every pair ties: the tree steps
    to the next cluster in pseudotime instead of over it, whatever the clusters' order."""
    names = ["t3", "t0", "t2", "t1"]
    medians = {"t0": 0.1, "t1": 0.3, "t2": 0.5, "t3": 0.7}
    every_pair = connectivity(names, {(a, b): 1.0 for i, a in enumerate(names) for b in names[i + 1:]})
    table, _ = enumerate_transitions(dict.fromkeys(names, 50), "trajectory", 10, pseudotime_medians=medians,
                                     paga=every_pair)
    assert pairs_of(table) == {("t0", "t1"), ("t1", "t2"), ("t2", "t3")}


def test_trajectory_links_a_second_start_where_branches_converge():
    """Branches that meet again make a loop in the cluster graph; the tree cuts its weakest link
    (root - A1), leaving A1 without an earlier cluster: it gets one transition from its most connected one."""
    names = ["root", "A1", "B1", "late"]
    medians = {"root": 0.1, "A1": 0.4, "B1": 0.4, "late": 0.8}
    loop = connectivity(names, {("root", "A1"): 0.5, ("root", "B1"): 0.9, ("A1", "late"): 0.9, ("B1", "late"): 0.9,
                                ("root", "late"): 0.05})
    table, _ = enumerate_transitions(dict.fromkeys(names, 50), "trajectory", 10, pseudotime_medians=medians, paga=loop)
    assert pairs_of(table) == {("root", "B1"), ("A1", "late"), ("B1", "late"), ("root", "A1")}


def test_trajectory_steps_over_small_clusters_and_lists_their_edges():
    """As the pseudotime chain does: a small cluster in the tree does not cut it; its earlier neighbour
    is linked to its later ones (not the siblings A1 and B1 to each other, as a tree without it would)."""
    sizes = {**dict.fromkeys(BRANCHES, 50), "mid": 5}
    table, skipped = enumerate_transitions(sizes, "trajectory", 10, pseudotime_medians=BRANCH_MEDIANS,
                                           paga=branching_graph())
    assert pairs_of(table) == {("root", "A1"), ("root", "B1"), ("A1", "A2"), ("B1", "B2")}
    assert set(zip(skipped.source_cluster, skipped.target_cluster)) == {("root", "mid"), ("mid", "A1"), ("mid", "B1")}
    assert skipped["reason"].eq("cluster 'mid' has 5 cells < transitions.min_cells=10").all()


def test_trajectory_warns_about_parts_and_refuses_a_graph_without_edges(caplog):
    names = ["a", "b", "c", "d"]
    medians = {"a": 0.1, "b": 0.3, "c": 0.5, "d": 0.7}
    two_parts = connectivity(names, {("a", "b"): 0.8, ("c", "d"): 0.8})
    with caplog.at_level("WARNING", logger="transgrn"):
        table, _ = enumerate_transitions(dict.fromkeys(names, 50), "trajectory", 10, pseudotime_medians=medians,
                                         paga=two_parts)
    assert pairs_of(table) == {("a", "b"), ("c", "d")}
    assert "no neighbour edge joins the clusters' 2 parts (['a', 'b']; ['c', 'd'])" in caplog.text
    with pytest.raises(InputError, match=r"'trajectory': no neighbour edge joins two clusters.*transitions.mode: "
                                         r"explicit"):
        enumerate_transitions(dict.fromkeys(names, 50), "trajectory", 10, pseudotime_medians=medians,
                              paga=connectivity(names, {}))


def test_trajectory_needs_a_pseudotime_and_a_graph(schema):
    from transgrn.config import ConfigError, validate_config

    sizes = dict.fromkeys(BRANCHES, 50)
    with pytest.raises(InputError, match=r"'trajectory' needs a pseudotime.*data.pseudotime_key.*scanpy.tl.dpt"):
        enumerate_transitions(sizes, "trajectory", 10, paga=branching_graph())
    with pytest.raises(InputError, match=r"'trajectory' needs the PAGA connectivities.*cluster_graph"):
        enumerate_transitions(sizes, "trajectory", 10, pseudotime_medians=BRANCH_MEDIANS)
    with pytest.raises(InputError, match=r"unknown mode 'tree'; use all, pseudotime, explicit, paga or trajectory"):
        enumerate_transitions(sizes, "tree", 10)
    with pytest.raises(ConfigError, match=r"transitions.mode is 'trajectory' but data.pseudotime_key is not set"):
        validate_config({"data": {"adata": "a.h5ad", "prior": "p.csv", "cluster_key": "c"},
                         "transitions": {"mode": "trajectory"}}, schema)


# --- warnings: clusters the pseudotime does not order, a chain that jumps across the graph ---

def myoblast_like(seed=0):
    """Cells per cluster and their pseudotimes as on the real myoblast set: 0 h early and apart, 24 h,
    48 h and 72 h spread over the same stretch with medians 0.629, 0.629 and 0.622."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pseudotimes = {"0 h": rng.normal(0.15, 0.05, 300)}
    for name, median in [("24 h", 0.629), ("48 h", 0.6292), ("72 h", 0.622)]:
        cells = rng.normal(0, 0.12, 400)
        pseudotimes[name] = cells - np.median(cells) + median
    medians = {c: float(np.median(v)) for c, v in pseudotimes.items()}
    return {c: len(v) for c, v in pseudotimes.items()}, medians, pseudotimes


def test_near_tied_pseudotimes_are_named_with_the_fix(caplog):
    """The myoblast set was chained 0 h -> 72 h -> 48 h -> 24 h without a word."""
    sizes, medians, pseudotimes = myoblast_like()
    with caplog.at_level("WARNING", logger="transgrn"):
        table, _ = enumerate_transitions(sizes, "pseudotime", 10, pseudotime_medians=medians, pseudotimes=pseudotimes)
    assert list(zip(table.source_cluster, table.target_cluster)) == [("0 h", "72 h"), ("72 h", "24 h"),
                                                                     ("24 h", "48 h")]
    warning = caplog.text
    assert "the pseudotime does not order the clusters of 2 transition(s)" in warning
    assert ("'72 h' -> '24 h' (median pseudotime 0.622 and 0.629; a cell of '24 h' is later than one of '72 h' "
            "in 5") in warning  # about half the pairs
    assert "'24 h' -> '48 h' (median pseudotime 0.629 and 0.629;" in warning
    assert "'0 h' -> '72 h'" not in warning  # 0 h is well apart
    assert "merge clusters that are one state, or list the transitions with transitions.mode: explicit" in warning


def test_well_separated_clusters_are_not_warned_about(caplog):
    import numpy as np

    rng = np.random.default_rng(1)
    # overlapping, but a cell of the later cluster is later in about 80% of pairs
    pseudotimes = {name: rng.normal(centre, 0.1, 200) for name, centre in [("a", 0.2), ("b", 0.32), ("c", 0.44)]}
    medians = {c: float(np.median(v)) for c, v in pseudotimes.items()}
    with caplog.at_level("WARNING", logger="transgrn"):
        table, _ = enumerate_transitions(dict.fromkeys("abc", 200), "pseudotime", 10, pseudotime_medians=medians,
                                         pseudotimes=pseudotimes)
    assert list(table.source_cluster) == ["a", "b"]
    assert caplog.text == ""


def test_later_probability_reads_the_order_of_cells():
    import numpy as np

    from transgrn.transitions import later_probability

    assert later_probability(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert later_probability(np.array([0.3, 0.4]), np.array([0.1, 0.2])) == 0.0
    assert later_probability(np.array([0.1, 0.3]), np.array([0.2, 0.3])) == 0.625  # 2 later, 1 tie of 4 pairs


def test_pseudotime_chain_between_clusters_that_are_not_neighbours_is_warned_about(caplog):
    sizes = dict.fromkeys(BRANCHES, 50)
    with caplog.at_level("WARNING", logger="transgrn"):
        enumerate_transitions(sizes, "pseudotime", 10, pseudotime_medians=BRANCH_MEDIANS, paga=branching_graph(),
                              paga_threshold=0.25)
    # the chain root, mid, A1, B1, A2, B2: A1 - B1 (0.3) are neighbours, B1 - A2 (0) and A2 - B2 (0.2) are not
    assert ("consecutive clusters of the pseudotime chain are not neighbours in the cell graph (PAGA connectivity "
            "<= transitions.paga_threshold=0.25): 'B1' -> 'A2' (0), 'A2' -> 'B2' (0.2)") in caplog.text
    assert "use transitions.mode: trajectory" in caplog.text
    caplog.clear()
    line = connectivity(["a", "b", "c"], {("a", "b"): 0.5, ("b", "c"): 0.5})
    with caplog.at_level("WARNING", logger="transgrn"):
        enumerate_transitions(dict.fromkeys("abc", 50), "pseudotime", 10, paga=line,
                              pseudotime_medians={"a": 0.1, "b": 0.5, "c": 0.9})
    assert caplog.text == ""


def test_cluster_graph_builds_a_graph_only_for_the_modes_built_on_it(monkeypatch):
    import scanpy as sc

    from transgrn.transitions import cluster_graph

    adata = chain_adata(seed=4)
    assert cluster_graph("all", adata, adata.obs["cluster"]) is None
    monkeypatch.setattr(sc.pp, "neighbors", lambda *a, **k: pytest.fail("pseudotime mode built a graph"))
    assert cluster_graph("pseudotime", adata, adata.obs["cluster"]) is None  # no graph of its own: none built
    monkeypatch.undo()
    sc.pp.pca(adata, n_comps=5, random_state=0)
    sc.pp.neighbors(adata, n_neighbors=10, method="gauss", random_state=0)
    own = cluster_graph("pseudotime", adata, adata.obs["cluster"])
    assert own is not None and float(own.loc["s0", "s1"]) > 0.1


def test_trajectory_mode_in_the_checkpoint(tmp_path, schema):
    from transgrn.config import validate_config
    from transgrn.prepare import prepare, read_transitions

    adata = chain_adata(seed=5)
    adata.obs["cluster"] = adata.obs["cluster"].cat.reorder_categories(["s2", "s0", "s3", "s1"])
    adata.write_h5ad(tmp_path / "chain.h5ad")
    pd.DataFrame({"tf": ["g0", "g1"], "target_gene": ["g2", "g3"]}).to_csv(tmp_path / "prior.csv", index=False)
    config = validate_config({"data": {"adata": str(tmp_path / "chain.h5ad"), "prior": str(tmp_path / "prior.csv"),
                                       "cluster_key": "cluster", "pseudotime_key": "pseudotime"},
                              "transitions": {"mode": "trajectory"}}, schema)
    prepare(config, tmp_path / "out")
    table = read_transitions(tmp_path / "out/transitions.tsv")
    assert pairs_of(table) == {("s0", "s1"), ("s1", "s2"), ("s2", "s3")}


def test_trajectory_gets_every_branch_of_a_boolean_bifurcation(caplog):
    """benchmarks/trajectory.py's check on one data set: the Boolean track's bifurcation, clustered as the
    recovery benchmark does. Every per-branch transition is found; the one pair more joins the two t0
    clusters, the progenitor state split by the fate its cells will take, and is named as unordered.
    mode pseudotime chains the siblings instead."""
    import sys

    from helpers import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))
    from trajectory import boolean_clusters

    from transgrn.transitions import paga_connectivities

    clusters = boolean_clusters("bifurcating", dropout=False)
    labels, pseudotime = clusters.labels, clusters.adata.obs["pseudotime"]
    sizes = labels.value_counts(sort=False).to_dict()
    pseudotimes = {c: pseudotime[labels == c].to_numpy() for c in sizes}
    medians = {c: float(pd.Series(v).median()) for c, v in pseudotimes.items()}
    graph = paga_connectivities(clusters.adata, labels)
    with caplog.at_level("WARNING", logger="transgrn"):
        tree, _ = enumerate_transitions(sizes, "trajectory", 20, pseudotime_medians=medians, paga=graph,
                                        pseudotimes=pseudotimes)
    progenitor = {("branch1_t0", "branch2_t0"), ("branch2_t0", "branch1_t0")}
    assert len(clusters.truth) == 8
    assert pairs_of(tree) - progenitor == set(clusters.truth)
    assert len(pairs_of(tree) & progenitor) == 1
    assert "does not order the clusters of 1 transition(s)" in caplog.text and "branch2_t0" in caplog.text
    chain, _ = enumerate_transitions(sizes, "pseudotime", 20, pseudotime_medians=medians)
    assert {("branch2_t1", "branch1_t1"), ("branch2_t4", "branch1_t4")} & pairs_of(chain)
