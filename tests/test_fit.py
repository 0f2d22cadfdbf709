"""transgrn.fit: the reported network and its held-out sibling, against scikit-learn's ridge per target."""
from dataclasses import replace

import numpy as np
import pytest
from helpers import transition_of

from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition
from transgrn.fit import fit_transition
from transgrn.mapping import map_transition
from transgrn.metrics import r2_overall, recovery_metrics
from transgrn.options import MappingOptions, FitOptions
from transgrn.simulate import simulate

FIT = FitOptions.from_config({"alpha": 1.0, "fit_intercept": True, "device": "cpu", "dtype": "float64"})


def test_the_network_uses_every_pair_and_the_held_out_columns_its_training_sibling():
    """The reported network (``weight``) is refitted on every pair at the penalty that the
    cross-validation chose on the training pairs; the held-out accuracy is that of the fit on the
    training pairs alone (``train_weight``), which never saw the test pairs: each checked against
    scikit-learn's ridge per target."""
    from sklearn.linear_model import Ridge

    sim = simulate(n_cells=400, n_tfs=6, n_targets=20, seed=3)
    source, target, mask = transition_of(sim, "stem cell", "progenitor")
    data = TransitionData(source, target, sim.adata.var_names, mask)
    mcfg = {"method": "ot", "n_pairs": 300, "test_fraction": 0.2, "n_pcs": 10}
    mappings = {role: map_transition(source, target, role, "t", MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
    coefficients, intercepts, info = fit_transition(data, mappings, replace(FIT, alpha="auto"), 0, "t")
    alpha = info["alpha"]

    def sklearn_weights(split):
        x, y = data.design(mappings["main"], split)
        weights = np.zeros(len(data.edges))
        for j, gene in enumerate(data.targets):
            rows = np.flatnonzero(data.edge_active & (data.edge_target == j))
            if len(rows):
                weights[rows] = Ridge(alpha=alpha).fit(x[:, data.edge_tf[rows]], y[:, j]).coef_
        return weights

    np.testing.assert_allclose(coefficients["weight"], sklearn_weights("all"), atol=1e-10)
    np.testing.assert_allclose(coefficients["train_weight"], sklearn_weights("train"), atol=1e-10)
    assert not np.allclose(coefficients["weight"], coefficients["train_weight"])

    metrics, gene_r2, _ = evaluate_transition(data, mappings, coefficients, intercepts, sim.reference)
    x_train, y_train = data.design(mappings["main"], "train")
    x_test, y_test = data.design(mappings["main"], "test")
    w = np.zeros((len(data.tfs), len(data.targets)))
    w[data.edge_tf, data.edge_target] = coefficients["train_weight"]
    b = intercepts.set_index("target_gene").loc[data.targets, "train_intercept"].to_numpy()
    assert metrics["r2_test"] == pytest.approx(r2_overall(y_test, x_test @ w + b, y_train.mean(0)), abs=1e-12)
    assert metrics["auprc_ratio"] == pytest.approx(recovery_metrics(coefficients, sim.reference)["auprc_ratio"])
