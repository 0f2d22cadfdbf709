"""transgrn.cells: pooling two clusters, reading a cluster slice, nearest-neighbour smoothing."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from transgrn.cells import CellSet, gene_columns, knn_smooth, load_cluster, pool, smooth_clusters
from transgrn.errors import InputError


def test_smoothing_averages_each_cell_with_its_neighbours():
    matrix = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.1, 10.0]])
    np.testing.assert_allclose(knn_smooth(matrix, k=2, n_pcs=1), [[0.05, 0], [0.05, 0], [10.05, 10], [10.05, 10]])
    a = CellSet(np.array(["a0", "a1"]), matrix[:2])
    b = CellSet(np.array(["b0", "b1"]), matrix[2:])
    same = smooth_clusters(a, b, k=0)
    assert same[0] is a and same[1] is b


def test_pool_stacks_cells_and_keeps_pseudotime_only_when_every_set_has_it():
    a = CellSet(np.array(["a0", "a1"]), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.1, 0.2]))
    b = CellSet(np.array(["b0"]), sp.csr_matrix([[5.0, 6.0]]), np.array([0.9]))
    both = pool(a, b)
    assert list(both.names) == ["a0", "a1", "b0"] and sp.issparse(both.matrix)
    np.testing.assert_array_equal(both.matrix.toarray(), [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(both.pseudotime, [0.1, 0.2, 0.9])
    assert pool(a, CellSet(b.names, b.matrix)).pseudotime is None
    with pytest.raises(InputError, match="obs_names_make_unique"):
        pool(a, a)


def test_gene_columns_picks_genes_by_name_in_the_order_asked():
    cells = CellSet(np.array(["c"]), np.array([[1.0, 2.0, 3.0]]))
    picked = gene_columns(cells, pd.Index(["g1", "g2", "g3"]), ["g3", "g1"])
    np.testing.assert_array_equal(picked.matrix, [[3.0, 1.0]])


def test_load_cluster_reads_names_genes_and_pseudotime(tmp_path):
    adata = ad.AnnData(np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32),
                       obs=pd.DataFrame({"pseudotime": [0.25, 0.75]}, index=["c0", "c1"]),
                       var=pd.DataFrame(index=["g0", "g1"]))
    adata.write_h5ad(tmp_path / "cluster.h5ad")
    cells, genes = load_cluster(tmp_path / "cluster.h5ad")
    assert list(cells.names) == ["c0", "c1"] and list(genes) == ["g0", "g1"]
    np.testing.assert_array_equal(cells.pseudotime, [0.25, 0.75])
    (tmp_path / "broken.h5ad").write_bytes(b"not an h5ad file")
    with pytest.raises(InputError, match="Delete results/prepared/"):
        load_cluster(tmp_path / "broken.h5ad")
