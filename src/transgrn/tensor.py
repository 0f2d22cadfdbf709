"""The GRN tensor: all transitions' weights over the prior's edges, as an AnnData."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

EDGE_ID_SEPARATOR = "->"
KEY_COLUMNS = ("transition", "source_cluster", "target_cluster", "tf", "target_gene")


def tensor_obs(transitions: pd.DataFrame) -> pd.DataFrame:
    """The tensor's obs: the transitions table indexed by transition id."""
    obs = transitions.set_index("transition")
    obs.index = obs.index.astype(str)
    return obs


def edge_var(edges: pd.DataFrame) -> pd.DataFrame:
    """The tensor's var: one transition's edges (``tf``, ``target_gene``) in their order, ids ``tf->target``."""
    var = pd.DataFrame({"tf": edges["tf"].to_numpy(), "target_gene": edges["target_gene"].to_numpy()})
    var.index = (var["tf"] + EDGE_ID_SEPARATOR + var["target_gene"]).to_numpy()
    return var


def value_columns(edges: pd.DataFrame) -> list[str]:
    """The per-edge values of a long edge table: ``weight`` (the tensor's X), then its layers."""
    return [c for c in edges.columns if c not in KEY_COLUMNS]


def var_positions(edges: pd.DataFrame, var: pd.DataFrame) -> np.ndarray | None:
    """Where each of ``var``'s edges is among one transition's ``edges`` (-1 where it lacks it), or None
    when ``edges`` lists exactly ``var``'s edges in its order (every transition of a run, as a rule)."""
    same = len(edges) == len(var) and np.array_equal(edges["tf"].to_numpy(), var["tf"].to_numpy()) \
        and np.array_equal(edges["target_gene"].to_numpy(), var["target_gene"].to_numpy())
    if same:
        return None
    keys = pd.MultiIndex.from_frame(edges[["tf", "target_gene"]])
    if not keys.is_unique:
        raise ValueError("a transition lists an edge more than once")
    return keys.get_indexer(pd.MultiIndex.from_frame(var[["tf", "target_gene"]]))


def in_var_order(values: np.ndarray, position: np.ndarray | None) -> np.ndarray:
    """One transition's per-edge ``values`` in ``var``'s edge order (:func:`var_positions`; NaN where it lacks the edge)."""
    return values if position is None else np.where(position >= 0, values[position], np.nan)


def row_values(edges: pd.DataFrame, var: pd.DataFrame) -> dict[str, np.ndarray]:
    """One transition's tensor row: its value columns in ``var``'s edge order as float32 (NaN for an
    edge the transition lacks), keyed ``X`` for ``weight`` and by name for the layers."""
    position = var_positions(edges, var)
    return {"X" if column == "weight" else column: in_var_order(edges[column].to_numpy(dtype=np.float64),
                                                                 position).astype(np.float32)
            for column in value_columns(edges)}


# how anndata marks a dense array in an .h5ad (its on-disk spec)
ARRAY_ENCODING = {"encoding-type": "array", "encoding-version": "0.2.0"}


class TensorRows:
    """A ``grn_tensor.h5ad`` filled one transition (row) at a time; see :func:`tensor_rows`."""

    def __init__(self, handle, shape: tuple[int, int], layers: Sequence[str]):
        self.shape = shape
        self.datasets = {"X": self._dataset(handle, "X")}
        for name in layers:
            self.datasets[name] = self._dataset(handle["layers"], name)
        self._written = np.zeros(shape[0], dtype=bool)

    def _dataset(self, group, name: str):
        # contiguous, uncompressed, like anndata's own dense arrays: a row is one contiguous block,
        # so writing it and reading any rows back stay fast; no time stamps, for byte-identical reruns
        dataset = group.create_dataset(name, shape=self.shape, dtype=np.float32, track_times=False)
        dataset.attrs.update(ARRAY_ENCODING)
        return dataset

    def write(self, row: int, values: Mapping[str, np.ndarray]) -> None:
        """Row ``row`` of X (``values["X"]``) and of every layer (``values[name]``), cast to float32."""
        if set(values) != set(self.datasets):
            raise ValueError(f"row {row}: expected values for {sorted(self.datasets)}, got {sorted(values)}")
        for name, dataset in self.datasets.items():
            dataset[row] = np.asarray(values[name], dtype=np.float32)
        self._written[row] = True

    def check_complete(self) -> None:
        if not self._written.all():
            missing = np.flatnonzero(~self._written)
            raise ValueError(f"{len(missing)} rows of the tensor were never written (e.g. row {missing[0]})")


@contextlib.contextmanager
def tensor_rows(path: str | Path, obs: pd.DataFrame, var: pd.DataFrame, layers: Sequence[str] = (),
                uns: dict | None = None) -> Iterator[TensorRows]:
    """Write an AnnData (obs, var, uns as anndata writes them) whose X and ``layers`` are filled
    row by row with :meth:`TensorRows.write`, so that the dense matrix is never held in memory.
    Every row must be written. The file reads back with ``anndata.read_h5ad`` like one written by
    ``AnnData.write_h5ad`` with dense float32 X and layers. ``path`` is written in place: wrap it in
    :func:`transgrn.io.atomic_path`.
    """
    import anndata as ad
    import h5py

    # obs, var and uns as write_h5ad writes them (strings become categoricals), without X/layers
    ad.AnnData(obs=obs, var=var, uns=uns or {}).write_h5ad(path)
    with h5py.File(path, "r+") as handle:
        rows = TensorRows(handle, (len(obs), len(var)), layers)
        yield rows
        rows.check_complete()


def read_tensor(path: str | Path, layer: str | None = None) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Read ``grn_tensor.h5ad`` as a dense (transitions x TFs x targets) array.

    Returns ``(array, transitions, tfs, targets)``; entries outside the prior are 0.
    ``layer`` selects another per-edge value than the weight, where the run wrote layers.
    """
    import anndata as ad

    tensor = ad.read_h5ad(path)
    values = np.asarray(tensor.X if layer is None else tensor.layers[layer])
    tfs = list(pd.unique(tensor.var["tf"]))
    targets = list(pd.unique(tensor.var["target_gene"]))
    tf_pos = pd.Index(tfs).get_indexer(tensor.var["tf"])
    target_pos = pd.Index(targets).get_indexer(tensor.var["target_gene"])
    dense = np.zeros((tensor.n_obs, len(tfs), len(targets)), dtype=values.dtype)
    dense[:, tf_pos, target_pos] = values
    return dense, list(tensor.obs_names), tfs, targets
