# Two entry points (see README): `make demo` runs the workflow on the embedded demo (config/demo.yaml),
# `make test` runs the test suite (`make test-fast`: all but the tests that run Snakemake). Both create
# .venv and install what they need first.
VENV ?= .venv
PYTHON ?= python3
# The CPU build of torch; install it before the package so that pip does not pull a CUDA build.
TORCH ?= torch==2.13.0
CORES ?= 2
BIN = $(VENV)/bin

.PHONY: demo test test-fast test-slurm lint docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

# --quiet rules: no per-job banner (input, output, reason, resources: about ten lines for each of
# the demo's ~80 jobs); what remains per job is Snakemake's timestamped progress line,
# "Finished jobid: N (Rule: fit_grn)" then "k of n steps (x%) done", warnings, errors and the final
# elapsed time. Each job's own notes are in logs/. Drop it (QUIET=) to see the banners.
QUIET ?= --quiet rules
demo: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile config/demo.yaml $(QUIET)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

# the fast lane: every test but those that run Snakemake (marker workflow, tests/conftest.py), on CORES
# processes (pytest-xdist): ~1.5 min on 2 cores, where one process takes the whole 2 minutes
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not workflow" -n $(CORES)

# the SLURM end-to-end test alone (root; installs SLURM with apt-get if needed; README "Running on SLURM")
test-slurm: $(BIN)/.installed
	.ci/slurm.sh install
	TRANSGRN_TEST_SLURM=1 $(BIN)/python -m pytest tests/test_slurm.py

# the documentation (docs/), built offline with warnings as errors; it runs the Guo 2010 tutorial
# (docs/tutorial-guo.md) through the workflow, so it takes a couple of minutes. Open docs/_build/html/index.html.
$(BIN)/.docs-installed: $(BIN)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e ".[docs]"
	touch $@

docs: $(BIN)/.docs-installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs resources/demo .snakemake
