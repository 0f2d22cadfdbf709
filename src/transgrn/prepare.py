"""The checkpoint: read and check the inputs once, align the prior, enumerate transitions,
and write one small slice per cluster so that per-transition jobs never load the whole data."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import io
from .errors import InputError
from .networks import FEW_SHARED, align_edges, read_network
from .options import DataOptions, MappingOptions, TransitionOptions
from .transitions import cluster_graph, cluster_ids, enumerate_transitions, listed

log = logging.getLogger(__name__)

PREPARED_FILES = {
    "transitions": "transitions.tsv",
    "skipped": "skipped.tsv",
    "prior": "prior_edges.parquet",
    "reference": "reference.parquet",
    "summary": "summary.json",
    "clusters": "clusters",
}


sha256 = io.sha256  # kept here for callers of transgrn.prepare.sha256


@dataclass(frozen=True)
class CheckpointOptions:
    """The config sections the checkpoint reads, typed once from the validated config (:meth:`from_config`)."""

    data: DataOptions
    transitions: TransitionOptions
    reference: str | None
    mapping: MappingOptions  # what the config's mapping section gives, the schema's defaults for the rest
    # whether the config held more of the mapping section than its method: the checkpoint's rule passes only
    # the method (other mapping settings must not rerun it and so every job); transgrn check passes all of it
    # and checks its settings against the data too
    mapping_given: bool

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "CheckpointOptions":
        mapping = config["mapping"]
        return cls(DataOptions.from_config(config["data"]), TransitionOptions.from_config(config["transitions"]),
                   config["reference"], MappingOptions.from_config(mapping), set(mapping) != {"method"})


CONTINUOUS_MIN_VALUES = 50  # fewer distinct numbers than this are plausible cluster numbers, however few the cells


def _check_not_continuous(adata, key: str) -> None:
    """A numeric cluster column with about one value per cell (e.g. n_counts) is a measurement, not
    cluster labels: refuse it by name rather than list hundreds of one-cell "clusters"."""
    raw = adata.obs[key]
    if isinstance(raw.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(raw):
        return
    n_values, n_cells = raw.nunique(), int(raw.notna().sum())
    if n_values >= CONTINUOUS_MIN_VALUES and n_values > n_cells / 2:
        labels = [c for c, column in adata.obs.items()
                  if isinstance(column.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(column)]
        examples = ", ".join(f"{v:g}" for v in raw.dropna().unique()[:3])
        raise InputError(f"data.cluster_key: obs column '{key}' looks continuous, not a cluster label: {n_values} "
                         f"distinct numbers for {n_cells} cells (e.g. {examples}). Set "
                         "data.cluster_key to a column of cluster labels (categorical columns: "
                         f"{listed(labels) or 'none'}), e.g. from scanpy.tl.leiden")


def _cluster_labels(adata, key: str) -> tuple[pd.Series, int]:
    """Labels as strings, in the data's category order; otherwise sorted, numerically for a
    numeric column (0, 1, 2, 10 rather than 0, 1, 10, 2), as text for anything else."""
    _check_not_continuous(adata, key)
    raw = adata.obs[key]
    if isinstance(raw.dtype, pd.CategoricalDtype):
        order = raw.cat.categories
    else:
        numeric = pd.api.types.is_numeric_dtype(raw)
        order = sorted(raw.dropna().unique(), key=None if numeric else str)
    names = list(dict.fromkeys(str(c) for c in order))
    values = np.where(raw.isna(), None, raw.astype(str))
    return pd.Series(pd.Categorical(values, categories=names), index=adata.obs_names), int(raw.isna().sum())


def _cluster_sizes(labels: pd.Series, unlabelled: int, key: str) -> dict[str, int]:
    """Cells per cluster (clusters without cells left out, with a warning); at least two clusters."""
    counts = labels.value_counts(sort=False)
    if unlabelled:
        log.warning("%d cells have no label in obs['%s'] (missing values); they are left out", unlabelled, key)
    empty = [str(c) for c, n in counts.items() if n == 0]
    if empty:
        log.warning("obs['%s'] has %d categories without cells (%s); they are ignored", key, len(empty),
                    listed(map(repr, empty), 5))
    sizes = {c: int(n) for c, n in counts.items() if n > 0}
    if len(sizes) < 2:
        raise InputError(f"data.cluster_key: obs column '{key}' has {len(sizes)} cluster(s) with cells "
                         f"({listed(map(repr, sizes)) or 'none'}); a transition needs two. "
                         "Set data.cluster_key to the column with your cluster labels")
    return sizes


def _explicit_without_empty(explicit, labels: pd.Series, sizes: dict[str, int]):
    """Explicit pairs naming a cluster that exists as a category but has no cells are skipped, with the reason."""
    empty = {str(c) for c in labels.cat.categories} - set(sizes)
    keep, skipped = [], []
    for pair in explicit:
        source, target = (str(x) for x in pair)
        missing = [c for c in (source, target) if c in empty]
        if missing:
            skipped.append({"source_cluster": source, "target_cluster": target,
                            "reason": "; ".join(f"cluster '{c}' has 0 cells" for c in missing)})
        else:
            keep.append(pair)
    return keep, pd.DataFrame(skipped, columns=["source_cluster", "target_cluster", "reason"])


def _pseudotime(adata, key: str | None) -> pd.Series | None:
    if key is None:
        return None
    io.check_obs_key(adata, key, "data.pseudotime_key")
    values = pd.to_numeric(adata.obs[key], errors="coerce")
    if not np.isfinite(values).all():
        n_bad = int((~np.isfinite(values)).sum())
        raise InputError(f"data.pseudotime_key: obs column '{key}' has {n_bad} missing or non-numeric values; "
                         "give every cell a finite pseudotime")
    return values


def _looks_like_counts(matrix) -> bool:
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    sample = values.ravel()[:200_000]
    return sample.size > 0 and float(sample.max()) > 30 and bool(np.all(sample == np.round(sample)))


def normalize_log1p(matrix, target_sum: float | None = None):
    """``log1p`` of counts scaled to ``target_sum`` per cell (scanpy's normalize_total + log1p), as float32.

    ``target_sum=None`` scales to the median total count of the cells that have counts, as scanpy's
    ``normalize_total`` does by default: at low depth a fixed 10,000 inflates the jump between 0
    and 1 count, which the regression then reads as regulation (benchmarks/recovery.py, count tracks).
    Refuses negative values (scaled or centred data cannot be normalized)."""
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if values.size and float(values.min()) < 0:
        raise InputError("data.normalize is true but the expression holds negative values, so it is not counts "
                         "(scaled or centred data?); give raw counts (e.g. data.layer: counts) or set data.normalize: false")
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True) if sp.issparse(matrix) else np.array(matrix, dtype=np.float32)
    totals = np.asarray(out.sum(axis=1), dtype=np.float64).ravel()
    if target_sum is None:
        target_sum = float(np.median(totals[totals > 0])) if (totals > 0).any() else 1.0
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0).astype(np.float32)
    if sp.issparse(out):
        out.data *= np.repeat(scale, np.diff(out.indptr))
        np.log1p(out.data, out=out.data)
        return out
    out *= scale[:, None]
    return np.log1p(out, out=out)


def _check_scale(matrix, normalize: bool, target_sum: float | None = None):
    """data.normalize: normalize (with a warning when the values do not look like raw counts)."""
    if not normalize:
        return matrix
    if not _looks_like_counts(matrix):
        log.warning("data.normalize is true but the expression does not look like raw counts (non-integer "
                    "values or all below 30): normalizing anyway; set data.normalize: false if it is already "
                    "log-normalized")
    log.info("data.normalize: scaling every cell to %s counts and taking log1p",
             "the median total" if target_sum is None else f"{target_sum:g}")
    return normalize_log1p(matrix, target_sum)


NEGATIVE_TOLERANCE = -1e-6  # float round-off of an otherwise non-negative matrix is not "negative"
ZSCORE_ROWS = 20_000  # cells that decide whether the columns look z-scored (the check stays cheap)


def _expression_source(data: DataOptions) -> str:
    if data.use_raw:
        return "adata.raw.X"
    return f"layers['{data.layer}']" if data.layer else "X"


def _looks_z_scored(matrix) -> bool:
    """Per-gene means about 0 and standard deviations about 1, as after ``sc.pp.scale`` (the medians
    over genes, on at most :data:`ZSCORE_ROWS` cells; cells subset after scaling drift a little)."""
    rows = matrix[:ZSCORE_ROWS]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows, dtype=np.float64)
    mean, sd = rows.mean(axis=0), rows.std(axis=0)
    varying = sd > 0
    return bool(varying.any() and np.median(np.abs(mean[varying])) < 0.1 and 0.7 < np.median(sd[varying]) < 1.3)


def _log_data_hint(adata, data: DataOptions) -> str:
    """Where the log-normalized data may be: ``.raw`` (scanpy keeps it there), a layer, or to be made."""
    hints = []
    if adata.raw is not None and not data.use_raw:
        hints.append(f"adata.raw holds {adata.raw.n_vars} genes (scanpy keeps the log-normalized data there "
                     "before sc.pp.scale): set data.use_raw: true to use it")
    layers = [k for k in adata.layers.keys() if k != data.layer]
    if layers:
        hints.append(f"set data.layer to a log-normalized layer (layers: {', '.join(layers)}; for raw counts "
                     "add data.normalize: true)")
    hints.append("store log-normalized data (scanpy.pp.normalize_total, then scanpy.pp.log1p) in X")
    return "Fix: " + "; or ".join(hints)


def _check_log_normalized(adata, matrix, data: DataOptions) -> None:
    """Refuse expression that is not log-normalized: z-scored, otherwise negative, or raw counts.

    Log-normalized expression is >= 0; anything shifted to be so (e.g. qPCR as LOD - Ct) passes."""
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    source = f"the expression in {_expression_source(data)}"
    if values.size and float(values.min()) < NEGATIVE_TOLERANCE:
        low = float(values.min())
        found = (f"it looks z-scored (per-gene mean about 0 and sd about 1, as after scanpy.pp.scale; minimum {low:.3g})"
                 if _looks_z_scored(matrix) else f"it holds negative values (minimum {low:.3g}; scaled or centred?)")
        raise InputError(f"data.adata: {source} is not log-normalized: {found}. transgrn needs log-normalized "
                         f"expression (>= 0). {_log_data_hint(adata, data)}. Values on a log scale that are "
                         "negative by design (e.g. qPCR -dCt) can be shifted to be >= 0 (e.g. LOD - Ct)")
    if _looks_like_counts(matrix):
        raise InputError(f"data.adata: {source} looks like raw counts (integer values up to {float(values.max()):g}), "
                         "not log-normalized. Set data.normalize: true to normalize it in the checkpoint (the median "
                         f"total count per cell, or data.target_sum, then log1p). {_log_data_hint(adata, data)}")


def _drop_empty_cells(matrix, labels: pd.Series) -> tuple[pd.Series, int]:
    """All-zero cells (usually failed ones) leave every cluster, with a warning; returns the labels and
    how many. They would otherwise be perfectly predicted zeros that inflate R^2.

    The expression is non-negative by now (checked or normalized), so a row sum of 0 means every
    value is 0, without a temporary copy of the matrix."""
    empty = (np.asarray(matrix.sum(axis=1)).ravel() <= 0) & labels.notna().to_numpy()
    n_empty = int(empty.sum())
    if n_empty:
        log.warning("%d cells have no expression at all (every value 0): they are left out, as "
                    "scanpy.pp.filter_cells(adata, min_genes=1) would; filter failed cells before transgrn to "
                    "silence this", n_empty)
        labels = labels.copy()
        labels[empty] = np.nan
    return labels, n_empty


def _reference(options: CheckpointOptions, genes: pd.Index) -> pd.DataFrame | None:
    """The reference's edges between measured genes; none at all is an error (with examples from
    both), as every recovery metric would be empty."""
    if not options.reference:
        return None
    reference_raw, _ = read_network(options.reference, "reference")
    try:
        return align_edges(reference_raw, genes, "reference", options.data.prior_case)
    except InputError as error:
        raise InputError(f"{error} Or set reference: null to run without a reference.") from None


ENSEMBL_ID = r"ENS[A-Z]*G\d{6,}(\.\d+)?"  # an Ensembl gene id (ENSG..., ENSMUSG...), with or without version


def _share_ensembl(names) -> float:
    names = pd.Index(pd.unique(np.asarray(names, dtype=str)))
    return float(names.str.fullmatch(ENSEMBL_ID).mean()) if len(names) else 0.0


def gene_name_hint(var: pd.DataFrame, edges: pd.DataFrame) -> str:
    """Where the data's genes are named otherwise than the prior's, how to fix it: a column of ``var``
    that holds clearly more of the prior's genes than ``var_names`` (scanpy's read_10x keeps the other
    identifier in var['gene_ids'] or var['gene_symbols']), else what the two identifier kinds are."""
    prior_genes = set(pd.unique(pd.concat([edges["tf"], edges["target_gene"]])).astype(str))
    in_names = len(prior_genes & set(var.index.astype(str)))
    found = {column: len(prior_genes & set(var[column].astype(str)))
             for column in var.columns if var[column].dtype == object or isinstance(var[column].dtype, pd.CategoricalDtype)
             or pd.api.types.is_string_dtype(var[column].dtype)}
    column = max(found, key=found.get, default=None)
    if column is not None and found[column] >= max(2 * in_names, in_names + 10):
        return (f" The AnnData's var['{column}'] holds {found[column]} of the prior's {len(prior_genes)} genes "
                f"(its var_names {in_names}): use it as the gene names, e.g. adata.var_names = "
                f"adata.var['{column}'].astype(str); adata.var_names_make_unique(), and write the file again")
    data_ids, prior_ids = _share_ensembl(var.index) > 0.5, _share_ensembl(list(prior_genes)) > 0.5
    if data_ids and not prior_ids:
        return (" The data's genes are Ensembl IDs and the prior's are gene symbols: put the symbols in var_names "
                "(scanpy.read_10x_h5/read_10x_mtx keep them in var['gene_symbols'] when var_names='gene_ids'; "
                "adata.var_names = adata.var['gene_symbols']), or give a prior in Ensembl IDs")
    if prior_ids and not data_ids:
        return (" The prior's genes are Ensembl IDs and the data's are gene symbols: give a prior in symbols, or put "
                "the IDs in var_names (scanpy.read_10x_h5/read_10x_mtx keep them in var['gene_ids']; "
                "adata.var_names = adata.var['gene_ids'])")
    return ""


def _warn_unscorable_reference(reference: pd.DataFrame, prior: pd.DataFrame) -> None:
    """The recovery metrics rank the prior's edges against the reference (transgrn.metrics.recovery_metrics):
    a reference that holds all of them, or none, leaves nothing to rank, so auprc_ratio and auroc are NaN."""
    in_reference = prior[["tf", "target_gene"]].merge(reference[["tf", "target_gene"]].drop_duplicates(), how="left",
                                                      indicator=True)["_merge"].eq("both")
    if in_reference.all():
        log.warning("reference: every one of the prior's %d edges is in the reference (is it the prior itself?), so "
                    "the recovery metrics have no false edge to rank against and auprc_ratio and auroc are NaN. Give "
                    "a reference independent of the prior (e.g. ChIP-seq or perturbation edges), or a larger prior",
                    len(prior))
    elif not in_reference.any():
        log.warning("reference: none of the prior's %d edges is in the reference, so the recovery metrics have no "
                    "true edge to find and auprc_ratio and auroc are NaN. Give a reference that shares edges with "
                    "the prior (the same gene names and species)", len(prior))


def _mapping_method(options: CheckpointOptions, pseudotime: pd.Series | None) -> str:
    """The design the transitions will actually use, warned about once here rather than per job.

    Modes that fit both directions of a pair (all; paga without a pseudotime) then fit A->B and B->A
    on the same cells, so the warning says that their direction means nothing."""
    method = options.mapping.method
    if method == "lagged" and pseudotime is None:
        mode = options.transitions.mode
        both_ways = (f" In transitions.mode '{mode}' this makes A->B and B->A the same regression on the same "
                     "rows, with the same network: the direction means nothing. Set data.pseudotime_key, or use "
                     "a mapped design (mapping.method: ot), for a direction" if mode in ("all", "paga") else "")
        log.warning("mapping.method 'lagged' shifts TF inputs along a pseudotime, but data.pseudotime_key is not "
                    "set: every transition uses the same-cell 'joint' design. Set data.pseudotime_key to an obs "
                    "column with a pseudotime (e.g. from scanpy.tl.dpt), or set mapping.method: joint.%s", both_ways)
        return JOINT_WITHOUT_PSEUDOTIME
    return method


JOINT_WITHOUT_PSEUDOTIME = "joint (no pseudotime)"
MEMORY_LIMIT_BYTES = 4 << 30  # one array of a per-transition job beyond this is a setting mistake, not a need


def _pair_names(rows: pd.DataFrame, limit: int = 5) -> str:
    return listed([f"{r.source_cluster} -> {r.target_cluster}" for r in rows.itertuples()], limit)


def _check_sizes(options: CheckpointOptions, transitions: pd.DataFrame, n_genes: int, has_pseudotime: bool) -> None:
    """Settings that need more cells than a transition has, or more memory than a job should:
    data.smooth, mapping.test_fraction, mapping.n_pairs and mapping.lag_bandwidth (the mapping
    settings other than the method where the config gave them, :attr:`CheckpointOptions.mapping_given`)."""
    from .options import SAME_CELL_METHODS

    mapping = options.mapping
    both = transitions["n_source_cells"] + transitions["n_target_cells"]
    smaller = np.minimum(transitions["n_source_cells"], transitions["n_target_cells"])
    smooth = options.data.smooth
    if smooth > 1 and (smooth >= both).any():
        raise InputError(f"data.smooth: {smooth} neighbours is at least the number of cells of transition(s) "
                         f"{_pair_names(transitions[smooth >= both])} ({int(both.min())} cells in both clusters): "
                         "every cell would become the same average. Lower data.smooth (CellOracle uses about 1-2.5% "
                         "of the cells)")
    if smooth > 1 and (smooth >= smaller).any():
        log.warning("data.smooth: %d neighbours is at least the size of the smaller cluster of transition(s) %s, so "
                    "its cells are averaged with cells of the other cluster; lower data.smooth", smooth,
                    _pair_names(transitions[smooth >= smaller]))
    if options.mapping_given:
        rows = both if mapping.method in SAME_CELL_METHODS else transitions["n_source_cells"]
        held_out = np.maximum(1, np.round(mapping.test_fraction * rows))
        if (held_out < 3).any():
            log.warning("mapping.test_fraction: %g holds out fewer than 3 cells in transition(s) %s, so their "
                        "held-out R^2 is noise; raise mapping.test_fraction or transitions.min_cells",
                        mapping.test_fraction, _pair_names(transitions[held_out < 3]))
    if options.mapping_given and mapping.n_pairs * n_genes * 8 > MEMORY_LIMIT_BYTES:
        raise InputError(f"mapping.n_pairs: {mapping.n_pairs} pairs x {n_genes} genes need about "
                         f"{mapping.n_pairs * n_genes * 8 / 2**30:.1f} GiB per design matrix (the random null always "
                         "samples this many pairs); lower mapping.n_pairs (2,000 is the default)")
    if options.mapping_given:
        names = [f"{row.source_cluster} -> {row.target_cluster}" for row in transitions.itertuples()]
        for message in mapping.clipped_by(transitions["n_source_cells"], transitions["n_target_cells"], n_genes, names):
            log.warning(message)
    if mapping.method == "lagged" and has_pseudotime:  # the schema's grid where only the method is given
        bandwidth = float(mapping.lag_bandwidth)
        # lagged.Trend: a grid of step bandwidth/4 over the range plus the largest lag on each side,
        # times every cell of both clusters, twice (log-kernel and kernel), in float64
        points = 4 * (1 + 2 * max(mapping.lag_grid)) / bandwidth + 1
        need = points * int(both.max()) * 16
        if need > MEMORY_LIMIT_BYTES:
            raise InputError(f"mapping.lag_bandwidth: {bandwidth:g} needs a trend grid of about {need / 2**30:.1f} GiB "
                             f"for the largest transition ({int(both.max())} cells); raise mapping.lag_bandwidth "
                             "(0.04 is the default)")


def _cluster_stats(matrix, labels: pd.Series, clusters, columns: np.ndarray) -> dict[str, tuple]:
    """Per cluster: cells, sums and sums of squares of ``columns`` (enough to pool any two clusters)."""
    stats = {}
    for cluster in clusters:
        block = matrix[np.flatnonzero((labels == cluster).to_numpy())][:, columns]
        square = block.multiply(block) if sp.issparse(block) else np.square(np.asarray(block, dtype=np.float64))
        stats[cluster] = (block.shape[0], np.asarray(block.sum(axis=0), dtype=np.float64).ravel(),
                          np.asarray(square.sum(axis=0), dtype=np.float64).ravel())
    return stats


def _warn_silent_prior(matrix, labels: pd.Series, var_names: pd.Index, prior: pd.DataFrame,
                       transitions: pd.DataFrame) -> None:
    """Warn about transitions in which no prior TF varies over the cells of both clusters (the rows
    a same-cell design fits): nothing can be estimated there. Same threshold as the mask's."""
    tfs = var_names.get_indexer(pd.unique(prior["tf"]))
    used = pd.unique(pd.concat([transitions["source_cluster"], transitions["target_cluster"]]))
    stats = _cluster_stats(matrix, labels, used, tfs)
    silent = []
    for row in transitions.itertuples():
        (n_a, sum_a, sq_a), (n_b, sum_b, sq_b) = stats[row.source_cluster], stats[row.target_cluster]
        mean = (sum_a + sum_b) / (n_a + n_b)
        if not ((sq_a + sq_b) / (n_a + n_b) - mean**2 > 1e-12).any():
            silent.append(row.Index)
    if silent:
        log.warning("none of the prior's %d TFs varies in the cells of transition(s) %s (every TF constant, e.g. "
                    "not expressed): their networks will be empty. Check that the prior's TFs are measured, or "
                    "leave these transitions out (transitions.mode: explicit)", len(tfs),
                    _pair_names(transitions.loc[silent]))


ROWS_PER_PREDICTOR = 5  # fewer cells than this many per prior TF of a typical target overfit easily


def _warn_few_rows(transitions: pd.DataFrame, prior: pd.DataFrame, method: str) -> None:
    """One warning for the run naming the transitions with fewer cells than ROWS_PER_PREDICTOR per
    prior TF of a typical target: their fits rest on few rows per coefficient (the default
    penalty, chosen by cross-validation, keeps them from falling below the null; a sparser prior or
    larger clusters help more). Rows: the cells of both clusters for same-cell designs, the source
    cells otherwise (pairs reuse them)."""
    from .options import SAME_CELL_METHODS

    if prior.empty:
        return
    median_tfs = float(prior.groupby("target_gene").size().median())
    rows = transitions["n_source_cells"] + (transitions["n_target_cells"] if method in SAME_CELL_METHODS else 0)
    few = rows < ROWS_PER_PREDICTOR * median_tfs
    if few.any():
        log.warning("transition(s) %s have fewer than %d cells per prior TF of a typical target (%g TFs per target, "
                    "%d-%d cells): their held-out R^2 may not beat the null; keep fit.alpha: auto, use a sparser "
                    "prior, or larger clusters", _pair_names(transitions[few]), ROWS_PER_PREDICTOR, median_tfs,
                    int(rows[few].min()), int(rows[few].max()))


@dataclass
class Checked:
    """Everything the checkpoint knows once the inputs passed every check; nothing is written yet."""

    adata: Any
    matrix: Any  # the expression in use, normalized if data.normalize
    labels: pd.Series  # cluster per cell; NaN for unlabelled and empty cells
    unlabelled: int
    n_empty: int
    sizes: dict[str, int]
    pseudotime: pd.Series | None
    medians: dict[str, float] | None
    prior_input: dict[str, int]  # the prior as read, before matching the data's genes: its edges, TFs and targets
    prior: pd.DataFrame
    prior_format: str
    reference: pd.DataFrame | None
    transitions: pd.DataFrame
    skipped: pd.DataFrame
    genes: pd.Index  # the data's genes that the prior names, in the data's order
    mapping_method: str  # the design in use


def check_and_load(options: CheckpointOptions, seed: int = 0) -> Checked:
    """Read the AnnData and networks, check everything and enumerate the transitions; raise
    InputError before anything is written. ``prepare`` and ``transgrn check`` both run this. ``seed``
    (the run's) seeds the neighbour graph that the graph modes build where the data have none."""
    data = options.data
    # the prior first: its parse (tens of MB of strings at 500,000 edges) does not then add to the whole
    # matrix's memory, and a bad prior fails before a large .h5ad is read
    prior_raw, prior_format = read_network(data.prior, "data.prior", data.prior_orientation)
    adata = io.read_adata(data.adata)
    if data.use_raw:
        adata = io.raw_adata(adata)
    io.check_obs_key(adata, data.cluster_key, "data.cluster_key")
    matrix = io.expression(adata, data.layer)
    io.check_unique_genes(adata.var_names)
    io.check_unique_cells(adata.obs_names)
    io.check_values(matrix, adata.var_names)
    if not data.normalize:
        _check_log_normalized(adata, matrix, data)
    pseudotime = _pseudotime(adata, data.pseudotime_key)
    try:
        prior = align_edges(prior_raw, adata.var_names, "data.prior", data.prior_case)
    except InputError as error:
        raise InputError(f"{error}{gene_name_hint(adata.var, prior_raw)}") from None
    if len(prior) < FEW_SHARED * len(prior_raw) and (hint := gene_name_hint(adata.var, prior_raw)):
        log.warning("data.prior: only %d of its %d edges have both genes in the data's var_names.%s", len(prior),
                    len(prior_raw), hint)
    # only its counts are kept: at 500,000 edges its strings take 60 MB beside the whole matrix
    prior_input = _network_counts(prior_raw, "_input")
    del prior_raw
    reference = _reference(options, adata.var_names)
    if reference is not None:
        _warn_unscorable_reference(reference, prior)
    # once every cheaper check passed: normalizing copies the matrix
    matrix = _check_scale(matrix, data.normalize, data.target_sum)
    labels, unlabelled = _cluster_labels(adata, data.cluster_key)
    labels, n_empty = _drop_empty_cells(matrix, labels)
    sizes = _cluster_sizes(labels, unlabelled, data.cluster_key)
    medians = None if pseudotime is None else {c: float(pseudotime[labels == c].median()) for c in sizes}
    transitions, skipped = _transitions(options.transitions, adata, labels, sizes, medians, matrix, pseudotime, seed)
    genes = adata.var_names[adata.var_names.isin(pd.Index(prior["tf"]).union(prior["target_gene"]))]
    mapping_method = _mapping_method(options, pseudotime)
    _check_sizes(options, transitions, len(genes), pseudotime is not None)
    _warn_silent_prior(matrix, labels, adata.var_names, prior, transitions)
    _warn_few_rows(transitions, prior, options.mapping.method)
    return Checked(adata, matrix, labels, unlabelled, n_empty, sizes, pseudotime, medians, prior_input, prior,
                   prior_format, reference, transitions, skipped, genes, mapping_method)


def _transitions(tcfg: TransitionOptions, adata, labels: pd.Series, sizes: dict[str, int], medians: dict | None,
                 matrix, pseudotime: pd.Series | None, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The transitions to fit and those skipped (with the reason); none to fit is an error."""
    # the cluster graph (PAGA) of the modes that use one: on the data's neighbour graph, or one built with scanpy
    paga = cluster_graph(tcfg.mode, adata, labels, matrix, seed)
    pseudotimes = None if pseudotime is None else {c: pseudotime[labels == c].to_numpy() for c in sizes}
    explicit, skipped_empty = _explicit_without_empty(tcfg.explicit if tcfg.mode == "explicit" else [], labels, sizes)
    transitions, skipped = enumerate_transitions(sizes, tcfg.mode, tcfg.min_cells, explicit, medians,
                                                 paga, tcfg.paga_threshold, pseudotimes)
    skipped = pd.concat([skipped_empty, skipped], ignore_index=True) if len(skipped_empty) else skipped
    if transitions.empty and tcfg.mode == "paga" and skipped.empty:
        raise InputError(_paga_unconnected(paga, float(tcfg.paga_threshold)))
    if transitions.empty:
        reasons = "; ".join(f"{r.source_cluster} -> {r.target_cluster}: {r.reason}" for r in skipped.head(3).itertuples())
        raise InputError(
            f"no transition has at least transitions.min_cells={tcfg.min_cells} cells in both clusters "
            f"(cluster sizes: {listed(f'{c}: {n}' for c, n in sizes.items())}; skipped: {reasons or 'none'}); "
            "lower transitions.min_cells, fix transitions.explicit or check data.cluster_key"
        )
    return transitions, skipped


def _paga_unconnected(paga: pd.DataFrame, threshold: float) -> str:
    """Why PAGA gave no pair at all: the largest connectivity between two clusters, and a threshold
    just below it (two significant digits, so that the pair passes the strict ``>``)."""
    values = paga.to_numpy(dtype=float, copy=True)
    np.fill_diagonal(values, -np.inf)
    i, j = np.unravel_index(np.argmax(values), values.shape)
    largest = float(values[i, j])
    if largest <= 0:
        return ("transitions.mode 'paga': no neighbour edge joins two clusters, so PAGA connects none. Check "
                "data.cluster_key and the neighbour graph (scanpy.pp.neighbors), or list the transitions with "
                "transitions.mode: explicit")
    step = 10.0 ** (np.floor(np.log10(largest)) - 1)
    below = np.floor(largest / step) * step
    below = round(below - step if below >= largest else below, 12)
    return (f"transitions.mode 'paga': no cluster pair reaches transitions.paga_threshold={threshold:g}; the "
            f"largest PAGA connectivity is {largest:.3g} ({paga.index[i]} - {paga.columns[j]}). Lower "
            f"transitions.paga_threshold (e.g. to {below:g}), or list the transitions with transitions.mode: explicit")


@contextlib.contextmanager
def collected_warnings() -> Iterator[list[str]]:
    """The messages of every warning transgrn logs inside the block (for summary.json and ``transgrn check``)."""
    messages: list[str] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collector(logging.WARNING)
    logger = logging.getLogger("transgrn")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def prepare(config: dict[str, Any], outdir: str | Path, seed: int | None = None) -> dict[str, Any]:
    """Run the checkpoint. Writes the files in :data:`PREPARED_FILES` under ``outdir``; returns the summary.

    ``seed`` (the run's) is recorded in the outputs' provenance and seeds the neighbour graph that
    the graph modes build where the data have none (:func:`check_and_load`)."""
    outdir = Path(outdir)
    options = CheckpointOptions.from_config(config)
    with collected_warnings() as warnings:
        checked = check_and_load(options, seed or 0)
    adata, labels = checked.adata, checked.labels
    gene_pos = adata.var_names.get_indexer(checked.genes)
    ids = cluster_ids(list(checked.sizes))
    used = pd.unique(pd.concat([checked.transitions["source_cluster"], checked.transitions["target_cluster"]]))
    inputs = _input_checksums(options)
    record = io.provenance(config, inputs, seed, rule="prepare")
    for cluster in used:
        _write_slice(adata, checked.matrix, labels == cluster, gene_pos, checked.genes, checked.pseudotime,
                     outdir / "clusters" / f"{ids[cluster]}.h5ad", {**record, "cluster": str(cluster)})
    summary = {"inputs": inputs, **describe(checked), "warnings": warnings}
    _log_summary(checked, summary)
    summary[io.PROVENANCE_KEY] = record
    summary["cluster_layout"] = cluster_layout(adata, labels, checked.medians, options.data.cluster_key)
    # the expression is in the slices now: freed before the tables are written (at atlas scale writing
    # a 500,000-edge prior beside the whole matrix was the checkpoint's peak)
    del adata
    checked.adata = checked.matrix = None
    _write_tables(outdir, checked.transitions, checked.skipped, checked.prior, checked.reference, summary)
    return summary


def cluster_layout(adata, labels: pd.Series, medians: dict | None, cluster_key: str) -> dict[str, Any]:
    """Where the report draws each cluster: UMAP centroids (``obsm['X_umap']``), scanpy's PAGA
    positions (``uns['paga']['pos']`` computed on ``cluster_key``) and median pseudotimes, as present.

    The report only needs one point per cluster, so the per-cell coordinates stay out of the summary.
    """
    layout: dict[str, Any] = {}
    if "X_umap" in adata.obsm and np.asarray(adata.obsm["X_umap"]).shape[1] >= 2:
        coords = np.asarray(adata.obsm["X_umap"], dtype=float)[:, :2]
        layout["umap_centroids"] = {str(c): np.median(coords[(labels == c).to_numpy()], axis=0).round(4).tolist()
                                    for c in labels.cat.categories if (labels == c).any()}
    paga = adata.uns.get("paga", {})
    if isinstance(paga, dict) and paga.get("groups") == cluster_key and "pos" in paga:
        pos = np.asarray(paga["pos"], dtype=float)
        categories = list(adata.obs[cluster_key].astype("category").cat.categories.astype(str))
        if pos.shape == (len(categories), 2):
            layout["paga_pos"] = {c: p.round(4).tolist() for c, p in zip(categories, pos)}
    if medians:
        layout["median_pseudotime"] = medians
    return layout


def _write_slice(adata, matrix, in_cluster, gene_pos, genes, pseudotime, path: Path, record: dict | None = None) -> None:
    import anndata as ad

    rows = np.nonzero(np.asarray(in_cluster))[0]
    block = matrix[rows][:, gene_pos]
    block = sp.csr_matrix(block, dtype=np.float32) if sp.issparse(block) else np.asarray(block, dtype=np.float32)
    obs = pd.DataFrame(index=adata.obs_names[rows].astype(str))
    if pseudotime is not None:
        obs["pseudotime"] = pseudotime.to_numpy()[rows]
    with io.atomic_path(path) as tmp:
        uns = {io.PROVENANCE_KEY: io.provenance_json(record)} if record else {}
        ad.AnnData(X=block, obs=obs, var=pd.DataFrame(index=genes.astype(str)), uns=uns).write_h5ad(tmp)


def _input_checksums(options: CheckpointOptions) -> dict[str, dict[str, str]]:
    inputs = {"adata": options.data.adata, "prior": options.data.prior}
    if options.reference:
        inputs["reference"] = options.reference
    return {k: {"path": str(v), "sha256": io.sha256(v)} for k, v in inputs.items()}


def _network_counts(edges: pd.DataFrame, suffix: str = "") -> dict[str, int]:
    """An edge list's edges, TFs and targets (``n_edges{suffix}``, ...), for summary.json."""
    return {f"n_edges{suffix}": int(len(edges)), f"n_tfs{suffix}": int(edges["tf"].nunique()),
            f"n_targets{suffix}": int(edges["target_gene"].nunique())}


def describe(checked: Checked) -> dict[str, Any]:
    """The checkpoint's counts (summary.json without inputs and provenance; ``transgrn check`` prints them)."""
    prior = checked.prior
    summary = {
        "n_cells": int(checked.adata.n_obs), "n_genes": int(checked.adata.n_vars),
        "n_unlabelled_cells": checked.unlabelled, "n_empty_cells": checked.n_empty,
        "cluster_sizes": checked.sizes,
        "prior_format": checked.prior_format,
        "prior": {
            **checked.prior_input, **_network_counts(prior),
            "n_genes_used": int(len(checked.genes)), "signed": bool((prior["sign"] != 0).any()),
        },
        "n_transitions": int(len(checked.transitions)), "n_skipped": int(len(checked.skipped)),
        "mapping_method": checked.mapping_method,
    }
    if checked.reference is not None:
        summary["reference"] = {"n_edges": int(len(checked.reference)),
                                "n_edges_in_prior": int(len(checked.reference.merge(prior[["tf", "target_gene"]])))}
    return summary


def _log_summary(checked: Checked, summary: dict[str, Any]) -> None:
    p = summary["prior"]
    log.info("prior (%s): kept %d of %d edges, %d of %d TFs, %d of %d targets that are measured in the data",
             checked.prior_format, p["n_edges"], p["n_edges_input"], p["n_tfs"], p["n_tfs_input"], p["n_targets"],
             p["n_targets_input"])
    log.info("%d transitions to fit, %d skipped", len(checked.transitions), len(checked.skipped))
    for row in checked.skipped.itertuples():
        log.warning("skipped %s -> %s: %s", row.source_cluster, row.target_cluster, row.reason)


def _write_tables(outdir: Path, transitions, skipped, prior, reference, summary) -> None:
    record = summary.get(io.PROVENANCE_KEY)
    io.write_parquet(prior, outdir / PREPARED_FILES["prior"], record)
    ref = reference if reference is not None else pd.DataFrame({"tf": pd.Series(dtype=str), "target_gene": pd.Series(dtype=str),
                                                                "sign": pd.Series(dtype=np.int8)})
    io.write_parquet(ref[["tf", "target_gene", "sign"]].reset_index(drop=True), outdir / PREPARED_FILES["reference"], record)
    with io.atomic_path(outdir / PREPARED_FILES["skipped"]) as tmp:
        skipped.to_csv(tmp, sep="\t", index=False)
    with io.atomic_path(outdir / PREPARED_FILES["summary"]) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    # written last: the DAG reads this table, so it must only appear once everything else exists
    with io.atomic_path(outdir / PREPARED_FILES["transitions"]) as tmp:
        transitions.to_csv(tmp, sep="\t", index=False)
