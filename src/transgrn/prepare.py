"""The checkpoint: read and check the inputs once, align the prior, enumerate transitions,
and write one small slice per cluster so that per-transition jobs never load the whole data."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import io
from .errors import InputError
from .transitions import cluster_ids, enumerate_transitions

log = logging.getLogger(__name__)

PREPARED_FILES = {
    "transitions": "transitions.tsv",
    "skipped": "skipped.tsv",
    "prior": "prior_edges.parquet",
    "reference": "reference.parquet",
    "summary": "summary.json",
    "clusters": "clusters",
}


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _cluster_labels(adata, key: str) -> tuple[pd.Series, int]:
    """Labels as strings, in the data's category order (sorted if not categorical)."""
    raw = adata.obs[key]
    order = raw.cat.categories if isinstance(raw.dtype, pd.CategoricalDtype) else sorted(raw.dropna().unique(), key=str)
    names = list(dict.fromkeys(str(c) for c in order))
    values = np.where(raw.isna(), None, raw.astype(str))
    return pd.Series(pd.Categorical(values, categories=names), index=adata.obs_names), int(raw.isna().sum())


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


def check_and_load(config: dict[str, Any]):
    """Read the AnnData and networks and check everything; raise InputError before writing anything."""
    data_cfg = config["data"]
    adata = io.read_adata(data_cfg["adata"])
    io.check_obs_key(adata, data_cfg["cluster_key"], "data.cluster_key")
    matrix = io.expression(adata, data_cfg.get("layer"))
    io.check_unique_genes(adata.var_names)
    io.check_values(matrix, adata.var_names)
    if _looks_like_counts(matrix):
        log.warning("the expression looks like raw counts (integers up to %s); transgrn expects log-normalized "
                    "values, e.g. scanpy.pp.normalize_total then scanpy.pp.log1p", "> 30")
    pseudotime = _pseudotime(adata, data_cfg.get("pseudotime_key"))
    prior_raw, prior_format = io.read_network(data_cfg["prior"], "data.prior")
    prior = io.align_edges(prior_raw, adata.var_names, "data.prior")
    reference = None
    if config.get("reference"):
        reference_raw, _ = io.read_network(config["reference"], "reference")
        reference = reference_raw[reference_raw["tf"].isin(adata.var_names) & reference_raw["target_gene"].isin(adata.var_names)]
    return adata, matrix, pseudotime, prior_raw, prior, prior_format, reference


def prepare(config: dict[str, Any], outdir: str | Path) -> dict[str, Any]:
    """Run the checkpoint. Writes the files in :data:`PREPARED_FILES` under ``outdir``; returns the summary."""
    outdir = Path(outdir)
    adata, matrix, pseudotime, prior_raw, prior, prior_format, reference = check_and_load(config)
    labels, unlabelled = _cluster_labels(adata, config["data"]["cluster_key"])
    sizes = {c: int(n) for c, n in labels.value_counts(sort=False).items() if n > 0}
    medians = None if pseudotime is None else {c: float(pseudotime[labels == c].median()) for c in sizes}
    tcfg = config["transitions"]
    transitions, skipped = enumerate_transitions(sizes, tcfg["mode"], tcfg["min_cells"], tcfg["explicit"], medians)
    if transitions.empty:
        raise InputError(
            f"no transition has at least transitions.min_cells={tcfg['min_cells']} cells in both clusters "
            f"(cluster sizes: {sizes}); lower transitions.min_cells or check data.cluster_key"
        )
    genes = adata.var_names[adata.var_names.isin(pd.Index(prior["tf"]).union(prior["target_gene"]))]
    gene_pos = adata.var_names.get_indexer(genes)
    ids = cluster_ids(list(sizes))
    used = pd.unique(pd.concat([transitions["source_cluster"], transitions["target_cluster"]]))
    for cluster in used:
        _write_slice(adata, matrix, labels == cluster, gene_pos, genes, pseudotime, outdir / "clusters" / f"{ids[cluster]}.h5ad")
    summary = _summary(config, adata, sizes, unlabelled, prior_raw, prior, prior_format, reference, transitions, skipped, genes)
    _write_tables(outdir, transitions, skipped, prior, reference, summary)
    return summary


def _write_slice(adata, matrix, in_cluster, gene_pos, genes, pseudotime, path: Path) -> None:
    import anndata as ad

    rows = np.nonzero(np.asarray(in_cluster))[0]
    block = matrix[rows][:, gene_pos]
    block = sp.csr_matrix(block, dtype=np.float32) if sp.issparse(block) else np.asarray(block, dtype=np.float32)
    obs = pd.DataFrame(index=adata.obs_names[rows].astype(str))
    if pseudotime is not None:
        obs["pseudotime"] = pseudotime.to_numpy()[rows]
    with io.atomic_path(path) as tmp:
        ad.AnnData(X=block, obs=obs, var=pd.DataFrame(index=genes.astype(str))).write_h5ad(tmp)


def _summary(config, adata, sizes, unlabelled, prior_raw, prior, prior_format, reference, transitions, skipped, genes) -> dict:
    inputs = {k: config["data"][k] for k in ("adata", "prior")}
    if config.get("reference"):
        inputs["reference"] = config["reference"]
    summary = {
        "inputs": {k: {"path": str(v), "sha256": sha256(v)} for k, v in inputs.items()},
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
    if p["n_edges"] < 0.1 * p["n_edges_input"]:
        log.warning("only %.1f%% of the prior's edges match the data's genes; check that both use the same gene ids",
                    100 * p["n_edges"] / p["n_edges_input"])
    log.info("%d transitions to fit, %d skipped", len(transitions), len(skipped))
    for row in skipped.itertuples():
        log.warning("skipped %s -> %s: %s", row.source_cluster, row.target_cluster, row.reason)
    return summary


def _write_tables(outdir: Path, transitions, skipped, prior, reference, summary) -> None:
    with io.atomic_path(outdir / PREPARED_FILES["prior"]) as tmp:
        prior.to_parquet(tmp, index=False)
    ref = reference if reference is not None else pd.DataFrame(columns=["tf", "target_gene", "sign"])
    with io.atomic_path(outdir / PREPARED_FILES["reference"]) as tmp:
        ref[["tf", "target_gene", "sign"]].reset_index(drop=True).to_parquet(tmp, index=False)
    with io.atomic_path(outdir / PREPARED_FILES["skipped"]) as tmp:
        skipped.to_csv(tmp, sep="\t", index=False)
    with io.atomic_path(outdir / PREPARED_FILES["summary"]) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    # written last: the DAG reads this table, so it must only appear once everything else exists
    with io.atomic_path(outdir / PREPARED_FILES["transitions"]) as tmp:
        transitions.to_csv(tmp, sep="\t", index=False)


def read_transitions(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"source_cluster": str, "target_cluster": str}, keep_default_na=False)
