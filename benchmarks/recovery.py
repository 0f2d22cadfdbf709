"""Recovery benchmark: which mapping (and model) recovers a known network best, per transition.

Run by hand (not part of the tests); it prints a Markdown table and writes a CSV::

    python benchmarks/recovery.py                       # everything (7-10 min on 2 busy cores, plus 7 for boolean)
    python benchmarks/recovery.py --tracks hill         # the Hill-kinetics track alone (about 1 min)
    python benchmarks/recovery.py --tracks boolean      # the Boolean-logic track with its baselines (about 7 min)
    python benchmarks/recovery.py --tracks hill --methods defaults --hill-seeds 0,1,2,3,4 --out /tmp/hill_seeds.csv
    python benchmarks/recovery.py --datasets sim_noise2.0 --methods joint,ot --models linear

Data sets
  sim_noise0.3, sim_noise1.0, sim_noise2.0
      ``transgrn.simulate.simulate(noise=...)`` with the demo's other parameters (1,600 cells, 30
      TFs, 300 targets, 3 true regulators + 6 decoys per target; targets respond to their TFs'
      activity ``lag = 0.15`` earlier in pseudotime, per-cell deviations correlated 0.5 over that
      lag); the transitions of the branching trajectory: stem cell -> progenitor, progenitor ->
      fate A, progenitor -> fate B.
  sim_branch2.0
      the same data as sim_noise2.0, scored on the two branch transitions only.
  sim_fast2.0
      noise 2.0 with a fast response: ``lag = 0.05`` and deviations correlated 0.8 over it (the
      simulator's earlier defaults), where the same-cell design is nearly right.
  krumsiek11
      scanpy's bundled ``krumsiek11`` data (640 cells x 11 genes, simulated from the myeloid
      Boolean network of Krumsiek et al. 2011, PLoS One 6:e22649): progenitor -> Ery, Mk, Mo,
      Neu. Pseudotime = the simulation's time step (cells are 4 realizations x 160 steps). The
      prior is every ordered pair of distinct genes (110 edges); the reference is the network's
      26 signed edges between distinct genes, read off the paper's Table 1 update rules (the
      same rules and coupling signs ship in scanpy/sim_models/krumsiek11.txt): in
      ``X = f(...)`` every regulator under ``not`` represses X, every other activates it.
      Self-loops are left out of prior and reference (a gene trivially predicts itself).
  hill_noise_free, hill_counts (track ``hill``)
      ``benchmarks/hill_simulator.py``: kinetics unlike the demo's, so that a design tuned to its
      linear lag cannot win by construction -- a cluster tree (root -> mid -> A1 -> A2 | B1 -> B2),
      12 master TFs switched on and off per cluster (off: counts zero in most cells), 88 targets
      driven by sums of Hill functions (random K, n), every gene an SDE with its own decay, so
      targets respond with their own delays; 1,500 cells; prior = true edges + decoys, 28% true.
      ``hill_noise_free`` is log1p of the mean expression; ``hill_counts`` negative-binomial counts
      with library-size variation and dropout, normalized as ``data.normalize: true`` does
      (:func:`transgrn.prepare.normalize_log1p`). Transitions: root -> mid, mid -> A1, A1 -> A2,
      mid -> B1, B1 -> B2.
  guo (track ``guo``)
      Guo et al. 2010 (data/guo2010): qPCR of 48 genes in mouse embryos from the 2- to the 64-cell stage,
      stages as clusters, each stage to the next (as config/guo.yaml), the panel's prior (every TF to every
      other gene) and the literature-curated signed reference (data/guo2010/README.md). Real data with known
      biology; the defaults row is the shipped configuration (lagged, which chooses lag 0 here, as joint).

Track ``boolean`` (``--tracks boolean``, :func:`boolean_track`; about 7 min, most of it the defaults' fits)
  ``benchmarks/boolean_simulator.py``: branching differentiations whose production terms are Boolean
  rules of activators and repressors (BoolODE's style, our own rule tables): topologies
  ``bifurcating``, ``bifurcating_converging``, ``trifurcating``, ``linear_long``, each without and
  with dropout (``_dropout``), 1,500 cells, pseudotime = simulation time, a branch per cell. Run as a
  user would: clusters = 5 equal-width pseudotime bins on each branch, transitions = adjacent bins on
  a branch, the shipped defaults; prior = the true edges + 2 decoys per true edge, or none
  (``_noprior``: every ordered gene pair). One network per data set (``transition`` = "run-level
  network": the workflow's results/network.parquet, each prior edge's mean |w| over the transitions
  weighted by their held-out R^2, signed by the summed weights), scored
  beside baselines computed from every cell on the same edges: ``pearson`` (|r|, sign of r),
  ``genie3_like`` (extra trees per target on its prior regulators; sign of r) and ``ppcor_like``
  (full-order partial correlation). Prints data set x method (AUPRC ratio, EPR, sign accuracy) and,
  per metric and baseline, the data sets where the defaults are below it. To score a modified
  transgrn, put its ``src`` first on PYTHONPATH; to score another network, pass
  ``boolean_track(networks={name: f})``.

Baselines on the other tracks (``--methods pearson,genie3_like,ppcor_like``): the same three, per transition
over the cells of both clusters (what the same-cell designs fit), scored on the prior's edges like the
rows; ``genie3_like`` with 100 trees per target there (``TRANSITION_TREES``; about 1 s per target on
a busy core: 15 min for each Hill set and each sim set).

Candidates (issue 26), as ``--variant`` rows: ``inputs.neighbours=K`` (TF inputs averaged over each cell's
K nearest cells of its cluster, :mod:`transgrn.inputs`), ``inputs.activity=true`` (TF activity from the
prior, the Inferelator's), ``rank.by=sign_confidence`` or ``rank.by=stability`` with ``fit.bootstrap=20``
(the network ranked by |w| x sign_confidence, or by the bootstrap's |mean| / sd, instead of |w|) and
``rank.by=standardized`` (w x sd(TF) / sd(target) over the transition's rows; ``standardized_run``: over every
cell), benchmark-side scores (``SCORES``), e.g.
``--variant inputs.neighbours=10 --variant fit.bootstrap=20,rank.by=sign_confidence``. None held on every
track (docs/benchmarks.md), so none is a config key.

Each row of the other tracks averages the data set's transitions. Recovery is scored by
:func:`transgrn.evaluate.recovery_metrics` over every prior edge of the transition (an inactive edge
has weight 0): ``auprc_ratio``, ``epr`` and ``sign_accuracy`` (over every reference edge, a zero
weight counting as wrong; ``sign_accuracy_called`` over the non-zero ones) of the linear weights
(for model ``mlp``: of the MLP's mean input gradient per edge); held-out R^2 of the model on the
mapping's test pairs, and seconds per transition (mapping main + null, fit, evaluation; noisy on a
shared machine). The fit is ridge with alpha = 1 for every mapping row, so those rows differ only in
the mapping (and smoothing); ``defaults`` is the shipped configuration (the schema's ``mapping`` and
``fit`` defaults), borrowing as the workflow does from the pooled network over the data set's
clusters (rule fit_pooled, :mod:`transgrn.pooled`; column ``borrowed_edges``), and
``lagged_alpha_auto`` the lagged design with ``fit.alpha: auto``. ``--pooled-holdout`` adds, for the
defaults, the held-out R^2 with the pooled network refitted without the transition's test cells.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hill_simulator import TRANSITIONS as HILL_TRANSITIONS
from hill_simulator import simulate_hill
from transgrn.config import apply_defaults, load_schema
from transgrn.metrics import recovery_metrics
from transgrn.design import EVERY_PAIR
from transgrn.design import TransitionData
from transgrn.evaluate import evaluate_transition
from transgrn.fit import fit_transition
from transgrn.mapping import map_transition
from transgrn.mask import build_mask
from transgrn.models import fit_mlp_transition
from transgrn.cells import CellSet
from transgrn.mapping_file import lag_of
from transgrn.cells import smooth_clusters
from transgrn.fit import fit_pooled
from transgrn.options import MappingOptions, FitOptions
from transgrn.pooled import PooledNetwork, cluster_share, pooled_cells

FIT = FitOptions.from_config({"alpha": 1.0, "fit_intercept": True, "device": "cpu", "dtype": "float64"})
MAPPING = {"n_pairs": 2000, "test_fraction": 0.2, "n_pcs": 20}
REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@functools.cache
def shipped_defaults() -> tuple[dict, dict]:
    """The ``mapping`` and ``fit`` sections a config that sets nothing gets (the schema's defaults), on the CPU."""
    config = apply_defaults({}, load_schema(SCHEMA))
    return config["mapping"], {**config["fit"], "device": "cpu"}


# (row name, mapping options, smoothing neighbours, fit options); fit None = FIT, "defaults" = the schema's
METHODS: dict[str, tuple[dict, int, FitOptions | str | None]] = {
    "defaults": ({}, 0, "defaults"),
    "random": ({"method": "random"}, 0, None),
    "ot": ({"method": "ot"}, 0, None),
    "ot_barycentric": ({"method": "ot", "barycentric": True}, 0, None),
    "ot_barycentric_smooth10": ({"method": "ot", "barycentric": True}, 10, None),
    "knn": ({"method": "knn"}, 0, None),
    "knn_barycentric": ({"method": "knn", "barycentric": True}, 0, None),
    "pseudotime_barycentric": ({"method": "pseudotime", "barycentric": True}, 0, None),
    "joint": ({"method": "joint"}, 0, None),
    "lagged": ({"method": "lagged"}, 0, None),
    "lagged_alpha_auto": ({"method": "lagged"}, 0, replace(FIT, alpha="auto")),
    "joint_smooth10": ({"method": "joint"}, 10, None),
    "hybrid": ({"method": "hybrid"}, 0, None),
}
MLP_METHODS = ("ot", "ot_barycentric", "joint", "lagged")


# rows registered by defaults_variant(): fit options over the shipped ones
FIT_OVERRIDES: dict[str, dict] = {}


def method_options(method: str) -> tuple[dict, int, FitOptions]:
    """Mapping options (over MAPPING, or the shipped defaults), smoothing and fit options of a row."""
    options, smooth, fit = METHODS[method]
    if fit == "defaults":
        mapping, shipped = shipped_defaults()
        return {**mapping, **options}, smooth, FitOptions.from_config({**shipped, **FIT_OVERRIDES.get(method, {})})
    return {**MAPPING, **options}, smooth, FIT if fit is None else fit


def defaults_variant(settings: str) -> str:
    """Register a row = the shipped defaults with some settings changed, e.g. ``fit.self_term=true,mapping.method=joint``
    (values read as YAML), borrowing from the pooled network as the defaults do; returns the row's name
    ``defaults[<settings>]``. For a candidate that an option expresses; a code change is scored by running
    with its checkout's ``src`` first on PYTHONPATH."""
    import yaml

    sections: dict[str, dict] = {"mapping": {}, "fit": {}, "inputs": {}, "rank": {}}
    for item in settings.split(","):
        key, _, value = item.partition("=")
        section, _, option = key.strip().partition(".")
        if section not in sections or not option or not value:
            raise SystemExit(f"--variant: {item!r} is not mapping.OPTION=VALUE, fit.OPTION=VALUE, "
                             "inputs.neighbours=K, inputs.activity=true or rank.by=SCORE")
        sections[section][option] = yaml.safe_load(value)
    if set(sections["rank"]) - {"by"} or sections["rank"].get("by", "weight") not in SCORES:
        raise SystemExit(f"--variant: rank.by takes one of {', '.join(SCORES)}")
    if set(sections["inputs"]) - set(INPUT_OPTIONS):
        raise SystemExit(f"--variant: inputs takes {', '.join(INPUT_OPTIONS)}")
    name = f"defaults[{settings}]"
    METHODS[name] = (sections["mapping"], 0, "defaults")
    FIT_OVERRIDES[name] = sections["fit"]
    RANK_BY[name] = sections["rank"].get("by", "weight")
    INPUTS[name] = {INPUT_OPTIONS[key]: value for key, value in sections["inputs"].items()}
    return name


# --variant inputs.KEY: what the fit takes as TF inputs (transgrn.inputs, TransitionData's keywords; no config
# key, as none of them held on every track: docs/benchmarks.md)
INPUT_OPTIONS = {"neighbours": "input_neighbours", "activity": "tf_activity"}
INPUTS: dict[str, dict] = {}  # row -> TransitionData keywords, for the rows registered by defaults_variant()


def _sign_confidence_score(edges: pd.DataFrame) -> pd.Series:
    """|w| times the sign confidence (with fit.bootstrap; 0.5, no information, where it is NaN: borrowed
    or inactive edges), signed as w."""
    return edges["weight"] * edges["sign_confidence"].fillna(0.5)


def _stability_score(edges: pd.DataFrame) -> pd.Series:
    """The bootstrap's mean over its spread, |weight_mean| / weight_std (with fit.bootstrap), signed as w;
    0 where the spread is 0 or missing."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (edges["weight_mean"].abs() / edges["weight_std"]).replace(np.inf, np.nan).fillna(0.0)
    return np.sign(edges["weight"]) * ratio


def _standardized_score(edges: pd.DataFrame) -> pd.Series:
    """w x sd(TF input) / sd(target) over the network's rows: the weight in standard deviations, on one
    scale for every target as a (partial) correlation is, where |w| favours targets that vary much."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (edges["weight"] * edges["tf_sd"] / edges["target_sd"]).replace([np.inf, -np.inf], np.nan).fillna(0.0)


# what ranks a fitted network's edges (--variant rank.by=...): its weight, a score from its bootstrap, or its
# standardized weight (spreads over the transition's rows, or over every cell of the data set: ``_run``)
SCORES = {"weight": lambda edges: edges["weight"], "sign_confidence": _sign_confidence_score,
          "stability": _stability_score, "standardized": _standardized_score, "standardized_run": _standardized_score}
RANK_BY: dict[str, str] = {}  # row -> score, for the rows registered by defaults_variant()


def ranked(edges: pd.DataFrame, method: str, data: TransitionData, mapping: pd.DataFrame,
           dataset: Dataset) -> pd.DataFrame:
    """A row's fitted edges with ``weight`` replaced by the score that ranks them (``--variant rank.by``);
    ``data`` and ``mapping``: the transition's design, whose rows give the standardized score's spreads
    (``standardized_run``: every cell of ``dataset``)."""
    score = RANK_BY.get(method, "weight")
    if score == "weight":
        return edges
    if score == "standardized":
        x, y = data.design(mapping, EVERY_PAIR)
        edges = edges.assign(tf_sd=x.std(axis=0)[data.edge_tf], target_sd=y.std(axis=0)[data.edge_target])
    if score == "standardized_run":
        spread = pd.Series(all_cells(dataset).std(axis=0), index=dataset.genes)
        edges = edges.assign(tf_sd=spread.reindex(edges["tf"]).to_numpy(),
                             target_sd=spread.reindex(edges["target_gene"]).to_numpy())
    return edges.assign(weight=SCORES[score](edges).to_numpy())

# Krumsiek et al. 2011, Table 1: each target's Boolean update rule, and the signed edges read off it
# (a regulator under "not" represses, any other activates; self-loops left out). The same rules and
# coupling signs ship with scanpy in scanpy/sim_models/krumsiek11.txt.
KRUMSIEK11_EDGES = {
    "Gata2": ("Gata2 and not (Gata1 and Fog1) and not Pu.1", {"Gata1": -1, "Fog1": -1, "Pu.1": -1}),
    "Gata1": ("(Gata1 or Gata2 or Fli1) and not Pu.1", {"Gata2": 1, "Fli1": 1, "Pu.1": -1}),
    "Fog1": ("Gata1", {"Gata1": 1}),
    "EKLF": ("Gata1 and not Fli1", {"Gata1": 1, "Fli1": -1}),
    "Fli1": ("Gata1 and not EKLF", {"Gata1": 1, "EKLF": -1}),
    "SCL": ("Gata1 and not Pu.1", {"Gata1": 1, "Pu.1": -1}),
    "Cebpa": ("Cebpa and not (Gata1 and Fog1 and SCL)", {"Gata1": -1, "Fog1": -1, "SCL": -1}),
    "Pu.1": ("(Cebpa or Pu.1) and not (Gata1 or Gata2)", {"Cebpa": 1, "Gata1": -1, "Gata2": -1}),
    "cJun": ("Pu.1 and not Gfi1", {"Pu.1": 1, "Gfi1": -1}),
    "EgrNab": ("(Pu.1 and cJun) and not Gfi1", {"Pu.1": 1, "cJun": 1, "Gfi1": -1}),
    "Gfi1": ("Cebpa and not EgrNab", {"Cebpa": 1, "EgrNab": -1}),
}


def krumsiek11_reference() -> pd.DataFrame:
    """The 26 signed edges between distinct genes of the Krumsiek et al. (2011) network."""
    return pd.DataFrame([{"tf": tf, "target_gene": target, "sign": sign}
                         for target, (_, regulators) in KRUMSIEK11_EDGES.items() for tf, sign in regulators.items()])


@dataclass
class Dataset:
    name: str
    transitions: list[tuple[str, CellSet, CellSet]]
    prior: pd.DataFrame
    genes: pd.Index
    reference: pd.DataFrame


def _cells(adata, key: str, label: str, matrix: np.ndarray | None = None) -> CellSet:
    keep = (adata.obs[key] == label).to_numpy()
    values = adata.X if matrix is None else matrix
    return CellSet(adata.obs_names[keep].to_numpy(dtype=str), np.asarray(values[keep], dtype=np.float64),
                   adata.obs["pseudotime"].to_numpy(dtype=float)[keep])


def _edge_list(wide: pd.DataFrame) -> pd.DataFrame:
    """A wide 0/1 prior (TFs x genes) as the unsigned edge list the mask takes."""
    stacked = wide.stack()
    stacked = stacked[stacked != 0]
    return pd.DataFrame({"tf": stacked.index.get_level_values(0), "target_gene": stacked.index.get_level_values(1),
                         "sign": np.int8(0)})


def simulated(pairs: list[tuple[str, str]], name: str, **params) -> Dataset:
    from transgrn.simulate import simulate

    sim = simulate(**params)
    prior = _edge_list(sim.prior)
    transitions = [(f"{a} -> {b}", _cells(sim.adata, "cell_type", a), _cells(sim.adata, "cell_type", b)) for a, b in pairs]
    return Dataset(name, transitions, prior, sim.adata.var_names, sim.reference)


def krumsiek11() -> Dataset:
    import scanpy as sc

    adata = sc.datasets.krumsiek11()
    adata.obs_names = [f"cell{i:03d}" for i in range(adata.n_obs)]  # 4 realizations reuse the names
    adata.obs["pseudotime"] = (np.arange(adata.n_obs) % 160) / 159.0
    genes = adata.var_names
    prior = pd.DataFrame([(a, b) for a in genes for b in genes if a != b], columns=["tf", "target_gene"])
    prior["sign"] = np.int8(0)
    transitions = [(f"progenitor -> {b}", _cells(adata, "cell_type", "progenitor"), _cells(adata, "cell_type", b))
                   for b in ("Ery", "Mk", "Mo", "Neu")]
    return Dataset("krumsiek11", transitions, prior, genes, krumsiek11_reference())


@functools.cache
def _hill(seed: int = 0):
    return simulate_hill(seed=seed)


def hill(layer: str, seed: int = 0) -> Dataset:
    """The Hill-kinetics simulation (benchmarks/hill_simulator.py, simulator ``seed``): its ``noise_free``
    log1p(mean) values, or its ``counts`` normalized as the workflow's ``data.normalize: true`` does."""
    from transgrn.prepare import normalize_log1p

    sim = _hill(seed)
    adata = sim.adata
    matrix = adata.layers["noise_free"] if layer == "noise_free" else normalize_log1p(adata.layers["counts"])
    transitions = [(f"{a} -> {b}", _cells(adata, "cell_type", a, matrix), _cells(adata, "cell_type", b, matrix))
                   for a, b in HILL_TRANSITIONS]
    return Dataset(f"hill_{layer}", transitions, _edge_list(sim.prior), adata.var_names, sim.reference)


GUO_STAGES = ["2C", "4C", "8C", "16C", "32C", "64C"]


def guo() -> Dataset:
    """Guo et al. 2010 (data/guo2010: qPCR of 48 genes in mouse embryos, 2- to 64-cell stage) with its
    prior (every TF of the panel to every other gene) and literature-curated signed reference: stages as
    clusters, each stage to the next, as config/guo.yaml runs it (pseudotime = log2 cell number)."""
    import anndata as ad
    import scipy.sparse as sp

    adata = ad.read_h5ad(REPO / "data/guo2010/guo2010.h5ad")
    matrix = np.asarray(adata.X.toarray() if sp.issparse(adata.X) else adata.X, dtype=np.float64)
    prior = pd.read_csv(REPO / "data/guo2010/prior.csv", dtype=str).assign(sign=np.int8(0))
    reference = pd.read_csv(REPO / "data/guo2010/reference.csv")[["tf", "target_gene", "sign"]]
    transitions = [(f"{a} -> {b}", _cells(adata, "stage", a, matrix), _cells(adata, "stage", b, matrix))
                   for a, b in zip(GUO_STAGES, GUO_STAGES[1:])]
    return Dataset("guo", transitions, prior, adata.var_names, reference)


TRAJECTORY = [("stem cell", "progenitor"), ("progenitor", "fate A"), ("progenitor", "fate B")]
BRANCH = [("progenitor", "fate A"), ("progenitor", "fate B")]
DATASETS = {
    "sim_noise0.3": lambda: simulated(TRAJECTORY, "sim_noise0.3", noise=0.3),
    "sim_noise1.0": lambda: simulated(TRAJECTORY, "sim_noise1.0", noise=1.0),
    "sim_noise2.0": lambda: simulated(TRAJECTORY, "sim_noise2.0", noise=2.0),
    "sim_branch2.0": lambda: simulated(BRANCH, "sim_branch2.0", noise=2.0),
    "sim_fast2.0": lambda: simulated(TRAJECTORY, "sim_fast2.0", noise=2.0, lag=0.05, persistence=0.8),
    "krumsiek11": krumsiek11,
    "hill_noise_free": lambda: hill("noise_free"),
    "hill_counts": lambda: hill("counts"),
    "guo": guo,
}
TRACKS = {"sim": [name for name in DATASETS if name.startswith("sim_")], "krumsiek11": ["krumsiek11"],
          "hill": ["hill_noise_free", "hill_counts"], "guo": ["guo"],
          "boolean": []}  # boolean: boolean_track() builds its own


def recovered(edges: pd.DataFrame, column: str, reference: pd.DataFrame) -> dict:
    """The package's scorer over every prior edge of the transition (``column`` is 0 where inactive)."""
    metrics = recovery_metrics(edges[["tf", "target_gene", column]].rename(columns={column: "weight"}), reference)
    keys = ("auprc_ratio", "epr", "sign_accuracy", "sign_accuracy_called")
    return {key: metrics.get(key, np.nan) for key in keys}


def dataset_clusters(dataset: Dataset) -> dict[str, CellSet]:
    """Each cluster of the data set's transitions once (labels ``source -> target``)."""
    clusters = {}
    for label, source, target in dataset.transitions:
        first, second = label.split(" -> ")
        clusters.setdefault(first, source)
        clusters.setdefault(second, target)
    return clusters


def pooled_network(dataset: Dataset, fit: FitOptions, leave_out: set[str] = frozenset()) -> PooledNetwork:
    """What the workflow's rule fit_pooled fits: the network over every cluster of the transitions
    (at most ``fit.pooled_max_cells`` cells in all, an equal share of each, seed 0), without the cells ``leave_out``."""
    clusters = dataset_clusters(dataset)
    if leave_out:
        clusters = {name: _without(cells, leave_out) for name, cells in clusters.items()}
    cells = pooled_cells(clusters.items(), cluster_share(fit.pooled_max_cells, len(clusters)), 0)
    return fit_pooled(cells, dataset.genes, dataset.prior, fit, 0)


def _without(cells: CellSet, names: set[str]) -> CellSet:
    keep = ~np.isin(cells.names, list(names))
    return CellSet(cells.names[keep], cells.matrix[keep], None if cells.pseudotime is None else cells.pseudotime[keep])


def test_cells(mapping: pd.DataFrame) -> set[str]:
    """The cells of a mapping's test pairs, on either side."""
    test = mapping[mapping["split"] == "test"]
    return set(test["source_cell"]) | set(test["target_cell"])


def fitted_transition(dataset: Dataset, label: str, source: CellSet, target: CellSet, method: str,
                      pooled: PooledNetwork | None = None) -> tuple[TransitionData, dict, tuple, FitOptions]:
    """A row's mapping and fit on one transition, as the workflow runs them: (data, mappings,
    (coefficients, intercepts, info), fit options). ``pooled`` is used by the rows with the shipped fit only."""
    options, smooth, fit = method_options(method)
    pooled = pooled if METHODS[method][2] == "defaults" else None
    source, target = smooth_clusters(source, target, smooth)
    mask = build_mask(dataset.prior, source, target, dataset.genes, options["method"])
    mcfg = {**options, "n_pcs": min(options["n_pcs"], len(dataset.genes) - 1)}
    data = TransitionData(source, target, dataset.genes, mask, **INPUTS.get(method, {}))
    mappings = {role: map_transition(source, target, role, label, MappingOptions.from_config(mcfg), 0, data) for role in ("main", "null")}
    return data, mappings, fit_transition(data, mappings, fit, pooled=pooled), fit


def run_transition(dataset: Dataset, label: str, source: CellSet, target: CellSet, method: str,
                   models: list[str], pooled: PooledNetwork | None = None, pooled_holdout: bool = False) -> list[dict]:
    """One row per model. ``pooled``: the network the defaults borrow from (rows with the shipped
    fit options only); ``pooled_holdout`` adds ``r2_test_pooled_holdout``, the held-out R^2 with the
    pooled network refitted without the transition's test cells (how much borrowing leaks them)."""
    start = time.perf_counter()
    data, mappings, (coefficients, intercepts, info), fit = fitted_transition(dataset, label, source, target, method,
                                                                               pooled)
    pooled = pooled if METHODS[method][2] == "defaults" else None
    metrics = evaluate_transition(data, mappings, coefficients, intercepts)[0]
    lag = lag_of(mappings["main"]).lag if lag_of(mappings["main"]) else np.nan
    rows = [{"model": "linear", "lag": lag, "alpha": info["alpha"],
             **recovered(ranked(coefficients, method, data, mappings["main"], dataset), "weight", dataset.reference),
             "r2_test": metrics["r2_test"], "r2_test_null": metrics["r2_test_null"],
             "borrowed_edges": int(coefficients["borrowed"].sum()), "seconds": time.perf_counter() - start}]
    if pooled is not None and pooled_holdout:
        honest = pooled_network(dataset, fit, test_cells(mappings["main"]))
        refit = fit_transition(data, mappings, fit, pooled=honest)
        rows[0]["r2_test_pooled_holdout"] = evaluate_transition(data, mappings, *refit[:2])[0]["r2_test"]
    if "mlp" in models:
        start = time.perf_counter()
        mlp_metrics, _, attribution = fit_mlp_transition(data, mappings["main"], 0, label, "cpu")
        rows.append({"model": "mlp", **recovered(attribution, "attribution", dataset.reference),
                     "r2_test": mlp_metrics["r2_test_mlp"], "r2_test_null": np.nan,
                     "seconds": time.perf_counter() - start})
    return rows


def run_baseline(dataset: Dataset, source: CellSet, target: CellSet, method: str) -> dict:
    """A baseline's row for one transition: ``BASELINES[method]`` over the cells of both clusters (what the
    same-cell designs fit), scored on the prior's edges."""
    start = time.perf_counter()
    matrix = np.vstack([np.asarray(cells.matrix, dtype=np.float64) for cells in (source, target)])
    network = TRANSITION_BASELINES[method](dataset, matrix)
    return {"model": method, **recovered(network, "weight", dataset.reference), "seconds": time.perf_counter() - start}


def merged_with_earlier(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``table`` plus the rows of an earlier results file for the (data set, method) pairs not rerun, so that
    running one track (``--tracks hill``) keeps the others' results."""
    if not path.exists():
        return table
    earlier = pd.read_csv(path)
    rerun = pd.MultiIndex.from_frame(table[["dataset", "method"]].drop_duplicates())
    keep = ~pd.MultiIndex.from_frame(earlier[["dataset", "method"]]).isin(rerun)
    return pd.concat([earlier[keep], table], ignore_index=True)


# ---------------------------------------------------------------------------------------------------
# The Boolean-logic branching track (issue 26): benchmarks/boolean_simulator.py's differentiations, run as
# a user would -- clusters = pseudotime bins on each branch, adjacent bins on a branch = the transitions,
# the shipped defaults -- and one network per data set (the workflow's run-level network, transgrn.run_network),
# scored beside baselines computed from every cell on the same edges.

BOOLEAN_BINS = 5  # pseudotime bins per branch: BOOLEAN_BINS - 1 transitions along each branch
BOOLEAN_PRIORS = ("decoys", "no_prior")  # true edges + 2 decoys per true edge; every ordered gene pair
BOOLEAN_METHODS = ("defaults", "pearson", "genie3_like", "ppcor_like")
DATASET_NETWORK = "run-level network"


def boolean_name(topology: str, dropout: bool, prior: str) -> str:
    """The data set's name in the results, e.g. ``bool_trifurcating_dropout_noprior``."""
    return f"bool_{topology}" + ("_dropout" if dropout else "") + ("_noprior" if prior == "no_prior" else "")


def pseudotime_bins(pseudotime: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width pseudotime bins over [min, max] (0 .. n_bins - 1), as a user cuts a trajectory into clusters."""
    edges = np.linspace(pseudotime.min(), pseudotime.max(), n_bins + 1)
    return np.clip(np.searchsorted(edges, pseudotime, side="right") - 1, 0, n_bins - 1)


def boolean_dataset(topology: str, dropout: bool, prior: str, seed: int = 0, n_bins: int = BOOLEAN_BINS) -> Dataset:
    """One Boolean data set (simulator ``seed``, decoys drawn with the same seed) with its clusters and transitions:
    per branch, ``n_bins`` pseudotime bins named ``branch1_t0`` ...; adjacent bins on a branch make a transition."""
    from boolean_simulator import every_pair, prior_with_decoys, simulate_boolean

    sim = simulate_boolean(topology=topology, dropout=dropout, seed=seed)
    adata = sim.adata
    bins = pseudotime_bins(adata.obs["pseudotime"].to_numpy(), n_bins)
    adata.obs["cluster"] = [f"{branch}_t{k}" for branch, k in zip(adata.obs["branch"], bins)]
    transitions = []
    for branch in sorted(adata.obs["branch"].unique()):
        for k in range(n_bins - 1):
            a, b = f"{branch}_t{k}", f"{branch}_t{k + 1}"
            transitions.append((f"{a} -> {b}", _cells(adata, "cluster", a), _cells(adata, "cluster", b)))
    genes = list(adata.var_names)
    edges = prior_with_decoys(sim.reference, genes, 2, seed) if prior == "decoys" else every_pair(genes)
    return Dataset(boolean_name(topology, dropout, prior), transitions, edges, adata.var_names, sim.reference)


def all_cells(dataset: Dataset) -> np.ndarray:
    """Every cell of the data set's clusters once (cells x genes), what the baselines see."""
    return np.vstack([cells.matrix for cells in dataset_clusters(dataset).values()])


def _on_prior(dataset: Dataset, matrix: np.ndarray) -> pd.DataFrame:
    """A genes x genes matrix (regulator rows, target columns) read at the prior's edges."""
    index = {gene: i for i, gene in enumerate(dataset.genes)}
    rows = dataset.prior["tf"].map(index).to_numpy()
    cols = dataset.prior["target_gene"].map(index).to_numpy()
    return dataset.prior[["tf", "target_gene"]].assign(weight=matrix[rows, cols])


# Each baseline scores the prior's edges from a cells x genes ``matrix``: every cell of the data set
# (``all_cells``, the Boolean track's one network per data set) or a transition's two clusters.

def pearson_network(dataset: Dataset, matrix: np.ndarray | None = None) -> pd.DataFrame:
    """Pearson correlation of regulator and target over the cells: |r| ranks, its sign signs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(all_cells(dataset) if matrix is None else matrix, rowvar=False))
    return _on_prior(dataset, corr)


def ppcor_network(dataset: Dataset, matrix: np.ndarray | None = None) -> pd.DataFrame:
    """Full-order partial correlation (PPCOR's, as BEELINE runs it: each pair given every other gene),
    from the pseudo-inverse of the correlation matrix: |rho| ranks, its sign signs."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(all_cells(dataset) if matrix is None else matrix, rowvar=False))
    precision = np.linalg.pinv(corr)
    scale = np.sqrt(np.clip(np.diag(precision), 1e-12, None))
    return _on_prior(dataset, -precision / np.outer(scale, scale))


def genie3_network(dataset: Dataset, matrix: np.ndarray | None = None, n_trees: int = 300, seed: int = 0) -> pd.DataFrame:
    """GENIE3-like (as arboreto runs it): per target an extra-trees forest (``max_features='sqrt'``) on the
    target's candidate regulators -- its prior edges --, importance ranks; the sign is the Pearson correlation's."""
    from sklearn.ensemble import ExtraTreesRegressor

    matrix = all_cells(dataset) if matrix is None else matrix
    index = {gene: i for i, gene in enumerate(dataset.genes)}
    importance = np.zeros((len(index), len(index)))
    for target, edges in dataset.prior.groupby("target_gene", sort=False):
        regulators = edges["tf"].map(index).to_numpy()
        y = matrix[:, index[target]]
        if y.std() == 0:
            continue
        forest = ExtraTreesRegressor(n_estimators=n_trees, max_features="sqrt", random_state=seed, n_jobs=1)
        forest.fit(matrix[:, regulators], y / y.std())
        importance[regulators, index[target]] = forest.feature_importances_
    with np.errstate(invalid="ignore", divide="ignore"):
        sign = np.sign(np.nan_to_num(np.corrcoef(matrix, rowvar=False)))
    return _on_prior(dataset, importance * np.where(sign == 0, 1.0, sign))


BASELINES = {"pearson": pearson_network, "genie3_like": genie3_network, "ppcor_like": ppcor_network}
# per transition (the tracks other than boolean: up to 300 targets x 15 transitions) a forest of 100 trees
TRANSITION_TREES = 100
TRANSITION_BASELINES = {**BASELINES, "genie3_like": functools.partial(genie3_network, n_trees=TRANSITION_TREES)}


def run_level_network(networks: list[pd.DataFrame], r2_tests: list[float], prior: pd.DataFrame) -> pd.DataFrame:
    """One network from a data set's transition networks, as the workflow writes it (results/network.parquet,
    :class:`transgrn.run_network.RunNetwork`): each prior edge's mean |weight| over the transitions weighted by
    their held-out R^2, signed by the summed weights (0 where no transition estimated it)."""
    from transgrn.run_network import RunNetwork

    network = RunNetwork(prior[["tf", "target_gene"]])
    for edges, r2_test in zip(networks, r2_tests):
        network.add(edges[["tf", "target_gene", "weight"]], r2_test)
    table = network.table()
    merged = prior[["tf", "target_gene"]].merge(table, on=["tf", "target_gene"], how="left")
    return merged.assign(weight=(merged["score"] * merged["sign"]).fillna(0.0))[["tf", "target_gene", "weight"]]


def transgrn_network(dataset: Dataset, method: str = "defaults") -> tuple[pd.DataFrame, dict]:
    """A recovery.py row (``method``, e.g. the shipped ``defaults``) fitted on every transition of the data set,
    borrowing from the pooled network as the workflow does; the data set's network
    (:func:`run_level_network`) and a summary of the fits (median lag and alpha, mean held-out R^2)."""
    fit = method_options(method)[2]
    pooled = pooled_network(dataset, fit) if METHODS[method][2] == "defaults" and fit.borrow_below > 0 else None
    networks, infos = [], []
    for label, source, target in dataset.transitions:
        data, mappings, (coefficients, intercepts, info), _ = fitted_transition(dataset, label, source, target,
                                                                                method, pooled)
        metrics = evaluate_transition(data, mappings, coefficients, intercepts)[0]
        lag = lag_of(mappings["main"])
        infos.append({"lag": lag.lag if lag else np.nan, "alpha": float(info["alpha"]),
                      "r2_test": metrics["r2_test"], "r2_test_null": metrics["r2_test_null"],
                      "borrowed_edges": int(coefficients["borrowed"].sum())})
        networks.append(ranked(coefficients, method, data, mappings["main"], dataset))
    summary = pd.DataFrame(infos)
    return run_level_network(networks, list(summary["r2_test"]), dataset.prior), {
        "lag": summary["lag"].median(), "alpha": summary["alpha"].median(), "r2_test": summary["r2_test"].mean(),
        "r2_test_null": summary["r2_test_null"].mean(), "borrowed_edges": int(summary["borrowed_edges"].sum())}


def boolean_track(methods=BOOLEAN_METHODS, topologies=None, dropouts=(False, True), priors=BOOLEAN_PRIORS,
                  seeds=(0,), networks: dict | None = None) -> pd.DataFrame:
    """The Boolean track's rows (one per data set, prior, seed and method; recovery_results.csv's columns plus
    ``boolean_seed`` when more than one seed is run).

    ``methods``: recovery.py rows (``defaults`` and the others of ``METHODS``, fitted with the ``transgrn`` on
    the path: put a modified checkout's ``src`` first on PYTHONPATH to score it) and baselines (``BASELINES``).
    ``networks``: more methods to score, ``name -> f(dataset) -> DataFrame(tf, target_gene, weight)`` over the
    prior's edges (``dataset.prior``; cells per cluster in ``dataset.transitions``), e.g. a candidate fit."""
    from boolean_simulator import TOPOLOGIES

    extra = networks or {}
    rows = []
    for topology in topologies or list(TOPOLOGIES):
        for dropout in dropouts:
            for prior in priors:
                for seed in seeds:
                    dataset = boolean_dataset(topology, dropout, prior, seed)
                    for method in list(methods) + list(extra):
                        start = time.perf_counter()
                        row = {"dataset": dataset.name, "method": method}
                        if len(seeds) > 1:
                            row["boolean_seed"] = seed
                        if method in extra:
                            row.update(transition="network given", model=method)
                            network = extra[method](dataset)
                        elif method in BASELINES:
                            row.update(transition="all cells", model=method)
                            network = BASELINES[method](dataset)
                        else:
                            network, info = transgrn_network(dataset, method)
                            row.update(transition=DATASET_NETWORK, model="linear", **info)
                        rows.append({**row, **recovered(network, "weight", dataset.reference),
                                     "seconds": time.perf_counter() - start})
                    print(f"done {dataset.name}" + (f" seed {seed}" if len(seeds) > 1 else ""), flush=True)
    return pd.DataFrame(rows)


def boolean_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Data set x method: AUPRC ratio, EPR and sign accuracy (means over seeds)."""
    metrics = ["auprc_ratio", "epr", "sign_accuracy"]
    table = rows.groupby(["dataset", "method"], sort=False)[metrics].mean().unstack("method")
    order = list(dict.fromkeys(rows["method"]))
    return table.reindex(columns=pd.MultiIndex.from_product([metrics, order]))


def boolean_losses(rows: pd.DataFrame, ours: str = "defaults") -> pd.DataFrame:
    """Per metric and other method (baseline or variant): on how many data sets ``ours`` is below it, and which."""
    means = rows.groupby(["dataset", "method"], sort=False)[["auprc_ratio", "epr", "sign_accuracy"]].mean()
    out = []
    for metric in means.columns:
        wide = means[metric].unstack("method")
        for method in wide.columns.drop(ours):
            below = wide.index[wide[ours] < wide[method]]
            out.append({"metric": metric, "other": method, "ours_below": f"{len(below)} of {len(wide)}",
                        "data_sets": ", ".join(f"{name} ({wide.loc[name, ours]:.2f} vs {wide.loc[name, method]:.2f})"
                                               for name in below)})
    return pd.DataFrame(out)


def print_boolean(rows: pd.DataFrame) -> None:
    """The Boolean track's table (data set x method) and where the defaults lose to each baseline."""
    table = boolean_table(rows)
    table.columns = [f"{metric} {method}" for metric, method in table.columns]
    print(table.reset_index().to_markdown(index=False, floatfmt=".2f"))
    if "defaults" in set(rows["method"]) and rows["method"].nunique() > 1:
        print(boolean_losses(rows).to_markdown(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", default=",".join(TRACKS), help=f"data set groups: {', '.join(TRACKS)}")
    parser.add_argument("--datasets", default=None, help="data sets (overrides --tracks)")
    parser.add_argument("--methods", default=None,
                        help=f"rows to run (default: every mapping row; on the boolean track {','.join(BOOLEAN_METHODS)}); "
                             f"the baselines {','.join(BASELINES)} may be named on every track (per transition there)")
    parser.add_argument("--models", default="linear,mlp")
    parser.add_argument("--out", default="benchmarks/recovery_results.csv")
    parser.add_argument("--pooled-holdout", action="store_true",
                        help="for the defaults row, also the held-out R^2 with the pooled network fitted without the "
                             "transition's test cells (column r2_test_pooled_holdout)")
    parser.add_argument("--differential", action="store_true",
                        help="also the differential track (benchmarks/differential.py): calibration on siblings with the "
                             "same network and recovery of planted branch-specific edges, 3 seeds (about 5 min)")
    parser.add_argument("--hill-seeds", default=None,
                        help="Hill simulator seeds, e.g. 0,1,2,3,4: each hill data set once per seed, in column hill_seed "
                             "(default: seed 0 only, no such column); one seed's recovery varies, so judge the mean")
    parser.add_argument("--variant", action="append", default=[],
                        help="also a row of the shipped defaults with settings changed, e.g. fit.self_term=true "
                             "(comma-separated; repeatable); named defaults[<settings>]")
    parser.add_argument("--boolean-seeds", default="0",
                        help="Boolean simulator seeds, e.g. 0,1,2 (column boolean_seed when more than one; "
                             "the table shows means)")
    parser.add_argument("--boolean-topologies", default=None, help="Boolean topologies (default: all four)")
    parser.add_argument("--boolean-priors", default=",".join(BOOLEAN_PRIORS), help="decoys, no_prior or both")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # as in the workflow's jobs (threads: 1); more threads only contend on small fits
    variants = [defaults_variant(settings) for settings in args.variant]
    models = args.models.split(",")
    rows = []
    names = args.datasets.split(",") if args.datasets else [name for track in args.tracks.split(",") for name in TRACKS[track]]
    hill_seeds = [int(seed) for seed in args.hill_seeds.split(",")] if args.hill_seeds else None
    for name, seed in dataset_runs(names, hill_seeds):
        dataset = DATASETS[name]() if seed is None else hill(name.removeprefix("hill_"), seed)
        shipped_fit = FitOptions.from_config(shipped_defaults()[1])
        pooled = pooled_network(dataset, shipped_fit) if shipped_fit.borrow_below > 0 else None
        seed_column = {} if hill_seeds is None else {"hill_seed": seed}
        for method in (args.methods.split(",") + variants if args.methods else list(METHODS)):
            if method in BASELINES:
                for label, source, target in dataset.transitions:
                    rows.append({"dataset": name, **seed_column, "method": method, "transition": label,
                                 **run_baseline(dataset, source, target, method)})
                print(f"done {name} {method}" + ("" if seed is None else f" seed {seed}"), flush=True)
                continue
            wanted = models if method in MLP_METHODS else ["linear"]
            fit = method_options(method)[2]
            borrowed = pooled_network(dataset, fit) if method in FIT_OVERRIDES and fit.borrow_below > 0 else pooled
            for label, source, target in dataset.transitions:
                for row in run_transition(dataset, label, source, target, method, wanted, borrowed, args.pooled_holdout):
                    rows.append({"dataset": name, **seed_column, "method": method, "transition": label, **row})
            print(f"done {name} {method}" + ("" if seed is None else f" seed {seed}"), flush=True)
    table = pd.DataFrame(rows)
    if rows:
        keys = ["dataset", "method", "model"] if hill_seeds is None else ["dataset", "hill_seed", "method", "model"]
        columns = ["auprc_ratio", "epr", "sign_accuracy", "sign_accuracy_called", "r2_test", "seconds"]
        summary = table.groupby(keys, sort=False, dropna=False)[
            [column for column in columns if column in table]].mean().reset_index()  # baselines: no r2_test
        print(summary.to_markdown(index=False, floatfmt=".3f"))
    if "boolean" in args.tracks.split(",") and not args.datasets:
        boolean = boolean_track((args.methods.split(",") if args.methods else list(BOOLEAN_METHODS)) + variants,
                                args.boolean_topologies.split(",") if args.boolean_topologies else None,
                                priors=args.boolean_priors.split(","),
                                seeds=[int(seed) for seed in args.boolean_seeds.split(",")])
        print_boolean(boolean)
        table = pd.concat([table, boolean], ignore_index=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    merged_with_earlier(table, Path(args.out)).to_csv(args.out, index=False, float_format="%.4g")
    if args.differential:
        differential_track()


def dataset_runs(names: list[str], hill_seeds: list[int] | None) -> list[tuple[str, int | None]]:
    """(data set, Hill simulator seed) pairs to run: each hill data set once per seed of ``hill_seeds``,
    everything else (and every data set without ``hill_seeds``) once with seed None (its own default)."""
    return [(name, seed) for name in names
            for seed in (hill_seeds if hill_seeds and name.startswith("hill_") else [None])]


def differential_track(seeds=(0, 1, 2), n_boot: int = 20) -> None:
    """Issue #13's criteria, measured by benchmarks/differential.py's functions: under the null
    (sibling transitions with the same network) the share of edges called at q <= 0.1 and the
    p-values' distance from uniform; with 40 planted branch-specific edges, AUPRC ratio and recall
    at q <= 0.1 (noise 0.3, at the demo's 1,600 cells and at 3,000)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from differential import calibration, planted

    # the shipped standard error: the bootstrap moderated over TFs (differential.py compares the others)
    null = calibration(list(seeds), n_boot)
    null = null[null["moderation"] == "tf"]
    print(null.groupby("design")[["share_q<=0.1", "share_p<0.05", "ks_distance"]].agg(["mean", "max"])
          .to_markdown(floatfmt=".4f"))
    # fates: the demo's own (its simulation with the planted edges) and symmetric ones (only the planted
    # edges differ; a stricter test)
    found = planted(list(seeds), n_boot, [1600, 3000])
    found = found[found["moderation"] == "tf"]
    print(found.groupby(["fates", "n_cells"])[["auprc_ratio", "recall_q<=0.1", "calls"]].agg(["mean", "min"])
          .to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
