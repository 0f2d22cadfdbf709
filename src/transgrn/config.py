"""Configuration: defaults and validation against the JSON schema shipped with the package.

The schema (``transgrn/schemas/config.schema.yaml``, package data) is the one source of truth for
every config key, its default and its allowed values: the workflow, ``transgrn check`` and the typed
options (:mod:`transgrn.options`) all read it through :func:`load_schema`, so that an installed copy
(``pip install``, not only a checkout) finds it.
"""

from __future__ import annotations

import copy
import functools
import math
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError


SCHEMA_RESOURCE = "schemas/config.schema.yaml"


def schema_text() -> str:
    """The text of the config schema shipped in the package (read with importlib.resources)."""
    return files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def schema_path():
    """A context manager giving a file-system path of the packaged schema (for tools that want a
    file, e.g. Snakemake's ``validate``): ``with schema_path() as path: ...``."""
    return as_file(files(__package__).joinpath(SCHEMA_RESOURCE))


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    """The config schema as a dict: the package's own (the default), or the one at ``path``."""
    if path is None:
        return copy.deepcopy(_packaged_schema())
    with open(path) as handle:
        return yaml.safe_load(handle)


@functools.lru_cache(maxsize=1)
def _packaged_schema() -> dict[str, Any]:
    return yaml.safe_load(schema_text())


def apply_defaults(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``config`` with every schema default filled in, recursively."""
    config = copy.deepcopy(config)
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            config[key] = apply_defaults(config[key], sub)
    return config


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and its oneOf/anyOf alternatives: each says on its own what a value may be."""
    return [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _accepts_as_string(schema: dict[str, Any], text: str) -> bool:
    """Whether some branch takes ``text`` as a string (any string, or one listed in its enum)."""
    return any("string" in _types(branch) and text in branch.get("enum", [text]) for branch in _branches(schema))


def _as_number(text: str, integer_only: bool) -> int | float | None:
    """``text`` as a finite number (an int where it is integral and ``integer_only``), else None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):  # 'nan', 'inf': words, not the numbers a config means
        return None
    if integer_only:
        return int(value) if value.is_integer() else None
    return value


def coerce_numbers(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with number-like strings turned into numbers where the schema takes a number.

    PyYAML follows YAML 1.1, which reads ``1e4`` and ``1e-2`` (no dot) as strings, so the scanpy idiom
    ``target_sum: 1e4`` would fail validation. Only keys whose schema has a number or integer branch
    are touched, and never a string that the schema accepts as a string (cluster labels, paths, 'auto').
    """
    if isinstance(value, dict):
        properties = {key: sub for branch in _branches(schema) for key, sub in branch.get("properties", {}).items()}
        return {key: coerce_numbers(item, properties.get(key, {})) for key, item in value.items()}
    if isinstance(value, list):
        items = next((branch["items"] for branch in _branches(schema) if isinstance(branch.get("items"), dict)), {})
        return [coerce_numbers(item, items) for item in value]
    if not isinstance(value, str) or _accepts_as_string(schema, value):
        return value
    kinds = set().union(*(_types(branch) for branch in _branches(schema)))
    if not kinds & {"number", "integer"}:
        return value
    number = _as_number(value.strip(), integer_only="number" not in kinds)
    return value if number is None else number


def canonical_order(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with every mapping's keys in the schema's property order, then any others sorted.

    The completed config becomes Snakemake rule params, whose repr decides reruns: a config that spells
    out a default (``seed: 0``) or lists keys in another order must give the very same dict, order included.
    """
    if isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [canonical_order(item, items) for item in value]
    if not isinstance(value, dict):
        return value
    properties = schema.get("properties", {})
    keys = [key for key in properties if key in value] + sorted((key for key in value if key not in properties), key=str)
    return {key: canonical_order(value[key], properties.get(key, {})) for key in keys}


def _key_name(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path)
    return path or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    key = _key_name(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"under '{key}'" if error.absolute_path else "at the top level"
        return (
            f"unknown config key(s) {', '.join(repr(k) for k in extra)} {where}; "
            f"allowed keys are: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"config key '{key}': {error.message} (add it to your config.yaml)"
    if error.validator in ("oneOf", "anyOf"):
        options = ", ".join(_option(sub) for sub in error.validator_value)
        return f"config key '{key}': {error.instance!r} is none of the allowed values ({options})"
    if error.validator == "enum":
        return f"config key '{key}': {error.instance!r} is not one of {error.validator_value}"
    return f"config key '{key}': {error.message}"


def _option(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " or ".join(repr(v) for v in schema["enum"])
    bound = f" >= {schema['minimum']}" if "minimum" in schema else ""
    return f"a {schema.get('type', 'value')}{bound}"


def validate_config(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Read number-like strings as numbers, fill defaults, validate, and check cross-key rules.

    Returns the completed config in canonical key order (:func:`canonical_order`). Raises
    :class:`ConfigError` naming every offending key.
    """
    completed = apply_defaults(coerce_numbers(config, schema), schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(completed), key=lambda e: list(e.absolute_path))
    problems = [_describe(error) for error in errors]
    problems += _cross_key_problems(completed) if not problems else []
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return canonical_order(completed, schema)


def _cross_key_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    transitions = config["transitions"]
    if transitions["mode"] == "explicit" and not transitions["explicit"]:
        problems.append(
            "transitions.mode is 'explicit' but transitions.explicit is empty; "
            "list pairs like [[stem, progenitor], ...]"
        )
    if transitions["mode"] in ("pseudotime", "trajectory") and not config["data"].get("pseudotime_key"):
        problems.append(
            f"transitions.mode is '{transitions['mode']}' but data.pseudotime_key is not set; "
            "name the obs column that holds the pseudotime"
        )
    if config.get("mapping", {}).get("method") == "pseudotime" and not config["data"].get("pseudotime_key"):
        problems.append(
            "mapping.method is 'pseudotime' but data.pseudotime_key is not set; name the obs column that holds "
            "the pseudotime, or choose another mapping.method"
        )
    if config["data"].get("use_raw") and config["data"].get("layer"):
        problems.append(
            "data.use_raw is true and data.layer is set: the expression comes from one of them; "
            "use data.use_raw: true for adata.raw, or data.layer for a layer of the AnnData"
        )
    fit = config.get("fit", {})
    if fit.get("sign", "free") != "free" and fit.get("solver", "ridge") != "ridge":
        problems.append(
            f"fit.sign is {fit['sign']!r} but fit.solver is {fit['solver']!r}: the sign-constrained fit is a ridge; "
            "set fit.solver: ridge, or fit.sign: free"
        )
    if fit.get("sign") == "confident" and (fit.get("bootstrap", 0) >= 2 or config.get("differential", {}).get("enabled")):
        problems.append(
            "fit.sign is 'confident', which the bootstrap's refits (fit.bootstrap, differential.enabled) do not "
            "support; use fit.sign: correlation or free there"
        )
    if config.get("fit", {}).get("bootstrap") == 1:
        problems.append(
            "fit.bootstrap is 1: one resample gives no spread, so per-edge confidence needs at least 2 "
            "(20 or more is usual); set fit.bootstrap: 0 (off) or >= 2"
        )
    return problems


def config_notes(config: dict[str, Any]) -> list[str]:
    """Settings of a validated config that do more than they say: notes for ``transgrn check`` and
    the run's log (not errors: the run does what is documented)."""
    notes = []
    models = config.get("models", [])
    if models and "linear" not in models:
        notes.append(
            f"models: {models} also fits the linear model: every result (edges, tensor, report) is built from the "
            "linear network, and the MLP adds its held-out R^2 (r2_test_mlp) and per-edge attribution beside it. "
            "Write models: [linear, mlp] to say so")
    return notes


# fit.device: cuda where torch finds no GPU (a CPU build of torch, or a machine without one)
CUDA_UNAVAILABLE = ("fit.device is 'cuda' but torch finds no CUDA GPU here (torch.cuda.is_available() is False: "
                    "no GPU, or a CPU build of torch). Set fit.device: auto (a GPU where there is one, else the CPU) "
                    "or cpu; or run the fits where torch sees a GPU")


def environment_problems(config: dict[str, Any]) -> list[str]:
    """Settings this machine cannot honour (fit.device: cuda without a GPU torch can use): warnings, since
    a cluster's jobs may run on other machines than the one checking (fit jobs ask for gpu=1 there)."""
    if config.get("fit", {}).get("device") != "cuda":
        return []
    import torch

    return [] if torch.cuda.is_available() else [CUDA_UNAVAILABLE + " (fine if the fit jobs run on GPU nodes)"]
