"""Every output file's column names and what they mean: one place for the Snakefile, the package
and the tests. Output names are used from the start; no file renames another's columns."""

from __future__ import annotations

# Transition ids: c<index>_<slug>__c<index>_<slug> (transgrn.transitions.transition_id); the
# Snakemake wildcard constraint in workflow/rules/common.smk is this pattern.
CLUSTER_ID_PATTERN = r"c\d+(_[A-Za-z0-9]+)*"  # transgrn.transitions.cluster_ids: c<index>_<slug>
TRANSITION_SEPARATOR = "__"
TRANSITION_PATTERN = CLUSTER_ID_PATTERN + TRANSITION_SEPARATOR + CLUSTER_ID_PATTERN

# prepared/transitions.tsv (and skipped.tsv, with a reason): one row per transition
TRANSITION_COLUMNS = ["transition", "source_cluster", "target_cluster", "source_id", "target_id",
                      "n_source_cells", "n_target_cells"]
# columns that hold labels: text whatever they look like (a cluster called "NA" stays so)
LABEL_COLUMNS = ("transition", "source_cluster", "target_cluster", "source_id", "target_id", "reason", "mapping",
                 "solver")

# transitions/<t>/mask.parquet: every prior edge of the transition; reason is empty where active
MASK_COLUMNS = ["tf", "target_gene", "sign", "active", "reason"]
# transitions/<t>/mapping_<role>.parquet: one row per (pair, target cell); optional "cost" (the normalized
# squared distance of a mapped pair; not for sampled random pairs, the null, whose cost is 1 by construction)
MAPPING_COLUMNS = ["pair", "source_cell", "target_cell", "weight", "split"]

# per-edge confidence from fit.bootstrap refits (transgrn.confidence): pvalue is the bootstrap
# standard-error test (calibrated), pvalue_celloracle CellOracle's one-sample t-test (for comparison)
CONFIDENCE_COLUMNS = ("weight_mean", "weight_std", "pvalue", "qvalue", "pvalue_celloracle")
# per-edge confidence in the network weight's sign (transgrn.confidence.sign_confidence): the share of the
# fit.bootstrap refits whose weight has the sign of ``weight``, at most 0.5 where the marginal association
# over the transition's rows, the pooled network's weight or its marginal association has the other sign
# (transgrn.fit._contrary_evidence); NaN where the weight is 0 or the transition's own rows did not
# estimate the edge (inactive, borrowed). Written only with fit.bootstrap >= 2, like weight_std.
SIGN_CONFIDENCE_COLUMN = "sign_confidence"

# results/transitions.tsv
TABLE_COLUMNS = [
    "transition", "source_cluster", "target_cluster", "n_source_cells", "n_target_cells", "mapping",
    "n_pairs", "r2_train", "r2_test", "r2_test_null", "r2_test_median", "r2_test_null_median",
    "frac_targets_above_null", "above_null", "n_edges", "solver", "alpha",
]
OPTIONAL_COLUMNS = ["lag", "r2_test_mlp"]  # lag: mapping.method lagged; r2_test_mlp: models [linear, mlp]
# recovery of a reference (transgrn.metrics.recovery_metrics) and each metric's value by chance
RECOVERY_CHANCE = {"auprc_ratio": 1.0, "auroc": 0.5, "sign_accuracy": 0.5, "sign_accuracy_called": 0.5, "epr": 1.0,
                   "epr_activation": 1.0, "epr_repression": 1.0}
REFERENCE_COLUMNS = ["auprc_ratio", "auroc", "sign_accuracy", "sign_accuracy_called", "epr", "epr_activation",
                     "epr_repression"]
TEXT_COLUMNS = ["transition", "source_cluster", "target_cluster", "mapping", "solver"]

# transitions/<t>/coefficients.parquet and intercepts.parquet: the network (weight, intercept) is fitted on
# every pair; its held-out sibling, fitted on the training pairs alone, whose accuracy the test pairs measure,
# is train_weight, train_intercept[, train_self_weight] (transgrn.fit.fit_transition); the null's null_*.
HELD_OUT_PREFIX = "train_"

# transitions/<t>/coefficients.parquet and results/edges.parquet: True where the edge's weight was
# borrowed from the pooled network (fit.borrow_below; its TF did not vary over the transition's rows)
BORROWED_COLUMN = "borrowed"


def own_edges(edges):
    """The rows of an edge table whose weights the transition's own cells informed: without the
    ``borrowed`` ones (a pooled network's weights are no evidence about the transition), so that the
    strongest and confident edges of a transition -- edges_filtered, its network scores, the report's
    tables and drawings -- are its own. All rows when the table has no such column."""
    if BORROWED_COLUMN not in edges.columns:
        return edges
    return edges[~edges[BORROWED_COLUMN].to_numpy(dtype=bool)]
# results/network.parquet: the run-level network (transgrn.run_network), one row per prior edge, highest score first
NETWORK_COLUMNS = ["tf", "target_gene", "score", "sign", "sign_agreement", "n_transitions"]
# results/edges.parquet (long table; the tensor's var is tf, target_gene): these, then the confidence
# columns with fit.bootstrap, then BORROWED_COLUMN (and mlp_attribution with the MLP)
EDGE_COLUMNS = ["source_cluster", "target_cluster", "tf", "target_gene", "weight"]
