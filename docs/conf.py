"""Sphinx configuration of transgrn's documentation (``make docs``: offline, warnings are errors).

The pages are MyST Markdown; the Guo 2010 tutorial is a MyST-NB text notebook executed at every
build; the config reference and the output columns are generated from the project's own files by
``_ext/transgrn_docs.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
# this checkout's package first, whatever else the environment has installed
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(DOCS / "_ext"))

# The config schema the reference is generated from: the one place to change if it moves
# (e.g. into the package as src/transgrn/schemas/config.schema.yaml).
CONFIG_SCHEMA = REPO / "src/transgrn/schemas/config.schema.yaml"  # the one schema, shipped in the package
transgrn_config_schema = str(CONFIG_SCHEMA)

project = "transgrn"
author = "the transgrn authors"
copyright = "the transgrn authors"
release = "0.1.0"

extensions = [
    "myst_nb",  # MyST Markdown and executed notebooks (it loads myst_parser itself)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "transgrn_docs",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb"}

# no math extension: the pages have no formulas, and MathJax would be fetched by the reader's browser
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The tutorial runs the workflow on Guo 2010 at every build (about a minute on 2 cores);
# a cell that fails fails the build.
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}

html_theme = "furo"
html_title = "transgrn"
html_static_path: list[str] = []
