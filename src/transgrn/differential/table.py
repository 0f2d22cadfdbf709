"""The differential table of a pair: its columns, and how a difference's variance becomes ``z``,
``pvalue`` and ``qvalue`` (shared by the bootstrap's and the analytic standard error)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..confidence import _two_sided_t, benjamini_hochberg
from ..errors import InputError

DIFFERENTIAL_COLUMNS = ["transition_1", "transition_2", "tf", "target_gene", "weight_1", "weight_2", "difference",
                        "std_error", "z", "pvalue", "qvalue", "se_method"]
TEXT_COLUMNS = ("transition_1", "transition_2", "tf", "target_gene", "se_method")


def differential_schema():
    """The Arrow schema of :data:`DIFFERENTIAL_COLUMNS`: what a unit's file has even without rows."""
    import pyarrow as pa

    return pa.schema([(c, pa.string() if c in TEXT_COLUMNS else pa.float64()) for c in DIFFERENTIAL_COLUMNS])


def check_same_edges(transition_1: str, first, transition_2: str, second) -> None:
    """Both transitions' tables (``tf``, ``target_gene`` arrays) must list the same prior edges."""
    if len(first.tf) != len(second.tf) or not (np.array_equal(first.tf, second.tf)
                                               and np.array_equal(first.target_gene, second.target_gene)):
        raise InputError(f"transitions {transition_1} and {transition_2} have masks over different prior edges; "
                         "rerun both from the same prepared prior")


def pair_table(transition_1: str, first, transition_2: str, second, both: np.ndarray, variance: np.ndarray,
               df: float, method: str) -> pd.DataFrame:
    """:data:`DIFFERENTIAL_COLUMNS` over the edges ``both`` given the variance of each difference and
    the df of its t test (``inf``: the normal); ``first`` and ``second`` have ``tf``,
    ``target_gene`` and ``weight`` per prior edge."""
    w1, w2 = first.weight[both], second.weight[both]
    difference = w2 - w1
    std_error = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, difference / std_error, np.sign(difference) * np.inf)
    z[(std_error == 0) & (difference == 0)] = 0.0
    pvalue = _two_sided_t(difference, std_error, df)
    return pd.DataFrame({
        "transition_1": transition_1, "transition_2": transition_2, "tf": first.tf[both],
        "target_gene": first.target_gene[both], "weight_1": w1, "weight_2": w2, "difference": difference,
        "std_error": std_error, "z": z, "pvalue": pvalue, "qvalue": benjamini_hochberg(pvalue), "se_method": method,
    }, columns=DIFFERENTIAL_COLUMNS)
