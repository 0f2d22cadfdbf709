"""Rule report: the self-contained HTML summary report and its overview/validation figures."""
import json
from pathlib import Path

import pandas as pd

from transgrn.prepare import read_transitions
from transgrn.report import TRANSITION_FIGURES, TransitionResult, benchmark_files, stage_times, write_report
from transgrn.script import run


def by_transition(paths):
    """Per-transition files keyed by their transition id (the parent directory's name)."""
    return {Path(p).parent.name: p for p in paths}


def main(smk):
    table = read_transitions(smk.input.table)  # labels stay text: a cluster called "NA" is not missing
    coefficients, gene_r2, mapping = (by_transition(smk.input[k]) for k in ("coefficients", "gene_r2", "mapping"))
    figures = by_transition(smk.input.figures)
    # paths, not tables: the report reads one transition's files at a time (bounded memory on large runs)
    transitions = {
        t: TransitionResult(
            coefficients=coefficients[t], gene_r2=gene_r2[t], mapping=mapping[t],
            figures={name: Path(figures[t]).parent / f"{name}.png" for name in TRANSITION_FIGURES},
        )
        for t in table["transition"]
    }
    # benchmark files are not inputs (they would double the rule's input list): every stage they time ran
    # before this job, since its outputs are inputs here; a file removed since is left out of the table
    stages = benchmark_files(smk.params.stage_benchmarks, list(table["transition"]))
    report_config = smk.params.config["report"]
    write_report(
        smk.output.report, table=table, summary=json.loads(Path(smk.input.summary).read_text()),
        skipped=read_transitions(smk.input.skipped), config=smk.params.config,
        transitions=transitions, reference=pd.read_parquet(smk.input.reference),
        times=stage_times({path: stage for path, stage in stages.items() if Path(path).exists()}),
        figure_dir=Path(smk.output.cluster_graph).parent, top=report_config["top_edges"],
        detail=report_config["detail_transitions"], demo=smk.params.demo,
        # the weight correlation's scratch file (4 bytes per transition and edge, removed when closed)
        # goes beside the outputs rather than to a node's /tmp, which may be small or held in memory
        scratch_dir=Path(smk.output.report).parent,
    )


run(main, snakemake)  # noqa: F821
