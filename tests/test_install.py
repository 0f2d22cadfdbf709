"""The package as pip installs it, not as a checkout: a wheel built from the sources must carry
everything the package reads (the config schema, the report's style sheet and script), and an
installed copy must validate a config and run `transgrn check` from any directory, with no
checkout beside it (a non-editable install once looked for the schema through ``parents[2]``)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from helpers import REPO, write_inputs

# what the package reads at run time with importlib.resources (pyproject.toml's package-data)
PACKAGE_DATA = ("transgrn/schemas/config.schema.yaml", "transgrn/report/static/report.css",
                "transgrn/report/static/report.js", "transgrn/py.typed")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the build writes build/ and *.egg-info where it runs),
    offline: the build backend of this environment, no index."""
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copy(REPO / "README.md", source)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                             "--quiet", "--wheel-dir", str(root / "dist"), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = (root / "dist").glob("transgrn-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked as pip installs a pure-Python wheel: its files into a site directory."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def run_installed(site: Path, cwd: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    """Python with the installed copy first on the path and no checkout's src on it, run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_wheel_carries_what_the_package_reads(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in PACKAGE_DATA if name not in names]
    assert not missing, f"not in {wheel.name}: {missing}"


def test_an_installed_copy_loads_its_schema_from_anywhere(installed, tmp_path):
    code = ("import transgrn, transgrn.config as c, transgrn.options as o; print(transgrn.__file__); "
            "s = c.load_schema(); print(sorted(s['properties'])); print(o.FitOptions.from_config({}).device)")
    result = run_installed(installed, tmp_path, code)
    assert result.returncode == 0, result.stderr[-3000:]
    where, keys, device = result.stdout.splitlines()
    assert Path(where).is_relative_to(installed)  # the installed copy, not this checkout
    assert eval(keys) == sorted(yaml.safe_load((REPO / "src/transgrn/schemas/config.schema.yaml").read_text())["properties"])
    assert device == "auto"


def test_transgrn_check_runs_from_an_installed_copy_in_another_directory(installed, small_simulation, tmp_path):
    data = write_inputs(small_simulation, tmp_path / "in")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "my.yaml").write_text(yaml.safe_dump({"data": data}))
    result = run_installed(installed, elsewhere, "import sys; from transgrn.cli import main; sys.exit(main())",
                           "check", "--configfile", "my.yaml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "OK: the checkpoint would accept these inputs" in result.stdout
