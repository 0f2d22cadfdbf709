"""Rule map_cells: pair source with target cells (configured method, or the random null)."""
from transgrn.grn import load_cluster, map_transition
from transgrn.io import atomic_path
from transgrn.script import run


def main(smk):
    source, _ = load_cluster(smk.input.source)
    target, _ = load_cluster(smk.input.target)
    mapping = map_transition(source, target, smk.wildcards.role, smk.wildcards.transition, smk.params.mapping, smk.params.seed)
    with atomic_path(smk.output.mapping) as tmp:
        mapping.to_parquet(tmp, index=False)


run(main, snakemake)  # noqa: F821
