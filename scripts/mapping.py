"""Rule map_cells (stage mapping): for one transition, the mask of its prior edges that the design
can estimate (transgrn.mask), then the pairing of its cells with the configured method (role
main) and with the random null (role null); a lagged design is stored with its mapping
(transgrn.mapping, transgrn.lagged). One job writes all three, reading the cells once."""
import pandas as pd

from transgrn.cells import load_transition
from transgrn.design import TransitionData
from transgrn.io import write_parquet
from transgrn.lagged import write_mapping
from transgrn.mapping import map_transition
from transgrn.mask import build_mask
from transgrn.options import MappingOptions
from transgrn.script import run_script

ROLES = ("main", "null")


def main(prior: str, source: str, target: str, mask: str, mapping_main: str, mapping_null: str, *,
         transition: str, options: dict, seed: int = 0, smooth: int = 0, record: dict | None = None) -> None:
    source_cells, target_cells, genes = load_transition(source, target, smooth)
    mapping_options = MappingOptions.from_config(options)
    edges = build_mask(pd.read_parquet(prior), source_cells, target_cells, genes, mapping_options.method)
    write_parquet(edges, mask, record)
    data = TransitionData(source_cells, target_cells, genes, edges)
    for role, path in zip(ROLES, (mapping_main, mapping_null)):
        # each role draws from its own stream (seed, transition, role): the order of the roles does not matter
        write_mapping(map_transition(source_cells, target_cells, role, transition, mapping_options, seed, data), path, record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
