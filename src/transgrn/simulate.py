"""A differentiation simulator with a known signed TF -> target network.

Cells are snapshots of a branching trajectory (``stem cell -> progenitor -> fate A | fate B``).
Each TF follows a program along pseudotime plus a cell-specific deviation that persists
over time (an Ornstein-Uhlenbeck process, correlated ``persistence`` between ``t - lag`` and
``t``). Each target's log-expression is a signed linear function of its regulators' activity
``lag`` earlier (0.15 of the trajectory by default: about the time a cell takes to cross a
cluster boundary), so TF levels in an earlier state drive target levels in a later one, which
is what a transition GRN models. Counts are
Poisson around the log-expression, and ``X`` is log-normalized as scanpy does.

Two options serve the differential test between transitions (:mod:`transgrn.differential`); at
their defaults the simulation is exactly what it was without them:

* ``branch_edges`` plants that many branch-specific edges: prior decoys (in the prior, but not
  regulating anywhere else) that regulate their target only in the cells of one fate (alternately
  fate A and fate B). They are ``Simulation.differential`` (``tf, target_gene, branch, weight``);
  ``Simulation.reference`` stays the network shared by every cell.
* ``symmetric_branches`` gives the fate-specific TF programs the same course in both fates, so
  that the cells of fate A and fate B are draws from one distribution: ``progenitor -> fate A``
  and ``progenitor -> fate B`` then have the same network and the same design by construction
  (the null of the differential test), apart from any planted ``branch_edges``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

CLUSTER_KEY = "cell_type"
PSEUDOTIME_KEY = "pseudotime"
BRANCH_POINT = 0.45


@dataclass(frozen=True)
class SimulationParams:
    n_cells: int = 1600
    n_tfs: int = 30
    n_targets: int = 300
    regulators_per_target: int = 3
    decoys_per_target: int = 6
    noise: float = 0.3
    deviation_scale: float = 0.6
    persistence: float = 0.5
    lag: float = 0.15
    seed: int = 0
    branch_edges: int = 0
    symmetric_branches: bool = False


# Options added after the demo was fixed: recorded in ``uns`` only when set, so that the default
# simulation (and the demo's files) stay byte-identical.
LATER_OPTIONS = {"branch_edges": 0, "symmetric_branches": False}
DIFFERENTIAL_COLUMNS = ["tf", "target_gene", "branch", "weight"]


@dataclass
class Simulation:
    adata: "anndata.AnnData"  # noqa: F821 (imported lazily)
    prior: pd.DataFrame  # wide 0/1, TFs x genes
    reference: pd.DataFrame  # tf, target_gene, sign, weight
    # planted branch-specific edges: tf, target_gene, branch ("A" or "B"), weight (empty by default)
    differential: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIFFERENTIAL_COLUMNS))


def _tf_programs(rng: np.random.Generator, n_tfs: int) -> tuple[np.ndarray, np.ndarray]:
    """Kind (0 down, 1 transient, 2 up in fate A, 3 up in fate B) and centre of each TF's program."""
    kinds = np.arange(n_tfs) % 4
    rng.shuffle(kinds)
    centres = rng.uniform(0.15, 0.85, n_tfs)
    return kinds, centres


def _program(pseudotime: np.ndarray, branch: np.ndarray, kinds: np.ndarray, centres: np.ndarray,
             symmetric: bool = False) -> np.ndarray:
    """Program value of every TF in every cell (cells x TFs), amplitude about 1.5. With ``symmetric``
    the fate-specific programs (kinds 2 and 3) rise in both fates."""
    t = pseudotime[:, None]
    rise = 1.0 / (1.0 + np.exp(-(t - np.maximum(centres, BRANCH_POINT)) / 0.07))
    down = 1.0 - 1.0 / (1.0 + np.exp(-(t - centres) / 0.07))
    bump = np.exp(-0.5 * ((t - centres) / 0.12) ** 2)
    in_a = (branch == 0)[:, None] | symmetric
    values = np.select(
        [kinds == 0, kinds == 1, kinds == 2, kinds == 3],
        [down, bump, rise * in_a, rise * ~in_a],
    )
    return 1.5 * values


def _network(rng: np.random.Generator, p: SimulationParams) -> tuple[np.ndarray, np.ndarray]:
    """True signed weights (TFs x targets) and the prior mask (true edges plus decoys)."""
    weights = np.zeros((p.n_tfs, p.n_targets))
    prior = np.zeros((p.n_tfs, p.n_targets), dtype=bool)
    n_reg = min(p.regulators_per_target, p.n_tfs)
    for j in range(p.n_targets):
        chosen = rng.permutation(p.n_tfs)
        regulators = chosen[:n_reg]
        decoys = chosen[n_reg : n_reg + p.decoys_per_target]
        weights[regulators, j] = rng.choice([-1.0, 1.0], n_reg) * rng.uniform(0.5, 1.0, n_reg)
        prior[regulators, j] = True
        prior[decoys, j] = True
    return weights, prior


def _branch_weights(p: SimulationParams, weights: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """``p.branch_edges`` decoy edges of the prior (no shared weight) that regulate only in one fate:
    per-branch weights ``(2, TFs, targets)`` (index 0 fate A, 1 fate B) and their table.

    Drawn from their own stream, so the rest of the simulation is the same with or without them.
    """
    from .seeds import rng_for

    decoys = np.argwhere(prior & (weights == 0))
    if p.branch_edges > len(decoys):
        raise ValueError(f"branch_edges={p.branch_edges} exceeds the {len(decoys)} decoy edges of the prior; "
                         "lower branch_edges or raise decoys_per_target")
    rng = rng_for(p.seed, "simulate", "branch_edges")
    chosen = decoys[np.sort(rng.permutation(len(decoys))[: p.branch_edges])]
    values = rng.choice([-1.0, 1.0], len(chosen)) * rng.uniform(0.5, 1.0, len(chosen))
    side = np.arange(len(chosen)) % 2  # alternately fate A (0) and fate B (1)
    per_branch = np.zeros((2, *weights.shape))
    per_branch[side, chosen[:, 0], chosen[:, 1]] = values
    table = pd.DataFrame({"tf": chosen[:, 0], "target_gene": chosen[:, 1], "branch": np.where(side == 0, "A", "B"),
                          "weight": values})
    return per_branch, table


def simulate(params: SimulationParams | None = None, **overrides) -> Simulation:
    """Simulate a branching differentiation data set with ground truth."""
    import anndata as ad

    p = params or SimulationParams()
    if overrides:
        p = SimulationParams(**{**asdict(p), **overrides})
    rng = np.random.default_rng(p.seed)
    kinds, centres = _tf_programs(rng, p.n_tfs)
    weights, prior_mask = _network(rng, p)

    pseudotime = np.sort(rng.uniform(0.0, 1.0, p.n_cells))
    branch = rng.integers(0, 2, p.n_cells)
    lag = p.lag
    # OU deviation at (t - lag) and at t: stationary, correlated by `persistence`.
    dev_before = rng.normal(0.0, p.deviation_scale, (p.n_cells, p.n_tfs))
    dev_now = p.persistence * dev_before + np.sqrt(1 - p.persistence**2) * rng.normal(
        0.0, p.deviation_scale, (p.n_cells, p.n_tfs)
    )
    symmetric = p.symmetric_branches
    activity_before = _program(np.clip(pseudotime - lag, 0, 1), branch, kinds, centres, symmetric) + dev_before
    activity_now = _program(pseudotime, branch, kinds, centres, symmetric) + dev_now

    tf_base = rng.uniform(np.log(8.0), np.log(30.0), p.n_tfs)
    target_base = rng.uniform(np.log(8.0), np.log(30.0), p.n_targets)
    log_tf = tf_base + 0.8 * activity_now
    log_target = target_base + 0.8 * activity_before @ weights
    differential = pd.DataFrame(columns=DIFFERENTIAL_COLUMNS)
    if p.branch_edges:  # a fate's own edges act in the cells of that fate (after the branch point)
        per_branch, differential = _branch_weights(p, weights, prior_mask)
        for side in (0, 1):
            in_fate = (pseudotime >= BRANCH_POINT) & (branch == side)
            log_target[in_fate] += 0.8 * activity_before[in_fate] @ per_branch[side]
    log_target += rng.normal(0.0, p.noise, log_target.shape)
    log_mean = np.hstack([log_tf, log_target])

    size_factor = rng.lognormal(0.0, 0.25, (p.n_cells, 1))
    counts = rng.poisson(size_factor * np.exp(log_mean)).astype(np.float32)
    totals = counts.sum(axis=1, keepdims=True)
    lognorm = np.log1p(counts / np.maximum(totals, 1.0) * 1e4).astype(np.float32)

    tf_names = [f"TF{k + 1:02d}" for k in range(p.n_tfs)]
    target_names = [f"G{j + 1:03d}" for j in range(p.n_targets)]
    genes = tf_names + target_names
    labels = np.where(
        pseudotime < 0.2,
        "stem cell",
        np.where(pseudotime < BRANCH_POINT, "progenitor", np.where(branch == 0, "fate A", "fate B")),
    )
    order = ["stem cell", "progenitor", "fate A", "fate B"]
    obs = pd.DataFrame(
        {
            CLUSTER_KEY: pd.Categorical(labels, categories=order),
            PSEUDOTIME_KEY: pseudotime,
            "branch": np.where(pseudotime < BRANCH_POINT, "trunk", np.where(branch == 0, "A", "B")),
        },
        index=[f"cell{i:05d}" for i in range(p.n_cells)],
    )
    adata = ad.AnnData(X=lognorm, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["counts"] = counts
    adata.var["is_tf"] = [g in set(tf_names) for g in genes]
    adata.uns["simulation"] = {k: v for k, v in asdict(p).items() if k not in LATER_OPTIONS or v != LATER_OPTIONS[k]}

    prior = pd.DataFrame(0, index=tf_names, columns=genes, dtype=np.int8)
    prior.loc[:, target_names] = prior_mask.astype(np.int8)
    tf_idx, tg_idx = np.nonzero(weights)
    reference = pd.DataFrame(
        {
            "tf": np.array(tf_names)[tf_idx],
            "target_gene": np.array(target_names)[tg_idx],
            "sign": np.sign(weights[tf_idx, tg_idx]).astype(int),
            "weight": weights[tf_idx, tg_idx],
        }
    )
    if len(differential):
        differential["tf"] = np.array(tf_names)[differential["tf"].to_numpy(dtype=int)]
        differential["target_gene"] = np.array(target_names)[differential["target_gene"].to_numpy(dtype=int)]
    return Simulation(adata=adata, prior=prior, reference=reference, differential=differential)


def write_simulation(sim: Simulation, adata_path: str, prior_path: str, reference_path: str) -> None:
    """Write the demo inputs: .h5ad, wide prior CSV (TFs x genes) and reference edge list."""
    from .io import atomic_path

    with atomic_path(adata_path) as tmp:
        sim.adata.write_h5ad(tmp)
    with atomic_path(prior_path) as tmp:
        sim.prior.to_csv(tmp, index_label="tf")
    with atomic_path(reference_path) as tmp:
        sim.reference.to_csv(tmp, index=False, float_format="%.6g")
