"""Per-transition TF scores: the network scores CellOracle users know from ``links.get_network_score()``.

A transition's *confident network* is the directed graph TF -> target of its confident edges:
those that :func:`transgrn.edges.filter_transition_edges` keeps (``1 - qvalue >=
filter.min_confidence`` when the fit was bootstrapped, then the ``filter.top_k`` largest
``|weight|``), i.e. the transition's rows of ``edges_filtered.parquet``. Over it, per TF:

* ``out_degree`` -- its number of confident edges; ``weighted_out_degree`` -- the sum of their
  signed weights (activation minus repression); ``weighted_out_degree_abs`` -- the sum of ``|w|``;
* ``betweenness`` -- the share of shortest directed paths between two other genes that pass
  through the TF (hop counts, weights ignored: a stronger edge is not a longer one), normalized
  by ``(n - 1)(n - 2)`` over the network's ``n`` genes (networkx), so it compares across
  transitions whose networks differ in size (igraph, which CellOracle calls, leaves it unnormalized);
* ``eigenvector`` -- eigenvector centrality of the network taken as undirected with edge weights
  ``|w|`` (the leading eigenvector of that adjacency matrix), scaled to a maximum of 1 (as
  igraph's ``evcent``): high for a TF linked to genes that are themselves central. Undirected,
  because a TF no other TF regulates would score 0 on the directed (in-edge) definition. On a
  disconnected network it is 0 outside the component with the largest eigenvalue, as in igraph.

and, over the whole fitted model (every edge with a non-zero weight, not only confident ones):

* ``explained_variance_share`` -- ``sum_j w_tj^2 var(x_t) / sum_{s,j} w_sj^2 var(x_s)``: the TF's
  share of the summed variances of the edge terms ``w x`` of its targets' predictions, ``var``
  over the training rows of the transition's design (with the lagged design's shift). It sums to
  1 over the TFs of a transition. The exact explained variance of a target, ``var(sum_t w_t x_t)``,
  also holds covariances between TFs that no TF owns alone; the share leaves them out.

Targets get ``in_degree``, ``weighted_in_degree`` and ``weighted_in_degree_abs`` over the same
confident network (:func:`target_scores`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .edges import filter_transition_edges
from .design import EVERY_PAIR, TransitionData

TF_SCORE_COLUMNS = ["transition", "tf", "out_degree", "weighted_out_degree", "weighted_out_degree_abs", "betweenness",
                    "eigenvector", "explained_variance_share"]
TARGET_SCORE_COLUMNS = ["transition", "target_gene", "in_degree", "weighted_in_degree", "weighted_in_degree_abs"]


def _degrees(edges: pd.DataFrame, node: str, index: pd.Index) -> pd.DataFrame:
    """Count, signed sum and absolute sum of the edge weights per ``node`` column value, over ``index``."""
    weight = edges["weight"].astype(float)
    grouped = pd.DataFrame({"n": 1, "w": weight, "a": weight.abs(), node: edges[node]}).groupby(node)
    return grouped[["n", "w", "a"]].sum().reindex(index, fill_value=0)


def centralities(edges: pd.DataFrame) -> pd.DataFrame:
    """``betweenness`` and ``eigenvector`` (module docstring) of every gene of the network ``edges``
    (``tf, target_gene, weight``), indexed by gene."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_weighted_edges_from(zip(edges["tf"], edges["target_gene"], edges["weight"].abs().astype(float)))
    nodes = list(graph.nodes)
    if not nodes:
        return pd.DataFrame(columns=["betweenness", "eigenvector"], dtype=float)
    adjacency = nx.to_scipy_sparse_array(graph.to_undirected(), nodelist=nodes, weight="weight", format="csr")
    return pd.DataFrame({"betweenness": pd.Series(nx.betweenness_centrality(graph, normalized=True)).reindex(nodes),
                         "eigenvector": _leading_eigenvector(adjacency)}, index=nodes)


def _leading_eigenvector(adjacency) -> np.ndarray:
    """The leading eigenvector of a symmetric non-negative matrix, ``>= 0`` and scaled to a maximum of 1.

    networkx refuses disconnected graphs (the usual case for a top-k network); like igraph, this
    returns the eigenvector of the largest eigenvalue, which is 0 outside the component(s) that
    hold it.
    """
    from scipy.sparse.linalg import eigsh

    if adjacency.shape[0] <= 1000:
        vector = np.linalg.eigh(adjacency.toarray())[1][:, -1]
    else:
        vector = eigsh(adjacency.astype(float), k=1, which="LA")[1][:, 0]
    vector = np.abs(vector)  # Perron vector: one sign throughout its component
    return vector / (vector.max() or 1.0)


def design_tf_variance(data: TransitionData, mapping: pd.DataFrame, self_term: bool = False) -> pd.Series:
    """Variance (ddof 0) of each TF's input over the rows of the transition's network (every pair)."""
    x, _ = data.design(mapping, EVERY_PAIR, self_term, dense=False)
    return pd.Series(np.var(x[:, : len(data.tfs)], axis=0), index=data.tfs)


def explained_variance_share(edges: pd.DataFrame, tf_variance: pd.Series) -> pd.Series:
    """Each TF's ``explained_variance_share`` (module docstring) of the fitted edges ``edges``
    (``tf, target_gene, weight``), indexed like ``tf_variance``; NaN when no edge explains any."""
    weight = edges["weight"].to_numpy(dtype=float)
    terms = pd.Series(weight**2 * tf_variance.reindex(edges["tf"]).to_numpy(), index=edges["tf"].to_numpy())
    per_tf = terms.groupby(level=0).sum().reindex(tf_variance.index, fill_value=0.0)
    total = per_tf.sum()
    return per_tf / total if total > 0 else per_tf * np.nan


def tf_scores(transition: str, coefficients: pd.DataFrame, min_confidence: float, top_k: int,
              tf_variance: pd.Series | None = None) -> pd.DataFrame:
    """:data:`TF_SCORE_COLUMNS` for every TF of the transition's ``coefficients`` (``tf, target_gene,
    weight[, qvalue]``, every prior edge; 0 where inactive): zeros for a TF without confident edges.
    ``explained_variance_share`` needs ``tf_variance`` (:func:`design_tf_variance`), else it is NaN."""
    tfs = pd.Index(pd.unique(coefficients["tf"]), name="tf")
    confident = filter_transition_edges(coefficients, min_confidence, top_k)
    degrees = _degrees(confident, "tf", tfs)
    central = centralities(confident).reindex(tfs, fill_value=0.0)
    share = (explained_variance_share(coefficients[coefficients["weight"] != 0], tf_variance.reindex(tfs))
             if tf_variance is not None else pd.Series(np.nan, index=tfs))
    return pd.DataFrame({
        "transition": transition, "tf": tfs, "out_degree": degrees["n"].to_numpy(dtype=int),
        "weighted_out_degree": degrees["w"].to_numpy(), "weighted_out_degree_abs": degrees["a"].to_numpy(),
        "betweenness": central["betweenness"].to_numpy(dtype=float),
        "eigenvector": central["eigenvector"].to_numpy(dtype=float),
        "explained_variance_share": share.to_numpy(dtype=float),
    }, columns=TF_SCORE_COLUMNS)


def target_scores(transition: str, coefficients: pd.DataFrame, min_confidence: float, top_k: int) -> pd.DataFrame:
    """:data:`TARGET_SCORE_COLUMNS` for every target with at least one confident edge."""
    confident = filter_transition_edges(coefficients, min_confidence, top_k)
    targets = pd.Index(pd.unique(confident["target_gene"]), name="target_gene")
    degrees = _degrees(confident, "target_gene", targets)
    return pd.DataFrame({
        "transition": transition, "target_gene": targets, "in_degree": degrees["n"].to_numpy(dtype=int),
        "weighted_in_degree": degrees["w"].to_numpy(), "weighted_in_degree_abs": degrees["a"].to_numpy(),
    }, columns=TARGET_SCORE_COLUMNS)


def transition_scores(transition: str, data: TransitionData, mapping: pd.DataFrame, coefficients: pd.DataFrame,
                      min_confidence: float, top_k: int, self_term: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables of one transition from its data, main mapping and ``coefficients.parquet``: what
    a per-transition rule calls."""
    variance = design_tf_variance(data, mapping, self_term)
    return (tf_scores(transition, coefficients, min_confidence, top_k, variance),
            target_scores(transition, coefficients, min_confidence, top_k))
