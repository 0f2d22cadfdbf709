"""Job of rule map_cells: a transition's mask and its two mappings (main and null)."""

from __future__ import annotations

#: the mappings a transition's job writes; each draws from its own stream (seed, transition, role)
ROLES = ("main", "null")


def map_cells(prior: str, source: str, target: str, mask: str, mapping_main: str, mapping_null: str, *,
              transition: str, options: dict, seed: int = 0, smooth: int = 0, record: dict | None = None) -> None:
    """The prior edges the transition's design can estimate (transgrn.mask), then the pairing of its
    cells with the configured method (role main) and with the random null (role null), reading the
    cells once (transgrn.mapping; a lagged design is stored with its mapping, transgrn.lagged)."""
    import pandas as pd

    from ..cells import load_transition
    from ..design import TransitionData
    from ..io import write_parquet
    from ..mapping_file import write_mapping
    from ..mapping import map_transition
    from ..mask import build_mask
    from ..options import MappingOptions

    source_cells, target_cells, genes = load_transition(source, target, smooth)
    mapping_options = MappingOptions.from_config(options)
    edges = build_mask(pd.read_parquet(prior), source_cells, target_cells, genes, mapping_options.method)
    write_parquet(edges, mask, record)
    data = TransitionData(source_cells, target_cells, genes, edges)
    for role, path in zip(ROLES, (mapping_main, mapping_null)):
        write_mapping(map_transition(source_cells, target_cells, role, transition, mapping_options, seed, data),
                      path, record)
