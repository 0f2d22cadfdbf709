"""Rule simulate_demo: write the simulated demo data set with its ground-truth network (transgrn.simulate)."""
from transgrn.script import run_script
from transgrn.simulate import SimulationParams, simulate, write_simulation


def main(adata: str, prior: str, reference: str, *, demo: dict, record: dict | None = None) -> None:
    write_simulation(simulate(SimulationParams(**demo)), adata, prior, reference)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
