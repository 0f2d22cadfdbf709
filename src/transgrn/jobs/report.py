"""Jobs of rules plot_transition and report: per-transition figures and the run's HTML report."""

from __future__ import annotations

from pathlib import Path

from . import by_transition


def plot_transition(coefficients: str, gene_r2: str, predictions: str, network_figure: str, gene_r2_figure: str,
                    predictions_figure: str, *, title: str, n_edges: int = 40, record: dict | None = None) -> None:
    """One transition's network, per-gene R^2 and prediction figures, titled ``title``."""
    import pandas as pd

    from ..report import write_transition_figures

    figures = {"network": network_figure, "gene_r2": gene_r2_figure, "predictions": predictions_figure}
    write_transition_figures(pd.read_parquet(coefficients), pd.read_parquet(gene_r2), pd.read_parquet(predictions),
                             title, figures, n_edges)


def select_figures(table: str, selected: str, *, n: int, record: dict | None = None) -> None:
    """The transitions whose figures the run draws: the ``n`` best by held-out R² (``report.detail_transitions``,
    the same the report embeds), one id a line under the header ``transition``."""
    import pandas as pd

    from ..io import atomic_path
    from ..report.summaries import detail_transitions
    from ..transitions import read_transitions

    with atomic_path(selected) as tmp:
        pd.DataFrame({"transition": detail_transitions(read_transitions(table), n)}).to_csv(tmp, index=False)


def report(table: str, summary: str, skipped: str, reference: str, coefficients: list, gene_r2: list, mappings: list,
           figures: list, report: str, cluster_graph: str, tf_scores: str | None = None,
           differential: str | None = None, network_metrics: str | None = None, *, config: dict, stage_benchmarks: dict, demo: bool = False,
           record: dict | None = None) -> None:
    """The self-contained HTML summary report and its overview and validation figures."""
    import json

    import pandas as pd

    from ..options import ReportOptions
    from ..transitions import read_transitions
    from ..report import TRANSITION_FIGURES, TransitionResult, benchmark_files, stage_times, write_report

    results = read_transitions(table)  # labels stay text: a cluster called "NA" is not missing
    weights, per_gene, pairs = (by_transition(paths) for paths in (coefficients, gene_r2, mappings))
    pngs = by_transition(figures)
    # paths, not tables: the report reads one transition's files at a time (bounded memory on large runs)
    transitions = {
        t: TransitionResult(
            coefficients=weights[t], gene_r2=per_gene[t], mapping=pairs[t],
            # drawn for the report.detail_transitions best only, where the run has more (rule select_figures)
            figures={name: Path(pngs[t]).parent / f"{name}.png" for name in TRANSITION_FIGURES} if t in pngs else {},
        )
        for t in results["transition"]
    }
    # benchmark files are not inputs (they would double the rule's input list): every stage they time ran
    # before this job, since its outputs are inputs here; a file removed since is left out of the table
    stages = benchmark_files(stage_benchmarks, list(results["transition"]))
    options = ReportOptions.from_config(config["report"])
    write_report(
        report, table=results, summary=json.loads(Path(summary).read_text()),
        skipped=read_transitions(skipped), config=config,
        transitions=transitions, reference=pd.read_parquet(reference),
        times=stage_times({path: stage for path, stage in stages.items() if Path(path).exists()}),
        figure_dir=Path(cluster_graph).parent, top=options.top_edges,
        detail=options.detail_transitions, demo=demo,
        # the weight correlation's scratch file (4 bytes per transition and edge, removed when closed)
        # goes beside the outputs rather than to a node's /tmp, which may be small or held in memory
        scratch_dir=Path(report).parent,
        tf_scores=tf_scores, differential=differential or None,
        network_metrics=json.loads(Path(network_metrics).read_text()) if network_metrics else None,
    )
