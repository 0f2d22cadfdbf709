"""transgrn.differential.bootstrap: the joint cell bootstrap, by hand, as the fits write it, and why
it must be joint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from differential_cases import (RIDGE, SIBLINGS, TRANSITIONS, assert_uniform, hand_fit, network_rows, options,
                                sibling_loader, tiny, tiny_unit)
from scipy import stats

from transgrn.confidence import bootstrap_counts
from transgrn.differential import (DIFFERENTIAL_COLUMNS, differential_unit, fit_replicates, pair_test, read_replicates,
                                   transition_pairs, transition_replicates)
from transgrn.errors import InputError
from transgrn.io import write_npy
from transgrn.options import FitOptions
from transgrn.seeds import derive_seed
from transgrn.simulate import simulate


def test_standard_error_is_the_joint_cell_bootstrap_by_hand():
    clusters, prior, loaded = tiny()
    n_boot, seed = 6, 7
    table = tiny_unit(loaded, seed=seed, n_boot=n_boot, se_method="bootstrap")
    assert list(table.columns) == DIFFERENTIAL_COLUMNS and len(table) == len(prior)

    counts = {name: bootstrap_counts(len(c), n_boot, derive_seed(seed, "differential", name)) for name, c in clusters.items()}
    replicates, main = {}, {}
    for transition, target in (("ab", "B"), ("ac", "C")):
        cells = network_rows(loaded[transition])
        by_cell = pd.concat([pd.DataFrame(counts[k].T, index=clusters[k].names) for k in ("A", target)])
        main[transition] = hand_fit(cells, clusters, prior, np.ones(len(cells)))
        replicates[transition] = np.array([hand_fit(cells, clusters, prior, by_cell.loc[cells, b].to_numpy())
                                           for b in range(n_boot)])
        # the main weights are the fit's: what coefficients.parquet holds
        np.testing.assert_allclose(loaded[transition].network.coefficients["weight"], main[transition], atol=1e-10)
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


def test_replicates_are_refitted_at_the_fits_penalty():
    """With ``alpha: auto`` the fit chose a penalty; the replicates are refitted at that one (read
    from the fit), not at another cross-validation's: by hand at the fit's alpha."""
    clusters, prior, loaded = tiny(fit=FitOptions.from_config({"solver": "ridge", "alpha": "auto"}))
    inputs = loaded["ab"]
    alpha = inputs.network.alpha
    assert alpha != 1.0
    replicates = transition_replicates(inputs.data, inputs.mapping, inputs.network, RIDGE, ("A", "B"), 3, 5, "ab")
    counts = {k: bootstrap_counts(len(clusters[k]), 3, derive_seed(5, "differential", k)) for k in ("A", "B")}
    cells = network_rows(inputs)
    by_cell = pd.concat([pd.DataFrame(counts[k].T, index=clusters[k].names) for k in ("A", "B")])
    for b in range(3):
        np.testing.assert_allclose(replicates.replicates[b], hand_fit(cells, clusters, prior, by_cell.loc[cells, b],
                                                                      alpha), rtol=1e-5)


def _fit_files(tmp_path, loaded: dict, n_boot: int, seed: int, borrowed: tuple = ()) -> dict:
    """What each fit job writes for the test (mask, coefficients, differential_replicates.npy), as
    read_replicates loaders; ``borrowed`` (tf, target_gene) edges are marked borrowed."""
    clusters = TRANSITIONS.set_index("transition")
    paths = {}
    for transition, inputs in loaded.items():
        coefficients = inputs.network.coefficients.assign(
            borrowed=[(tf, target) in borrowed for tf, target in zip(inputs.network.coefficients["tf"],
                                                                     inputs.network.coefficients["target_gene"])])
        files = [tmp_path / f"{transition}_{name}" for name in ("mask.parquet", "coefficients.parquet", "replicates.npy")]
        inputs.data.edges.assign(active=inputs.data.edge_active).to_parquet(files[0])
        coefficients.to_parquet(files[1])
        write_npy(fit_replicates(inputs.data, inputs.mapping, RIDGE, coefficients, inputs.network.alpha,
                                 tuple(clusters.loc[transition, ["source_cluster", "target_cluster"]]), n_boot, seed,
                                 transition), files[2])
        paths[transition] = files
    return {transition: (lambda files=files: read_replicates(*files)) for transition, files in paths.items()}


def test_the_fits_replicates_give_the_refits_table(tmp_path):
    """The workflow's way -- each fit job refits the test's replicates and writes them, the unit reads
    them -- gives the table of the unit refitting each transition itself."""
    _, _, loaded = tiny(seed=3)
    refitted = tiny_unit(loaded, seed=3, n_boot=6)
    written = _fit_files(tmp_path, loaded, 6, 3)
    pairs = transition_pairs(TRANSITIONS[:2], "siblings")
    read = next(differential_unit(pairs, TRANSITIONS[:2], options(n_boot=6), RIDGE, 3,
                                  replicates=lambda t: written[t]()))  # no load: nothing computed
    pd.testing.assert_frame_equal(read, refitted, rtol=1e-12)


def test_written_replicates_leave_out_borrowed_edges_and_must_match_the_mask(tmp_path):
    _, _, loaded = tiny()
    written = _fit_files(tmp_path, loaded, 4, 0, borrowed=(("T2", "G1"),))
    replicates = written["ab"]()
    edges = list(zip(replicates.tf, replicates.target_gene))
    assert not replicates.active[edges.index(("T2", "G1"))] and replicates.active.sum() == 3
    assert np.isnan(replicates.replicates[:, edges.index(("T2", "G1"))]).all()
    assert np.isnan(replicates.weight[edges.index(("T2", "G1"))])
    write_npy(np.zeros((4, 3), dtype=np.float32), tmp_path / "short.npy")  # 3 edges for a mask of 4
    with pytest.raises(InputError, match="does not match the 4 prior edges.*rerun the fit"):
        read_replicates(tmp_path / "ab_mask.parquet", tmp_path / "ab_coefficients.parquet", tmp_path / "short.npy")


def test_shared_cells_need_the_joint_resampling():
    """Siblings share their source cells, which pull both weights the same way: resampling the shared
    cluster independently for each transition overstates the standard error, and the test turns
    conservative (p-values pile up near 1) where the joint one is uniform."""
    load = sibling_loader(simulate(symmetric_branches=True, seed=0), {"method": "joint"}, 0)
    inputs = {row.transition: load(row.transition) for row in SIBLINGS.itertuples()}

    def replicates(transition: str, seed: int):
        row = SIBLINGS.set_index("transition").loc[transition]
        fitted = inputs[transition]
        return transition_replicates(fitted.data, fitted.mapping, fitted.network, RIDGE,
                                     (row.source_cluster, row.target_cluster), 20, seed, transition)

    first = replicates("pA", 0)
    joint = pair_test("pA", first, "pB", replicates("pB", 0))
    independent = pair_test("pA", first, "pB", replicates("pB", 1))
    assert (joint["std_error"] / independent["std_error"]).median() < 0.9
    assert_uniform(joint["pvalue"])
    assert stats.kstest(independent["pvalue"], "uniform").statistic > 0.08
    assert (independent["pvalue"] < 0.05).mean() < 0.025
