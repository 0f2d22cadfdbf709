"""Rule map_cells (stage mapping): pair the cells of one transition, with the configured method
(role main) or the random null (role null); a lagged design is stored with its mapping
(transgrn.mapping, transgrn.lagged)."""
import pandas as pd

from transgrn.cells import load_transition
from transgrn.design import TransitionData
from transgrn.lagged import write_mapping
from transgrn.mapping import map_transition
from transgrn.options import MappingOptions
from transgrn.script import run_script


def main(mask: str, source: str, target: str, mapping: str, *, role: str, transition: str, options: dict,
         seed: int = 0, smooth: int = 0, record: dict | None = None) -> None:
    source_cells, target_cells, genes = load_transition(source, target, smooth)
    data = TransitionData(source_cells, target_cells, genes, pd.read_parquet(mask))
    pairs = map_transition(source_cells, target_cells, role, transition, MappingOptions.from_config(options), seed, data)
    write_mapping(pairs, mapping, record)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
