"""Differential edges between transitions: pairs, the joint cell bootstrap, calibration and power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import transition_of
from transgrn.confidence import bootstrap_counts
from transgrn.differential import (DIFFERENTIAL_COLUMNS, MIN_RESIDUAL_DF, Replicates, cluster_counts,
                                   differential_unit, moderate_variances, pair_test, transition_pairs,
                                   transition_replicates)
from transgrn.errors import ConfigError
from transgrn.grn import TransitionData, build_mask, fit_transition, map_transition
from transgrn.cells import CellSet
from transgrn.options import FitOptions
from transgrn.mapping import map_cells
from transgrn.seeds import derive_seed
from transgrn.simulate import simulate

RIDGE = {"solver": "ridge", "alpha": 1.0}


# --------------------------------------------------------------------------------------------
# Pairs
# --------------------------------------------------------------------------------------------

TRANSITIONS = pd.DataFrame([("ab", "A", "B"), ("ac", "A", "C"), ("bc", "B", "C"), ("ca", "C", "A"), ("ba", "B", "A")],
                           columns=["transition", "source_cluster", "target_cluster"])


def _pairs(kind: str, **kw) -> set[tuple]:
    table = transition_pairs(TRANSITIONS, kind, **kw)
    return set(table[["transition_1", "transition_2", "relation", "unit"]].itertuples(index=False, name=None))


def test_sibling_and_consecutive_pairs():
    assert _pairs("siblings") == {("ab", "ac", "siblings", "A"), ("bc", "ba", "siblings", "B")}
    # A -> B then B -> C, earlier first; a return to the start (A -> B, B -> A) is not a chain
    assert _pairs("consecutive") == {("ab", "bc", "consecutive", "B"), ("bc", "ca", "consecutive", "C"),
                                     ("ca", "ab", "consecutive", "A"), ("ba", "ac", "consecutive", "A")}
    every = _pairs("all")
    assert _pairs("siblings") | _pairs("consecutive") < every
    assert ("ab", "ba", "reverse", "B") in every and ("ac", "bc", "converging", "C") in every
    assert len(every) == len(TRANSITIONS) * (len(TRANSITIONS) - 1) // 2  # here every pair shares a cluster


def test_explicit_pairs_keep_their_order():
    assert _pairs("explicit", explicit=[["bc", "ab"]]) == {("bc", "ab", "consecutive", "B")}
    with pytest.raises(ConfigError, match="unknown transition id"):
        transition_pairs(TRANSITIONS, "explicit", explicit=[["ab", "zz"]])
    with pytest.raises(ConfigError, match="unknown kind"):
        transition_pairs(TRANSITIONS, "neighbours")


# --------------------------------------------------------------------------------------------
# The joint bootstrap, by hand
# --------------------------------------------------------------------------------------------


def _tiny():
    """Clusters A (shared source), B and C over 2 TFs and 3 targets, with the joint design."""
    rng = np.random.default_rng(11)
    genes = pd.Index(["T1", "T2", "G1", "G2", "G3"])
    clusters = {name: CellSet(np.array([f"{name}{i}" for i in range(n)]), rng.normal(size=(n, 5)) + [0, 0, 1, 2, 3])
                for name, n in (("A", 30), ("B", 25), ("C", 20))}
    prior = pd.DataFrame({"tf": ["T1", "T2", "T1", "T2"], "target_gene": ["G1", "G1", "G2", "G3"], "sign": 0})
    loaded = {}
    for transition, source, target in (("ab", "A", "B"), ("ac", "A", "C")):
        s, t = clusters[source], clusters[target]
        data = TransitionData(s, t, genes, build_mask(prior, s, t, genes, "joint"))
        loaded[transition] = (data, map_cells("joint", s, t, rng))
    return clusters, prior, loaded


def _hand_fit(cells: np.ndarray, clusters: dict, prior: pd.DataFrame, repeats: np.ndarray) -> np.ndarray:
    """sklearn's ridge per target on the prior TFs, rows repeated ``repeats`` times: the prior edges' weights."""
    from sklearn.linear_model import Ridge

    expression = pd.DataFrame(np.vstack([c.matrix for c in clusters.values()]), columns=["T1", "T2", "G1", "G2", "G3"],
                              index=np.concatenate([c.names for c in clusters.values()]))
    rows = expression.loc[np.repeat(cells, repeats.astype(int))]
    weights = pd.Series(0.0, index=pd.MultiIndex.from_frame(prior[["tf", "target_gene"]]))
    for target, edges in prior.groupby("target_gene"):
        model = Ridge(alpha=1.0).fit(rows[edges["tf"]].to_numpy(), rows[target].to_numpy())
        weights.loc[list(zip(edges["tf"], edges["target_gene"]))] = model.coef_
    return weights.to_numpy()


def test_standard_error_is_the_joint_cell_bootstrap_by_hand():
    clusters, prior, loaded = _tiny()
    n_boot, seed = 6, 7
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    table = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, n_boot, seed, method="bootstrap"))
    assert list(table.columns) == DIFFERENTIAL_COLUMNS and len(table) == len(prior)

    counts = {name: bootstrap_counts(len(c), n_boot, derive_seed(seed, "differential", name)) for name, c in clusters.items()}
    replicates, main = {}, {}
    for transition, target in (("ab", "B"), ("ac", "C")):
        data, mapping = loaded[transition]
        cells = mapping.sort_values("pair")["source_cell"].to_numpy()  # the network's rows: every pair
        by_cell = pd.concat([pd.DataFrame(counts[k].T, index=clusters[k].names) for k in ("A", target)])
        main[transition] = _hand_fit(cells, clusters, prior, np.ones(len(cells)))
        replicates[transition] = np.array([_hand_fit(cells, clusters, prior, by_cell.loc[cells, b].to_numpy())
                                           for b in range(n_boot)])
        # the main weights are the fit's: what coefficients.parquet holds
        coefficients, _, _ = fit_transition(data, {"main": mapping}, FitOptions.from_config(RIDGE), seed, transition)
        np.testing.assert_allclose(coefficients["weight"], main[transition], atol=1e-10)
    std_error = (replicates["ac"] - replicates["ab"]).std(0, ddof=1)
    assert "moderated" not in table["se_method"].iloc[0]  # 4 edges: too few to estimate a prior
    np.testing.assert_allclose(table["weight_1"], main["ab"], atol=1e-10)
    np.testing.assert_allclose(table["difference"], main["ac"] - main["ab"], atol=1e-10)
    np.testing.assert_allclose(table["std_error"], std_error, rtol=1e-5)  # replicates are kept in float32
    z = (main["ac"] - main["ab"]) / std_error
    np.testing.assert_allclose(table["pvalue"], 2 * stats.t.sf(np.abs(z), n_boot - 1), rtol=1e-4)
    # independent resampling would not be this: the shared cells' counts matter
    independent = (replicates["ac"] - replicates["ab"][::-1]).std(0, ddof=1)
    assert not np.allclose(independent, std_error, rtol=0.05)


@pytest.mark.parametrize("method", ["bootstrap", "analytic"])
def test_spilled_replicates_give_the_same_table(tmp_path, method):
    _, _, loaded = _tiny()
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    in_memory = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, 5, 0, method=method))
    spilled = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, 5, 0, spill_dir=tmp_path,
                                     max_bytes=0, method=method))
    pd.testing.assert_frame_equal(in_memory, spilled)
    kept = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, 5, 0, max_qvalue=0.5,
                                  method=method))
    pd.testing.assert_frame_equal(kept, in_memory[in_memory["qvalue"] <= 0.5].reset_index(drop=True))


def _fit_files(tmp_path, loaded: dict, n_boot: int, seed: int, borrowed: tuple = ()) -> dict:
    """What each fit job writes for the test (mask, coefficients, differential_replicates.npy), as
    read_replicates loaders; ``borrowed`` (tf, target_gene) edges are marked borrowed."""
    from transgrn.differential import fit_replicates, read_replicates
    from transgrn.io import write_npy

    clusters = TRANSITIONS.set_index("transition")
    paths = {}
    for transition, (data, mapping) in loaded.items():
        coefficients, _, info = fit_transition(data, {"main": mapping}, FitOptions.from_config(RIDGE), seed, transition)
        coefficients["borrowed"] = [(tf, target) in borrowed for tf, target in
                                    zip(coefficients["tf"], coefficients["target_gene"])]
        files = [tmp_path / f"{transition}_{name}" for name in ("mask.parquet", "coefficients.parquet", "replicates.npy")]
        data.edges.assign(active=data.edge_active).to_parquet(files[0])
        coefficients.to_parquet(files[1])
        write_npy(fit_replicates(data, mapping, RIDGE, coefficients, info["alpha"],
                                 tuple(clusters.loc[transition, ["source_cluster", "target_cluster"]]), n_boot, seed,
                                 transition), files[2])
        paths[transition] = files
    return {transition: (lambda files=files: read_replicates(*files)) for transition, files in paths.items()}


def test_the_fits_replicates_give_the_refits_table(tmp_path):
    """The workflow's way -- each fit job refits the test's replicates and writes them, the unit reads
    them -- gives the table of the unit refitting each transition itself."""
    _, _, loaded = _tiny()
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    refitted = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, 6, 3, method="bootstrap"))
    written = _fit_files(tmp_path, loaded, 6, 3)

    def not_loaded(transition):
        raise AssertionError(f"{transition} was loaded")

    read = next(differential_unit(pairs, TRANSITIONS[:2], not_loaded, RIDGE, 6, 3, method="bootstrap",
                                  replicates=lambda t: written[t]()))
    pd.testing.assert_frame_equal(read, refitted, rtol=1e-12)


def test_written_replicates_leave_out_borrowed_edges_and_must_match_the_mask(tmp_path):
    from transgrn.errors import InputError
    from transgrn.differential import read_replicates
    from transgrn.io import write_npy

    _, _, loaded = _tiny()
    written = _fit_files(tmp_path, loaded, 4, 0, borrowed=(("T2", "G1"),))
    replicates = written["ab"]()
    edges = list(zip(replicates.tf, replicates.target_gene))
    assert not replicates.active[edges.index(("T2", "G1"))] and replicates.active.sum() == 3
    assert np.isnan(replicates.replicates[:, edges.index(("T2", "G1"))]).all()
    assert np.isnan(replicates.weight[edges.index(("T2", "G1"))])
    write_npy(np.zeros((4, 3), dtype=np.float32), tmp_path / "short.npy")  # 3 edges for a mask of 4
    with pytest.raises(InputError, match="does not match the 4 prior edges.*rerun the fit"):
        read_replicates(tmp_path / "ab_mask.parquet", tmp_path / "ab_coefficients.parquet", tmp_path / "short.npy")


def _hand_influences(transition: str, target: str, clusters: dict, prior: pd.DataFrame, loaded: dict,
                     eps: float = 1e-6) -> dict[str, np.ndarray]:
    """Per cluster, each cell's influence on the weights by brute force: the sklearn fit with that cell's
    rows weighted ``1 + eps``, minus the plain fit, over ``eps`` (cells x edges; 0 for cells without rows)."""
    data, mapping = loaded[transition]
    cells = mapping.sort_values("pair")["source_cell"].to_numpy()  # the network's rows: every pair
    base = _hand_fit(cells, clusters, prior, np.ones(len(cells)))
    out = {}
    for name in ("A", target):
        out[name] = np.zeros((len(clusters[name]), len(prior)))
        for i, cell in enumerate(clusters[name].names):
            if (cells == cell).any():
                bumped = _hand_fit_weighted(cells, clusters, prior, 1.0 + eps * (cells == cell))
                out[name][i] = (bumped - base) / eps
    return out


def _hand_fit_weighted(cells: np.ndarray, clusters: dict, prior: pd.DataFrame, weights: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import Ridge

    expression = pd.DataFrame(np.vstack([c.matrix for c in clusters.values()]), columns=["T1", "T2", "G1", "G2", "G3"],
                              index=np.concatenate([c.names for c in clusters.values()]))
    rows = expression.loc[cells]
    out = []
    for tf, target in zip(prior["tf"], prior["target_gene"]):
        edges = prior[prior["target_gene"] == target]
        model = Ridge(alpha=1.0).fit(rows[edges["tf"]].to_numpy(), rows[target].to_numpy(), sample_weight=weights)
        out.append(model.coef_[list(edges["tf"]).index(tf)])
    return np.array(out)


def test_analytic_standard_error_is_the_cell_jackknife_by_hand():
    """The analytic variance of ``w2 - w1`` is the stratified bootstrap's linearization: per cluster, the
    sum of squares about their mean of the cells' influences on the difference, each influence by brute
    force (a cell's rows reweighted in sklearn); and it is close to a long joint bootstrap's."""
    clusters, prior, loaded = _tiny()
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    table = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, method="analytic"))
    assert table["se_method"].str.startswith("analytic").all()
    ab = _hand_influences("ab", "B", clusters, prior, loaded)
    ac = _hand_influences("ac", "C", clusters, prior, loaded)
    difference = {"A": ac["A"] - ab["A"], "B": -ab["B"], "C": ac["C"]}
    variance = sum(((d - d.mean(0)) ** 2).sum(0) for d in difference.values())
    np.testing.assert_allclose(table["std_error"], np.sqrt(variance), rtol=1e-4)
    z = table["difference"] / np.sqrt(variance)
    np.testing.assert_allclose(table["pvalue"], 2 * stats.norm.sf(np.abs(z)), rtol=1e-6)
    # the shared cells' covariance is in it: treating A's influences as independent gives another answer
    apart = variance - ((difference["A"] - difference["A"].mean(0)) ** 2).sum(0) + sum(
        ((d["A"] - d["A"].mean(0)) ** 2).sum(0) for d in (ab, ac))
    assert not np.allclose(apart, variance, rtol=0.05)
    # a joint bootstrap of 2,000 replicates agrees to within its own noise and the linearization's error
    boot = next(differential_unit(pairs, TRANSITIONS[:2], loaded.__getitem__, RIDGE, 2000, 3, method="bootstrap"))
    np.testing.assert_allclose(table["std_error"], boot["std_error"], rtol=0.15)


# --------------------------------------------------------------------------------------------
# The moderated standard error (empirical Bayes)
# --------------------------------------------------------------------------------------------


def _limma_variances(rng: np.random.Generator, prior_df: float = 50.0, df: int = 19, n_tfs: int = 30,
                     per_tf: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smyth's model with a TF-dependent prior: ``sigma^2 = s0_tf^2 d0 / chi^2_d0`` (scaled
    inverse chi-square around a TF's level, the levels far apart), ``s^2 = sigma^2 chi^2_d / d``.
    Returns the TF of each edge, sigma^2 and s^2."""
    tf = np.repeat([f"TF{i}" for i in range(n_tfs)], per_tf)
    level = np.exp(np.repeat(rng.normal(0.0, 1.0, n_tfs), per_tf))
    sigma2 = level * prior_df / rng.chisquare(prior_df, len(tf))
    return tf, sigma2, sigma2 * rng.chisquare(df, len(tf)) / df


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_moderation_estimates_the_prior_df(seed):
    """With a known TF-dependent prior (d0 = 50) the prior df is recovered; a global prior, blind to
    the TF levels, mistakes their spread for a wide prior (small d0)."""
    tf, _, s2 = _limma_variances(np.random.default_rng(seed))
    assert 38 < moderate_variances(s2, 19, [tf]).prior_df < 65
    assert moderate_variances(s2, 19).prior_df < 10


def _model_replicates(rng: np.random.Generator, sigma2: np.ndarray, tf: np.ndarray, shift: np.ndarray,
                      n_boot: int = 20) -> tuple[Replicates, Replicates]:
    """Replicates drawn from Smyth's model: transition 2's replicates and main weight normal with the
    edge's sigma^2 (the main weight shifted by ``shift``), transition 1's zero."""
    sd, active = np.sqrt(sigma2), np.ones(len(tf), bool)
    zero = Replicates(tf, tf, np.zeros(len(tf)), np.zeros((n_boot, len(tf)), np.float32), active)
    second = Replicates(tf, tf, rng.normal(0, sd) + shift, rng.normal(0, sd, (n_boot, len(tf))).astype(np.float32),
                        active)
    return zero, second


@pytest.mark.parametrize("seed", [0, 1])
def test_moderated_pvalues_are_uniform_under_the_null(seed):
    rng = np.random.default_rng(seed)
    tf, sigma2, _ = _limma_variances(rng)
    first, second = _model_replicates(rng, sigma2, tf, np.zeros(len(tf)))
    table = pair_test("t1", first, "t2", second)
    assert "moderated (empirical Bayes, prior over tf, prior df" in table["se_method"].iloc[0]
    assert stats.kstest(table["pvalue"], "uniform").statistic < 0.03
    assert 0.04 < (table["pvalue"] < 0.05).mean() < 0.06
    assert (table["qvalue"] <= 0.1).mean() < 0.005


def test_moderation_gains_power_and_keeps_the_fdr():
    """150 true differences of 3.5 sigma among 3,000 edges: the moderated test calls more of them than
    the t on the bootstrap's own 19 df, on the same replicates, and its false discovery proportion
    averages at most 0.1 (BH's bound) over simulations."""
    recall, plain_recall, false_share = [], [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        tf, sigma2, _ = _limma_variances(rng)
        shift = np.where(np.arange(len(tf)) % 20 == 0, 3.5 * np.sqrt(sigma2), 0.0)
        first, second = _model_replicates(rng, sigma2, tf, shift)
        called = pair_test("t1", first, "t2", second)["qvalue"].to_numpy() <= 0.1
        plain = pair_test("t1", first, "t2", second, moderation=None)
        assert "moderated" not in plain["se_method"].iloc[0]
        recall.append(called[shift > 0].mean())
        plain_recall.append((plain["qvalue"].to_numpy() <= 0.1)[shift > 0].mean())
        false_share.append(called[shift == 0].sum() / max(called.sum(), 1))
    assert np.mean(recall) > np.mean(plain_recall) + 0.05, (recall, plain_recall)
    assert np.mean(false_share) <= 0.1, false_share


def test_moderation_edge_cases():
    rng = np.random.default_rng(3)
    tf, _, s2 = _limma_variances(rng)
    d = 19
    base = moderate_variances(s2, d, [tf])
    # zero variances: left out of the fit, shrunk to d0 s0^2 / (d0 + d) (s0^2 of their TF);
    # non-finite ones stay NaN; neither changes the others
    odd = moderate_variances(np.r_[s2, 0.0, np.nan, np.inf], d, [np.concatenate([tf, ["TF0"] * 3])])
    assert odd.prior_df == pytest.approx(base.prior_df)
    np.testing.assert_allclose(odd.variance[:len(s2)], base.variance)
    d0, v = base.prior_df, base.variance[0]  # edge 0 is one of TF0's
    np.testing.assert_allclose(odd.variance[-3], v - d * s2[0] / (d0 + d))
    assert odd.variance[-3] > 0 and np.isnan(odd.variance[-2:]).all()
    # too few edges for the prior: unchanged, and pair_test keeps the t on n_boot - 1 df
    few = moderate_variances(s2[:MIN_RESIDUAL_DF], d)
    assert few.prior_df is None and np.array_equal(few.variance, s2[:MIN_RESIDUAL_DF])
    # a TF of one edge gets no level of its own (it would fit its own variance): shrunk to the overall prior
    lonely = moderate_variances(np.r_[s2, 30 * s2.max()], d, [np.append(tf, "lonely")])
    assert lonely.variance[-1] < 0.5 * 30 * s2.max()
    # no spread beyond the chi-square's (here none at all): d0 infinite, one common variance (log-bias
    # corrected: exp(E log s^2) is below E s^2)
    same = moderate_variances(np.full(200, 2.0), d, [np.repeat(["a", "b"], 100)])
    assert same.prior_df == np.inf and np.ptp(same.variance) < 1e-12
    assert same.variance[0] == pytest.approx(2.0, rel=0.1)


def test_infinite_prior_df_tests_on_the_normal():
    n, n_boot = 300, 10
    draws = np.random.default_rng(0).normal(size=(n_boot, 1))
    tf = np.array([f"TF{i % 3}" for i in range(n)])
    active = np.ones(n, bool)
    first = Replicates(tf, tf, np.zeros(n), np.zeros((n_boot, n), np.float32), active)
    # every edge has the same replicates, so the same s^2: nothing to learn a prior's spread from
    weight = np.linspace(-3, 3, n)
    second = Replicates(tf, tf, weight, np.repeat(draws, n, axis=1).astype(np.float32), active)
    table = pair_test("t1", first, "t2", second)
    assert table["se_method"].iloc[0].endswith("prior df infinite)")
    np.testing.assert_allclose(table["pvalue"], 2 * stats.norm.sf(np.abs(weight) / table["std_error"]), rtol=1e-6)


def test_backfitting_is_least_squares_for_two_factors():
    from transgrn.differential import _additive_fit

    rng = np.random.default_rng(1)
    a, b = rng.integers(1, 6, 400), rng.integers(1, 9, 400)
    z = 0.5 * a - 0.2 * b + rng.normal(size=400)
    fitted = _additive_fit(z, [a, b], np.ones(400, bool))
    design = np.hstack([np.eye(6)[a][:, 1:], np.eye(9)[b][:, 1:]])  # full rank: mean in both
    coef = np.linalg.lstsq(design, z, rcond=None)[0]
    np.testing.assert_allclose(fitted, design @ coef, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Calibration and power on the simulator
# --------------------------------------------------------------------------------------------

SIBLINGS = pd.DataFrame([("pA", "progenitor", "fate A"), ("pB", "progenitor", "fate B")],
                        columns=["transition", "source_cluster", "target_cluster"])


def _sibling_loader(sim, mapping_config: dict, seed: int):
    def load(transition: str):
        row = SIBLINGS.set_index("transition").loc[transition]
        source, target, mask = transition_of(sim, row.source_cluster, row.target_cluster)
        data = TransitionData(source, target, sim.adata.var_names, mask)
        config = {"n_pairs": 2000, "test_fraction": 0.2, **mapping_config}
        return data, map_transition(source, target, "main", transition, config, seed, data)
    return load


def _sibling_test(sim, mapping_config: dict, seed: int, n_boot: int = 20, method: str = "bootstrap") -> pd.DataFrame:
    pairs = transition_pairs(SIBLINGS, "siblings")
    return next(differential_unit(pairs, SIBLINGS, _sibling_loader(sim, mapping_config, seed), RIDGE, n_boot, seed,
                                  method=method))


def _assert_uniform(pvalue: pd.Series) -> None:
    """Null p-values are uniform: neither liberal nor conservative.

    Edges share TFs, so their p-values are correlated and the KS test's p-value (which assumes
    independent draws) overstates the evidence against uniformity; the KS distance itself -- the
    largest gap between the p-values' CDF and the uniform's -- is bounded instead. Over 12 splits
    of the simulation it stays below 0.05; resampling the shared cells independently gives ~0.1.
    """
    assert stats.kstest(pvalue, "uniform").statistic < 0.06
    assert 0.025 < (pvalue < 0.05).mean() < 0.08


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_network_is_calibrated(seed):
    """Fate A and fate B are draws of one distribution (symmetric_branches): no edge differs."""
    table = _sibling_test(simulate(symmetric_branches=True, seed=seed), {"method": "joint"}, seed)
    assert len(table) > 2000
    assert (table["qvalue"] <= 0.1).mean() <= 0.1
    _assert_uniform(table["pvalue"])


def test_same_network_is_calibrated_in_the_lagged_design():
    # one lag for both: the test keeps the design's choices fixed, so the null needs the same lag
    table = _sibling_test(simulate(symmetric_branches=True, seed=1), {"method": "lagged", "lag_grid": [0.15]}, 1)
    assert (table["qvalue"] <= 0.1).mean() <= 0.1
    _assert_uniform(table["pvalue"])


@pytest.mark.parametrize("mapping", [{"method": "joint"}, {"method": "lagged", "lag_grid": [0.15]}])
def test_analytic_standard_error_is_calibrated(mapping):
    table = _sibling_test(simulate(symmetric_branches=True, seed=1), mapping, 1, method="analytic")
    assert table["se_method"].str.startswith("analytic").all()
    assert (table["qvalue"] <= 0.1).mean() <= 0.1
    _assert_uniform(table["pvalue"])


def test_shared_cells_need_the_joint_resampling():
    """Siblings share their source cells, which pull both weights the same way: resampling the shared
    cluster independently for each transition overstates the standard error, and the test turns
    conservative (p-values pile up near 1) where the joint one is uniform."""
    sim = simulate(symmetric_branches=True, seed=0)
    load = _sibling_loader(sim, {"method": "joint"}, 0)
    n_boot = 20

    def replicates(transition: str, seed: int):
        data, mapping = load(transition)
        row = SIBLINGS.set_index("transition").loc[transition]
        return transition_replicates(data, mapping, RIDGE, cluster_counts(len(data.source.names), n_boot, seed, row.source_cluster),
                                     cluster_counts(len(data.target.names), n_boot, seed, row.target_cluster), 0, transition)

    first = replicates("pA", 0)
    joint = pair_test("pA", first, "pB", replicates("pB", 0))
    independent = pair_test("pA", first, "pB", replicates("pB", 1))
    assert (joint["std_error"] / independent["std_error"]).median() < 0.9
    _assert_uniform(joint["pvalue"])
    assert stats.kstest(independent["pvalue"], "uniform").statistic > 0.08
    assert (independent["pvalue"] < 0.05).mean() < 0.025


def test_planted_branch_edges_are_recovered():
    """Edges that regulate only in fate A or only in fate B, at the demo's noise (0.3)."""
    from sklearn.metrics import average_precision_score

    sim = simulate(symmetric_branches=True, branch_edges=40, n_cells=3000, seed=0)
    table = _sibling_test(sim, {"method": "lagged", "lag_grid": [0.15]}, 0)
    planted = table.merge(sim.differential, on=["tf", "target_gene"], how="left")["branch"].notna().to_numpy()
    assert planted.sum() == 40
    assert average_precision_score(planted, table["z"].abs()) / planted.mean() >= 2
    assert (table["qvalue"].to_numpy()[planted] <= 0.1).mean() >= 0.5
    # the direction: an edge of fate A only is stronger in progenitor -> fate A (transition_1)
    branch = table.merge(sim.differential, on=["tf", "target_gene"])
    called = branch[branch["qvalue"] <= 0.1]
    toward = np.where(called["branch"] == "A", -1, 1) * np.sign(called["weight"])
    assert (np.sign(called["difference"]) == toward).mean() >= 0.9


# --------------------------------------------------------------------------------------------
# Simulator options
# --------------------------------------------------------------------------------------------


def test_branch_edges_are_prior_decoys_of_one_fate():
    sim = simulate(n_cells=300, n_tfs=8, n_targets=40, branch_edges=6, seed=2)
    planted = sim.differential
    assert len(planted) == 6 and planted["branch"].tolist() == ["A", "B"] * 3
    assert planted.merge(sim.reference, on=["tf", "target_gene"]).empty  # no shared regulation
    assert all(sim.prior.loc[tf, target] == 1 for tf, target in zip(planted["tf"], planted["target_gene"]))
    assert sim.adata.uns["simulation"]["branch_edges"] == 6
    plain = simulate(n_cells=300, n_tfs=8, n_targets=40, seed=2)
    assert "branch_edges" not in plain.adata.uns["simulation"] and plain.differential.empty
    with pytest.raises(ValueError, match="decoy edges"):
        simulate(n_cells=100, n_tfs=4, n_targets=4, decoys_per_target=1, branch_edges=10)


def test_symmetric_branches_make_the_fates_alike():
    def fate_gap(sim):
        obs = sim.adata.obs["cell_type"].to_numpy()
        tfs = sim.adata.var["is_tf"].to_numpy()
        mean = lambda label: sim.adata.X[obs == label][:, tfs].mean(0)  # noqa: E731
        return np.abs(mean("fate A") - mean("fate B")).max()

    assert fate_gap(simulate(n_cells=1600, symmetric_branches=True)) < 0.5 * fate_gap(simulate(n_cells=1600))


# --------------------------------------------------------------------------------------------
# The workflow's stage (workflow/rules/differential.smk, transgrn.jobs.differential)
# --------------------------------------------------------------------------------------------


@pytest.mark.workflow
def test_workflow_writes_the_sibling_pairs_with_the_fitted_weights(tmp_path, workflow_runner):
    """differential.enabled on report_demo's transitions (stem cell -> progenitor, progenitor -> fate A,
    progenitor -> fate B): one unit (progenitor) with the one sibling pair, whose weights are those of
    fit_grn's coefficients (the refit repeats the main fit) and whose q-values are BH within the pair."""
    from helpers import workflow_config

    from transgrn.confidence import benjamini_hochberg

    result = workflow_runner(tmp_path, workflow_config("differential_demo"), "--cores", "1",
                             "results/differential.parquet")
    assert result.returncode == 0, result.stderr[-5000:]
    # the one unit's table, gathered by rule differential
    assert sorted(p.name for p in (tmp_path / "results/differential").iterdir()) == ["c01_progenitor.parquet"]
    # the replicates come from the fit jobs, which had the cells loaded; the test reads them
    for transition in ("c01_progenitor__c02_fate_A", "c01_progenitor__c03_fate_B"):
        assert np.load(tmp_path / f"results/transitions/{transition}/differential_replicates.npy").shape[0] == 10
    table = pd.read_parquet(tmp_path / "results/differential.parquet")
    assert list(table.columns) == DIFFERENTIAL_COLUMNS
    pair = ("c01_progenitor__c02_fate_A", "c01_progenitor__c03_fate_B")
    assert set(zip(table["transition_1"], table["transition_2"])) == {pair}
    for column, transition in zip(("weight_1", "weight_2"), pair):
        fitted = pd.read_parquet(tmp_path / f"results/transitions/{transition}/coefficients.parquet")
        merged = table.merge(fitted, on=["tf", "target_gene"])
        assert len(merged) == len(table)
        np.testing.assert_allclose(merged[column], merged["weight"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(table["qvalue"], benjamini_hochberg(table["pvalue"].to_numpy()))
    assert (table["std_error"] > 0).all() and table["se_method"].str.contains("10 replicates").all()


def test_borrowed_edges_are_not_tested():
    """A borrowed edge's weight is the pooled network's (fit.borrow_below), not the transition's:
    it is made inactive for the refits and the test; an edge without the column stays as it was."""
    from transgrn.differential import tested_edges

    mask = pd.DataFrame({"tf": ["A", "A", "B", "C"], "target_gene": ["x", "y", "x", "y"],
                         "active": [True, True, True, False], "reason": ["", "", "", "TF constant"]})
    coefficients = pd.DataFrame({"tf": ["B", "A", "A", "C"], "target_gene": ["x", "x", "y", "y"],
                                 "weight": [0.4, 1.0, -0.2, 0.3], "borrowed": [True, False, False, True]})
    tested = tested_edges(mask, coefficients)
    assert tested["active"].tolist() == [True, True, False, False]
    assert tested[["tf", "target_gene", "reason"]].equals(mask[["tf", "target_gene", "reason"]])
    assert tested_edges(mask, coefficients.drop(columns="borrowed"))["active"].tolist() == mask["active"].tolist()
