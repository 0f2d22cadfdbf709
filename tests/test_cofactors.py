"""transgrn.cofactors: the co-factor test finds a planted interaction and nothing in additive data."""
import numpy as np

from transgrn.cofactors import candidate_tf_pairs, cofactor_tests


def test_candidate_pairs_share_enough_targets_most_shared_first():
    mask = np.array([[1, 1, 1, 0],
                     [1, 1, 1, 1],
                     [0, 0, 1, 1]], bool)
    # shared targets: (0, 1) 3, (1, 2) 2, (0, 2) 1
    np.testing.assert_array_equal(candidate_tf_pairs(mask, 2, 10), [[0, 1], [1, 2]])
    np.testing.assert_array_equal(candidate_tf_pairs(mask, 1, 2), [[0, 1], [1, 2]])  # at most max_pairs
    assert len(candidate_tf_pairs(mask, 4, 10)) == 0


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
