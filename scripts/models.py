"""Rules fit_mlp and find_cofactors (stage models): the masked neural network on the main mapping
(held-out R^2 and edge attributions), and TF pairs with a non-additive effect on shared targets
(transgrn.models)."""
import logging
import time

from transgrn.aggregate import write_table
from transgrn.design import load_transition_data
from transgrn.io import atomic_path, write_json
from transgrn.lagged import read_mapping
from transgrn.models import cofactors_transition, fit_mlp_transition
from transgrn.options import CofactorOptions
from transgrn.script import run_script


def mlp(mask: str, mapping_main: str, source: str, target: str, metrics: str, gene_r2: str, attribution: str, *,
        transition: str, seed: int = 0, device: str = "auto", smooth: int = 0, record: dict | None = None) -> None:
    data = load_transition_data(source, target, mask, smooth)
    start = time.perf_counter()
    values, per_gene, attributions = fit_mlp_transition(data, read_mapping(mapping_main), seed, transition, device)
    logging.info("MLP: %d epochs, held-out R^2 %.4f (train %.4f) in %.2f s", values["mlp_epochs"],
                 values["r2_test_mlp"], values["r2_train_mlp"], time.perf_counter() - start)
    write_json(values, metrics)
    with atomic_path(gene_r2) as tmp:
        per_gene.to_parquet(tmp, index=False)
    with atomic_path(attribution) as tmp:
        attributions.to_parquet(tmp, index=False)


def find_cofactors(mask: str, mapping_main: str, source: str, target: str, table: str, *, options: dict,
                   record: dict | None = None) -> None:
    # unsmoothed even with data.smooth: the F-test needs independent rows, and smoothing shares
    # each cell's expression with its neighbours (the mapping's pairs are cell names, still valid)
    data = load_transition_data(source, target, mask, smooth=0)
    settings = CofactorOptions.from_config(options)
    tests = cofactors_transition(data, read_mapping(mapping_main), settings.min_shared_targets, settings.max_pairs,
                                 settings.fdr)
    logging.info("%d TF pairs tested, %d non-additive at FDR %.2g", len(tests), int(tests["significant"].sum()),
                 settings.fdr)
    with atomic_path(table) as tmp:
        write_table(tests, tmp)


if __name__ == "__main__":
    import sys

    smk = globals().get("snakemake")
    if smk is not None:
        run_script(find_cofactors if smk.rule == "find_cofactors" else mlp, smk)
    else:  # by hand: python scripts/models.py {mlp,find_cofactors} --name value ...
        run_script(find_cofactors if sys.argv[1:2] == ["find_cofactors"] else mlp, None, sys.argv[2:])
