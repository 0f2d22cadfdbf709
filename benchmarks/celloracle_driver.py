"""CellOracle's tutorial path to per-cluster GRNs, timed step by step (run by benchmarks/end_to_end.py).

Runs in CellOracle's own virtual environment (CellOracle 0.20.0 pins numpy < 2 and anndata <= 0.10.8),
never in the project's, so it imports nothing from transgrn:

    <celloracle venv>/bin/python benchmarks/celloracle_driver.py --adata in.h5ad --base-grn base_grn.csv \\
        --cluster-key cell_type --embedding X_embedding --n-jobs 2 --out out/

Steps, as in CellOracle's GRN tutorial: load the AnnData; ``Oracle.import_anndata_as_normalized_count``
with the log-normalized expression transgrn fits in ``X`` and the per-cell normalized counts in the
layer ``raw_count``, as the tutorial's preprocessing leaves them; ``import_TF_data`` with the base GRN;
``perform_PCA`` and the tutorial's choice of components (where the explained variance curve flattens,
at most 50); ``knn_imputation`` with k = 2.5% of the cells; ``get_links`` per cluster with
``alpha=10, bagging_number=20``. Writes each cluster's links (``out/links_<cluster>.csv``) and the
seconds of every step, the imports included, to ``out/timings.json``.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adata", required=True,
                        help="log-normalized X, without uns (anndata <= 0.10.8 cannot read a null there)")
    parser.add_argument("--base-grn", required=True,
                        help="CellOracle base GRN CSV: peak_id, gene_short_name, 0/1 TF columns")
    parser.add_argument("--cluster-key", required=True)
    parser.add_argument("--embedding", required=True, help="obsm key of a 2-D embedding (CellOracle requires one)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--bagging-number", type=int, default=20)
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def n_components(explained_variance_ratio) -> int:
    """The tutorial's choice: the first component after which the cumulative explained variance grows by
    less than 0.002 per component, at most 50 (and at least 2, for data whose curve flattens at once)."""
    import numpy as np

    flat = np.where(np.diff(np.diff(np.cumsum(explained_variance_ratio)) > 0.002))[0]
    return int(min(max(flat[0] if len(flat) else 50, 2), 50))


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    mark = START

    def lap(step: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[step] = round(now - mark, 3)
        mark = now

    import anndata
    import celloracle as co
    import pandas as pd

    lap("start_and_imports")
    adata = anndata.read_h5ad(args.adata)
    base_grn = pd.read_csv(args.base_grn)
    lap("read_inputs")
    oracle = co.Oracle()
    # Below 1,000 genes CellOracle's variable-gene QC (for its simulations, not the GRNs) indexes its
    # 999th gene among those of mean count < 35 and fails (IndexError): its test mode skips that QC.
    oracle.import_anndata_as_normalized_count(adata=adata, cluster_column_name=args.cluster_key,
                                              embedding_name=args.embedding, test_mode=adata.n_vars < 1000)
    oracle.import_TF_data(TF_info_matrix=base_grn)
    lap("import_data")
    oracle.perform_PCA()
    n_comps = n_components(oracle.pca.explained_variance_ratio_)
    lap("pca")
    k = max(int(0.025 * oracle.adata.shape[0]), 2)
    oracle.knn_imputation(n_pca_dims=n_comps, k=k, balanced=True, b_sight=k * 8, b_maxl=k * 4, n_jobs=args.n_jobs)
    lap("knn_imputation")
    links = oracle.get_links(cluster_name_for_GRN_unit=args.cluster_key, alpha=args.alpha,
                             bagging_number=args.bagging_number, verbose_level=0, n_jobs=args.n_jobs)
    lap("get_links")
    n_links = {}
    for cluster, table in links.links_dict.items():
        table.to_csv(args.out / f"links_{re.sub(r'[^A-Za-z0-9_.-]', '_', str(cluster))}.csv", index=False)
        n_links[str(cluster)] = len(table)
    lap("write_links")
    timings["total_in_process"] = round(time.perf_counter() - START, 3)
    record = {"timings_s": timings, "n_pca_dims": n_comps, "k": k, "cells": int(oracle.adata.shape[0]),
              "genes": int(oracle.adata.shape[1]), "clusters": len(n_links), "links_per_cluster": n_links,
              "celloracle": co.__version__}
    (args.out / "timings.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
