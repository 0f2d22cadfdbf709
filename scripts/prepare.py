"""Checkpoint prepare (stage prepare): check inputs, align the prior, enumerate transitions, slice
clusters (transgrn.prepare)."""
from pathlib import Path

from transgrn.prepare import prepare
from transgrn.script import run_script


def main(transitions: str, *, config: dict, seed: int = 0, record: dict | None = None) -> None:
    prepare(config, Path(transitions).parent, seed=seed)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
