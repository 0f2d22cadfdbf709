# The embedded demo: a simulated differentiation with a known network (see transgrn.simulate).


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
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "simulate_demo.log",
    script:
        "../../scripts/simulate_demo.py"
