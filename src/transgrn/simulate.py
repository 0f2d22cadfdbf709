"""A differentiation simulator with a known signed TF -> target network.

Cells are snapshots of a branching trajectory (``stem cell -> progenitor -> fate A | fate B``).
Each TF follows a program along pseudotime plus a cell-specific deviation that persists
over time (an Ornstein-Uhlenbeck process, correlated ``persistence`` between ``t - lag`` and
``t``). Each target's log-expression is a signed linear function of its regulators' activity
``lag`` earlier (0.15 of the trajectory by default: about the time a cell takes to cross a
cluster boundary), so TF levels in an earlier state drive target levels in a later one, which
is what a transition GRN models. Counts are
Poisson around the log-expression, and ``X`` is log-normalized as scanpy does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


@dataclass
class Simulation:
    adata: "anndata.AnnData"  # noqa: F821 (imported lazily)
    prior: pd.DataFrame  # wide 0/1, TFs x genes
    reference: pd.DataFrame  # tf, target_gene, sign, weight


def _tf_programs(rng: np.random.Generator, n_tfs: int) -> tuple[np.ndarray, np.ndarray]:
    """Kind (0 down, 1 transient, 2 up in fate A, 3 up in fate B) and centre of each TF's program."""
    kinds = np.arange(n_tfs) % 4
    rng.shuffle(kinds)
    centres = rng.uniform(0.15, 0.85, n_tfs)
    return kinds, centres


def _program(pseudotime: np.ndarray, branch: np.ndarray, kinds: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Program value of every TF in every cell (cells x TFs), amplitude about 1.5."""
    t = pseudotime[:, None]
    rise = 1.0 / (1.0 + np.exp(-(t - np.maximum(centres, BRANCH_POINT)) / 0.07))
    down = 1.0 - 1.0 / (1.0 + np.exp(-(t - centres) / 0.07))
    bump = np.exp(-0.5 * ((t - centres) / 0.12) ** 2)
    in_a = (branch == 0)[:, None]
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
    activity_before = _program(np.clip(pseudotime - lag, 0, 1), branch, kinds, centres) + dev_before
    activity_now = _program(pseudotime, branch, kinds, centres) + dev_now

    tf_base = rng.uniform(np.log(8.0), np.log(30.0), p.n_tfs)
    target_base = rng.uniform(np.log(8.0), np.log(30.0), p.n_targets)
    log_tf = tf_base + 0.8 * activity_now
    log_target = target_base + 0.8 * activity_before @ weights
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
    adata.uns["simulation"] = {k: v for k, v in asdict(p).items()}

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
    return Simulation(adata=adata, prior=prior, reference=reference)


def write_simulation(sim: Simulation, adata_path: str, prior_path: str, reference_path: str) -> None:
    """Write the demo inputs: .h5ad, wide prior CSV (TFs x genes) and reference edge list."""
    from .io import atomic_path

    with atomic_path(adata_path) as tmp:
        sim.adata.write_h5ad(tmp)
    with atomic_path(prior_path) as tmp:
        sim.prior.to_csv(tmp, index_label="tf")
    with atomic_path(reference_path) as tmp:
        sim.reference.to_csv(tmp, index=False, float_format="%.6g")
