"""transgrn: weighted, signed gene regulatory networks for every transition between cell clusters.

Submodules are imported on use so that rule scripts start quickly.
"""

from .tensor import read_tensor

__all__ = ["read_tensor"]
__version__ = "0.1.0"
