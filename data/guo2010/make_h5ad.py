"""Turn guo2010_dct.csv (export_guo.R) into guo2010.h5ad and write prior.csv, the inputs of config/guo.yaml.

Run from the repository root: ``python data/guo2010/make_h5ad.py``.

destiny's ``guo`` holds housekeeping-normalized Ct values (dCt: Ct minus the cell's mean Ct of
Actb and Gapdh), where *lower* means *more* mRNA and undetected reactions sit at destiny's
normalized limit of detection (LOD), 10. transgrn expects non-negative, log-scaled expression that
grows with the amount of mRNA, so the expression is the standard qPCR shift by the LOD::

    expression = max(LOD - dCt, 0)        # log2 units above the limit of detection

0 = not detected (or detected beyond the global LOD, see README.md); one unit = a two-fold change.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LOD = 10.0  # destiny's normalized limit of detection (its vignette: lod_norm), the value of undetected reactions
OBS_COLUMNS = ["cell", "stage", "num_cells", "embryo"]
HOUSEKEEPING = ["Actb", "Gapdh"]  # the per-cell normalizers: their dCt is +-(Actb - Gapdh)/2 by construction
# The sequence-specific DNA-binding transcription factors among the 48 genes (family in README.md).
# Not TFs here: Id2 (HLH protein without a DNA-binding domain, a bHLH inhibitor) and Utf1 (a
# chromatin-associated cofactor); the rest are signalling, structural or metabolic genes.
TFS = ["Cdx2", "Cebpa", "Creb312", "Eomes", "Esrrb", "Gata3", "Gata4", "Gata6", "Grhl1", "Grhl2", "Hand1", "Hnf4a",
       "Klf2", "Klf4", "Klf5", "Msc", "Msx2", "Nanog", "Pou5f1", "Runx1", "Sall4", "Snail", "Sox13", "Sox17", "Sox2",
       "Tcf23", "Tcfap2a", "Tcfap2c"]


def expression_from_dct(dct: pd.DataFrame, lod: float = LOD) -> pd.DataFrame:
    """log2 expression above the limit of detection, 0 where not detected (dCt >= LOD)."""
    return (lod - dct).clip(lower=0.0)


def build(table: pd.DataFrame) -> ad.AnnData:
    """AnnData with the shifted expression in X, the raw dCt in layers['dct'], stages as clusters and
    log2(number of cells) as pseudotime."""
    dct = table.drop(columns=OBS_COLUMNS).astype(np.float64)
    obs = table[OBS_COLUMNS].copy()
    obs.index = pd.Index(obs.pop("cell").str.replace(" ", "_"), name="cell")
    stages = [f"{n}C" for n in sorted(obs["num_cells"].unique())]
    obs["stage"] = pd.Categorical(obs["stage"], categories=stages, ordered=True)
    obs["embryo"] = obs["embryo"].astype("category")
    obs["pseudotime"] = np.log2(obs["num_cells"].to_numpy(dtype=np.float64))  # 1 (2-cell) ... 6 (64-cell)
    adata = ad.AnnData(X=expression_from_dct(dct).to_numpy(np.float32), obs=obs,
                       var=pd.DataFrame(index=pd.Index(dct.columns, name="gene")))
    adata.layers["dct"] = dct.to_numpy(np.float32)
    adata.var["detected_fraction"] = (dct.to_numpy() < LOD).mean(axis=0)
    adata.uns["source"] = "Guo et al. 2010 Dev Cell 18:675-685, via Bioconductor destiny data(guo); see README.md"
    adata.uns["expression"] = (f"max({LOD} - dCt, 0): log2 units above the limit of detection; "
                               "layers['dct'] = destiny's dCt")
    return adata


def prior_edges(genes: list[str]) -> pd.DataFrame:
    """Every TF -> every other measured gene except the housekeeping normalizers: an uninformative
    prior, so that recovery of reference.csv measures what the fit adds, not what a curated prior knew."""
    missing = sorted(set(TFS) - set(genes))
    if missing:
        raise ValueError(f"TFs not among the data's genes: {missing}")
    targets = [g for g in genes if g not in HOUSEKEEPING]
    return pd.DataFrame([(tf, g) for tf in TFS for g in targets if g != tf], columns=["tf", "target_gene"])


def main(csv: Path = HERE / "guo2010_dct.csv", out: Path = HERE / "guo2010.h5ad",
         prior: Path = HERE / "prior.csv") -> ad.AnnData:
    adata = build(pd.read_csv(csv))
    adata.write_h5ad(out, compression="gzip")
    sizes = {str(k): int(v) for k, v in adata.obs["stage"].value_counts(sort=False).items()}
    print(f"wrote {out}: {adata.n_obs} cells x {adata.n_vars} genes, stages {sizes}")
    edges = prior_edges(list(adata.var_names))
    edges.to_csv(prior, index=False)
    print(f"wrote {prior}: {len(edges)} edges, {edges['tf'].nunique()} TFs -> {edges['target_gene'].nunique()} genes")
    return adata


if __name__ == "__main__":
    main()
