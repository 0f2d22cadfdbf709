"""The masked MLP (nonlinear comparison) and the co-factor tests, on toys with a known answer."""
import numpy as np
import pandas as pd
import pytest
from helpers import transition_of

from transgrn.cofactors import cofactor_tests
from transgrn.metrics import r2_overall
from transgrn.mlp import MaskedMLP, MLPConfig
from transgrn.solvers import MaskedRidge

CONFIG = MLPConfig(max_epochs=400, patience=30)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny fits, as in the workflow's one-thread jobs: more threads only contend on a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy(kind: str, seed: int = 0, n: int = 900, p: int = 5, t: int = 8):
    rng = np.random.default_rng(seed)
    mask = rng.random((p, t)) < 0.5
    mask[rng.integers(0, p, t), np.arange(t)] = True  # every target has a TF
    w = rng.uniform(0.5, 1.5, (p, t)) * rng.choice([-1, 1], (p, t)) * mask
    x = rng.normal(size=(n, p))
    signal = x @ w if kind == "linear" else (np.abs(x) - 0.8) @ np.abs(w) * 1.5  # V-shaped: no linear trend
    y = signal + 0.5 * rng.normal(size=(n, t))
    return x, y, mask, w


def fit_both(x, y, mask):
    fit, val, test = slice(0, 500), slice(500, 650), slice(650, None)
    mlp = MaskedMLP(CONFIG, seed=3, device="cpu").fit(x[fit], y[fit], mask, x[val], y[val])
    linear = MaskedRidge(alpha=1.0, device="cpu").fit(x[:650], y[:650], mask)
    return mlp, r2_overall(y[test], mlp.predict(x[test])), r2_overall(y[test], linear.predict(x[test]))


def test_mlp_matches_linear_on_linear_data_and_its_attribution_is_the_weight():
    x, y, mask, w = toy("linear")
    mlp, r2_mlp, r2_linear = fit_both(x, y, mask)
    assert r2_linear > 0.8 and r2_mlp == pytest.approx(r2_linear, abs=0.02)
    attribution = mlp.attribution(x[:500])
    assert (attribution[~mask] == 0).all()
    np.testing.assert_allclose(attribution[mask], w[mask], atol=0.15)


def test_mlp_beats_linear_on_nonlinear_data():
    x, y, mask, _ = toy("nonlinear")
    _, r2_mlp, r2_linear = fit_both(x, y, mask)
    assert r2_linear < 0.05 and r2_mlp > 0.5


def test_mlp_fit_is_deterministic_given_the_seed():
    x, y, mask, _ = toy("nonlinear", n=300)
    fits = [MaskedMLP(MLPConfig(max_epochs=50), seed=7, device="cpu").fit(x[:200], y[:200], mask, x[200:], y[200:])
            for _ in range(2)]
    assert np.array_equal(fits[0].predict(x), fits[1].predict(x))


def test_mlp_on_a_transition_writes_per_gene_r2_and_attributions(small_simulation):
    from transgrn.grn import TransitionData, fit_mlp_transition, map_transition

    sim = small_simulation
    source, target, mask = transition_of(sim, "stem cell", "progenitor")
    mapping = map_transition(source, target, "main", "t", {"method": "joint", "n_pairs": 100, "test_fraction": 0.2}, 0)
    data = TransitionData(source, target, sim.adata.var_names, mask)
    metrics, gene_r2, attribution = fit_mlp_transition(data, mapping, 0, "t", "cpu", MLPConfig(max_epochs=60))
    assert set(metrics) == {"r2_test_mlp", "r2_train_mlp", "mlp_epochs"} and np.isfinite(metrics["r2_test_mlp"])
    assert list(gene_r2.columns) == ["target_gene", "r2_test_mlp"] and len(gene_r2) == len(data.targets)
    assert len(attribution) == len(mask) and (attribution.loc[~mask["active"].to_numpy(), "attribution"] == 0).all()
    # on the simulator's linear network the attribution's sign agrees with the true sign mostly
    merged = attribution.merge(sim.reference, on=["tf", "target_gene"])
    assert (np.sign(merged["attribution"]) == merged["sign"]).mean() > 0.7


def test_cofactor_test_finds_a_planted_interaction():
    rng = np.random.default_rng(0)
    n, p, t = 400, 8, 30
    x = rng.normal(size=(n, p))
    mask = np.zeros((p, t), bool)
    for j in range(t):
        mask[rng.choice(p, 3, replace=False), j] = True
    mask[[0, 1], :6] = True  # TF0 and TF1 share targets g0-g5 (and some more by chance) ...
    y = x @ (rng.normal(size=(p, t)) * mask) + rng.normal(size=(n, t))
    y[:, :6] += 0.5 * x[:, [0]] * x[:, [1]]  # ... and act on g0-g5 together, not additively
    tfs, targets = [f"TF{i}" for i in range(p)], [f"g{j}" for j in range(t)]
    table = cofactor_tests(x, y, mask, tfs, targets, fdr=0.05)
    assert (table.loc[0, "tf_a"], table.loc[0, "tf_b"]) == ("TF0", "TF1")
    assert table.loc[0, "significant"] and table.loc[0, "interaction"] > 0 and table.loc[0, "q_value"] < 1e-6
    assert table["significant"].sum() == 1  # every other pair is additive
    assert (table["n_shared_targets"] >= 2).all()
    # without the interaction nothing is found
    additive = cofactor_tests(x, y - np.pad(0.5 * x[:, [0]] * x[:, [1]] * np.ones((1, 6)), ((0, 0), (0, t - 6))),
                              mask, tfs, targets, fdr=0.05)
    assert not additive["significant"].any()


def test_cofactors_on_a_transition_use_one_row_per_source_cell(small_simulation):
    from transgrn.grn import TransitionData, cofactors_transition, map_transition

    sim = small_simulation
    source, target, mask = transition_of(sim, "stem cell", "progenitor")
    mapping = map_transition(source, target, "main", "t", {"method": "ot", "n_pairs": 2000, "test_fraction": 0.2}, 0)
    table = cofactors_transition(TransitionData(source, target, sim.adata.var_names, mask), mapping)
    n_cells = mapping.loc[mapping["split"] == "train", "source_cell"].nunique()
    assert len(table) > 0 and (table["df_den"] < n_cells).all()  # not the 1,600 repeated pairs
    assert table["significant"].sum() <= 0.1 * len(table) + 1  # the simulator's network is additive
    assert isinstance(table, pd.DataFrame)
