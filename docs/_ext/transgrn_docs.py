"""Pages generated from the project's own files at build time, so that they cannot drift from the code.

``{transgrn-config-reference}`` renders every key of the config schema (the path is conf.py's
``transgrn_config_schema``): type, default, allowed values and the schema's own description.
``{transgrn-output-columns}`` renders every output file's columns from ``transgrn.columns``, each
with its meaning from ``output_columns.MEANINGS``; a column without a meaning there, or a meaning
for a column the package no longer writes, is a warning (an error under ``make docs``).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

import output_columns

LOGGER = logging.getLogger(__name__)

# Where the README's sections went: the schema's and the package's texts still say "README, <section>";
# the generated reference links each such mention to the section's new place.
MOVED_SECTIONS = {
    "Your own data": "your-data.md",
    "Mappings": "how-it-works.md#mappings",
    "Whole-run speed": "benchmarks.md#whole-run-speed",
    "Choosing the penalty": "benchmarks.md#choosing-the-penalty",
    "Held-out accuracy and the network": "how-it-works.md#held-out-accuracy-and-the-network",
    "Hill-kinetics track": "benchmarks.md#hill-kinetics-track",
    "Differential edges and TF scores": "differential.md",
    "Scale": "benchmarks.md#scale",
    "Running on SLURM": "slurm.md",
    "Recovery benchmark": "benchmarks.md#recovery-benchmark",
}

# Keys the schema leaves without a description (text from the README's former key table). A key named
# here that the schema no longer has is a warning, so that this list shrinks as the schema grows.
UNDESCRIBED = {
    "demo": "parameters of the simulated demo (rule `simulate_demo`)",
    "demo.n_cells": "cells simulated",
    "demo.n_tfs": "TFs simulated",
    "demo.n_targets": "targets simulated",
    "demo.regulators_per_target": "true TFs of every target",
    "demo.decoys_per_target": "prior edges per target that are not true",
    "demo.noise": "noise level of the simulated expression",
    "demo.seed": "the simulation's seed",
    "transitions": "which transitions between clusters are fitted",
    "transitions.explicit": "`[[A, B], ...]` for `mode: explicit` (cluster labels as in the data)",
    "transitions.min_cells": "clusters smaller than this are skipped; skipped transitions are listed with "
                             "the reason in `prepared/skipped.tsv`",
    "mapping": "how cells of the source cluster are paired with cells of the target cluster",
    "mapping.entropic_reg": "for `ot` beyond `exact_max_cells`, the entropic regularization of Sinkhorn",
    "cofactors": "optional co-factor tests (TF pairs acting together on shared targets)",
    "cofactors.min_shared_targets": "prior targets a TF pair must share to be tested",
    "differential": "optional test of edges that differ between transitions",
    "fit": "the masked regression",
    "fit.fit_intercept": "fit an intercept per target",
    "fit.device": "`auto` (CUDA when torch sees a GPU, else CPU), `cpu` or `cuda`",
    "fit.dtype": "floating-point precision of the fits",
    "report": "what `report.html` shows",
    "seed": "the run's seed; every transition's random streams are derived from it and the transition id",
}

README_MENTION = re.compile(r"README,? [\"“]?([A-Z][A-Za-z -]+?)[\"”]?(?=[);,.]|$)")


def escape(text: str) -> str:
    """Schema text as literal Markdown inside a table cell."""
    for char in ("\\", "|", "<", ">", "*", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ")


def link_moved_sections(text: str) -> str:
    """'README, Mappings' -> a link to where that section now lives (text already escaped)."""
    def replace(match: re.Match[str]) -> str:
        title = match.group(1).strip()
        target = MOVED_SECTIONS.get(title)
        return f"[{title}]({target})" if target else match.group(0)

    return README_MENTION.sub(replace, text)


def describe_type(spec: dict[str, Any]) -> str:
    if "oneOf" in spec:
        return " or ".join(describe_type(option) for option in spec["oneOf"])
    if "enum" in spec:
        return " \\| ".join(f"`{value}`" for value in spec["enum"])
    kind = spec.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    words = [{"null": "`null`", "array": "list", "object": "section"}.get(k, k) for k in kinds if k]
    if "array" in kinds and isinstance(spec.get("items"), dict) and "enum" in spec["items"]:
        words = ["list of " + " \\| ".join(f"`{value}`" for value in spec["items"]["enum"])]
    bounds = []
    for key, symbol in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in spec:
            bounds.append(f"{symbol} {spec[key]}")
    return " or ".join(words) + (f" ({', '.join(bounds)})" if bounds else "")


def describe_default(spec: dict[str, Any]) -> str:
    if "default" not in spec:
        return ""
    value = spec["default"]
    if value == {}:
        return ""
    return "`" + yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip() + "`"


def config_rows(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(top-level section, dotted key, spec) for every key, in the schema's order."""
    rows = []
    for name, spec in schema["properties"].items():
        rows.append((name, name, spec))
        if spec.get("type") == "object":
            for key, sub in spec.get("properties", {}).items():
                rows.append((name, f"{name}.{key}", sub))
    return rows


def config_reference_markdown(schema_path: Path) -> str:
    schema = yaml.safe_load(schema_path.read_text())
    rows = config_rows(schema)
    keys = {key for _, key, _ in rows}
    for key in sorted(set(UNDESCRIBED) - keys):
        LOGGER.warning(f"transgrn_docs: UNDESCRIBED names '{key}', which {schema_path.name} no longer has")
    required = set(schema.get("required", []))
    lines: list[str] = []
    section = None
    for top, key, spec in rows:
        if top != section:
            section = top
            top_spec = schema["properties"][top]
            lines += ["", f"### `{top}`", ""]
            intro = top_spec.get("description") or UNDESCRIBED.get(top, "")
            notes = []
            if top in required:
                notes.append("required")
            if "required" in top_spec:
                notes.append("required keys: " + ", ".join(f"`{k}`" for k in top_spec["required"]))
            if intro or notes:
                lines += [link_moved_sections(escape(intro)) + (" (" + "; ".join(notes) + ")" if notes else ""), ""]
            if top_spec.get("type") == "object":
                lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
            else:
                lines += ["| key | type | default |", "|---|---|---|",
                          f"| `{key}` | {describe_type(spec)} | {describe_default(spec)} |"]
            if key == top:
                continue
        description = spec.get("description") or UNDESCRIBED.get(key)
        if description is None:
            LOGGER.warning(f"transgrn_docs: config key '{key}' has no description in {schema_path.name} "
                           "nor in UNDESCRIBED (docs/_ext/transgrn_docs.py)")
            description = ""
        text = link_moved_sections(escape(description)) if key not in UNDESCRIBED else description
        lines.append(f"| `{key}` | {describe_type(spec)} | {describe_default(spec)} | {text} |")
    return "\n".join(lines)


def column_constants() -> list[tuple[str, list[str], str]]:
    """(constant, its column names, the comment above it) for the output tables of transgrn.columns."""
    import transgrn.columns as columns

    source = inspect.getsource(columns)
    lines = source.splitlines()
    comments: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            above = []
            row = node.lineno - 2
            while row >= 0 and lines[row].lstrip().startswith("#"):
                above.insert(0, lines[row].lstrip()[1:].strip())
                row -= 1
            trailing = lines[node.end_lineno - 1].split("#", 1)[1].strip() if "#" in lines[node.end_lineno - 1] else ""
            comments[node.targets[0].id] = " ".join(above + ([trailing] if trailing else []))
    result = []
    for name in output_columns.TABLES:
        if not hasattr(columns, name):
            LOGGER.warning(f"transgrn_docs: transgrn.columns has no {name} any more (docs/_ext/output_columns.py)")
            continue
        value = getattr(columns, name)
        names = [value] if isinstance(value, str) else list(value)
        result.append((name, names, comments.get(name, "")))
    return result


def output_columns_markdown() -> str:
    lines: list[str] = []
    described: set[str] = set()
    for name, names, comment in column_constants():
        title, intro = output_columns.TABLES[name]
        source = f"Source: `transgrn.columns.{name}`" + (f" ({escape(comment)})" if comment else "") + "."
        lines += ["", f"### {title}", "", intro, "", source, "", "| column | meaning |", "|---|---|"]
        for column in names:
            meaning = output_columns.IN_TABLE.get((name, column), output_columns.MEANINGS.get(column))
            if (name, column) not in output_columns.IN_TABLE:
                described.add(column)
            if meaning is None:
                LOGGER.warning(f"transgrn_docs: column '{column}' of transgrn.columns.{name} has no meaning in "
                               "docs/_ext/output_columns.py")
                meaning = ""
            lines.append(f"| `{column}` | {meaning} |")
    for column in sorted(set(output_columns.MEANINGS) - described):
        LOGGER.warning(f"transgrn_docs: docs/_ext/output_columns.py describes '{column}', which no table of "
                       "transgrn.columns lists")
    return "\n".join(lines)


SUBSTITUTION = re.compile(r"(?<![\\`\w])\|([^|`\n]+)\|(?![`\w])")  # |weight| is an absolute value here
ROLE = re.compile(r":[\w:+.-]+:`")


def rst_problems(text: str) -> str:
    """docutils' complaints about a docstring (Sphinx's roles taken as plain literals), '' when none."""
    import io

    from docutils.core import publish_doctree

    stream = io.StringIO()
    publish_doctree(ROLE.sub("`", text), settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream, "file_insertion_enabled": False,
        "raw_enabled": False, "doctitle_xform": False})
    return stream.getvalue()


def docstring_as_rst(app: Sphinx, what: str, name: str, obj: object, options: object, lines: list[str]) -> None:
    """The package's docstrings are written to be read as text: ``|weight|`` means an absolute value, and
    some use headings or indentation that reStructuredText rejects. Absolute values are escaped; a docstring
    that is still not valid reStructuredText is shown verbatim, so that one badly indented line in src/
    does not stop ``make docs`` (the verbose log names it)."""
    fixed = [SUBSTITUTION.sub(lambda m: "\\|" + m.group(1) + "\\|", line) for line in lines]
    problems = rst_problems("\n".join(fixed))
    if problems:
        LOGGER.verbose(f"transgrn_docs: the docstring of {name} is shown verbatim: {problems.strip()}")
        fixed = ["::", ""] + ["    " + line for line in lines] + [""]
    lines[:] = fixed


class GeneratedMarkdown(SphinxDirective):
    """Parses generated MyST Markdown in place (headings allowed, so they appear in the page's contents)."""

    has_content = False

    def markdown(self) -> str:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(self.markdown().splitlines()), self.content_offset, container,
                                match_titles=True)
        return container.children


# The API reference's groups, in this order; a module of the package not named here is listed under
# "Other modules", so that a new module is documented without touching this file.
API_GROUPS = {
    # in the order of a run (tests/test_layout.py PIPELINE); a subpackage's modules follow it
    "Stage modules": ["prepare", "lagged", "design", "mapping", "pooled", "fit", "evaluate", "models", "differential",
                      "network_scores", "run_network", "aggregate", "report", "export"],
    "Shared modules": ["errors", "columns", "seeds", "config", "options", "io", "metrics", "tensor", "cells",
                       "networks", "transitions", "edges", "mapping_file", "mask", "inputs", "simulate", "solvers",
                       "confidence", "mlp", "cofactors"],
    "Entry points": ["jobs", "api", "cli"],
}


def package_modules() -> list[str]:
    """Every module of transgrn, relative names (``report.figures``), without the package itself."""
    import pkgutil

    import transgrn

    return sorted(info.name.removeprefix("transgrn.")
                  for info in pkgutil.walk_packages(transgrn.__path__, "transgrn."))


def api_markdown() -> str:
    found = package_modules()
    # a subpackage's modules (differential.unit, solvers.ridge, ...) follow it in its group
    groups = {title: list(dict.fromkeys(module for name in names for module in found
                                        if module == name or module.startswith(f"{name}.")))
              for title, names in API_GROUPS.items()}
    listed = {name for names in groups.values() for name in names}
    groups["Other modules"] = [name for name in found if name not in listed]
    lines: list[str] = []
    for title, names in groups.items():
        if not names:
            continue
        lines += ["", f"## {title}", ""]
        for name in names:
            lines += [f"### `transgrn.{name}`", "", "```{eval-rst}", f".. automodule:: transgrn.{name}", "```", ""]
    return "\n".join(lines)


class ApiModules(GeneratedMarkdown):
    def markdown(self) -> str:
        return api_markdown()


class ConfigReference(GeneratedMarkdown):
    def markdown(self) -> str:
        schema_path = Path(self.env.config.transgrn_config_schema)
        self.env.note_dependency(str(schema_path))
        return config_reference_markdown(schema_path)


class OutputColumns(GeneratedMarkdown):
    def markdown(self) -> str:
        import transgrn.columns

        self.env.note_dependency(transgrn.columns.__file__)
        self.env.note_dependency(output_columns.__file__)
        return output_columns_markdown()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("transgrn_config_schema", "", "env", types=[str])
    app.add_directive("transgrn-config-reference", ConfigReference)
    app.add_directive("transgrn-output-columns", OutputColumns)
    app.add_directive("transgrn-api", ApiModules)
    app.connect("autodoc-process-docstring", docstring_as_rst, priority=900)  # after napoleon (500)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
