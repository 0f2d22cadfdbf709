"""transgrn.jobs.preload: what the worker processes' server imports before it forks them."""
from __future__ import annotations


def test_the_workers_server_imports_torch_and_matplotlib_once():
    """What the workers' server preloads (transgrn.jobs.preload): the libraries the jobs need, and
    matplotlib with the report's style, so that no worker imports them at its first job."""
    import subprocess
    import sys

    code = ("import sys, transgrn.jobs.preload, matplotlib; from transgrn.report.figures import STYLE; "
            "print(all(m in sys.modules for m in ('torch', 'anndata', 'matplotlib.figure', "
            "'matplotlib.backends.backend_agg')), matplotlib.get_backend(), "
            "all(matplotlib.rcParams[k] == v for k, v in STYLE.items()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["True", "Agg", "True"], result.stderr[-2000:]
