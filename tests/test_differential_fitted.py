"""transgrn.differential.fitted: what the test reads of each transition's fit, and the edges it tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from differential_cases import tiny

from transgrn.differential import read_fitted_network
from transgrn.errors import InputError


def test_borrowed_edges_are_not_tested():
    """A borrowed edge's weight is the pooled network's (fit.borrow_below), not the transition's:
    it is made inactive for the refits and the test; an edge without the column stays as it was."""
    from transgrn.differential import tested_edges  # here: pytest would collect a test_* name of the module

    mask = pd.DataFrame({"tf": ["A", "A", "B", "C"], "target_gene": ["x", "y", "x", "y"],
                         "active": [True, True, True, False], "reason": ["", "", "", "TF constant"]})
    coefficients = pd.DataFrame({"tf": ["B", "A", "A", "C"], "target_gene": ["x", "x", "y", "y"],
                                 "weight": [0.4, 1.0, -0.2, 0.3], "borrowed": [True, False, False, True]})
    tested = tested_edges(mask, coefficients)
    assert tested["active"].tolist() == [True, True, False, False]
    assert tested[["tf", "target_gene", "reason"]].equals(mask[["tf", "target_gene", "reason"]])
    assert tested_edges(mask, coefficients.drop(columns="borrowed"))["active"].tolist() == mask["active"].tolist()


def _write_fit(tmp_path, inputs, info: dict) -> list:
    """The fit job's files of a transition: coefficients (rows shuffled), intercepts, fit.json."""
    paths = [tmp_path / name for name in ("coefficients.parquet", "intercepts.parquet", "fit.json")]
    network = inputs.network
    network.coefficients.sample(frac=1.0, random_state=0).to_parquet(paths[0])
    network.intercepts.to_parquet(paths[1])
    paths[2].write_text(json.dumps(info))
    return paths


def test_the_fits_network_and_penalty_are_read_from_its_files(tmp_path):
    _, _, loaded = tiny()
    inputs = loaded["ab"]
    network = read_fitted_network(*_write_fit(tmp_path, inputs, {"solver": "ridge", "alpha": 0.5}))
    assert network.alpha == 0.5
    # the weights in the mask's row order whatever the file's, and the intercepts in the targets' order
    np.testing.assert_array_equal(network.weights(inputs.data.edges), inputs.network.coefficients["weight"])
    reversed_targets = inputs.data.targets[::-1]
    np.testing.assert_array_equal(network.intercepts_of(reversed_targets),
                                  inputs.network.intercepts.set_index("target_gene").loc[reversed_targets, "intercept"])
    with pytest.raises(InputError, match="no row for target gene"):
        network.intercepts_of(pd.Index(["G9"]))


@pytest.mark.parametrize("info", [{"solver": "ridge"}, {"solver": "ridge", "alpha": None}, ["alpha"]])
def test_a_fit_without_its_penalty_is_bad_input(tmp_path, info):
    _, _, loaded = tiny()
    with pytest.raises(InputError, match="records no chosen penalty.*rerun the fit"):
        read_fitted_network(*_write_fit(tmp_path, loaded["ab"], info))
