"""transgrn.models: the masked MLP and the co-factor tests run on a simulated transition's mapping."""
import numpy as np
import pandas as pd
import pytest
from helpers import transition_of

from transgrn.design import TransitionData
from transgrn.mapping import map_transition
from transgrn.mlp import MLPConfig
from transgrn.models import cofactors_transition, fit_mlp_transition
from transgrn.options import MappingOptions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mlp_on_a_transition_writes_per_gene_r2_and_attributions(small_simulation):
    sim = small_simulation
    source, target, mask = transition_of(sim, "stem cell", "progenitor")
    mapping = map_transition(source, target, "main", "t", MappingOptions.from_config({"method": "joint", "n_pairs": 100, "test_fraction": 0.2}), 0)
    data = TransitionData(source, target, sim.adata.var_names, mask)
    metrics, gene_r2, attribution = fit_mlp_transition(data, mapping, 0, "t", "cpu", MLPConfig(max_epochs=60))
    assert set(metrics) == {"r2_test_mlp", "r2_train_mlp", "mlp_epochs"} and np.isfinite(metrics["r2_test_mlp"])
    assert list(gene_r2.columns) == ["target_gene", "r2_test_mlp"] and len(gene_r2) == len(data.targets)
    assert len(attribution) == len(mask) and (attribution.loc[~mask["active"].to_numpy(), "attribution"] == 0).all()
    # on the simulator's linear network the attribution's sign agrees with the true sign mostly
    merged = attribution.merge(sim.reference, on=["tf", "target_gene"])
    assert (np.sign(merged["attribution"]) == merged["sign"]).mean() > 0.7


def test_cofactors_on_a_transition_use_one_row_per_source_cell(small_simulation):
    sim = small_simulation
    source, target, mask = transition_of(sim, "stem cell", "progenitor")
    mapping = map_transition(source, target, "main", "t", MappingOptions.from_config({"method": "ot", "n_pairs": 2000, "test_fraction": 0.2}), 0)
    table = cofactors_transition(TransitionData(source, target, sim.adata.var_names, mask), mapping)
    n_cells = mapping.loc[mapping["split"] == "train", "source_cell"].nunique()
    assert len(table) > 0 and (table["df_den"] < n_cells).all()  # not the 1,600 repeated pairs
    assert table["significant"].sum() <= 0.1 * len(table) + 1  # the simulator's network is additive
    assert isinstance(table, pd.DataFrame)
