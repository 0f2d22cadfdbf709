"""transgrn.seeds: one seed in the config, an independent stream per transition and purpose."""
import numpy as np

from transgrn.seeds import derive_seed, rng_for


def test_streams_are_the_same_on_every_run_and_differ_by_label():
    assert derive_seed(0, "a__b", "mapping", "main") == derive_seed(0, "a__b", "mapping", "main")
    assert 0 <= derive_seed(0, "a__b") < 2**63
    seeds = {derive_seed(seed, *labels) for seed in (0, 1)
             for labels in (("a__b", "mapping", "main"), ("a__b", "mapping", "null"), ("a__c", "mapping", "main"))}
    assert len(seeds) == 6
    # labels are joined with a separator no label contains: ("ab", "c") is not ("a", "bc")
    assert derive_seed(0, "ab", "c") != derive_seed(0, "a", "bc")
    np.testing.assert_array_equal(rng_for(3, "t").random(4), np.random.default_rng(derive_seed(3, "t")).random(4))


def test_a_seed_does_not_depend_on_pythons_salted_hash():
    """The same in every process (hash() of a string changes with PYTHONHASHSEED): reruns are byte-identical."""
    import os
    import subprocess
    import sys

    code = "from transgrn.seeds import derive_seed; print(derive_seed(7, 'c00_a__c01_b', 'mapping'))"
    for salt in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": salt})
        assert int(run.stdout) == derive_seed(7, "c00_a__c01_b", "mapping")
