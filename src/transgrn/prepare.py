"""The checkpoint: read and check the inputs once, align the prior, enumerate transitions,
and write one small slice per cluster so that per-transition jobs never load the whole data."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import io
from .errors import InputError
from .transitions import cluster_ids, enumerate_transitions, paga_connectivities

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


def _cluster_labels(adata, key: str) -> tuple[pd.Series, int]:
    """Labels as strings, in the data's category order (sorted if not categorical)."""
    raw = adata.obs[key]
    order = raw.cat.categories if isinstance(raw.dtype, pd.CategoricalDtype) else sorted(raw.dropna().unique(), key=str)
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
                    ", ".join(map(repr, empty[:5])))
    sizes = {c: int(n) for c, n in counts.items() if n > 0}
    if len(sizes) < 2:
        raise InputError(f"data.cluster_key: obs column '{key}' has {len(sizes)} cluster(s) with cells "
                         f"({', '.join(map(repr, sizes)) or 'none'}); a transition needs two. "
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


def normalize_log1p(matrix, target_sum: float = 1e4):
    """``log1p`` of counts scaled to ``target_sum`` per cell (scanpy's normalize_total + log1p), as float32.

    Refuses negative values (scaled or centred data cannot be normalized)."""
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if values.size and float(values.min()) < 0:
        raise InputError("data.normalize is true but the expression holds negative values, so it is not counts "
                         "(scaled or centred data?); give raw counts (e.g. data.layer: counts) or set data.normalize: false")
    if sp.issparse(matrix):
        out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        totals = np.asarray(out.sum(axis=1)).ravel()
        scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
        out.data *= np.repeat(scale, np.diff(out.indptr)).astype(np.float32)
        np.log1p(out.data, out=out.data)
        return out
    out = np.array(matrix, dtype=np.float32, copy=True)
    totals = out.sum(axis=1)
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    out *= scale[:, None]
    return np.log1p(out, out=out)


def _check_scale(matrix, normalize: bool):
    """Raw counts: normalize when data.normalize is true, otherwise warn with the fix."""
    counts = _looks_like_counts(matrix)
    if normalize:
        if not counts:
            log.warning("data.normalize is true but the expression does not look like raw counts (non-integer "
                        "values or all below 30): normalizing anyway; set data.normalize: false if it is already "
                        "log-normalized")
        log.info("data.normalize: scaling every cell to 10,000 counts and taking log1p")
        return normalize_log1p(matrix)
    if counts:
        log.warning("the expression looks like raw counts (integer values above 30); transgrn expects log-normalized "
                    "values. Set data.normalize: true to normalize (total counts 10,000 per cell, then log1p), or "
                    "normalize first with scanpy.pp.normalize_total and scanpy.pp.log1p, or point data.layer at a "
                    "log-normalized layer")
    return matrix


def check_and_load(config: dict[str, Any]):
    """Read the AnnData and networks and check everything; raise InputError before writing anything."""
    data_cfg = config["data"]
    adata = io.read_adata(data_cfg["adata"])
    io.check_obs_key(adata, data_cfg["cluster_key"], "data.cluster_key")
    matrix = io.expression(adata, data_cfg.get("layer"))
    io.check_unique_genes(adata.var_names)
    io.check_values(matrix, adata.var_names)
    pseudotime = _pseudotime(adata, data_cfg.get("pseudotime_key"))
    prior_raw, prior_format = io.read_network(data_cfg["prior"], "data.prior", data_cfg.get("prior_orientation", "auto"))
    prior = io.align_edges(prior_raw, adata.var_names, "data.prior")
    reference = None
    if config.get("reference"):
        reference_raw, _ = io.read_network(config["reference"], "reference")
        reference = reference_raw[reference_raw["tf"].isin(adata.var_names) & reference_raw["target_gene"].isin(adata.var_names)]
    # last, once every cheaper check passed: normalizing copies the matrix
    matrix = _check_scale(matrix, bool(data_cfg.get("normalize", False)))
    return adata, matrix, pseudotime, prior_raw, prior, prior_format, reference


def prepare(config: dict[str, Any], outdir: str | Path, seed: int | None = None) -> dict[str, Any]:
    """Run the checkpoint. Writes the files in :data:`PREPARED_FILES` under ``outdir``; returns the summary.

    ``seed`` (the run's) is only recorded in the outputs' provenance."""
    outdir = Path(outdir)
    adata, matrix, pseudotime, prior_raw, prior, prior_format, reference = check_and_load(config)
    labels, unlabelled = _cluster_labels(adata, config["data"]["cluster_key"])
    sizes = _cluster_sizes(labels, unlabelled, config["data"]["cluster_key"])
    medians = None if pseudotime is None else {c: float(pseudotime[labels == c].median()) for c in sizes}
    tcfg = config["transitions"]
    # PAGA mode: cluster connectivities on the data's neighbour graph (built with scanpy if absent)
    paga = paga_connectivities(adata, labels, matrix) if tcfg["mode"] == "paga" else None
    explicit, skipped_empty = _explicit_without_empty(tcfg["explicit"] if tcfg["mode"] == "explicit" else [], labels, sizes)
    transitions, skipped = enumerate_transitions(sizes, tcfg["mode"], tcfg["min_cells"], explicit, medians,
                                                 paga, tcfg.get("paga_threshold", 0.1))
    skipped = pd.concat([skipped_empty, skipped], ignore_index=True) if len(skipped_empty) else skipped
    if transitions.empty:
        reasons = "; ".join(f"{r.source_cluster} -> {r.target_cluster}: {r.reason}" for r in skipped.head(3).itertuples())
        raise InputError(
            f"no transition has at least transitions.min_cells={tcfg['min_cells']} cells in both clusters "
            f"(cluster sizes: {sizes}; skipped: {reasons or 'none'}); lower transitions.min_cells, "
            "fix transitions.explicit or check data.cluster_key"
        )
    genes = adata.var_names[adata.var_names.isin(pd.Index(prior["tf"]).union(prior["target_gene"]))]
    gene_pos = adata.var_names.get_indexer(genes)
    ids = cluster_ids(list(sizes))
    used = pd.unique(pd.concat([transitions["source_cluster"], transitions["target_cluster"]]))
    inputs = _input_checksums(config)
    record = io.provenance(config, inputs, seed, rule="prepare")
    for cluster in used:
        _write_slice(adata, matrix, labels == cluster, gene_pos, genes, pseudotime, outdir / "clusters" / f"{ids[cluster]}.h5ad",
                     {**record, "cluster": str(cluster)})
    summary = _summary(config, adata, sizes, unlabelled, prior_raw, prior, prior_format, reference, transitions, skipped, genes,
                       inputs)
    summary[io.PROVENANCE_KEY] = record
    summary["cluster_layout"] = cluster_layout(adata, labels, medians, config["data"]["cluster_key"])
    _write_tables(outdir, transitions, skipped, prior, reference, summary)
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


def _input_checksums(config) -> dict[str, dict[str, str]]:
    inputs = {k: config["data"][k] for k in ("adata", "prior")}
    if config.get("reference"):
        inputs["reference"] = config["reference"]
    return {k: {"path": str(v), "sha256": io.sha256(v)} for k, v in inputs.items()}


def _summary(config, adata, sizes, unlabelled, prior_raw, prior, prior_format, reference, transitions, skipped, genes,
             inputs=None) -> dict:
    summary = {
        "inputs": inputs if inputs is not None else _input_checksums(config),
        "n_cells": int(adata.n_obs), "n_genes": int(adata.n_vars), "n_unlabelled_cells": unlabelled,
        "cluster_sizes": sizes,
        "prior_format": prior_format,
        "prior": {
            "n_edges_input": int(len(prior_raw)), "n_edges": int(len(prior)),
            "n_tfs_input": int(prior_raw["tf"].nunique()), "n_tfs": int(prior["tf"].nunique()),
            "n_targets_input": int(prior_raw["target_gene"].nunique()), "n_targets": int(prior["target_gene"].nunique()),
            "n_genes_used": int(len(genes)), "signed": bool((prior["sign"] != 0).any()),
        },
        "n_transitions": int(len(transitions)), "n_skipped": int(len(skipped)),
    }
    if reference is not None:
        summary["reference"] = {"n_edges": int(len(reference)),
                                "n_edges_in_prior": int(len(reference.merge(prior[["tf", "target_gene"]])))}
    p = summary["prior"]
    log.info("prior (%s): kept %d of %d edges, %d of %d TFs, %d of %d targets that are measured in the data",
             prior_format, p["n_edges"], p["n_edges_input"], p["n_tfs"], p["n_tfs_input"], p["n_targets"], p["n_targets_input"])
    log.info("%d transitions to fit, %d skipped", len(transitions), len(skipped))
    for row in skipped.itertuples():
        log.warning("skipped %s -> %s: %s", row.source_cluster, row.target_cluster, row.reason)
    return summary


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


def read_transitions(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"source_cluster": str, "target_cluster": str}, keep_default_na=False)
