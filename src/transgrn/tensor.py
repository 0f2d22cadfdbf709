"""The GRN tensor: all transitions' weights over the prior's edges, as an AnnData."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EDGE_ID_SEPARATOR = "->"


def build_tensor(edges: pd.DataFrame, transitions: pd.DataFrame, uns: dict | None = None):
    """AnnData with obs = transitions, var = prior edges (``tf``, ``target_gene``), X = weights.

    ``edges`` is the long table (``transition, tf, target_gene, weight`` and optional extra
    numeric columns, which become layers); every transition must list the same edges.
    """
    import anndata as ad

    obs = transitions.set_index("transition")
    obs.index = obs.index.astype(str)
    first = edges[edges["transition"] == obs.index[0]]
    var = pd.DataFrame({"tf": first["tf"].to_numpy(), "target_gene": first["target_gene"].to_numpy()})
    var.index = (var["tf"] + EDGE_ID_SEPARATOR + var["target_gene"]).to_numpy()
    values = {}
    for column in [c for c in edges.columns if c not in ("transition", "tf", "target_gene", "source_cluster", "target_cluster")]:
        wide = edges.pivot(index="transition", columns=["tf", "target_gene"], values=column)
        wide = wide.loc[obs.index, pd.MultiIndex.from_frame(var[["tf", "target_gene"]])]
        values[column] = wide.to_numpy(dtype=np.float32)
    tensor = ad.AnnData(X=values.pop("weight"), obs=obs, var=var, uns=uns or {})
    for name, layer in values.items():
        tensor.layers[name] = layer
    return tensor


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
