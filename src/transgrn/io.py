"""Reading and checking inputs; writing outputs atomically.

Every problem with an input raises :class:`InputError` with the offending key or file,
what is wrong and how to fix it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError, OutputError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A killed or failed job therefore never leaves a half-written file where a later rule reads.
    """
    path = Path(path)
    with _writable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # a writer killed with SIGKILL leaves its hidden temporary behind; only one job writes a path
        for stale in path.parent.glob(f".{glob_escape(path.name)}.*{glob_escape(path.suffix or '.tmp')}"):
            with contextlib.suppress(OSError):
                stale.unlink()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)  # writers such as h5py want to create the file themselves
    try:
        yield tmp
        with _writable(path):
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def _writable(path: Path) -> Iterator[None]:
    """A folder that cannot be written (read-only, or a disk that is full) as an :class:`OutputError`
    naming the folder and the fix, instead of a traceback."""
    try:
        yield
    except PermissionError as error:
        folder = Path(error.filename) if error.filename else path.parent
        while not folder.is_dir() and folder != folder.parent:  # the folder that refused: the nearest existing one
            folder = folder.parent
        raise OutputError(f"cannot write {path}: permission denied on '{folder}' ({error.strerror}). Make the folder "
                          f"writable (chmod -R u+w '{folder}'), or run in a folder you can write to (snakemake "
                          "--directory); a rerun then continues where this one stopped") from None
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        raise OutputError(f"cannot write {path}: {error.strerror}. Free space there (or remount it writable), or "
                          "run in another folder (snakemake --directory); a rerun then continues where this one "
                          "stopped") from None


def check_writable(folder: str | os.PathLike) -> None:
    """Refuse a results ``folder`` (or, before it exists, the nearest folder above it) that cannot be
    written, naming it and the fix; ``transgrn check`` runs this before a run would meet it."""
    existing = Path(folder)
    while not existing.is_dir() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {folder}: '{existing}' is read-only for you. Make it writable "
                          f"(chmod -R u+w '{existing}'), or run in a folder you can write to (snakemake --directory)")


def glob_escape(text: str) -> str:
    import glob

    return glob.escape(text)


# --------------------------------------------------------------------------- provenance

PROVENANCE_KEY = "transgrn_provenance"
PACKAGES = ("transgrn", "numpy", "scipy", "pandas", "pyarrow", "anndata", "h5py", "scanpy", "scikit-learn", "pot",
            "torch", "matplotlib", "snakemake")


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's bytes or, for a folder (an AnnData ``.zarr`` store), of its files:
    each file's path relative to the folder and its own sha256, in sorted path order, so that the
    digest is the same wherever the folder lies and in whatever order the file system lists it."""
    if Path(path).is_dir():
        return _folder_sha256(Path(path), chunk)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _folder_sha256(folder: Path, chunk: int) -> str:
    files = sorted((file.relative_to(folder).as_posix(), file) for file in folder.rglob("*") if file.is_file())
    digest = hashlib.sha256()
    for name, file in files:
        digest.update(name.encode() + b"\0" + sha256(file, chunk).encode() + b"\n")
    return digest.hexdigest()


def input_size(path: str | os.PathLike) -> int:
    """Bytes of an input: a file's size, or the total of a folder's files (a ``.zarr`` store, whose
    own ``os.stat`` size says nothing about the data in it). One ``os.stat`` for a file, as resource
    functions call it many times per job."""
    status = os.stat(path)
    if stat.S_ISDIR(status.st_mode):
        return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file())
    return status.st_size


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Versions of Python and the packages that shape the results, plus a hash of transgrn's own
    source (the package version alone does not change with every edit of a checkout)."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    source = hashlib.sha256()
    for file in sorted(Path(__file__).parent.glob("*.py")):
        source.update(file.name.encode() + b"\0" + file.read_bytes())
    versions["transgrn_source_sha256"] = source.hexdigest()
    return versions


def provenance(params: Mapping[str, Any], inputs: Mapping[str, Any], seed: int | None, **extra) -> dict[str, Any]:
    """What produced an output: the config values used, the sha256 of every input file, the
    package versions and the seed. Deterministic (no time stamps or host names), so a forced
    rerun writes byte-identical files. ``inputs`` maps names to a path, a list of paths or an
    already computed ``{"path", "sha256"}`` record."""

    def record(value):
        if isinstance(value, Mapping):
            return dict(value)
        if isinstance(value, (list, tuple)):
            return [record(v) for v in value]
        return {"path": str(value), "sha256": sha256(value)}

    return {"params": _jsonable(params), "inputs": {k: record(v) for k, v in inputs.items()}, "seed": seed,
            "versions": package_versions(), **_jsonable(extra)}


def job_provenance(smk, inputs: Mapping[str, Any] | None = None, **extra) -> dict[str, Any]:
    """:func:`provenance` of a Snakemake job: its rule, wildcards, params, input files and the config's seed."""
    named = {name: smk.input[name] for name in smk.input.keys()} if inputs is None else inputs
    return provenance(dict(smk.params.items()), named, (smk.config or {}).get("seed"), rule=smk.rule,
                      wildcards=dict(smk.wildcards.items()), **extra)


def _jsonable(value):
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def provenance_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def write_json(record: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Sorted, indented JSON written atomically; NaN/inf become null (they are not JSON)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(json_safe(record), indent=2, sort_keys=True) + "\n")


def write_npy(array: np.ndarray, path: str | os.PathLike) -> None:
    """One array as a ``.npy`` file (memory-mappable by ``np.load(path, mmap_mode="r")``), written atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a handle: np.save would append .npy to another suffix
            np.save(handle, np.ascontiguousarray(array))


def json_safe(value):
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike, record: Mapping[str, Any] | None = None,
                  metadata: Mapping[str, str] | None = None) -> None:
    """``frame`` as Parquet, atomically, with ``record`` (provenance) and ``metadata`` (further
    key-value pairs, e.g. a mapping's lag) in the file's key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    extra = {k.encode(): v.encode() for k, v in (metadata or {}).items()}
    if record is not None:
        extra[PROVENANCE_KEY.encode()] = provenance_json(record).encode()
    if extra:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def parquet_metadata(path: str | os.PathLike, key: str) -> str | None:
    """One key-value entry of a Parquet file's metadata (see :func:`write_parquet`), or None."""
    import pyarrow.parquet as pq

    value = (pq.read_schema(path).metadata or {}).get(key.encode())
    return None if value is None else value.decode()


def arrow_schema(frame: pd.DataFrame, record: Mapping[str, Any] | None = None):
    """The Arrow schema :func:`write_parquet` gives ``frame`` (pandas metadata included), with
    ``record`` (provenance) in its key-value metadata."""
    import pyarrow as pa

    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    if record is not None:
        schema = schema.with_metadata({**(schema.metadata or {}), PROVENANCE_KEY.encode(): provenance_json(record).encode()})
    return schema


class ParquetStream:
    """Pandas frames appended one after the other to one Parquet file, in order, each whole in a row
    group: frames are buffered until they hold ``min_rows`` rows, so small frames share a row group
    and a large one gets its own. Memory is bounded by the largest frame plus ``min_rows`` rows.

    The schema is ``schema`` or, if None, that of the first frame written (as :func:`write_parquet`
    would write it, with ``record`` in its metadata); every frame is converted to it.
    Use :func:`parquet_stream`, which writes the file atomically.
    """

    def __init__(self, path: str | os.PathLike, schema=None, record: Mapping[str, Any] | None = None,
                 min_rows: int = 1 << 16):
        self.path, self.record, self.min_rows = path, record, min_rows
        self.schema = schema if schema is None or record is None else schema.with_metadata(
            {**(schema.metadata or {}), PROVENANCE_KEY.encode(): provenance_json(record).encode()})
        self._writer = None
        self._buffer: list = []
        self._buffered = 0
        self.n_rows = 0
        self.n_row_groups = 0

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        if self.schema is None:
            self.schema = arrow_schema(frame, self.record)
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if table.num_rows:
            self._buffer.append(table)
            self._buffered += table.num_rows
        if self._buffered >= self.min_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered frames as one row group."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            if self.schema is None:
                raise ValueError(f"{self.path}: no frame was written, so the Parquet schema is unknown")
            self._writer = pq.ParquetWriter(self.path, self.schema)
        if self._buffered:
            table = pa.concat_tables(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
            self._writer.write_table(table, row_group_size=table.num_rows)
            self.n_rows += table.num_rows
            self.n_row_groups += 1
        self._buffer, self._buffered = [], 0

    def close(self) -> None:
        self.flush()
        self._writer.close()

    def abort(self) -> None:
        """Close the file without writing what is buffered (the caller discards it)."""
        self._buffer, self._buffered = [], 0
        if self._writer is not None:
            self._writer.close()


@contextlib.contextmanager
def parquet_stream(path: str | os.PathLike, record: Mapping[str, Any] | None = None, schema=None,
                   min_rows: int = 1 << 16) -> Iterator[ParquetStream]:
    """A :class:`ParquetStream` onto a temporary file that replaces ``path`` once the block succeeds:
    the streamed counterpart of :func:`write_parquet` (same schema, metadata and provenance)."""
    with atomic_path(path) as tmp:
        stream = ParquetStream(tmp, schema, record, min_rows)
        try:
            yield stream
        except BaseException:
            stream.abort()
            raise
        stream.close()


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The provenance recorded in an output: Parquet metadata, ``.h5ad`` ``uns`` or a JSON file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        metadata = pq.read_schema(path).metadata or {}
        raw = metadata.get(PROVENANCE_KEY.encode())
        return json.loads(raw) if raw else {}
    if path.suffix == ".h5ad":
        import h5py

        with h5py.File(path, "r") as handle:
            node = handle.get(f"uns/{PROVENANCE_KEY}")
            if node is None:
                return {}
            value = node[()]
            return json.loads(value.decode() if isinstance(value, bytes) else str(value))
    data = json.loads(path.read_text())
    return data.get(PROVENANCE_KEY, data) if isinstance(data, dict) else {}


def _require_file(path: str | os.PathLike, key: str) -> Path:
    path = Path(path)
    if not path.exists():
        where = "" if path.is_absolute() else (f" (looked for {path.resolve()}: relative paths are taken from the run "
                                               "directory, Snakemake's --directory or else the current one)")
        raise InputError(f"{key}: file '{path}' does not exist{where}; check the path in your config.yaml")
    if path.is_dir():
        raise InputError(f"{key}: '{path}' is a directory; give the path of a file")
    return path


# --------------------------------------------------------------------------- AnnData


ZARR_MARKERS = (".zgroup", "zarr.json")  # the root group of a Zarr store, format 2 and 3


def read_adata(path: str | os.PathLike, key: str = "data.adata"):
    """Read an AnnData, ``.h5ad`` file or ``.zarr`` folder (``AnnData.write_zarr``), turning format
    errors into a clear :class:`InputError`."""
    import anndata as ad

    if Path(path).is_dir():
        return _read_zarr(Path(path), key)
    path = _require_file(path, key)
    _check_hdf5(path, key)
    try:
        return ad.read_h5ad(path)
    except Exception as exc:  # h5py/anndata raise many types for broken files
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        truncated = "truncated" in str(exc).lower() or "eof" in str(exc).lower()
        what = "the file is truncated (an interrupted copy or download?)" if truncated else "it is not a valid AnnData file"
        raise InputError(
            f"{key}: '{path}' could not be read as an .h5ad file: {what} ({type(exc).__name__}: {reason}). "
            "Copy or write it again (AnnData.write_h5ad) and check that it opens with anndata.read_h5ad."
        ) from None


def _read_zarr(path: Path, key: str):
    import anndata as ad

    if not any((path / marker).is_file() for marker in ZARR_MARKERS):
        raise InputError(f"{key}: '{path}' is a folder but not a Zarr store (it has no {' or '.join(ZARR_MARKERS)}); "
                         "give an .h5ad file or a .zarr folder written by AnnData.write_zarr")
    try:
        return ad.read_zarr(path)
    except Exception as exc:  # zarr/anndata raise many types for broken stores
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise InputError(
            f"{key}: '{path}' could not be read as an AnnData Zarr store ({type(exc).__name__}: {reason}). "
            "Write it again (AnnData.write_zarr) and check that it opens with anndata.read_zarr."
        ) from None


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
OTHER_FORMATS = {  # leading bytes -> what the file probably is and how to convert it
    b"PK\x03\x04": ("a zip archive (e.g. .zarr.zip, .xlsx)",
                     "unzip a zipped Zarr store and give its .zarr folder, or pandas.read_excel"),
    b"\x1f\x8b": ("gzip-compressed", "gunzip it first, or read it with scanpy.read and write .h5ad"),
    b"RDX": ("an R data file (.rds/.RData)", "export it from R with zellkonverter / SeuratDisk as .h5ad"),
    b"X\n": ("an R data file (.rds)", "export it from R with zellkonverter / SeuratDisk as .h5ad"),
    b"%%Matr": ("a Matrix Market file (.mtx)", "scanpy.read_10x_mtx / scanpy.read_mtx"),
}


def _check_hdf5(path: Path, key: str) -> None:
    """Refuse early, with a hint, a file that is not HDF5 at all (an .h5ad is HDF5)."""
    if path.stat().st_size == 0:
        raise InputError(f"{key}: '{path}' could not be read as an .h5ad file: it is empty (0 bytes); "
                         "copy or write the .h5ad file again")
    with open(path, "rb") as handle:
        head = handle.read(1024)
    # HDF5 files may carry a user block: the signature sits at 0, 512, 1024, ... bytes
    if head.startswith(HDF5_SIGNATURE) or _signature_after_user_block(path):
        return
    kind, fix = "not an HDF5/.h5ad file", "convert it, e.g. scanpy.read(...).write_h5ad('data.h5ad')"
    for magic, (name, how) in OTHER_FORMATS.items():
        if head.startswith(magic):
            kind, fix = f"{name}, not an .h5ad file", f"convert it: {how}"
            break
    else:
        try:
            first_line = head.decode("utf-8").splitlines()[0][:60]
            kind = f"a text file (starts with {first_line!r}), not an .h5ad file"
            fix = "convert it, e.g. scanpy.read_csv(path).write_h5ad('data.h5ad') (cells as rows)"
        except (UnicodeDecodeError, IndexError):
            pass
    raise InputError(f"{key}: '{path}' could not be read as an .h5ad file: it is {kind}; {fix}")


def _signature_after_user_block(path: Path) -> bool:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        offset = 512
        while offset + len(HDF5_SIGNATURE) <= min(size, 1 << 20):
            handle.seek(offset)
            if handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset *= 2
    return False


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


# values tested for NaN/inf at a time: a mask of a whole atlas's 91 million non-zeros was the checkpoint's peak (+87 MB)
FINITE_CHUNK = 2**23


def check_values(matrix, var_names: pd.Index) -> None:
    """Refuse NaN/inf values, naming the genes that hold them."""
    data = matrix.data if sp.issparse(matrix) else np.asarray(matrix)
    flat = data.ravel()
    if all(np.isfinite(flat[start:start + FINITE_CHUNK]).all() for start in range(0, flat.size, FINITE_CHUNK)):
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


def check_unique_cells(obs_names: pd.Index) -> None:
    """Refuse repeated cell names here: same-cell designs pool both clusters by name, and the
    per-transition jobs would otherwise fail one by one, long after the checkpoint."""
    if obs_names.is_unique:
        return
    counts = obs_names.value_counts()
    dups = counts[counts > 1]
    examples = ", ".join(f"{name} ({n} times)" for name, n in dups.head(5).items())
    raise InputError(f"data.adata: {len(dups)} cell names occur more than once (e.g. {examples}); make them unique "
                     "first, e.g. adata.obs_names_make_unique(), or anndata.concat(..., index_unique='-') when "
                     "combining samples")


def raw_adata(adata):
    """``data.use_raw``: the AnnData with ``adata.raw.X`` and ``adata.raw.var_names`` as its expression and
    genes (obs, obsm, obsp and uns kept), where scanpy keeps the log-normalized data before ``sc.pp.scale``."""
    if adata.raw is None:
        layers = ", ".join(adata.layers.keys()) or "none"
        raise InputError("data.use_raw is true but the AnnData has no .raw; set data.use_raw: false and use X, "
                         f"or data.layer for a log-normalized layer (layers: {layers})")
    return adata.raw.to_adata()
