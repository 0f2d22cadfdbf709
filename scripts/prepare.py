"""Checkpoint prepare: check inputs, align the prior, enumerate transitions, slice clusters."""
from pathlib import Path

from transgrn.prepare import prepare
from transgrn.script import run


def main(smk):
    prepare(smk.params.config, Path(smk.output.transitions).parent, seed=smk.config.get("seed"))


run(main, snakemake)  # noqa: F821
