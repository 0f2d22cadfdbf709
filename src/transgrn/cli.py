"""Command line: ``transgrn simulate`` writes the demo data set, ``transgrn check`` runs the
checkpoint's checks on a config, ``transgrn export`` writes a run's networks for decoupler or
Cytoscape -- all without Snakemake."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .simulate import SimulationParams, simulate, write_simulation

EXPORT_FORMATS = ("decoupler", "decoupler-parquet", "graphml")  # transgrn.export.FORMATS, without importing it here

SHOWN = 20  # transitions and skipped pairs listed by name; the rest are counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="transgrn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sim = commands.add_parser("simulate", help="write a simulated differentiation with a known network")
    sim.add_argument("--outdir", type=Path, default=Path("resources/demo"))
    for name, value in vars(SimulationParams()).items():
        sim.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    check = commands.add_parser("check", help="run the checkpoint's checks on your config and data; write nothing")
    check.add_argument("--configfile", type=Path, nargs="+", required=True,
                       help="config file(s), later ones overriding earlier ones (as snakemake --configfile)")
    check.add_argument("--directory", type=Path, default=Path("."),
                       help="where relative paths in the config start (as snakemake --directory)")
    # another schema than the package's own (tests); by default the one shipped in the package
    check.add_argument("--schema", type=Path, default=None, help=argparse.SUPPRESS)
    export = commands.add_parser("export", help="write every transition's network for decoupler or Cytoscape")
    export.add_argument("results", type=Path, help="the results folder of a finished run (holding edges.parquet)")
    export.add_argument("--format", dest="fmt", choices=list(EXPORT_FORMATS), default="decoupler",
                        help="decoupler: source/target/weight TSV (decoupler-parquet: Parquet); graphml: for Cytoscape")
    export.add_argument("--outdir", type=Path, default=None, help="where to write (default: RESULTS/exports/FORMAT/)")
    export.add_argument("--min-confidence", type=float, default=0.0,
                        help="keep edges with 1 - qvalue >= this (runs with fit.bootstrap; default 0: all)")
    export.add_argument("--top-k", type=int, default=0, help="keep each transition's K strongest edges (default 0: all)")
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_check(args.configfile, args.directory, args.schema)
    if args.command == "export":
        return run_export(args.results, args.fmt, args.outdir, args.min_confidence, args.top_k)
    params = SimulationParams(**{k: getattr(args, k) for k in vars(SimulationParams())})
    out = args.outdir
    write_simulation(simulate(params), str(out / "adata.h5ad"), str(out / "prior.csv"), str(out / "reference.csv"))
    print(f"wrote {out}/adata.h5ad, prior.csv and reference.csv")
    return 0


def read_configs(paths: list[Path]) -> dict[str, Any]:
    """The config files merged in order, nested sections key by key (as Snakemake merges them)."""
    import yaml

    from .errors import ConfigError

    def merge(base: dict, update: dict) -> dict:
        merged = dict(base)
        for key, value in update.items():
            merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        return merged

    config: dict[str, Any] = {}
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"--configfile: '{path}' does not exist")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"--configfile: '{path}' does not hold a mapping of config keys")
        config = merge(config, loaded)
    return config


def with_directory(config: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The config with its relative input paths taken from ``directory``, as Snakemake's --directory does."""
    data = dict(config["data"])
    for key in ("adata", "prior"):
        data[key] = str(directory / data[key])
    reference = config.get("reference")
    return {**config, "data": data, "reference": str(directory / reference) if reference else reference}


def run_check(configfiles: list[Path], directory: Path, schema: Path | None = None) -> int:
    """Validate the config, then load and check the data, prior and reference and enumerate the
    transitions exactly as the checkpoint does (``prepare.check_and_load``), and print a summary.
    0 when the checkpoint would pass; 1 with the error message otherwise."""
    import logging

    from .config import config_notes, environment_problems, load_schema, validate_config
    from .errors import TransgrnError
    from .io import check_writable
    from .prepare import CheckpointOptions, check_and_load, collected_warnings, describe

    try:
        config = with_directory(validate_config(read_configs(configfiles), load_schema(schema)), directory)
        check_writable(directory / "results")
        with collected_warnings() as warnings:
            checked = check_and_load(CheckpointOptions.from_config(config), config["seed"])
            for note in config_notes(config) + environment_problems(config):
                logging.getLogger("transgrn").warning(note)
    except TransgrnError as error:
        print(f"transgrn check: error: {error}", file=sys.stderr)
        return 1
    print(check_report(checked, describe(checked), warnings))
    return 0


def run_export(results: Path, fmt: str, outdir: Path | None, min_confidence: float, top_k: int) -> int:
    """``transgrn export``: one file per transition (transgrn.export); 0, or 1 with the error message."""
    from .errors import TransgrnError
    from .export import export_networks

    try:
        written = export_networks(results, fmt, outdir, min_confidence, top_k)
    except TransgrnError as error:
        print(f"transgrn export: error: {error}", file=sys.stderr)
        return 1
    where = sorted({str(path.parent) for path in written}) or [str(outdir or results / "exports" / fmt)]
    print(f"wrote {len(written)} {fmt} network(s) to {', '.join(where)}")
    return 0


def _names(pairs, limit: int = SHOWN) -> list[str]:
    lines = [f"  {row.source_cluster} -> {row.target_cluster}" + (f": {row.reason}" if hasattr(row, "reason") else "")
             for row in pairs.head(limit).itertuples()]
    return lines + ([f"  ... and {len(pairs) - limit} more"] if len(pairs) > limit else [])


def check_report(checked, summary: dict[str, Any], warnings: list[str]) -> str:
    """What ``transgrn check`` prints: the counts the checkpoint would record, transitions and warnings."""
    p = summary["prior"]
    left_out = [f"{summary['n_unlabelled_cells']} unlabelled"] if summary["n_unlabelled_cells"] else []
    left_out += [f"{summary['n_empty_cells']} empty"] if summary["n_empty_cells"] else []
    sizes = ", ".join(f"{name} ({n})" for name, n in summary["cluster_sizes"].items())
    lines = [
        f"cells: {summary['n_cells']}" + (f" ({', '.join(left_out)} left out)" if left_out else ""),
        f"clusters: {len(summary['cluster_sizes'])}: {sizes}",
        f"genes: {summary['n_genes']} in the data, {p['n_genes_used']} matched by the prior",
        f"prior ({summary['prior_format']}): {p['n_edges']} of {p['n_edges_input']} edges kept, {p['n_tfs']} of "
        f"{p['n_tfs_input']} TFs, {p['n_targets']} of {p['n_targets_input']} targets" + (", signed" if p["signed"] else ""),
    ]
    if "reference" in summary:
        lines.append(f"reference: {summary['reference']['n_edges']} edges between measured genes, "
                     f"{summary['reference']['n_edges_in_prior']} of them in the prior")
    if "mapping_method" in summary:
        lines.append(f"mapping: {summary['mapping_method']}")
    lines.append(f"transitions to fit: {summary['n_transitions']}")
    lines += _names(checked.transitions)
    lines.append(f"skipped: {summary['n_skipped']}")
    lines += _names(checked.skipped)
    lines.append(f"warnings: {len(warnings)}")
    lines += [f"  - {message}" for message in warnings]
    lines.append("OK: the checkpoint would accept these inputs" + (" (read the warnings)" if warnings else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
