"""The Boolean-logic simulator of the recovery benchmark (benchmarks/boolean_simulator.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from boolean_simulator import (TOPOLOGIES, apply_dropout, fuzzy_rule, prior_with_decoys, reference_network,  # noqa: E402
                               regulators, simulate_boolean)


def test_rule_signs_and_reference():
    assert regulators("(a or b) and not (c or d)") == {"a": 1, "b": 1, "c": -1, "d": -1}
    assert regulators("not (a and not b)") == {"a": -1, "b": 1}
    with pytest.raises(ValueError, match="both activates and represses"):
        regulators("a and not a")
    with pytest.raises(ValueError, match="and, or, not"):
        regulators("a + b")
    reference = reference_network({"x": "x and not y", "y": "x"})  # the self-loop x -> x is left out
    assert sorted(map(tuple, reference.to_numpy().tolist())) == [("x", "y", 1), ("y", "x", -1)]


def test_fuzzy_logic():
    level = {"a": np.array([0.0, 1.0, 1.0, 0.0]), "b": np.array([0.0, 0.0, 1.0, 1.0])}
    inputs = level.__getitem__
    np.testing.assert_allclose(fuzzy_rule("a and b")(inputs), [0, 0, 1, 0])
    np.testing.assert_allclose(fuzzy_rule("a or b")(inputs), [0, 1, 1, 1])
    np.testing.assert_allclose(fuzzy_rule("a and not b")(inputs), [0, 1, 0, 0])


def _late(sim, branch):
    """Mean expression (noise-free) of the branch's last fifth of pseudotime, as a gene -> level dict."""
    obs = sim.adata.obs
    keep = ((obs["branch"] == branch) & (obs["pseudotime"] > 0.8)).to_numpy()
    return dict(zip(sim.adata.var_names, sim.adata.layers["noise_free"][keep].mean(0)))


def test_logic_is_respected_in_the_simulation():
    sim = simulate_boolean(topology="bifurcating", n_cells=600, seed=1)
    rules = TOPOLOGIES["bifurcating"]
    assert rules["g7"] == "g4 and g6" and rules["g4"] == "(g3 or g4) and not g5" and rules["g8"] == "g5 and not g6"
    fate_a, fate_b = _late(sim, "branch1"), _late(sim, "branch2")
    # the toggle: the winning fate is on, the other repressed
    assert fate_a["g4"] > 0.8 and fate_a["g5"] < 0.1 and fate_b["g5"] > 0.8 and fate_b["g4"] < 0.1
    # g10 = g8 and not g1 (g1 is off late in both fates): on where g8 is on, low where only "not g1" holds
    assert rules["g10"] == "g8 and not g1" and fate_a["g1"] < 0.1 and fate_b["g1"] < 0.1
    assert fate_b["g8"] > 0.7 and fate_b["g10"] > 0.7
    assert fate_a["g8"] < 0.1 and fate_a["g10"] < 0.1
    # g7 = g4 and g6: on where both are on
    assert fate_a["g7"] > 0.7 and fate_b["g7"] < 0.1
    # g8 = g5 and not g6: on only where g6 is off
    assert fate_a["g6"] > 0.7 and fate_b["g6"] < 0.1
    # both fates are reached, by similar numbers of cells (the toggle favours neither)
    counts = sim.adata.obs["branch"].value_counts()
    assert set(counts.index) == {"branch1", "branch2"} and counts.min() > 0.3 * len(sim.adata)


def test_every_topology_runs_and_branches():
    for topology, n_branches in [("bifurcating_converging", 2), ("trifurcating", 3), ("linear_long", 1)]:
        sim = simulate_boolean(topology=topology, n_cells=300, seed=0)
        assert sim.adata.obs["branch"].nunique() == n_branches
        assert np.isfinite(sim.adata.X).all() and (sim.adata.X >= 0).all()
        assert (sim.reference["sign"] < 0).any() and (sim.reference["sign"] > 0).any()


def test_reproducible_with_a_seed():
    one = simulate_boolean(topology="trifurcating", n_cells=200, dropout=True, seed=3)
    two = simulate_boolean(topology="trifurcating", n_cells=200, dropout=True, seed=3)
    other = simulate_boolean(topology="trifurcating", n_cells=200, dropout=True, seed=4)
    np.testing.assert_array_equal(one.adata.X, two.adata.X)
    assert (one.adata.obs["branch"] == two.adata.obs["branch"]).all()
    assert not np.array_equal(one.adata.X, other.adata.X)


def test_dropout_zeroes_only_low_values():
    rng = np.random.default_rng(0)
    matrix = rng.uniform(0.1, 1.0, (1000, 3))
    dropped = apply_dropout(np.random.default_rng(1), matrix, 50.0, 0.5)
    zeroed = (dropped == 0) & (matrix != 0)
    assert (matrix[zeroed] < np.median(matrix, axis=0)[np.nonzero(zeroed)[1]]).all()
    assert 0.2 < zeroed.mean() < 0.3  # half of the lower half


def test_prior_with_decoys():
    sim = simulate_boolean(topology="linear_long", n_cells=50, seed=0)
    genes = list(sim.adata.var_names)
    prior = prior_with_decoys(sim.reference, genes, 2, seed=0)
    true = set(zip(sim.reference["tf"], sim.reference["target_gene"]))
    edges = list(zip(prior["tf"], prior["target_gene"]))
    assert true <= set(edges) and len(edges) == len(set(edges)) == 3 * len(true)
    assert all(tf != target for tf, target in edges)
