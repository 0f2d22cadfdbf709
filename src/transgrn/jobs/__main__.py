"""Run one workflow job by hand: ``python -m transgrn.jobs <rule> --name value ...``.

The names are the job function's parameters (the rule's input, output, params and wildcards); a value
is read as JSON where it parses (numbers, lists, ``'{"alpha": 1.0}'``) and as text otherwise.
Provenance records the given files' checksums. ``python -m transgrn.jobs <rule> --help`` lists them.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from typing import Any

#: rule -> module of transgrn.jobs that holds its function (named as the rule)
RULES = {"prepare": "prepare", "simulate_demo": "prepare", "map_cells": "mapping", "fit_pooled": "fit",
         "fit_grn": "fit", "evaluate_grn": "evaluate", "fit_mlp": "models", "find_cofactors": "models",
         "differential_unit": "differential", "differential": "differential", "aggregate": "aggregate",
         "plot_transition": "report", "select_figures": "report", "report": "report"}


def job_function(rule: str) -> Callable[..., None]:
    if rule not in RULES:
        raise SystemExit(f"unknown rule {rule!r}; one of: {', '.join(RULES)}")
    return getattr(importlib.import_module(f"transgrn.jobs.{RULES[rule]}"), rule)


def parse_arguments(main: Callable[..., None], argv: list[str]) -> dict[str, Any]:
    def value(text: str):
        try:
            return json.loads(text)
        except ValueError:
            return text

    parameters = {name: p for name, p in inspect.signature(main).parameters.items() if name != "record"}
    parser = argparse.ArgumentParser(prog=f"python -m transgrn.jobs {main.__name__}",
                                     description=(main.__doc__ or "").strip().split("\n")[0])
    for name, parameter in parameters.items():
        required = parameter.default is inspect.Parameter.empty
        parser.add_argument(f"--{name}", type=value, required=required, default=None if required else parameter.default)
    return vars(parser.parse_args(argv))


def main(argv: list[str] | None = None) -> None:
    import logging

    from ..errors import TransgrnError
    from ..io import provenance
    from .runner import configure_process

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-"):
        raise SystemExit(f"usage: python -m transgrn.jobs <rule> [--help | --name value ...]; rules: {', '.join(RULES)}")
    function = job_function(argv[0])
    values = parse_arguments(function, argv[1:])
    # given files are its inputs (outputs do not exist yet, or are overwritten), everything else its parameters
    inputs = {k: v for k, v in values.items() if isinstance(v, str) and os.path.isfile(v)}
    params = {k: v for k, v in values.items() if k not in inputs}
    configure_process()
    logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))  # by hand: the notes on the terminal
    try:
        function(**values, record=provenance(params, inputs, params.get("seed"), rule="(run by hand)"))
    except TransgrnError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
