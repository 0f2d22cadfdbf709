"""What the run was, for the report's run section and for report.smk's DAG: wall time per stage from
Snakemake's benchmark files, transition titles, the mapping design that ran and the parameters it used.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pandas as pd


def stage_times(benchmarks: dict[str, str]) -> pd.DataFrame:
    """Wall time per stage from Snakemake benchmark files (``path -> stage``)."""
    rows = []
    for path, stage in benchmarks.items():
        seconds = pd.read_csv(path, sep="\t")["s"]
        rows.append({"stage": stage, "seconds": float(seconds.iloc[0]) if len(seconds) else float("nan")})
    if not rows:
        return pd.DataFrame(columns=["stage", "jobs", "total_s", "median_s", "max_s"])
    frame = pd.DataFrame(rows).groupby("stage", sort=False)["seconds"]
    return pd.DataFrame({"jobs": frame.size(), "total_s": frame.sum(), "median_s": frame.median(),
                         "max_s": frame.max()}).reset_index()


def transition_title(transitions_tsv: str | Path, transition: str) -> str:
    """'A → B' with the clusters' real names (ids such as ``c00_stem_cell`` lose punctuation)."""
    return _titles(str(transitions_tsv), Path(transitions_tsv).stat().st_mtime_ns)[transition]


@functools.lru_cache(maxsize=4)
def _titles(path: str, mtime_ns: int) -> dict[str, str]:
    """Titles of every transition, read once per version of the table: the DAG asks once per job."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return {t: f"{a} → {b}" for t, a, b in zip(table["transition"], table["source_cluster"], table["target_cluster"])}


def benchmark_files(patterns: dict[str, str], transition_ids: list[str], roles=("main", "null")) -> dict[str, str]:
    """Times file (a job's benchmark file) -> stage, expanding each stage's pattern over the transitions
    ``transition_ids`` and mapping roles."""
    files = {}
    for stage, pattern in patterns.items():
        for transition in transition_ids if "{transition}" in pattern else [None]:
            for role in roles if "{role}" in pattern else [None]:
                files[pattern.format(transition=transition, role=role)] = stage
    return files


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """Dotted keys -> JSON values, so nested parameters read as one table."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = json.dumps(value, ensure_ascii=False)
    return out


def design_label(summary: dict, table: pd.DataFrame, config: dict) -> str:
    """The mapping design the run used, e.g. ``joint (no pseudotime)`` where ``lagged`` was configured
    but the data had no pseudotime: the checkpoint's summary, else the table's column, else the config."""
    if summary.get("mapping_method"):
        return str(summary["mapping_method"])
    if "mapping" in table and len(table):
        return ", ".join(dict.fromkeys(table["mapping"].astype(str)))
    return str(config.get("mapping", {}).get("method", "?"))


# Options that only some choices use: (section, option) -> (the key that chooses, the values that use it).
# Options not listed are always used (e.g. mapping.n_pairs and n_pcs also shape the random-pairing null).
_COUPLINGS_WITH_BARYCENTRIC = ("ot", "knn", "pseudotime", "random")
OPTION_USED_BY = {
    ("mapping", "lag_grid"): ("mapping.method", ("lagged",)),
    ("mapping", "lag_bandwidth"): ("mapping.method", ("lagged",)),
    ("mapping", "barycentric"): ("mapping.method", _COUPLINGS_WITH_BARYCENTRIC),
    ("mapping", "knn_k"): ("mapping.method", ("knn",)),
    ("mapping", "pseudotime_lag"): ("mapping.method", ("pseudotime",)),
    ("mapping", "pseudotime_bandwidth"): ("mapping.method", ("pseudotime",)),
    ("mapping", "exact_max_cells"): ("mapping.method", ("ot", "hybrid")),
    ("mapping", "entropic_reg"): ("mapping.method", ("ot", "hybrid")),
    ("mapping", "unbalanced_reg"): ("mapping.method", ("ot", "hybrid")),
    ("fit", "l1_ratio"): ("fit.solver", ("elasticnet",)),
    ("fit", "epochs"): ("fit.solver", ("adam",)),
    ("fit", "lr"): ("fit.solver", ("adam",)),
    ("transitions", "explicit"): ("transitions.mode", ("explicit",)),
    # pseudotime: the threshold of the warning about chained clusters that are not neighbours
    ("transitions", "paga_threshold"): ("transitions.mode", ("paga", "pseudotime")),
}


def used_parameters(config: dict, demo: bool = False) -> dict[str, str]:
    """:func:`flatten` of the parameters the run used: ``demo.*`` only when the demo data were
    simulated, options of other mapping methods, solvers and transition modes left out, and a
    disabled section (``cofactors``) reduced to its switch."""
    def chosen(dotted: str) -> Any:
        section, key = dotted.split(".")
        return config.get(section, {}).get(key)

    def used(section: str, key: str) -> bool:
        if section == "demo":
            return demo
        if section == "cofactors" and key != "enabled":
            return bool(config.get("cofactors", {}).get("enabled"))
        if (section, key) == ("mapping", "max_targets"):  # barycentric pairs: hybrid's, or a coupling's on request
            return chosen("mapping.method") == "hybrid" or (
                bool(chosen("mapping.barycentric")) and chosen("mapping.method") in _COUPLINGS_WITH_BARYCENTRIC)
        if (section, key) == ("filter", "min_confidence"):  # needs the bootstrap's q-values
            return bool(chosen("fit.bootstrap"))
        selector, values = OPTION_USED_BY.get((section, key), (None, ()))
        return selector is None or chosen(selector) in values

    kept = {section: {k: v for k, v in value.items() if used(section, k)} if isinstance(value, dict) else value
            for section, value in config.items() if section != "demo" or demo}
    return flatten(kept)
