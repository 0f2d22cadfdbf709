"""What the worker processes' server imports once before it forks them (:data:`transgrn.jobs.runner.PRELOAD`):
the libraries nearly every job needs, and matplotlib with the report's style, so that no worker pays
these imports (about 3 s on 2 cores: torch 1.4-1.9 s, matplotlib 0.5-0.8 s) at its first job.

Imported for its effect only, by the forkserver; torch reads its thread settings here, which
:func:`transgrn.jobs.runner.configure_process` put into the environment before the server started.
"""

import anndata  # noqa: F401
import numpy  # noqa: F401
import pandas  # noqa: F401
import pyarrow.parquet  # noqa: F401
import scipy.sparse  # noqa: F401
import torch  # noqa: F401

from ..report.figures import preload_matplotlib
from . import runner  # noqa: F401

preload_matplotlib()
