"""The workflow's jobs: one function per rule, taking the rule's named files and settings.

Each rule of ``workflow/rules/<stage>.smk`` is a ``run:`` block that calls its function here through
:func:`~transgrn.jobs.runner.run_job`, inside Snakemake's own process (see :mod:`.runner`). The
functions read their input files, call the science in the package and write their outputs; they
take plain paths and values, so a notebook or a test can call them directly, and
``python -m transgrn.jobs <rule> --help`` runs one by hand.

=================== =============================== ==========================
module              rules                           science
=================== =============================== ==========================
:mod:`.prepare`     prepare, simulate_demo          transgrn.prepare, transgrn.simulate
:mod:`.mapping`     map_cells                       transgrn.mask, transgrn.mapping
:mod:`.fit`         fit_pooled, fit_grn             transgrn.fit, transgrn.pooled
:mod:`.evaluate`    evaluate_grn                    transgrn.evaluate, transgrn.network_scores
:mod:`.models`      fit_mlp, find_cofactors         transgrn.models
:mod:`.differential` differential_unit, differential transgrn.differential
:mod:`.aggregate`   aggregate                       transgrn.aggregate
:mod:`.report`      plot_transition, report         transgrn.report
=================== =============================== ==========================
"""

def by_transition(paths) -> dict[str, str]:
    """Per-transition files keyed by their transition id (the parent directory's name)."""
    from pathlib import Path

    return {Path(p).parent.name: str(p) for p in paths}


#: what each transition's jobs write under results/transitions/<transition>/ (name -> file), shared by
#: the rules (workflow/rules/*.smk) and the notebook API (transgrn.api)
MAPPING_FILES = {"mask": "mask.parquet", "mapping_main": "mapping_main.parquet", "mapping_null": "mapping_null.parquet"}
FIT_FILES = {"coefficients": "coefficients.parquet", "intercepts": "intercepts.parquet", "info": "fit.json"}
EVALUATE_FILES = {"metrics": "metrics.json", "gene_r2": "gene_r2.parquet", "predictions": "predictions.parquet",
                  "tf_scores": "tf_scores.parquet", "target_scores": "target_scores.parquet"}
