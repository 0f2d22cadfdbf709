"""Jobs of the checkpoint prepare and of the demo's simulate_demo."""

from __future__ import annotations

from pathlib import Path


def prepare(transitions: str, *, config: dict, seed: int = 0, record: dict | None = None) -> None:
    """Check the inputs, align the prior, enumerate transitions, slice clusters (transgrn.prepare)."""
    from ..prepare import prepare as prepare_inputs

    prepare_inputs(config, Path(transitions).parent, seed=seed)


def simulate_demo(adata: str, prior: str, reference: str, *, demo: dict, record: dict | None = None) -> None:
    """The embedded demo's simulated data set and its true network (transgrn.simulate)."""
    from ..simulate import SimulationParams, simulate, write_simulation

    write_simulation(simulate(SimulationParams(**demo)), adata, prior, reference)
