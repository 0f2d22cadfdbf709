"""A second differentiation simulator, with kinetics unlike ``transgrn.simulate``'s, for the recovery benchmark.

``transgrn.simulate`` makes targets a *linear* function (in log space) of their TFs' activity a
fixed lag earlier. A method tuned to that design could win on it by construction, so this model
follows SERGIO / BoolODE instead (written independently of ``transgrn.simulate``):

* **A cluster tree.** ``root -> mid -> A1 -> A2`` and ``mid -> B1 -> B2`` (6 clusters). A cell's
  pseudotime places it on the path; the branch is drawn per cell. Cluster boundaries are at
  pseudotime 0.2, 0.45 and 0.7.
* **Master regulators with cluster switches.** Each of the 12 TFs has a production rate per
  cluster that is either on (random amplitude) or off (a leak of 0.3% of it: the noise-free level stays positive,
  while its counts are zero in most or all cells of the cluster). States are inherited down the
  tree and flipped at random, with every TF switching at least once, so regulators are switched off
  in whole clusters and many switch on between a source cluster and its child (the usual case of a
  master regulator: off in A, on in B). Each cell also carries a persistent per-TF production
  multiplier (log-normal), the between-cell variation that identifies regulators.
* **Hill-type saturating regulation.** Each of the 88 targets has 1-3 regulating TFs; its
  production is ``basal + sum_i v_i * h_i(TF_i)`` with ``h`` an activating ``x^n / (K^n + x^n)``
  or repressing ``K^n / (K^n + x^n)`` Hill function (``K`` and ``n`` random per edge).
* **Regulatory delay.** Every gene follows ``dx/dt = production - decay * x`` plus intrinsic
  (chemical-Langevin, ``sqrt(x)``-scaled) noise, integrated by Euler steps along the time course;
  each cell is read out at its own pseudotime. Targets therefore respond to their TFs with their own
  time constants (``1 / decay``), not with one fixed lag.
* **Technical noise.** Counts are negative-binomial around ``library size x mean`` (log-normal
  library sizes) with logistic, expression-dependent dropout (SERGIO's dropout model).

Outputs: the noise-free expression ``log1p(mean)`` (layer ``noise_free``) and the noisy counts
(``X`` and layer ``counts``); a wide 0/1 prior (TFs x genes) holding every true edge plus random
decoys so that ~28% of its edges are true; the signed reference. :func:`write_hill` writes them in
the layout of :func:`transgrn.simulate.write_simulation` (run the workflow on the counts with
``data.normalize: true``, or on the noise-free values with ``data.layer: noise_free``).

    python benchmarks/hill_simulator.py --outdir /tmp/hill   # adata.h5ad, prior.csv, reference.csv
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CLUSTER_KEY = "cell_type"
PSEUDOTIME_KEY = "pseudotime"
# (cluster, parent, first pseudotime, branch): the tree's clusters in order
CLUSTERS = [("root", None, 0.0, None), ("mid", "root", 0.2, None), ("A1", "mid", 0.45, "A"), ("A2", "A1", 0.7, "A"),
            ("B1", "mid", 0.45, "B"), ("B2", "B1", 0.7, "B")]
TRANSITIONS = [("root", "mid"), ("mid", "A1"), ("A1", "A2"), ("mid", "B1"), ("B1", "B2")]


@dataclass(frozen=True)
class HillParams:
    n_cells: int = 1500
    n_tfs: int = 12
    n_targets: int = 88  # 100 genes with the TFs
    true_fraction: float = 0.28  # of the prior's edges
    duration: float = 20.0  # simulated time units over pseudotime 0..1 (target decay 0.4-2 per unit)
    dt: float = 0.05
    off_leak: float = 0.003  # production of a switched-off TF, as a fraction of its on-rate (SERGIO's basal)
    cell_variation: float = 0.35  # sd of the log per-cell, per-TF production multiplier
    intrinsic_noise: float = 0.4  # Langevin noise scale (x sqrt(x))
    library_sd: float = 0.35
    dispersion: float = 5.0  # NB size (variance = mu + mu^2 / dispersion)
    dropout_slope: float = 1.5
    dropout_quantile: float = 35.0  # percentile of log1p(mean counts) at which a count is dropped half the time
    depth: float = 1.0  # expected counts per unit of expression
    seed: int = 0


@dataclass
class HillSimulation:
    adata: "anndata.AnnData"  # noqa: F821 (imported lazily)
    prior: pd.DataFrame  # wide 0/1, TFs x genes
    reference: pd.DataFrame  # tf, target_gene, sign, weight (Hill amplitude), K, n


def _switches(rng: np.random.Generator, n_tfs: int) -> np.ndarray:
    """On/off state (clusters x TFs): inherited from the parent cluster, flipped with probability 0.4;
    a TF that never switches gets one cluster flipped, so every TF is off in some whole cluster."""
    index = {name: i for i, (name, *_rest) in enumerate(CLUSTERS)}
    on = np.zeros((len(CLUSTERS), n_tfs), dtype=bool)
    for i, (_name, parent, _start, _branch) in enumerate(CLUSTERS):
        inherited = rng.random(n_tfs) < 0.5 if parent is None else on[index[parent]]
        on[i] = inherited ^ (rng.random(n_tfs) < 0.4)
    constant = on.all(0) | (~on).all(0)
    for k in np.flatnonzero(constant):
        on[rng.integers(1, len(CLUSTERS)), k] ^= True
    return on


def _network(rng: np.random.Generator, p: HillParams, tf_level: np.ndarray) -> pd.DataFrame:
    """Edges (tf, target, sign, amplitude v, half-max K, Hill n); K is drawn around the TF's on-level."""
    rows = []
    for j in range(p.n_targets):
        n_reg = int(rng.integers(1, 4))
        for k in rng.choice(p.n_tfs, n_reg, replace=False):
            rows.append({"tf": int(k), "target": j, "sign": int(rng.choice([-1, 1])), "v": rng.uniform(8.0, 25.0),
                         "K": tf_level[k] * rng.uniform(0.25, 0.75), "n": rng.uniform(1.5, 4.0)})
    return pd.DataFrame(rows)


def _cluster_of(pseudotime: np.ndarray, branch: np.ndarray) -> np.ndarray:
    """Index into CLUSTERS of each (pseudotime, branch)."""
    out = np.zeros(len(pseudotime), dtype=int)
    for i, (_name, _parent, start, side) in enumerate(CLUSTERS):
        out[(pseudotime >= start) & ((branch == side) if side else True)] = i
    return out


def _simulate_paths(rng: np.random.Generator, p: HillParams, on: np.ndarray, tf_rate: np.ndarray,
                    tf_decay: np.ndarray, edges: pd.DataFrame, basal: np.ndarray, decay: np.ndarray,
                    branch: np.ndarray, readout: np.ndarray) -> np.ndarray:
    """Euler-Maruyama of every cell's genes (cells x (TFs + targets)) from time 0 to its readout step."""
    n_steps = int(round(p.duration / p.dt))
    n_cells = len(branch)
    multiplier = np.exp(rng.normal(0.0, p.cell_variation, (n_cells, p.n_tfs)))
    tf_k, tg, sign = edges["tf"].to_numpy(), edges["target"].to_numpy(), edges["sign"].to_numpy()
    v, K, n = edges["v"].to_numpy(), edges["K"].to_numpy(), edges["n"].to_numpy()
    onto_target = np.zeros((len(edges), p.n_targets))
    onto_target[np.arange(len(edges)), tg] = v  # sums each target's Hill terms, weighted by their amplitude
    cluster_rate = np.where(on, 1.0, p.off_leak) * tf_rate  # clusters x TFs
    tf = cluster_rate[0] * multiplier / tf_decay  # start at the root's steady state
    target = np.zeros((n_cells, p.n_targets))
    out = np.zeros((n_cells, p.n_tfs + p.n_targets))
    sqdt = np.sqrt(p.dt)
    by_branch = {side: np.flatnonzero(branch == side) for side in ("A", "B")}
    cluster = np.zeros(n_cells, dtype=int)
    for step in range(n_steps + 1):
        done = readout == step
        out[done] = np.hstack([tf[done], target[done]])
        if step == n_steps:
            break
        for side, cells in by_branch.items():
            cluster[cells] = _cluster_of(np.array([step / n_steps]), np.array([side]))[0]
        ratio = (np.maximum(tf[:, tf_k], 0.0) / K) ** n
        hill = np.where(sign > 0, ratio / (1.0 + ratio), 1.0 / (1.0 + ratio))
        production = basal + hill @ onto_target
        tf_drift = cluster_rate[cluster] * multiplier - tf_decay * tf
        tg_drift = production - decay * target
        tf = np.maximum(tf + tf_drift * p.dt + p.intrinsic_noise * np.sqrt(np.maximum(tf, 0.0)) * sqdt
                        * rng.normal(size=tf.shape), 0.0)
        target = np.maximum(target + tg_drift * p.dt + p.intrinsic_noise * np.sqrt(np.maximum(target, 0.0)) * sqdt
                            * rng.normal(size=target.shape), 0.0)
    return out


def _counts(rng: np.random.Generator, p: HillParams, mean: np.ndarray) -> np.ndarray:
    """Negative-binomial counts around library size x mean, then logistic dropout."""
    library = np.exp(rng.normal(0.0, p.library_sd, (mean.shape[0], 1)))
    mu = np.maximum(mean * library * p.depth, 1e-8)
    counts = rng.negative_binomial(p.dispersion, p.dispersion / (p.dispersion + mu))
    log_mu = np.log1p(mu)
    keep = rng.random(mu.shape) < 1.0 / (1.0 + np.exp(-p.dropout_slope * (log_mu - np.percentile(log_mu, p.dropout_quantile))))
    return (counts * keep).astype(np.float32)


def simulate_hill(params: HillParams | None = None, **overrides) -> HillSimulation:
    """Simulate the cluster-tree differentiation with Hill-type regulation (module docstring)."""
    import anndata as ad

    p = params or HillParams()
    if overrides:
        p = HillParams(**{**asdict(p), **overrides})
    rng = np.random.default_rng(p.seed)
    on = _switches(rng, p.n_tfs)
    tf_decay = rng.uniform(0.5, 1.5, p.n_tfs)
    tf_level = rng.uniform(8.0, 40.0, p.n_tfs)  # steady state when on
    edges = _network(rng, p, tf_level)
    basal = rng.uniform(0.5, 3.0, p.n_targets)
    decay = rng.uniform(0.4, 2.0, p.n_targets)

    n_steps = int(round(p.duration / p.dt))
    pseudotime = np.sort(rng.uniform(0.0, 1.0, p.n_cells))
    readout = np.round(pseudotime * n_steps).astype(int)
    branch = np.where(rng.random(p.n_cells) < 0.5, "A", "B")
    mean = _simulate_paths(rng, p, on, tf_level * tf_decay, tf_decay, edges, basal, decay, branch, readout)
    counts = _counts(rng, p, mean)

    tf_names = [f"TF{k + 1:02d}" for k in range(p.n_tfs)]
    target_names = [f"G{j + 1:03d}" for j in range(p.n_targets)]
    genes = tf_names + target_names
    labels = np.array([CLUSTERS[i][0] for i in _cluster_of(pseudotime, branch)])
    obs = pd.DataFrame({CLUSTER_KEY: pd.Categorical(labels, categories=[c[0] for c in CLUSTERS]),
                        PSEUDOTIME_KEY: pseudotime, "branch": np.where(pseudotime < 0.45, "trunk", branch)},
                       index=[f"cell{i:05d}" for i in range(p.n_cells)])
    adata = ad.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["counts"] = counts.copy()
    adata.layers["noise_free"] = np.log1p(mean).astype(np.float32)
    adata.var["is_tf"] = [g in set(tf_names) for g in genes]
    adata.uns["simulation"] = {**asdict(p), "tf_on": on.astype(int).tolist(), "clusters": [c[0] for c in CLUSTERS]}

    reference = pd.DataFrame({"tf": np.array(tf_names)[edges["tf"]], "target_gene": np.array(target_names)[edges["target"]],
                              "sign": edges["sign"].to_numpy(), "weight": edges["sign"] * edges["v"],
                              "K": edges["K"].to_numpy(), "n": edges["n"].to_numpy()})
    prior = pd.DataFrame(0, index=tf_names, columns=genes, dtype=np.int8)
    truth = np.zeros((p.n_tfs, p.n_targets), dtype=bool)
    truth[edges["tf"], edges["target"]] = True
    n_decoys = int(round(truth.sum() * (1.0 - p.true_fraction) / p.true_fraction))
    free = np.flatnonzero(~truth.ravel())
    decoys = rng.choice(free, min(n_decoys, len(free)), replace=False)
    wide = truth.ravel().copy()
    wide[decoys] = True
    prior.loc[:, target_names] = wide.reshape(truth.shape).astype(np.int8)
    return HillSimulation(adata=adata, prior=prior, reference=reference)


def write_hill(sim: HillSimulation, outdir: str | Path) -> None:
    """``adata.h5ad`` (counts in X, ``noise_free`` layer), ``prior.csv`` and ``reference.csv``, as the demo writes them."""
    from transgrn.simulate import Simulation, write_simulation

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    write_simulation(Simulation(sim.adata, sim.prior, sim.reference), str(outdir / "adata.h5ad"),
                     str(outdir / "prior.csv"), str(outdir / "reference.csv"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_hill(simulate_hill(seed=args.seed), args.outdir)


if __name__ == "__main__":
    main()
