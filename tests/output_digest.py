"""Digests of a run's result files by content, for the test that the code layout change left
every result unchanged (tests/test_workflow.py).

``transitions.tsv`` is compared byte for byte. ``edges.parquet`` and ``grn_tensor.h5ad`` also
carry provenance (the sha256 of transgrn's own source among it), which changes with every edit of
the code by design; their digests cover the values, names and types, not that metadata.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd


def _frame_digest(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame.reset_index(), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def output_digests(results: Path) -> dict[str, str]:
    import anndata as ad
    import numpy as np

    tensor = ad.read_h5ad(results / "grn_tensor.h5ad")
    digests = {
        "transitions.tsv": hashlib.sha256((results / "transitions.tsv").read_bytes()).hexdigest(),
        "edges.parquet": _frame_digest(pd.read_parquet(results / "edges.parquet")),
        "grn_tensor.h5ad:obs": _frame_digest(tensor.obs),
        "grn_tensor.h5ad:var": _frame_digest(tensor.var),
    }
    for name in ["X", *sorted(tensor.layers.keys())]:
        values = np.ascontiguousarray(tensor.X if name == "X" else tensor.layers[name])
        digests[f"grn_tensor.h5ad:{name}"] = hashlib.sha256(values.tobytes() + str(values.dtype).encode()).hexdigest()
    return digests


if __name__ == "__main__":  # record anew: python tests/output_digest.py RESULTS_DIR
    import json
    import sys

    digests = output_digests(Path(sys.argv[1]))
    target = Path(__file__).parent / "data/workflow_output_digests.json"
    target.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    print(f"wrote {target}")
