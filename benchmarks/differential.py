"""Differential edges between sibling transitions: calibration, planted recovery, cost per unit.

    .venv/bin/python benchmarks/differential.py            # every table (a few minutes on one core)
    .venv/bin/python benchmarks/differential.py --quick    # fewer seeds

1. Calibration -- ``symmetric_branches``: fate A and fate B are draws of one distribution, so
   ``progenitor -> fate A`` and ``progenitor -> fate B`` have the same network and design; every
   call is false. Reports the share of edges at q <= 0.1, the share at p < 0.05 (0.05 when
   calibrated), the KS distance of the p-values from uniform, per design, and the same with the
   shared progenitor cells resampled independently for the two fits (what the joint bootstrap avoids).
   Each with the moderated standard error (prior over TFs, the default) and without (``none``);
   the lagged design also with a global prior and a TF + target prior; ``prior_df`` is its ``d0``.
2. Planted recovery -- ``branch_edges=40`` prior decoys regulate in one fate only. AUPRC ratio of
   ``|z|`` for the planted edges, recall at q <= 0.1, and the calls that are not planted: most sit
   on a planted edge's target (its other weights change with it: the fitted weights really
   differ), the rest are false. With the demo's own, asymmetric fates many more edges differ:
   the fates' TF programs differ, which changes the fitted weights without any rewiring. Every
   prior model of the moderation, on the same replicates.
3. Cost -- the demo (1,600 cells, ``transitions.mode: all``: 12 transitions, 12 sibling pairs), per
   source-cluster unit: the fits with ``fit.bootstrap: 20`` (rule fit_grn), the test's replicates
   those fit jobs add, the unit's pair tests (rule differential_unit), the analytic alternative
   (around the fits' networks: no refit), and the peak numpy memory.

Every table uses the shipped default fit, ridge with ``alpha: auto``.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import transition_of  # noqa: E402

from transgrn.differential import (DEFAULT_MODERATION, FittedNetwork, FittedTransition,  # noqa: E402
                                   analytic_pair_test, differential_unit, fit_replicates, pair_test,
                                   transition_influence, transition_pairs, transition_replicates)
from transgrn.differential.bootstrap import fitted_replicates  # noqa: E402
from transgrn.differential.fitted import mask_rows  # noqa: E402
from transgrn.design import TransitionData  # noqa: E402
from transgrn.fit import fit_transition  # noqa: E402
from transgrn.mapping import map_transition  # noqa: E402
from transgrn.options import MappingOptions, DifferentialOptions, FitOptions  # noqa: E402
from transgrn.simulate import simulate  # noqa: E402

# the shipped default fit (fit.alpha: auto, cross-validated per transition, by the fit)
RIDGE = FitOptions.from_config({"solver": "ridge", "alpha": "auto"})
# the prior of the moderated standard error (pair_test's moderation): what each table compares
MODERATIONS = {"tf": DEFAULT_MODERATION, "global": (), "tf + target": ("tf", "target_gene"), "none": None}
SIBLINGS = pd.DataFrame([("pA", "progenitor", "fate A"), ("pB", "progenitor", "fate B")],
                        columns=["transition", "source_cluster", "target_cluster"])
DESIGNS = {"joint": {"method": "joint"}, "lagged": {"method": "lagged"},
           "lagged, one lag": {"method": "lagged", "lag_grid": [0.15]}, "ot": {"method": "ot"}}


def cells_loader(sim, transitions: pd.DataFrame, mapping_config: dict, seed: int):
    """Each transition's cells and main mapping."""
    table = transitions.set_index("transition")

    def load(transition: str) -> tuple[TransitionData, pd.DataFrame]:
        row = table.loc[transition]
        source, target, mask = transition_of(sim, row.source_cluster, row.target_cluster)
        data = TransitionData(source, target, sim.adata.var_names, mask)
        config = {"n_pairs": 2000, "test_fraction": 0.2, **mapping_config}
        return data, map_transition(source, target, "main", transition, MappingOptions.from_config(config), seed, data)
    return load


def fitted(data: TransitionData, mapping: pd.DataFrame, fit_outputs: tuple) -> FittedTransition:
    """A transition as the test reads it, from :func:`fit_transition`'s outputs (rule fit_grn's files)."""
    coefficients, intercepts, info = fit_outputs
    return FittedTransition(data, mapping, FittedNetwork(coefficients, intercepts, info["alpha"]))


def loader(sim, transitions: pd.DataFrame, mapping_config: dict, seed: int):
    """Each transition's cells, mapping and fit (as rule fit_grn fits it), as the test reads them."""
    cells = cells_loader(sim, transitions, mapping_config, seed)

    def load(transition: str) -> FittedTransition:
        data, mapping = cells(transition)
        return fitted(data, mapping, fit_transition(data, {"main": mapping}, RIDGE, seed, transition))
    return load


def sibling_replicates(sim, mapping_config: dict, seed: int, n_boot: int, independent: bool = False) -> list:
    """Both siblings' replicates, as the fits refit them (``independent``: the shared source resampled
    separately per fit)."""
    load = loader(sim, SIBLINGS, mapping_config, seed)
    fitted = []
    for offset, row in enumerate(SIBLINGS.itertuples()):
        inputs = load(row.transition)
        stream = seed + 1000 * offset * independent
        fitted.append(transition_replicates(inputs.data, inputs.mapping, inputs.network, RIDGE,
                                            (row.source_cluster, row.target_cluster), n_boot, stream, row.transition))
    return fitted


def sibling_analytic(sim, mapping_config: dict, seed: int) -> pd.DataFrame:
    """The pair's table with the analytic (infinitesimal-jackknife) standard error."""
    load = loader(sim, SIBLINGS, mapping_config, seed)
    fitted = []
    for row in SIBLINGS.itertuples():
        inputs = load(row.transition)
        fitted.append(transition_influence(inputs.data, inputs.mapping, inputs.network, row.source_cluster,
                                           row.target_cluster, ["progenitor"]))
    return analytic_pair_test("pA", fitted[0], "pB", fitted[1])


def sibling_table(sim, mapping_config: dict, seed: int, n_boot: int, independent: bool = False,
                  moderation=DEFAULT_MODERATION) -> pd.DataFrame:
    first, second = sibling_replicates(sim, mapping_config, seed, n_boot, independent)
    return pair_test("pA", first, "pB", second, moderation)


def prior_df(table: pd.DataFrame) -> float:
    """The moderation's prior df ``d0`` from ``se_method`` (NaN when not moderated)."""
    found = table["se_method"].iloc[0].partition("prior df ")[2].rstrip(")") if len(table) else ""
    return np.nan if not found else np.inf if found == "infinite" else float(found)


def calibration(seeds: list[int], n_boot: int) -> pd.DataFrame:
    """Every design with the analytic standard error (the default), the bootstrap moderated over TFs and not;
    the lagged design with every prior model."""
    rows = []
    cases = [(name, config, False) for name, config in DESIGNS.items()] + [("joint, independent", DESIGNS["joint"], True)]
    for name, config, independent in cases:
        models = MODERATIONS if name == "lagged" else {k: MODERATIONS[k] for k in ("tf", "none")}
        for seed in seeds:
            first, second = sibling_replicates(simulate(symmetric_branches=True, seed=seed), config, seed, n_boot,
                                               independent)
            tables = {model: pair_test("pA", first, "pB", second, moderation) for model, moderation in models.items()}
            if not independent:
                tables["analytic"] = sibling_analytic(simulate(symmetric_branches=True, seed=seed), config,
                                                                seed)
            for model, table in tables.items():
                p = table["pvalue"]
                rows.append({"design": name, "moderation": model, "seed": seed, "edges": len(table),
                             "share_q<=0.1": (table["qvalue"] <= 0.1).mean(), "share_p<0.05": (p < 0.05).mean(),
                             "ks_distance": stats.kstest(p, "uniform").statistic,
                             "median_se": table["std_error"].median(), "prior_df": prior_df(table)})
    return pd.DataFrame(rows)


def planted(seeds: list[int], n_boot: int, sizes: list[int]) -> pd.DataFrame:
    rows = []
    for symmetric in (True, False):
        for n_cells in sizes:
            for seed in seeds:
                sim = simulate(symmetric_branches=symmetric, branch_edges=40, n_cells=n_cells, seed=seed)
                first, second = sibling_replicates(sim, DESIGNS["lagged"], seed, n_boot)
                tables = {model: pair_test("pA", first, "pB", second, moderation)
                          for model, moderation in MODERATIONS.items()}
                tables["analytic"] = sibling_analytic(sim, DESIGNS["lagged"], seed)
                for model, table in tables.items():
                    merged = table.merge(sim.differential, on=["tf", "target_gene"], how="left")
                    truth = merged["branch"].notna().to_numpy()
                    called = table["qvalue"].to_numpy() <= 0.1
                    other = merged[called & ~truth]
                    on_planted_target = other["target_gene"].isin(sim.differential["target_gene"])
                    rows.append({"fates": "symmetric" if symmetric else "demo (asymmetric)", "n_cells": n_cells,
                                 "moderation": model, "seed": seed,
                                 "auprc_ratio": average_precision_score(truth, table["z"].abs()) / truth.mean(),
                                 "recall_q<=0.1": called[truth].mean(), "calls": int(called.sum()),
                                 "other_calls_on_planted_targets": int(on_planted_target.sum()),
                                 "other_calls_elsewhere": int((~on_planted_target).sum()),
                                 "prior_df": prior_df(table)})
    return pd.DataFrame(rows)


def cost(n_boot: int) -> pd.DataFrame:
    """Per source-cluster unit of the demo, as the workflow splits the work: the fits with
    ``fit.bootstrap: 20`` (rule fit_grn, the demo's config), the test's replicates those fit jobs
    add (:func:`fit_replicates`), and the unit's pair tests from them (rule differential_unit); with
    the analytic standard error the unit instead computes each transition's influence itself, around
    the fit's network (no refit)."""
    sim = simulate()
    clusters = list(sim.adata.obs["cell_type"].cat.categories)
    transitions = pd.DataFrame([(f"{a}->{b}", a, b) for a in clusters for b in clusters if a != b],
                               columns=["transition", "source_cluster", "target_cluster"])
    load = cells_loader(sim, transitions, {"method": "lagged"}, 0)
    loaded = {t: load(t) for t in transitions["transition"]}
    bootstrap, analytic = (DifferentialOptions.from_config({"n_boot": n_boot, "se_method": method})
                           for method in ("bootstrap", "analytic"))
    pairs = transition_pairs(transitions, "siblings")
    ends = transitions.set_index("transition")[["source_cluster", "target_cluster"]]
    rows = []
    for unit, part in pairs.groupby("unit", sort=False):
        needed = sorted(set(part["transition_1"]) | set(part["transition_2"]))
        start = time.perf_counter()
        fits = {}
        for t in needed:
            data, mapping = loaded[t]
            fits[t] = fitted(data, mapping, fit_transition(data, {"main": mapping}, replace(RIDGE, bootstrap=20), 0, t))
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        written = {}
        for t, inputs in fits.items():
            coefficients = inputs.network.coefficients
            refits = fit_replicates(inputs.data, inputs.mapping, RIDGE, coefficients, inputs.network.alpha,
                                    tuple(ends.loc[t]), n_boot, 0, t)
            written[t] = fitted_replicates(mask_rows(inputs.data), coefficients, refits)
        refit_seconds = time.perf_counter() - start
        tracemalloc.start()
        start = time.perf_counter()
        n_rows = sum(len(table) for table in differential_unit(part, transitions, bootstrap, RIDGE, 0,
                                                               replicates=written.__getitem__))
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        for _ in differential_unit(part, transitions, analytic, RIDGE, 0, load=fits.__getitem__):
            pass
        analytic_seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"unit": unit, "transitions": len(needed), "pairs": len(part), "rows": n_rows,
                     "fit_grn_seconds": fit_seconds, "replicates_in_fits_seconds": refit_seconds,
                     "pair_tests_seconds": seconds, "analytic_seconds": analytic_seconds,
                     "peak_numpy_mb": peak / 2**20})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and sizes")
    parser.add_argument("--n-boot", type=int, default=20)
    args = parser.parse_args()
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    pd.set_option("display.width", 200)
    pd.set_option("display.precision", 3)
    calib = calibration(seeds, args.n_boot)
    print("## Calibration (same network in both siblings; every call is false)\n")
    print(calib.groupby(["design", "moderation"], sort=False).agg(["mean", "max"])
          .drop(columns=["seed", "edges"], level=0).to_string())
    rec = planted(seeds[:3], args.n_boot, [1600] if args.quick else [1600, 3000])
    print("\n## Planted branch edges (40 per simulation; lagged design)\n")
    print(rec.groupby(["fates", "n_cells", "moderation"], sort=False).mean().drop(columns="seed").to_string())
    print("\n## Cost per source-cluster unit (demo, sibling pairs)\n")
    print(cost(args.n_boot).to_string(index=False))


if __name__ == "__main__":
    main()
