"""Typed options: one frozen dataclass per config section, built once from the validated config.

The schema (``transgrn/schemas/config.schema.yaml``, read by :func:`transgrn.config.load_schema`) is the only place defaults live: a section
given partly (in a notebook, a test) is completed from it by :func:`section_defaults`, and a key
the dataclass does not know is an error, never silently dropped. ``tests/test_options.py``
checks that every section's schema keys and dataclass fields agree.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar

import numpy as np

# mapping methods whose coupling is computed in a PCA of both clusters (mapping.shared_pca)
PCA_METHODS = ("ot", "knn", "hybrid")


def _listed(names, limit: int = 5) -> str:
    names = [str(name) for name in names]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    from .config import load_schema

    return load_schema()


def section_defaults(section: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``values`` of config section ``section`` with the schema's defaults filled in."""
    from .config import apply_defaults

    return apply_defaults({section: dict(values or {})}, {"properties": {section: _schema()["properties"][section]}})[section]


T = TypeVar("T", bound="_Section")


class _Section:
    SECTION = ""

    @classmethod
    def from_config(cls: type[T], values: Mapping[str, Any] | T | None = None) -> T:
        """The options of a config section (``config[SECTION]``), completed from the schema's defaults."""
        if isinstance(values, cls):
            return values
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(values or {}) - known
        if unknown:
            raise TypeError(f"{cls.SECTION}: unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**section_defaults(cls.SECTION, values))


# mapping.method: designs whose rows are cells of both clusters, each paired with itself (the inputs of ``lagged``
# shifted along pseudotime); the other methods pair source cells with target cells.
SAME_CELL_METHODS = ("lagged", "joint", "hybrid")


@dataclass(frozen=True)
class MappingOptions(_Section):
    SECTION = "mapping"
    method: str
    lag_grid: list[float]
    lag_bandwidth: float
    barycentric: bool
    max_targets: int
    knn_k: int
    pseudotime_lag: float
    pseudotime_bandwidth: float
    unbalanced_reg: float | None
    n_pairs: int
    test_fraction: float
    n_pcs: int
    exact_max_cells: int
    entropic_reg: float

    def clipped_by(self, n_source: Sequence[int], n_target: Sequence[int], n_genes: int,
                   transition_ids: Sequence[str]) -> list[str]:
        """Warnings for the settings that some of the transitions ``transition_ids`` (with these cluster
        sizes and the prior's genes) cut down without a word from the mapping code: ``knn_k`` at least the target
        cluster's cells couples every source cell to all of them alike -- the random null's uniform
        coupling, so the transition cannot beat its null; ``n_pcs`` beyond what the cells and genes
        allow (cells - 1, genes) uses fewer components. ``transgrn check`` and the mapping jobs say them."""
        n_source, n_target = np.asarray(n_source), np.asarray(n_target)
        names = np.asarray(transition_ids, dtype=object)
        warnings = []
        if self.method == "knn" and (covered := self.knn_k >= n_target).any():
            warnings.append(
                f"mapping.knn_k: {self.knn_k} neighbours is at least the target cluster's cells in transition(s) "
                f"{_listed(names[covered])} (smallest: {int(n_target[covered].min())} cells), so every source cell "
                "is coupled to all of them alike: that is the random null's coupling, and the mapping cannot beat "
                f"it. Lower mapping.knn_k ({section_defaults('mapping')['knn_k']} is the default) below the target cluster's cells")
        if self.method in PCA_METHODS:
            allowed = np.minimum(n_source + n_target - 1, n_genes)
            if (clipped := self.n_pcs > allowed).any():
                warnings.append(
                    f"mapping.n_pcs: {self.n_pcs} principal components is more than transition(s) "
                    f"{_listed(names[clipped])} allow (the cells of both clusters - 1, or the {n_genes} genes), so "
                    f"only {int(allowed[clipped].min())} are used there; lower mapping.n_pcs to say what is computed")
        return warnings




@dataclass(frozen=True)
class FitOptions(_Section):
    SECTION = "fit"
    solver: str
    alpha: float | Literal["auto"]  # auto: cross-validated (transgrn.fit.make_transition_solver alone reads it)
    l1_ratio: float
    fit_intercept: bool
    standardize: bool
    self_term: bool
    sign: str
    bootstrap: int
    borrow_below: float
    pooled_max_cells: int
    epochs: int
    lr: float
    device: str
    dtype: str


@dataclass(frozen=True)
class FilterOptions(_Section):
    SECTION = "filter"
    min_confidence: float
    top_k: int


@dataclass(frozen=True)
class CofactorOptions(_Section):
    SECTION = "cofactors"
    enabled: bool
    fdr: float
    max_pairs: int
    min_shared_targets: int


@dataclass(frozen=True)
class DifferentialOptions(_Section):
    SECTION = "differential"
    enabled: bool
    pairs: str
    explicit: list
    n_boot: int
    se_method: str
    max_qvalue: float


@dataclass(frozen=True)
class ReportOptions(_Section):
    SECTION = "report"
    top_edges: int
    network_edges: int
    detail_transitions: int


@dataclass(frozen=True)
class TransitionOptions(_Section):
    SECTION = "transitions"
    mode: str
    paga_threshold: float
    explicit: list
    min_cells: int


@dataclass(frozen=True)
class DataOptions(_Section):
    SECTION = "data"
    adata: str
    prior: str
    cluster_key: str
    pseudotime_key: str | None
    layer: str | None
    use_raw: bool
    normalize: bool
    target_sum: float | None
    prior_orientation: str
    prior_case: str
    smooth: int


SECTIONS: tuple[type[_Section], ...] = (DataOptions, TransitionOptions, MappingOptions, FitOptions, FilterOptions,
                                        CofactorOptions, DifferentialOptions, ReportOptions)
