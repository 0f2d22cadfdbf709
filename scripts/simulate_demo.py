"""Rule simulate_demo: write the simulated demo data set with its ground-truth network."""
from transgrn.script import run
from transgrn.simulate import SimulationParams, simulate, write_simulation


def main(smk):
    simulation = simulate(SimulationParams(**smk.params.demo))
    write_simulation(simulation, smk.output.adata, smk.output.prior, smk.output.reference)


run(main, snakemake)  # noqa: F821 (injected by Snakemake)
