"""Command line: ``transgrn simulate`` writes the demo data set without Snakemake."""

from __future__ import annotations

import argparse
from pathlib import Path

from .simulate import SimulationParams, simulate, write_simulation


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="transgrn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("simulate", help="write a simulated differentiation with a known network")
    sim.add_argument("--outdir", type=Path, default=Path("resources/demo"))
    for name, value in vars(SimulationParams()).items():
        sim.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    params = SimulationParams(**{k: getattr(args, k) for k in vars(SimulationParams())})
    out = args.outdir
    write_simulation(simulate(params), str(out / "adata.h5ad"), str(out / "prior.csv"), str(out / "reference.csv"))
    print(f"wrote {out}/adata.h5ad, prior.csv and reference.csv")


if __name__ == "__main__":
    main()
