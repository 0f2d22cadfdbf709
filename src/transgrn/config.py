"""Configuration: defaults and validation against the workflow's JSON schema."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import ConfigError


def load_schema(path: str | Path) -> dict[str, Any]:
    with open(path) as handle:
        return yaml.safe_load(handle)


def apply_defaults(config: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``config`` with every schema default filled in, recursively."""
    config = copy.deepcopy(config)
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict) and sub.get("type") == "object":
            config[key] = apply_defaults(config[key], sub)
    return config


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
    """Fill defaults, validate, and check cross-key rules. Returns the completed config.

    Raises :class:`ConfigError` naming every offending key.
    """
    completed = apply_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(completed), key=lambda e: list(e.absolute_path))
    problems = [_describe(error) for error in errors]
    problems += _cross_key_problems(completed) if not problems else []
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return completed


def _cross_key_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    transitions = config["transitions"]
    if transitions["mode"] == "explicit" and not transitions["explicit"]:
        problems.append(
            "transitions.mode is 'explicit' but transitions.explicit is empty; "
            "list pairs like [[stem, progenitor], ...]"
        )
    if transitions["mode"] == "pseudotime" and not config["data"].get("pseudotime_key"):
        problems.append(
            "transitions.mode is 'pseudotime' but data.pseudotime_key is not set; "
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
    if config.get("fit", {}).get("bootstrap") == 1:
        problems.append(
            "fit.bootstrap is 1: one resample gives no spread, so per-edge confidence needs at least 2 "
            "(20 or more is usual); set fit.bootstrap: 0 (off) or >= 2"
        )
    return problems
