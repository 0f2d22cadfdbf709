"""The run's summary report: one self-contained HTML page and the figures it embeds.

Figures are written as PNG files too (``figure_dir``) so that Snakemake's ``--report`` can register
them with captions. The package holds:

- :mod:`.summaries`: the numbers (strong edges, mapping diagnostics, per-TF sums, the transitions'
  weight correlation and similarity tree, which transitions are below their null);
- :mod:`.runinfo`: what the run was (stage wall times from benchmark files, transition titles for
  report.smk's DAG, the mapping design, the parameters it used);
- :mod:`.figures`: the matplotlib figures (matplotlib is loaded on the first figure, not on import,
  so report.smk can import this package at every DAG build cheaply);
- :mod:`.html`: the page, section by section, with its CSS and JS from ``static/`` (package data).

Only the entry points used by the workflow (rules, scripts) and the benchmarks are re-exported here.
"""

from .figures import OVERVIEW_FIGURES, TRANSITION_FIGURES, VALIDATION_FIGURES, write_transition_figures
from .html import TransitionResult, build_report, write_report
from .runinfo import benchmark_files, stage_times, transition_title
from .summaries import same_cell_design

__all__ = [
    "OVERVIEW_FIGURES",
    "TRANSITION_FIGURES",
    "VALIDATION_FIGURES",
    "TransitionResult",
    "benchmark_files",
    "build_report",
    "same_cell_design",
    "stage_times",
    "transition_title",
    "write_report",
    "write_transition_figures",
]
