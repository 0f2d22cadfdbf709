# The embedded demo: a simulated differentiation with a known network (see transgrn.simulate).


rule simulate_demo:
    output:
        adata="resources/demo/adata.h5ad",
        prior="resources/demo/prior.csv",
        reference="resources/demo/reference.csv",
    params:
        demo=config["demo"],
    conda:
        "../../envs/transgrn.yaml"
    log:
        LOGS / "simulate_demo.log",
    script:
        "../../scripts/simulate_demo.py"
