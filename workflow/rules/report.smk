# The run's report: per-transition figures, then one self-contained HTML page with the overview
# and validation figures (also written as PNGs so that `snakemake --report` shows them).
# Job transgrn.jobs.report; science transgrn.report.
from snakemake.io import strip_wildcard_constraints

from transgrn.jobs import report as report_job
from transgrn.report import same_cell_design, transition_title

FIGURES = RESULTS / "figures"
TRANSITION_FIGURES = FIGURES / "transitions" / "{transition}"
CAPTIONS = "../report"


report: "../report/workflow.rst"


# Stages whose times file (a job's `times` log, written by transgrn.jobs.runner) gives the report's
# wall time per stage. All of them run before the report (their outputs are its inputs), so the job
# reads the files without declaring them as inputs, which would double the rule's input list.
DEMO_RAN = workflow.is_rule("simulate_demo") and str(config["data"]["adata"]) in map(str, rules.simulate_demo.output)
STAGE_BENCHMARKS = {
    stage: strip_wildcard_constraints(str(workflow.get_rule(stage).log.times))
    for stage in ("prepare", "map_cells", "fit_grn", "evaluate_grn", "plot_transition", "aggregate")
    if workflow.is_rule(stage) and "times" in workflow.get_rule(stage).log.keys()
}


PLOT_FILES = {"network_figure": "network.png", "gene_r2_figure": "gene_r2.png", "predictions_figure": "predictions.png"}
FIGURE_SUBCATEGORIES = {"network_figure": "network", "gene_r2_figure": "per-gene R²", "predictions_figure": "predictions"}


rule plot_transition:
    input:
        coefficients=TRANSITION_DIR / FIT_FILES["coefficients"],
        gene_r2=TRANSITION_DIR / EVALUATE_FILES["gene_r2"],
        predictions=TRANSITION_DIR / EVALUATE_FILES["predictions"],
    output:
        **{
            name: report(
                TRANSITION_FIGURES / filename,
                caption=f"{CAPTIONS}/{Path(filename).stem}.rst",
                category="Per transition",
                subcategory=FIGURE_SUBCATEGORIES[name],
                labels=lambda wildcards, params: {"transition": params.title},
            )
            for name, filename in PLOT_FILES.items()
        },
    params:
        n_edges=config["report"]["network_edges"],
        # the table itself, not checkpoints.prepare.get(): a params function that asks a checkpoint
        # fails in cluster jobs ("Rule parameter depends on checkpoint"); these jobs exist only after it
        title=lambda wildcards: transition_title(PREPARED / "transitions.tsv", wildcards.transition),
    # after its transition's evaluation, before other transitions' mappings and fits (fit.smk, rule fit_grn)
    priority: 3
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime_min(10),
    group:
        "transition"
    log:
        TRANSITION_LOGS / "plot_transition.log",
        times=TRANSITION_BENCHMARKS / "plot_transition.tsv",
    run:
        run_job(report_job.plot_transition, input, output, params, wildcards, log, rule, SEED)


# A run with more transitions than report.detail_transitions draws figures for those only (the ones the
# report embeds: best held-out R² first), chosen once every transition is evaluated; a smaller run draws
# every transition's figures as soon as its evaluation ends (no checkpoint).
checkpoint select_figures:
    input:
        table=RESULTS / "transitions.tsv",
    output:
        selected=FIGURES / "drawn_transitions.csv",
    params:
        n=config["report"]["detail_transitions"],
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime_min(10),
    log:
        LOGS / "select_figures.log",
    run:
        run_job(report_job.select_figures, input, output, params, wildcards, log, rule, SEED)


def drawn_transitions():
    """The transitions whose figures the run draws (all, or those of checkpoint select_figures)."""
    ids = transition_ids()
    if len(ids) <= config["report"]["detail_transitions"]:
        return ids
    return Path(checkpoints.select_figures.get().output.selected).read_text().split()[1:]  # under its header


rule report:
    input:
        table=RESULTS / "transitions.tsv",
        summary=PREPARED / "summary.json",
        skipped=PREPARED / "skipped.tsv",
        reference=PREPARED / "reference.parquet",
        coefficients=per_transition("coefficients.parquet"),
        gene_r2=per_transition("gene_r2.parquet"),
        mappings=per_transition("mapping_main.parquet"),
        tf_scores=RESULTS / "tf_scores.tsv",
        # the run-level network's size and recovery (aggregate.smk): its line in the report
        network_metrics=RESULTS / "network_metrics.json",
        # differential.enabled: the branch views of sibling pairs (differential.smk)
        differential=RESULTS / "differential.parquet" if config["differential"]["enabled"] else [],
        figures=lambda wildcards: expand(
            str(TRANSITION_FIGURES / "{name}"), transition=drawn_transitions(), name=PLOT_FILES.values()
        ),
    output:
        report=report(RESULTS / "report.html", caption=f"{CAPTIONS}/report_html.rst", category="Overview"),
        cluster_graph=report(FIGURES / "cluster_graph.png", caption=f"{CAPTIONS}/cluster_graph.rst", category="Overview"),
        r2_heatmap=report(FIGURES / "r2_heatmap.png", caption=f"{CAPTIONS}/r2_heatmap.rst", category="Overview"),
        tf_activity=report(FIGURES / "tf_activity.png", caption=f"{CAPTIONS}/tf_activity.rst", category="Overview"),
        grn_similarity=report(FIGURES / "grn_similarity.png", caption=f"{CAPTIONS}/grn_similarity.rst", category="Overview"),
        r2_comparison=report(FIGURES / "r2_comparison.png", caption=f"{CAPTIONS}/r2_comparison.rst", category="Validation"),
        # known before the run: mapping diagnostics exist for couplings only (a same-cell design uses every
        # cell once at cost 0: constant panels), the recovery figure exactly when a reference is configured
        **(
            {"mapping": report(FIGURES / "mapping.png", caption=f"{CAPTIONS}/mapping.rst", category="Validation")}
            if not same_cell_design(config["mapping"]["method"])
            else {}
        ),
        **(
            {"recovery": report(FIGURES / "recovery.png", caption=f"{CAPTIONS}/recovery.rst", category="Validation")}
            if config["reference"]
            else {}
        ),
    message:
        # instead of Snakemake's listing of every input, which its "reason" line repeats in full
        "Writing the report {output.report}"
    params:
        config=config,
        stage_benchmarks=STAGE_BENCHMARKS,
        # the demo.* parameters are listed only when the demo data were simulated for this run
        demo=DEMO_RAN,
    threads: 1
    resources:
        # bounded, not growing with the inputs: one transition's tables at a time plus small per-transition
        # summaries (benchmarks/report_scale.py, 500,000 edges: peak 0.5 GB at 100 and 400 transitions,
        # 0.7 GB at 1,560; the weight correlation's scratch file, 4 bytes per transition and edge, is on disk)
        mem_mb=mem_mb(2000),
        runtime=runtime_min(60),
    log:
        LOGS / "report.log",
    run:
        run_job(report_job.report, input, output, params, wildcards, log, rule, SEED)
