"""Reading and checking inputs; writing outputs atomically.

Every problem with an input raises :class:`InputError` with the offending key or file,
what is wrong and how to fix it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError

log = logging.getLogger(__name__)

SIGN_WORDS = {"+": 1, "-": -1, "activation": 1, "activates": 1, "repression": -1, "represses": -1}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A killed or failed job therefore never leaves a half-written file where a later rule reads.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # writers such as h5py want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _require_file(path: str | os.PathLike, key: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{key}: file '{path}' does not exist; check the path in your config.yaml")
    if path.is_dir():
        raise InputError(f"{key}: '{path}' is a directory; give the path of a file")
    return path


# --------------------------------------------------------------------------- AnnData


def read_adata(path: str | os.PathLike, key: str = "data.adata"):
    """Read an .h5ad file, turning format errors into a clear :class:`InputError`."""
    import anndata as ad

    path = _require_file(path, key)
    try:
        return ad.read_h5ad(path)
    except Exception as exc:  # h5py/anndata raise many types for broken files
        raise InputError(
            f"{key}: '{path}' could not be read as an .h5ad file ({type(exc).__name__}: {exc}). "
            "Is it truncated or in another format? Write it with AnnData.write_h5ad()."
        ) from exc


def expression(adata, layer: str | None = None):
    """The expression matrix in use (``X`` or ``layers[layer]``), dense or sparse."""
    if layer is None:
        return adata.X
    if layer not in adata.layers:
        available = ", ".join(adata.layers.keys()) or "none"
        raise InputError(f"data.layer: layer '{layer}' is not in the AnnData (available layers: {available}); "
                         "set data.layer to one of them or to null to use X")
    return adata.layers[layer]


def check_obs_key(adata, key: str, config_key: str) -> None:
    if key not in adata.obs.columns:
        available = ", ".join(map(str, adata.obs.columns)) or "none"
        raise InputError(f"{config_key}: obs column '{key}' is not in the AnnData "
                         f"(available obs columns: {available}); set {config_key} to one of them")


def check_values(matrix, var_names: pd.Index) -> None:
    """Refuse NaN/inf values, naming the genes that hold them."""
    data = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    if np.isfinite(data).all():
        return
    if sp.issparse(matrix):
        coo = matrix.tocoo()
        bad_cols = np.unique(coo.col[~np.isfinite(coo.data)])
    else:
        bad_cols = np.nonzero(~np.isfinite(data).all(axis=0))[0]
    n_bad = int((~np.isfinite(data)).sum())
    examples = ", ".join(map(str, var_names[bad_cols[:5]]))
    raise InputError(f"data.adata: expression holds {n_bad} NaN/inf values in {len(bad_cols)} genes "
                     f"(e.g. {examples}); impute or remove them before running transgrn")


def check_unique_genes(var_names: pd.Index) -> None:
    if var_names.is_unique:
        return
    dups = var_names[var_names.duplicated()].unique()
    raise InputError(f"data.adata: {len(dups)} gene names occur more than once (e.g. {', '.join(map(str, dups[:5]))}); "
                     "make them unique first, e.g. adata.var_names_make_unique()")


# --------------------------------------------------------------------------- networks


def _read_table(path: Path, key: str, **kwargs) -> pd.DataFrame:
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith(".parquet"):
            return pd.read_parquet(path)
        sep = "\t" if any(s in suffixes for s in (".tsv", ".txt", ".tab")) else ","
        return pd.read_csv(path, sep=sep, **kwargs)
    except Exception as exc:
        raise InputError(f"{key}: '{path}' could not be read as a CSV/TSV table ({type(exc).__name__}: {exc})") from exc


def _parse_sign(values: pd.Series, key: str) -> np.ndarray:
    mapped = values.map(lambda v: SIGN_WORDS.get(str(v).strip().lower(), v))
    numeric = pd.to_numeric(mapped, errors="coerce")
    if numeric.isna().any() or not numeric.isin([-1, 0, 1]).all():
        bad = values[numeric.isna() | ~numeric.isin([-1, 0, 1])].unique()[:5]
        raise InputError(f"{key}: column 'sign' must hold +1/-1 (or +/-, activation/repression); found {list(bad)}")
    return numeric.to_numpy(dtype=np.int8)


def _edge_list(table: pd.DataFrame, key: str) -> pd.DataFrame:
    lower = {c.lower().strip(): c for c in table.columns}
    edges = pd.DataFrame({"tf": table[lower["tf"]].astype(str), "target_gene": table[lower["target_gene"]].astype(str)})
    edges["sign"] = _parse_sign(table[lower["sign"]], key) if "sign" in lower else np.int8(0)
    return edges.drop_duplicates(["tf", "target_gene"]).reset_index(drop=True)


def _wide_to_edges(table: pd.DataFrame, key: str, orientation: str) -> tuple[pd.DataFrame, str]:
    table = table.set_index(table.columns[0])
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    values = table.apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        raise InputError(f"{key}: the wide prior matrix holds non-numeric or empty cells; "
                         "use 0/1 (or -1/0/1 for signed edges), or give an edge list with columns tf,target_gene")
    if not values.isin([-1, 0, 1]).all().all():
        bad = np.unique(values.to_numpy()[~values.isin([-1, 0, 1]).to_numpy()])[:5]
        raise InputError(f"{key}: the prior must be binary (0/1) or signed (-1/0/1); found values {list(bad)}. "
                         "Threshold or binarize it first")
    if orientation == "auto":
        # A prior has fewer regulators than regulated genes: the shorter axis holds the TFs.
        orientation = "tf_by_gene" if values.shape[0] <= values.shape[1] else "gene_by_tf"
    if orientation == "gene_by_tf":
        values = values.T
    stacked = values.stack()
    stacked = stacked[stacked != 0]
    edges = pd.DataFrame({
        "tf": stacked.index.get_level_values(0).astype(str),
        "target_gene": stacked.index.get_level_values(1).astype(str),
        "sign": np.where(values.isin([0, 1]).all().all(), 0, np.sign(stacked.to_numpy())).astype(np.int8),
    })
    return edges, orientation


def read_network(path: str | os.PathLike, key: str = "data.prior", orientation: str = "auto") -> tuple[pd.DataFrame, str]:
    """Read a prior or reference network as edges ``tf, target_gene, sign``.

    Accepts an edge list (columns ``tf``, ``target_gene`` and optionally ``sign``) or a wide
    0/1 (or -1/0/1) matrix whose first column holds row names. A wide matrix may be TFs x genes
    or genes x TFs; with ``orientation='auto'`` the shorter axis is taken as the TFs.
    Returns the edges and a description of the format taken. ``sign`` is 0 where unknown.
    """
    path = _require_file(path, key)
    table = _read_table(path, key)
    if table.empty:
        raise InputError(f"{key}: '{path}' holds no edges")
    cols = {c.lower().strip() for c in map(str, table.columns)}
    if {"tf", "target_gene"} <= cols:
        edges, taken = _edge_list(table, key), "edge list"
    else:
        edges, orient = _wide_to_edges(table, key, orientation)
        rows = "TFs" if orient == "tf_by_gene" else "genes"
        taken = f"wide matrix with {rows} as rows ({orient})"
    if edges.empty:
        raise InputError(f"{key}: '{path}' holds no edges (every entry is 0)")
    log.info("%s: read %d edges from %s as %s", key, len(edges), path, taken)
    return edges, taken


def align_edges(edges: pd.DataFrame, genes: pd.Index, key: str = "data.prior") -> pd.DataFrame:
    """Keep the edges whose TF and target are both measured; fail clearly if (almost) none are."""
    gene_set = set(map(str, genes))
    keep = edges["tf"].isin(gene_set) & edges["target_gene"].isin(gene_set)
    if keep.any():
        return edges[keep].reset_index(drop=True)
    prior_genes = pd.unique(pd.concat([edges["tf"], edges["target_gene"]]))
    hint = ""
    lower = {g.lower() for g in gene_set}
    if sum(g.lower() in lower for g in prior_genes) > 0:
        hint = " Names match when case is ignored: harmonize the case (e.g. human upper-case symbols)."
    raise InputError(
        f"{key}: no edge of the network has both its TF and its target among the data's genes. "
        f"Network genes look like {', '.join(map(str, prior_genes[:5]))}; data genes look like "
        f"{', '.join(map(str, list(genes[:5])))}. Use the same gene identifiers (symbols vs Ensembl IDs, species) "
        f"in both.{hint}"
    )
