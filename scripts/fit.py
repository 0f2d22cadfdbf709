"""Rule fit_grn (stage fit): the masked regression on the mapping's training pairs and on the
null's, with bootstrap confidence when fit.bootstrap is on, borrowing from the pooled network for
TFs its cells cannot inform when fit.borrow_below > 0 (transgrn.fit, transgrn.pooled)."""
import logging
import time

from transgrn.design import load_transition_data, read_mappings
from transgrn.differential import fit_replicates
from transgrn.fit import fit_transition
from transgrn.io import write_json, write_npy, write_parquet
from transgrn.options import FitOptions
from transgrn.pooled import read_pooled
from transgrn.script import run_script


def main(mask: str, mapping_main: str, mapping_null: str, source: str, target: str, coefficients: str,
         intercepts: str, info: str, pooled_network: str = "", pooled_tf_variance: str = "",
         differential_replicates: str = "", *, fit: dict, transition: str = "", seed: int = 0, smooth: int = 0,
         differential_n_boot: int = 0, record: dict | None = None) -> None:
    data = load_transition_data(source, target, mask, smooth)
    mappings = read_mappings(mapping_main, mapping_null)
    # fit.borrow_below > 0: the rule passes the pooled network (rule fit_pooled) to borrow from
    pooled = read_pooled(pooled_network, pooled_tf_variance) if pooled_network else None
    start = time.perf_counter()
    weights, offsets, details = fit_transition(data, mappings, FitOptions.from_config(fit), seed, transition, pooled)
    # wall time goes to the log and benchmark file only: results stay byte-identical
    logging.info("fitted %d edges for %d targets (main and null) with %s in %.3f s", data.mask.sum(),
                 len(data.targets), details, time.perf_counter() - start)
    if differential_replicates:  # differential.enabled: the test's refits, here where cells and solver are loaded
        main_mapping = mappings["main"]
        del mappings, pooled  # the null's pairs and the pooled network (64 MB at 500,000 edges) are done with
        start = time.perf_counter()
        write_npy(fit_replicates(data, main_mapping, fit, weights, details["alpha"], tuple(transition.split("__")),
                                 differential_n_boot, seed, transition), differential_replicates)
        logging.info("refitted %d differential-test replicates in %.3f s", differential_n_boot,
                     time.perf_counter() - start)
    write_json(details, info)
    write_parquet(weights, coefficients, record)
    write_parquet(offsets, intercepts, record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
