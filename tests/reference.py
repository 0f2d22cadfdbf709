"""Reference implementations for the tests: plain, dense versions of what the package computes
in a streamed or optimized way, kept here (not in the package) because only the tests use them."""
from __future__ import annotations

import numpy as np
import pandas as pd


def weight_matrix(coefficients: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Transitions x prior edges matrix of weights (0 where an edge is absent from a transition).

    Dense and in memory: the reference for the report's streamed
    :class:`transgrn.report.summaries.WeightCorrelation`.
    """
    columns = {t: c.set_index(["tf", "target_gene"])["weight"] for t, c in coefficients.items()}
    return pd.DataFrame(columns).fillna(0.0).T


def build_tensor(edges: pd.DataFrame, transitions: pd.DataFrame, uns: dict | None = None):
    """AnnData with obs = transitions, var = prior edges (``tf``, ``target_gene``), X = weights,
    built by pivoting the whole long table in memory: the reference for the streamed
    :func:`transgrn.tensor.tensor_rows` that the workflow's aggregate writes with.

    ``edges`` is the long table (``transition, tf, target_gene, weight`` and optional extra
    numeric columns, which become layers); var holds the first transition's edges, in its order.
    """
    import anndata as ad

    from transgrn.tensor import edge_var, tensor_obs, value_columns

    obs = tensor_obs(transitions)
    var = edge_var(edges[edges["transition"] == obs.index[0]])
    values = {}
    for column in value_columns(edges):
        wide = edges.pivot(index="transition", columns=["tf", "target_gene"], values=column)
        wide = wide.loc[obs.index, pd.MultiIndex.from_frame(var[["tf", "target_gene"]])]
        values[column] = wide.to_numpy(dtype=np.float32)
    tensor = ad.AnnData(X=values.pop("weight"), obs=obs, var=var, uns=uns or {})
    for name, layer in values.items():
        tensor.layers[name] = layer
    return tensor

