"""The house (issue #12): one rule file, one script and one module per stage; imports run one way;
scripts run by hand as well as under Snakemake."""
import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, write_inputs

# mask is a package module of the mapping stage (its rule writes the mask): no rule of its own
STAGES = ["prepare", "mapping", "fit", "evaluate", "models", "aggregate", "report"]
PACKAGE = REPO / "src/transgrn"


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_has_a_rule_file_a_script_and_a_module(stage):
    assert (REPO / f"workflow/rules/{stage}.smk").is_file()
    assert (REPO / f"scripts/{stage}.py").is_file()
    assert (PACKAGE / f"{stage}.py").is_file() or (PACKAGE / stage / "__init__.py").is_file()
    assert f'"../../scripts/{stage}.py"' in (REPO / f"workflow/rules/{stage}.smk").read_text()


def imported_modules(path: Path) -> set[str]:
    """transgrn modules a file imports (relative or absolute), at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                names.update([module.split(".")[0]] if module else [alias.name for alias in node.names])
            elif module.startswith("transgrn."):
                names.add(module.split(".")[1])
    return names


def test_shared_modules_never_import_a_stage():
    stages = set(STAGES) | {"differential", "network_scores", "grn"}
    for path in PACKAGE.glob("*.py"):
        if path.stem in stages or path.stem in ("__init__", "cli"):
            continue
        assert not imported_modules(path) & stages, f"{path.name} imports {imported_modules(path) & stages}"


def test_stages_import_no_later_stage():
    for position, stage in enumerate(STAGES):
        files = [PACKAGE / f"{stage}.py"] if (PACKAGE / f"{stage}.py").exists() else list((PACKAGE / stage).glob("*.py"))
        later = set(STAGES[position + 1:])
        for path in files:
            assert not imported_modules(path) & later, f"{path.name} imports {imported_modules(path) & later}"


def test_scripts_import_without_running():
    for script in (REPO / "scripts").glob("*.py"):
        spec = importlib.util.spec_from_file_location(f"script_{script.stem}", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # no snakemake object: nothing runs
        assert callable(getattr(module, "main", None) or getattr(module, "mlp", None)), script.name


def test_a_script_runs_by_hand(small_simulation, tmp_path):
    from transgrn.config import apply_defaults, load_schema
    from transgrn.prepare import prepare

    data = write_inputs(small_simulation, tmp_path / "in")
    config = apply_defaults({"data": data}, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    prepare(config, tmp_path / "prepared")
    clusters = sorted((tmp_path / "prepared/clusters").glob("*.h5ad"))
    out = tmp_path / "mask.parquet"
    mappings = [tmp_path / f"mapping_{role}.parquet" for role in ("main", "null")]
    run = subprocess.run([sys.executable, str(REPO / "scripts/mapping.py"), "--prior", str(tmp_path / "prepared/prior_edges.parquet"),
                          "--source", str(clusters[0]), "--target", str(clusters[1]), "--mask", str(out),
                          "--mapping_main", str(mappings[0]), "--mapping_null", str(mappings[1]),
                          "--transition", f"{clusters[0].stem}__{clusters[1].stem}", "--options", '{"method": "joint"}'],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    from transgrn.columns import MASK_COLUMNS
    from transgrn.io import read_provenance

    assert list(pd.read_parquet(out).columns) == MASK_COLUMNS
    assert read_provenance(out)["params"]["options"]["method"] == "joint"
    assert all(len(pd.read_parquet(path)) for path in mappings)
    usage = subprocess.run([sys.executable, str(REPO / "scripts/fit.py"), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "--mapping_main" in usage.stdout
