# Export the Guo et al. 2010 single-cell qPCR data set shipped as `guo` in Bioconductor's destiny
# (Debian: r-bioc-destiny) to a small CSV, once. The CSV is committed; make_h5ad.py turns it into
# guo2010.h5ad. Run from the repository root:  Rscript data/guo2010/export_guo.R
#
# destiny's `guo`: 428 cells (2- to 64-cell stage; the 1-cell stage is dropped by destiny), 48 genes.
# Values are Ct values normalized per cell by the mean Ct of Actb and Gapdh (dCt: lower = more mRNA);
# reactions with no signal within 28 cycles are set to destiny's normalized limit of detection, 10.
suppressPackageStartupMessages(library(Biobase))
data("guo", package = "destiny")

out <- file.path("data", "guo2010", "guo2010_dct.csv")
pheno <- pData(guo)
# pheno$Cell is "<stage> <embryo>.<cell>", e.g. "32C 4.17": stage 32C, embryo 4, cell 17.
stage <- sub(" .*$", "", as.character(pheno$Cell))
embryo <- paste0(stage, "_", sub("\\..*$", "", sub("^\\S+ ", "", as.character(pheno$Cell))))
stopifnot(identical(stage, paste0(pheno$num_cells, "C")))

table <- data.frame(
    cell = as.character(pheno$Cell),
    stage = stage,
    num_cells = as.integer(pheno$num_cells),
    embryo = embryo,
    round(t(exprs(guo)), 4),
    check.names = FALSE
)
write.csv(table, out, row.names = FALSE, quote = TRUE)
cat(sprintf("wrote %s: %d cells x %d genes (destiny %s)\n", out, nrow(table), nrow(guo),
            as.character(packageVersion("destiny"))))
