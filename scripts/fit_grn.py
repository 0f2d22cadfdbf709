"""Rule fit_grn: masked regression on the mapping's training pairs (and on the null mapping)."""
import logging
import time


from transgrn.grn import fit_transition, load_transition_data, read_mappings
from transgrn.io import job_provenance, write_json, write_parquet
from transgrn.script import run


def main(smk):
    data = load_transition_data(smk.input.source, smk.input.target, smk.input.mask, smk.params.smooth)
    mappings = read_mappings(smk.input.mapping_main, smk.input.mapping_null)
    start = time.perf_counter()
    coefficients, intercepts, info = fit_transition(data, mappings, smk.params.fit, smk.params.seed, smk.wildcards.transition)
    info["fit_seconds"] = round(time.perf_counter() - start, 3)
    logging.info("fitted %d edges for %d targets (main and null) with %s", data.mask.sum(), len(data.targets), info)
    info.pop("fit_seconds")  # wall time is in the log and benchmark file; results stay byte-identical
    write_json(info, smk.output.info)
    write_parquet(coefficients, smk.output.coefficients, job_provenance(smk))
    write_parquet(intercepts, smk.output.intercepts, job_provenance(smk))


run(main, snakemake)  # noqa: F821
