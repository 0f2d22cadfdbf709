"""The house (issue #12): one rule file, one job module and one science module per stage; imports
run one way; a job runs by hand as well as under Snakemake; every module has a test that imports it (issue #28)."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, write_inputs

# mask is a package module of the mapping stage (its rule writes the mask): no rule of its own
STAGES = ["prepare", "mapping", "fit", "evaluate", "models", "aggregate", "report"]
PACKAGE = REPO / "src/transgrn"
# this checkout's package first, as the workflow's run: blocks import it
SOURCE_FIRST = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_has_a_rule_file_a_job_module_and_a_module(stage):
    assert (REPO / f"workflow/rules/{stage}.smk").is_file()
    assert (PACKAGE / "jobs" / f"{stage}.py").is_file()
    assert (PACKAGE / f"{stage}.py").is_file() or (PACKAGE / stage / "__init__.py").is_file()
    assert f"from transgrn.jobs import {stage} as " in (REPO / f"workflow/rules/{stage}.smk").read_text()


def test_every_rule_runs_its_job_in_snakemakes_process():
    """Issue #25: no rule starts a script, a shell or a notebook; each calls its job through run_job."""
    for path in (REPO / "workflow/rules").glob("*.smk"):
        text = path.read_text()
        assert not {"script:", "shell:", "notebook:", "wrapper:"} & set(text.split()), path.name
        assert text.count("    run:\n") == text.count("\nrule ") + text.count("\ncheckpoint "), path.name
        assert text.count("    run:\n") == text.count("        run_job("), path.name


# Every module and subpackage of transgrn, in the order a run meets them: each imports only those
# before it (a subpackage's modules count as the subpackage). A new module must be placed here.
PIPELINE = [
    # shared vocabulary and tools: no stage
    "errors", "columns", "seeds", "config", "options", "io", "metrics", "tensor", "cells", "networks",
    "transitions", "edges", "mapping_file", "mask", "inputs", "simulate", "solvers", "confidence", "mlp", "cofactors",
    # the stages, in the order of a run
    "prepare", "lagged", "design", "mapping", "pooled", "fit", "evaluate", "models", "differential",
    "network_scores", "run_network", "aggregate", "report", "export",
    # entry points: the workflow's jobs, the notebook API, the command line
    "jobs", "api", "cli",
]


def package_units() -> dict[str, list[Path]]:
    """transgrn's top-level modules and subpackages (``__init__`` excluded), each with its files."""
    units: dict[str, list[Path]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if parts == ("__init__.py",):
            continue
        units.setdefault(parts[0].removesuffix(".py"), []).append(path)
    return units


def imported_units(path: Path) -> set[str]:
    """The transgrn modules and subpackages a file imports (relative or absolute, at any depth of the
    file), other than its own."""
    unit = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 1 inside a subpackage
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level and node.level > depth:  # relative to the package itself
                names.update([module.split(".")[0]] if module else [alias.name for alias in node.names])
            elif node.level:  # within its own subpackage
                continue
            elif module.startswith("transgrn."):
                names.add(module.split(".")[1])
    return names - {unit}


def test_every_module_is_placed_in_the_pipeline_order():
    assert sorted(package_units()) == sorted(PIPELINE)


@pytest.mark.parametrize("unit", PIPELINE)
def test_a_module_imports_only_those_before_it(unit):
    earlier = set(PIPELINE[:PIPELINE.index(unit)])
    for path in package_units().get(unit, []):
        assert imported_units(path) <= earlier, f"{path.relative_to(PACKAGE)} imports {imported_units(path) - earlier}"


def test_every_rule_has_a_job_function():
    from transgrn.jobs.__main__ import RULES, job_function

    rules = {line.split()[1].rstrip(":") for path in (REPO / "workflow/rules").glob("*.smk")
             for line in path.read_text().splitlines() if line.startswith(("rule ", "checkpoint "))}
    assert rules == set(RULES)
    assert all(callable(job_function(rule)) for rule in rules)


def test_a_job_runs_by_hand(small_simulation, tmp_path):
    from transgrn.config import apply_defaults, load_schema
    from transgrn.prepare import prepare

    data = write_inputs(small_simulation, tmp_path / "in")
    config = apply_defaults({"data": data}, load_schema())
    prepare(config, tmp_path / "prepared")
    clusters = sorted((tmp_path / "prepared/clusters").glob("*.h5ad"))
    out = tmp_path / "mask.parquet"
    mappings = [tmp_path / f"mapping_{role}.parquet" for role in ("main", "null")]
    run = subprocess.run([sys.executable, "-m", "transgrn.jobs", "map_cells", "--prior", str(tmp_path / "prepared/prior_edges.parquet"),
                          "--source", str(clusters[0]), "--target", str(clusters[1]), "--mask", str(out),
                          "--mapping_main", str(mappings[0]), "--mapping_null", str(mappings[1]),
                          "--transition", f"{clusters[0].stem}__{clusters[1].stem}", "--options", '{"method": "joint"}'],
                         capture_output=True, text=True, env=SOURCE_FIRST)
    assert run.returncode == 0, run.stderr
    from transgrn.columns import MASK_COLUMNS
    from transgrn.io import read_provenance

    assert list(pd.read_parquet(out).columns) == MASK_COLUMNS
    assert read_provenance(out)["params"]["options"]["method"] == "joint"
    assert all(len(pd.read_parquet(path)) for path in mappings)
    usage = subprocess.run([sys.executable, "-m", "transgrn.jobs", "fit_grn", "--help"], capture_output=True, text=True,
                           env=SOURCE_FIRST)
    assert usage.returncode == 0 and "--mapping_main" in usage.stdout


def package_modules() -> set[str]:
    """Dotted names of the package's modules and subpackages (``transgrn.report.html``, ``transgrn.jobs``)."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def reexports() -> dict[tuple[str, str], str]:
    """(package, name) -> the submodule that defines it, for each ``from .module import name`` of a
    package's __init__ (``from transgrn.solvers import MaskedRidge`` uses transgrn.solvers.ridge)."""
    found = {}
    for init in PACKAGE.rglob("__init__.py"):
        package = ".".join(init.parent.relative_to(PACKAGE.parent).parts)
        for node in ast.parse(init.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                found.update({(package, alias.name): f"{package}.{node.module}" for alias in node.names})
    return found


def modules_named_by(path: Path, reexported: dict[tuple[str, str], str]) -> set[str]:
    """Dotted names a file imports: ``import a.b`` and ``from a.b import c`` name a.b; the latter also
    a.b.c where c is a module (``from transgrn.report import html``) and the submodule that defines c
    where a.b re-exports it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            for alias in node.names:
                names.add(reexported.get((node.module, alias.name), f"{node.module}.{alias.name}"))
    return names


def mirror_test(module: str) -> Path:
    """The module's own test file: tests/test_<path below transgrn, with underscores>.py."""
    return REPO / "tests" / f"test_{module.removeprefix('transgrn.').replace('.', '_')}.py"


def test_every_module_is_imported_by_a_test():
    """A module that no test imports is tested, if at all, only through Snakemake runs: give it its
    own tests/test_<module path with underscores>.py (docs/how-it-works.md, Code layout), which may
    reach it through its package (tests/test_differential_analytic.py)."""
    reexported = reexports()
    imported = set().union(*(modules_named_by(path, reexported) for path in (REPO / "tests").rglob("*.py")))
    assert {"transgrn.report.html", "transgrn.jobs.__main__", "transgrn.solvers.ridge"} <= imported  # each form is seen
    missing = sorted(m for m in package_modules() - imported if not mirror_test(m).is_file())
    assert not missing, f"no test imports {missing}"
