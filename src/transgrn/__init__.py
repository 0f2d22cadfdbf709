"""transgrn: weighted, signed gene regulatory networks for every transition between cell clusters.

Submodules are imported on use so that reading the workflow stays quick.
"""

from .api import Results, TransitionFit, fit_transition, read_results
from .tensor import read_tensor

__all__ = ["Results", "TransitionFit", "fit_transition", "read_results", "read_tensor"]
__version__ = "0.1.0"
