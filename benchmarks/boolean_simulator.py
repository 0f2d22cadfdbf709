"""Branching differentiations simulated from Boolean regulatory logic, for the recovery benchmark.

The style of BoolODE (Pratapa et al. 2020, Nat Methods 17:147), written independently of it, with our
own rule tables: every gene's production is a Boolean rule of its regulators (``and``, ``or``,
``not``), made continuous, and expression follows a stochastic differential equation:

* **Logic as production.** A regulator's input is a Hill function ``h(x) = x^n / (K^n + x^n)``
  (``K`` and ``n`` drawn per edge); the rule is evaluated in fuzzy logic: ``not a = 1 - a``,
  ``a and b = a * b``, ``a or b = a + b - a * b``. So a target under ``A and B`` stays low while either
  is off, and one under ``A and not C`` is switched off by ``C`` -- regulation that is logic, not a line.
* **Kinetics.** ``dx = (m * (basal + (1 - basal) * f(x)) - l * x) dt + s * sqrt(m f + l x) dW``
  (a chemical-Langevin noise term; production ``m`` = decay ``l`` per gene, so an on gene sits near 1).
  Euler-Maruyama steps from an initial state where only the start gene is on.
* **Branching.** Fate genes that activate themselves and repress each other (toggle switches) make
  the trajectory branch where noise breaks the tie; each cell is its own trajectory, read out at a
  uniform random time. Pseudotime = the simulation time / duration; a cell's ``branch`` is the fate
  gene that won on its trajectory (its largest level over the whole run), for trunk cells too, as in
  BEELINE's synthetic data sets (one pseudotime per branch).
* **Dropout** (optional): per gene, each value below the gene's median is set to 0 with probability 0.5.

Topologies (``TOPOLOGIES``): ``bifurcating`` (10 genes, 2 fates), ``bifurcating_converging``
(12 genes, 2 fates that a shared late program later switches off), ``trifurcating`` (11 genes,
3 fates), ``linear_long`` (12 genes, a relay of latches: each gene is set by the one before it and
reset by the one three after it, the last three latched for good). The reference network is every (regulator, target) pair of a rule
with the regulator's sign: ``-1`` under an odd number of ``not``, else ``+1``; self-loops (the
latches' memory) are left out of the reference, as krumsiek11's are in benchmarks/recovery.py.

    python benchmarks/boolean_simulator.py --topology bifurcating --outdir /tmp/bf   # adata.h5ad, prior.csv, reference.csv
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

# Our rule tables: target -> Boolean rule over the genes (Python syntax: and, or, not, parentheses).
TOPOLOGIES: dict[str, dict[str, str]] = {
    "bifurcating": {
        "g1": "g1 and not (g4 or g5)",           # start gene, switched off by either fate
        "g2": "g1",
        "g3": "(g2 or g3) and not (g4 or g5)",    # progenitor, latched until a fate is chosen
        "g4": "(g3 or g4) and not g5",            # fate A  } a toggle switch
        "g5": "(g3 or g5) and not g4",            # fate B  }
        "g6": "g4",
        "g7": "g4 and g6",
        "g8": "g5 and not g6",
        "g9": "g8 or g5",
        "g10": "g8 and not g1",
    },
    "bifurcating_converging": {
        "g1": "g1 and not (g4 or g5)",
        "g2": "g1",
        "g3": "g2 and not g11",
        "g4": "(g3 or g4) and not (g5 or g10)",   # fates, later switched off by the shared program g10
        "g5": "(g3 or g5) and not (g4 or g10)",
        "g6": "g4",
        "g7": "g6 and not g5",
        "g8": "g5",
        "g9": "g8 or g5",
        "g10": "g7 or g9 or g10",                 # the branches converge: either branch sets this latch
        "g11": "g10 and not g3",
        "g12": "g10 and g11",
    },
    "trifurcating": {
        "g1": "g1 and not (g4 or g5 or g6)",
        "g2": "g1",
        "g3": "g2 or (g3 and not (g4 or g5 or g6))",
        "g4": "(g3 or g4) and not (g5 or g6)",    # three fates, each repressing the other two
        "g5": "(g3 or g5) and not (g4 or g6)",
        "g6": "(g3 or g6) and not (g4 or g5)",
        "g7": "g4",
        "g8": "g5 and not g3",
        "g9": "g6 or g8",
        "g10": "g4 and not g9",
        "g11": "g9 and not g2",
    },
    "linear_long": {
        "g1": "g1 and not g4",
        **{f"g{k}": f"(g{k - 1} or g{k}) and not g{k + 3}" for k in range(2, 10)},
        "g10": "g9 or g10",                       # the end state, latched for good
        "g11": "g10 or g11",
        "g12": "g11 and g10",
    },
}
START: dict[str, list[str]] = {name: ["g1"] for name in TOPOLOGIES}
FATES: dict[str, list[str]] = {"bifurcating": ["g4", "g5"], "bifurcating_converging": ["g4", "g5"],
                               "trifurcating": ["g4", "g5", "g6"], "linear_long": []}
DURATION: dict[str, float] = {"bifurcating": 12.0, "bifurcating_converging": 18.0, "trifurcating": 12.0,
                              "linear_long": 14.0}


@dataclass(frozen=True)
class BooleanParams:
    topology: str = "bifurcating"
    n_cells: int = 1500
    dt: float = 0.02
    noise: float = 0.1              # s, the Langevin noise scale
    basal: float = 0.02             # production of a gene whose rule is false, as a fraction of m
    dropout: bool = False
    dropout_quantile: float = 50.0  # per gene, values below this percentile ...
    dropout_rate: float = 0.5       # ... are set to 0 with this probability
    seed: int = 0


@dataclass
class BooleanSimulation:
    adata: "anndata.AnnData"  # noqa: F821 (imported lazily)
    reference: pd.DataFrame   # tf, target_gene, sign (rule edges between distinct genes)
    rules: dict[str, str]


def _signed_regulators(node: ast.AST, negated: bool = False) -> dict[str, int]:
    """Each gene named in a rule with its sign: -1 under an odd number of ``not``, else +1."""
    if isinstance(node, ast.Name):
        return {node.id: -1 if negated else 1}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _signed_regulators(node.operand, not negated)
    if isinstance(node, ast.BoolOp):
        out: dict[str, int] = {}
        for value in node.values:
            for gene, sign in _signed_regulators(value, negated).items():
                if out.setdefault(gene, sign) != sign:
                    raise ValueError(f"{gene} both activates and represses in one rule")
        return out
    raise ValueError(f"rules may use gene names, and, or, not and parentheses only, not {ast.dump(node)}")


def regulators(rule: str) -> dict[str, int]:
    """The signed regulators of one rule, e.g. ``regulators("(a or b) and not c") == {"a": 1, "b": 1, "c": -1}``."""
    return _signed_regulators(ast.parse(rule, mode="eval").body)


def reference_network(rules: dict[str, str]) -> pd.DataFrame:
    """Signed edges (tf, target_gene, sign) of a rule table, self-loops left out."""
    rows = [(tf, target, sign) for target, rule in rules.items() for tf, sign in regulators(rule).items() if tf != target]
    return pd.DataFrame(rows, columns=["tf", "target_gene", "sign"])


def fuzzy_rule(rule: str) -> Callable[[Callable[[str], np.ndarray]], np.ndarray]:
    """The rule as a function of ``inputs(gene)`` (each regulator's input in [0, 1]): not = 1 - a,
    and = product, or = a + b - ab (probabilistic sum)."""
    def evaluate(node: ast.AST, inputs: Callable[[str], np.ndarray]) -> np.ndarray:
        if isinstance(node, ast.Name):
            return inputs(node.id)
        if isinstance(node, ast.UnaryOp):
            return 1.0 - evaluate(node.operand, inputs)
        values = [evaluate(value, inputs) for value in node.values]
        out = values[0]
        for value in values[1:]:
            out = out * value if isinstance(node.op, ast.And) else out + value - out * value
        return out

    tree = ast.parse(rule, mode="eval").body
    regulators(rule)  # validates the rule
    return lambda inputs: evaluate(tree, inputs)


def _edge_parameters(rng: np.random.Generator, rules: dict[str, str],
                     fates: list[str]) -> dict[tuple[str, str], tuple[float, float]]:
    """Half-maximum K and Hill coefficient n per (target, regulator), self-loops included; every edge
    into a fate gene shares one draw, so that the toggle switch favours no fate."""
    shared = (rng.uniform(0.35, 0.55), rng.uniform(4.0, 8.0))
    return {(target, tf): shared if target in fates else (rng.uniform(0.35, 0.55), rng.uniform(4.0, 8.0))
            for target, rule in rules.items() for tf in regulators(rule)}


def _simulate(rng: np.random.Generator, p: BooleanParams, rules: dict[str, str], readout: np.ndarray,
              n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Euler-Maruyama of every cell (cells x genes) to its readout step; also each gene's running maximum."""
    genes = list(rules)
    index = {gene: i for i, gene in enumerate(genes)}
    unknown = {tf for rule in rules.values() for tf in regulators(rule)} - set(genes)
    if unknown:
        raise ValueError(f"rules name genes without a rule of their own: {sorted(unknown)}")
    fates = FATES[p.topology]
    edge = _edge_parameters(rng, rules, fates)
    decay = rng.uniform(0.7, 1.3, len(genes))
    decay[[index[gene] for gene in fates]] = decay[index[fates[0]]] if fates else 1.0  # fates alike, as above
    logic = [fuzzy_rule(rules[gene]) for gene in genes]
    x = np.zeros((len(readout), len(genes)))
    for gene in START[p.topology]:
        x[:, index[gene]] = 1.0
    out = np.zeros_like(x)
    peak = x.copy()
    sqdt = np.sqrt(p.dt)
    for step in range(n_steps + 1):
        done = readout == step
        out[done] = x[done]
        if step == n_steps:
            break
        level = np.maximum(x, 0.0)
        production = np.empty_like(x)
        for j, gene in enumerate(genes):
            def inputs(tf: str, target: str = gene) -> np.ndarray:
                K, n = edge[(target, tf)]
                ratio = (level[:, index[tf]] / K) ** n
                return ratio / (1.0 + ratio)
            production[:, j] = decay[j] * (p.basal + (1.0 - p.basal) * logic[j](inputs))
        drift = production - decay * level
        spread = p.noise * np.sqrt(production + decay * level)
        x = np.maximum(x + drift * p.dt + spread * sqdt * rng.normal(size=x.shape), 0.0)
        np.maximum(peak, x, out=peak)
    return out, peak


def apply_dropout(rng: np.random.Generator, matrix: np.ndarray, quantile: float, rate: float) -> np.ndarray:
    """Per gene, values below the gene's ``quantile``-th percentile set to 0 with probability ``rate``."""
    low = matrix < np.percentile(matrix, quantile, axis=0, keepdims=True)
    return np.where(low & (rng.random(matrix.shape) < rate), 0.0, matrix)


def simulate_boolean(params: BooleanParams | None = None, **overrides) -> BooleanSimulation:
    """Simulate one topology (module docstring); ``X`` holds the expression (with dropout if asked),
    layer ``noise_free`` the values before dropout; obs ``pseudotime``, ``branch``."""
    import anndata as ad

    p = params or BooleanParams()
    if overrides:
        p = BooleanParams(**{**asdict(p), **overrides})
    if p.topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {p.topology!r}; choose one of {', '.join(TOPOLOGIES)}")
    rules = TOPOLOGIES[p.topology]
    rng = np.random.default_rng(p.seed)
    n_steps = int(round(DURATION[p.topology] / p.dt))
    pseudotime = np.sort(rng.uniform(0.0, 1.0, p.n_cells))
    readout = np.round(pseudotime * n_steps).astype(int)
    expression, peak = _simulate(rng, p, rules, readout, n_steps)
    fates = FATES[p.topology]
    genes = list(rules)
    if fates:
        winner = np.argmax(peak[:, [genes.index(g) for g in fates]], axis=1)
        branch = np.array([f"branch{k + 1}" for k in range(len(fates))])[winner]
    else:
        branch = np.full(p.n_cells, "branch1")
    matrix = apply_dropout(rng, expression, p.dropout_quantile, p.dropout_rate) if p.dropout else expression
    obs = pd.DataFrame({"pseudotime": pseudotime, "branch": pd.Categorical(branch)},
                       index=[f"cell{i:05d}" for i in range(p.n_cells)])
    adata = ad.AnnData(X=matrix.astype(np.float64), obs=obs, var=pd.DataFrame(index=genes))
    adata.layers["noise_free"] = expression
    adata.uns["simulation"] = {**asdict(p), "rules": dict(rules), "fates": fates}
    return BooleanSimulation(adata, reference_network(rules), dict(rules))


def prior_with_decoys(reference: pd.DataFrame, genes: list[str], decoys_per_edge: int, seed: int) -> pd.DataFrame:
    """The true edges plus ``decoys_per_edge`` random decoys per true edge, drawn for the same target
    among the genes that do not regulate it (all of them when fewer are left); unsigned (sign 0)."""
    rng = np.random.default_rng(seed)
    rows = []
    for target, edges in reference.groupby("target_gene", sort=False):
        true = list(edges["tf"])
        free = [g for g in genes if g != target and g not in true]
        chosen = rng.choice(free, min(len(free), decoys_per_edge * len(true)), replace=False)
        rows += [(tf, target) for tf in true + list(chosen)]
    prior = pd.DataFrame(rows, columns=["tf", "target_gene"])
    prior["sign"] = np.int8(0)
    return prior


def every_pair(genes: list[str]) -> pd.DataFrame:
    """No prior: every gene may regulate every other (self-loops left out)."""
    prior = pd.DataFrame([(a, b) for a in genes for b in genes if a != b], columns=["tf", "target_gene"])
    prior["sign"] = np.int8(0)
    return prior


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", default="bifurcating", choices=list(TOPOLOGIES))
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--dropout", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sim = simulate_boolean(topology=args.topology, dropout=args.dropout, seed=args.seed)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    sim.adata.write_h5ad(outdir / "adata.h5ad")
    prior_with_decoys(sim.reference, list(sim.adata.var_names), 2, args.seed).to_csv(outdir / "prior.csv", index=False)
    sim.reference.to_csv(outdir / "reference.csv", index=False)


if __name__ == "__main__":
    main()
