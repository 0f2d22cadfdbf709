"""Rule fit_grn: masked regression on the mapping's training pairs (and on the null mapping)."""
import json
import logging
import time
from pathlib import Path

import pandas as pd

from transgrn.grn import TransitionData, fit_transition, load_transition
from transgrn.aggregate import json_safe
from transgrn.io import atomic_path, job_provenance, write_parquet
from transgrn.script import run


def main(smk):
    source, target, genes = load_transition(smk.input.source, smk.input.target, smk.params.smooth)
    data = TransitionData(source, target, genes, pd.read_parquet(smk.input.mask))
    mappings = {"main": pd.read_parquet(smk.input.mapping_main), "null": pd.read_parquet(smk.input.mapping_null)}
    start = time.perf_counter()
    coefficients, intercepts, info = fit_transition(data, mappings, smk.params.fit, smk.params.seed, smk.wildcards.transition)
    info["fit_seconds"] = round(time.perf_counter() - start, 3)
    logging.info("fitted %d edges for %d targets (main and null) with %s", data.mask.sum(), len(data.targets), info)
    info.pop("fit_seconds")  # wall time is in the log and benchmark file; results stay byte-identical
    with atomic_path(smk.output.info) as tmp:
        Path(tmp).write_text(json.dumps(json_safe(info), indent=2, sort_keys=True) + "\n")
    write_parquet(coefficients, smk.output.coefficients, job_provenance(smk))
    write_parquet(intercepts, smk.output.intercepts, job_provenance(smk))


run(main, snakemake)  # noqa: F821
