# The embedded demo: a simulated differentiation with a known network (see transgrn.simulate).
# Job transgrn.jobs.prepare.simulate_demo.
from transgrn.jobs import prepare as prepare_job


rule simulate_demo:
    output:
        adata="resources/demo/adata.h5ad",
        prior="resources/demo/prior.csv",
        reference="resources/demo/reference.csv",
    params:
        demo=config["demo"],
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime_min(10),
    log:
        LOGS / "simulate_demo.log",
    run:
        run_job(prepare_job.simulate_demo, input, output, params, wildcards, log, rule, SEED, alone=True)
