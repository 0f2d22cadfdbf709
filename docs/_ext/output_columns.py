"""What each output column means, for the Outputs page (``transgrn_docs.output_columns_markdown``).

The column names themselves come from ``transgrn.columns``; this file only says what they mean. A
column the package writes without a meaning here (or a meaning here for a column it no longer
writes) fails ``make docs``.
"""

# transgrn.columns constant -> (section title, one sentence on the file), in the order shown
TABLES = {
    "TABLE_COLUMNS": ("`results/transitions.tsv`", "One row per transition, always these columns."),
    "OPTIONAL_COLUMNS": ("`results/transitions.tsv`: with some options",
                         "Added after the columns above when the option that produces them is set."),
    "REFERENCE_COLUMNS": ("`results/transitions.tsv`: with a `reference`",
                          "Recovery of the known network (see [Metrics](#metrics) below)."),
    "EDGE_COLUMNS": ("`results/edges.parquet`",
                     "Long table, one row per prior edge of every transition (the tensor's `var` is "
                     "`tf, target_gene`)."),
    "CONFIDENCE_COLUMNS": ("`results/edges.parquet`: with `fit.bootstrap: N`",
                           "Per-edge confidence from N bootstrap refits (`transgrn.confidence`), also in "
                           "`coefficients.parquet` and as layers of the tensor."),
    "SIGN_CONFIDENCE_COLUMN": ("`results/edges.parquet`: with `fit.bootstrap: N`",
                               "How sure the weight's sign is; also in `coefficients.parquet` and as a layer "
                               "of the tensor. Its calibration per track is in [Benchmarks](benchmarks.md)."),
    "BORROWED_COLUMN": ("`results/edges.parquet`: borrowing",
                        "Present when `fit.borrow_below > 0` (the default); also in `coefficients.parquet` and "
                        "as a 1/0 layer of the tensor."),
    "NETWORK_COLUMNS": ("`results/network.parquet`",
                        "The run-level network: one row per prior edge, a rank score and a sign over every "
                        "transition (`transgrn.run_network`; see [The run-level network](#the-run-level-network))."),
    "MASK_COLUMNS": ("`results/transitions/<t>/mask.parquet`",
                     "Every prior edge of the transition, and whether the design can estimate it."),
    "MAPPING_COLUMNS": ("`results/transitions/<t>/mapping_main.parquet`, `mapping_null.parquet`",
                        "The cell pairs of the configured mapping (`main`) and of the random null."),
    "TRANSITION_COLUMNS": ("`results/prepared/transitions.tsv`, `skipped.tsv`",
                           "The checkpoint's list of transitions to fit (and, with a `reason`, those skipped)."),
}

MEANINGS = {
    # transitions.tsv
    "transition": "the transition's id, `c<index>_<slug>__c<index>_<slug>` (also the folder name under "
                  "`results/transitions/`); the tables keep the real cluster names beside it",
    "source_cluster": "cluster A, as labelled in the data (kept as text: `NA` or `01` stay so)",
    "target_cluster": "cluster B, as labelled in the data",
    "n_source_cells": "cells of A used",
    "n_target_cells": "cells of B used",
    "mapping": "the design used (`lagged`, `joint`, …; `joint (no pseudotime)` where `lagged` had no pseudotime)",
    "n_pairs": "regression rows (cell pairs) of the fit",
    "r2_train": "R² on the training pairs",
    "r2_test": "pooled, variance-weighted held-out R² over all targets (sklearn's `variance_weighted`; "
               "high-variance genes dominate it)",
    "r2_test_null": "the same for the same fit on the random-pairing null",
    "r2_test_median": "median held-out R² over the targets that vary: read this first",
    "r2_test_null_median": "the same for the null",
    "frac_targets_above_null": "share of targets whose held-out R² beats the null's by more than 0.05",
    "above_null": "whether the fit predicts its held-out targets better than the null, per target "
                  "(one-sided sign test, p < 0.05; `transgrn.metrics.beats_null`); where false, the "
                  "transition's edges are not supported by its data",
    "n_edges": "prior edges the design could estimate (active in `mask.parquet`)",
    "solver": "`ridge`, `lasso`, `elasticnet` or `adam`",
    "alpha": "the penalty used (chosen per transition with `fit.alpha: auto`)",
    "lag": "with `mapping.method: lagged`: the pseudotime lag chosen by cross-validation (0 = same-cell); "
           "NA where the design fell back to `joint`",
    "r2_test_mlp": "with `models: [linear, mlp]`: the masked MLP's held-out R²",
    "auprc_ratio": "average precision over the fraction of true edges, every prior edge ranked by |weight| "
                   "(1 = chance)",
    "auroc": "area under the ROC curve (0.5 = chance)",
    "sign_accuracy": "share of the reference's signed edges whose weight has the right sign (a zero weight "
                     "counts as wrong)",
    "sign_accuracy_called": "the same over the non-zero weights only",
    "epr": "early precision ratio: precision among the k strongest edges (k = true edges) over the fraction "
           "of true edges",
    "epr_activation": "the same, edges ranked by weight, against the true activations",
    "epr_repression": "the same, edges ranked by −weight, against the true repressions",
    # edges.parquet
    "tf": "the regulator",
    "target_gene": "the regulated gene",
    "weight": "the fitted weight, on the expression's scale (+ activates, − represses), fitted on every pair",
    "weight_mean": "mean weight over the bootstrap refits",
    "weight_std": "their standard deviation (the bootstrap standard error)",
    "pvalue": "`weight_mean / weight_std` against a t distribution with N−1 degrees of freedom (calibrated "
              "on pure noise)",
    "qvalue": "Benjamini–Hochberg within the transition",
    "pvalue_celloracle": "CellOracle's one-sample t-test of the bootstrap weights; it shrinks as N grows, "
                         "kept for comparison only",
    "sign_confidence": "with `fit.bootstrap`: the share of the bootstrap refits whose weight has the sign of "
                       "`weight`, capped at 0.5 where the marginal association over the transition's rows, the "
                       "pooled network's weight or the pooled cells' association has the other sign; NaN for "
                       "zero, inactive and borrowed edges. Of the edges at 0.9 or above, at least 90% had the "
                       "true sign on the simulated, krumsiek11, Hill and most Boolean tracks, not on Guo 2010 "
                       "(see Benchmarks)",
    "borrowed": "True where the weight comes from the pooled network (the TF did not vary over the "
                "transition's rows), not from the transition's own cells; such edges have no p- or q-value "
                "and are left out of `edges_filtered.parquet`, the TF scores and the differential test",
    # network.parquet
    "score": "the edge's rank score: the mean absolute weight over the transitions, each weighted by its held-out R² "
             "(`r2_test`, 0 where negative; the plain mean where no transition of the edge has R² above 0); "
             "0 where no transition estimated it",
    "sign_agreement": "the absolute sum of the weights over the sum of their absolute values: 1 where every "
                      "transition's weight has the edge's sign, near 0 where they cancel; NaN where every weight is 0",
    "n_transitions": "transitions with a non-zero weight for the edge (their own or borrowed)",
    # mask.parquet
    "sign": "the prior's sign: 1, −1 or 0 (unknown)",
    "active": "whether the design can estimate the edge on its rows",
    "reason": "why not, where inactive: TF constant, target constant, no rows, or a self-loop in a "
              "same-cell design (in `skipped.tsv`: why the transition was skipped)",
    # mapping_<role>.parquet
    "pair": "the regression row",
    "source_cell": "the cell whose TF expression is the input",
    "target_cell": "the cell whose target expression is the output",
    "split": "`train` or `test` (whole source cells are held out)",
    # prepared/transitions.tsv
    "source_id": "A's id in file names (`c<index>_<slug>`)",
    "target_id": "B's id in file names",
}

# a column whose meaning depends on the table: (transgrn.columns constant, column) -> meaning
IN_TABLE = {
    ("NETWORK_COLUMNS", "sign"): "the run-level sign: that of the summed weights over the transitions (a vote "
                                 "weighted by the absolute weight), 1 or −1; 0 where every weight is 0",
    ("MAPPING_COLUMNS", "weight"): "the row's weight within its pair: 1 for a sampled or same-cell pair; for a "
                                   "barycentric pair, the coupling's weight of this target cell (the pair's target "
                                   "is the weighted mean of its rows)",
}
