# Config validation, paths, small named input functions and resource functions shared by the rules.
# The rules are `run` blocks that call their job functions (transgrn.jobs) through run_job, which
# Snakemake runs in a thread of its own process (profiles/default: force-use-threads; README "How jobs run").
import math
import os
import sys
from pathlib import Path

# this workflow's own folder, also where another workflow uses it as a module (workflow.basedir is then theirs)
SRC = Path(workflow.current_basedir).parents[1] / "src"
# the run: blocks import transgrn from this checkout even where it is not pip-installed
sys.path.insert(0, str(SRC))

from transgrn.config import config_notes, load_schema, validate_config  # noqa: E402
from transgrn.errors import ConfigError  # noqa: E402
from transgrn.columns import CLUSTER_ID_PATTERN, TRANSITION_PATTERN  # noqa: E402
from transgrn.jobs.runner import run_job, use_worker_processes  # noqa: E402

if "data" not in config:  # e.g. only --config key=value: say what a config is, not just "required property"
    raise WorkflowError(
        "no data configured: run the demo with `--configfile config/demo.yaml` (or `make demo`), or copy the "
        "template config.yaml, point its data keys at your files and pass `--configfile my.yaml` (README, Your own data)"
    )
try:
    validated = validate_config(config, load_schema())  # the schema shipped with the package
except ConfigError as error:
    raise WorkflowError(str(error)) from None
# the validated config in its one key order (transgrn.config.canonical_order), the top level included:
# update() alone would keep the user's order of top-level keys, and rule params compare in order, so
# writing out a default or moving a key would rerun the rules that take the whole config
config.clear()
config.update(validated)
SEED = config["seed"]


def job_workers():
    """How many worker processes run the jobs (transgrn.jobs.runner; docs "How jobs run"): --cores
    in a local run, where threads of one process would share one interpreter lock; none (the job in
    its own thread) in a job of a cluster run, which is a process of its own. Asked when the first
    job runs, once the run's settings are known."""
    if workflow.remote_exec or not workflow.local_exec:
        return 0
    return max(1, min(workflow._cores or 1, os.cpu_count() or 1))


use_worker_processes(job_workers)
for note in config_notes(config):  # e.g. models: [mlp] fits the linear model too
    logger.warning(note)

RESULTS = Path("results")
PREPARED = RESULTS / "prepared"
TRANSITION_DIR = RESULTS / "transitions" / "{transition}"
LOGS = Path("logs")
TRANSITION_LOGS = LOGS / "transitions" / "{transition}"
TRANSITION_BENCHMARKS = LOGS / "benchmarks" / "transitions" / "{transition}"

wildcard_constraints:
    transition=TRANSITION_PATTERN,
    unit=CLUSTER_ID_PATTERN,


def cluster_slice(which):
    """Input function: the per-cluster slice of a transition's source or target cluster.

    Asking the checkpoint makes Snakemake run it first; the ids are part of the transition id.
    """

    def slice_path(wildcards):
        prepared_checkpoint()
        return transition_slices([wildcards.transition])[0 if which == "source" else 1]

    return slice_path


def transition_slices(transitions):
    """The cluster slices that ``transitions`` read (source, then target), each once: a cluster's id
    is part of every transition id that uses it."""
    return list(dict.fromkeys(str(PREPARED / "clusters" / f"{cluster}.h5ad")
                              for transition in transitions for cluster in transition.split("__")))


# DAG cost: with thousands of transitions the input functions run tens of thousands of times, so
# the checkpoint's job and its table are looked up once, not per job (benchmarks/scale.py).
_PREPARED_CACHE = {}


def prepared_checkpoint():
    """``checkpoints.prepare.get()``, remembered once it succeeded (it raises until the checkpoint ran)."""
    if "job" not in _PREPARED_CACHE:
        _PREPARED_CACHE["job"] = checkpoints.prepare.get()
    return _PREPARED_CACHE["job"]


def transition_table():
    """The checkpoint's transitions table (read once per version of the file)."""
    from transgrn.transitions import read_transitions

    path = prepared_checkpoint().output.transitions
    key = (path, os.stat(path).st_mtime_ns)
    if _PREPARED_CACHE.get("table_key") != key:
        _PREPARED_CACHE.update(table_key=key, table=read_transitions(path))
    return _PREPARED_CACHE["table"]


def transition_ids():
    """All transition ids, read from the checkpoint's table."""
    return list(transition_table()["transition"])


def transition_files(files):
    """A stage's per-transition files (name -> file name) as paths under results/transitions/<t>/."""
    return {name: TRANSITION_DIR / filename for name, filename in files.items()}


def per_transition(filename):
    """Input function: a per-transition file of every transition of the run."""

    def paths(wildcards):
        return [str(TRANSITION_DIR / filename).format(transition=t) for t in transition_ids()]

    return paths


# Resources (used by cluster executors such as profiles/slurm; a local run only honours threads).
# Memory grows with the attempt, so a job killed for memory gets twice as much on its first retry
# (`--retries`, set in profiles/slurm). Fit and evaluation read the regression outputs one block
# of targets at a time (transgrn.solvers.BLOCK_BYTES), so that they hold the two clusters'
# expression, dense (pairs x TFs) inputs and per-edge tables, never a (pairs x genes) array; the
# MLP and co-factor jobs still do. Sizes come from the checkpoint's summary and transitions table;
# the constants from benchmarks/scale.py (README "Scale").
def _prior_sizes():
    """The checkpoint's prior sizes (n_genes_used, n_tfs, n_edges), read once per version; 0 before it ran."""
    path = PREPARED / "summary.json"
    key = os.stat(path).st_mtime_ns if path.exists() else None
    if _PREPARED_CACHE.get("summary_key", "unset") != key:
        import json

        prior = json.loads(path.read_text())["prior"] if key else {}
        _PREPARED_CACHE.update(summary_key=key, prior={k: prior.get(k, 0) for k in ("n_genes_used", "n_tfs", "n_edges")})
    return _PREPARED_CACHE["prior"]


def _transition_cells(transition):
    """Cells of a transition's two clusters, from the checkpoint's table (indexed once per version)."""
    table = transition_table()
    if _PREPARED_CACHE.get("cells_table") is not table:
        cells = table["n_source_cells"] + table["n_target_cells"]
        _PREPARED_CACHE.update(cells_table=table, cells=dict(zip(table["transition"], cells)))
    return _PREPARED_CACHE["cells"][transition]


def _input_mb(input):
    """Total size of a job's input files in MB, by os.stat: Snakemake's ``input.size_mb`` costs
    about 1 ms per job, and resource functions run several times per job (a third of the
    dry-run time at 1,560 transitions). A missing file raises FileNotFoundError naming it, which
    Snakemake turns into 'to be determined' until the file exists."""
    from transgrn.io import input_size

    return sum(input_size(path) for path in input) / 1e6  # a .zarr input is a folder


def mem_mb(base_mb, per_input_mb=0.0, dense_copies=0, per_cluster_mb=0.0, design_copies=0, per_edge_bytes=0,
           gram_copies=0):
    """Resource function: ``base_mb`` + ``per_input_mb`` x the inputs' size + ``dense_copies`` x
    one dense (mapping.n_pairs x genes) float64 array + ``per_edge_bytes`` x the prior's edges +
    ``gram_copies`` x one (TFs x TFs) float64 Gram matrix, and for a transition ``per_cluster_mb``
    x its two cluster slices' size + ``design_copies`` x one dense (pairs x TFs) float64 input
    array (pairs: the larger of mapping.n_pairs and the two clusters' cells); doubled on every retry."""

    def data_mb(wildcards):
        prior = _prior_sizes()
        mb = (dense_copies * config["mapping"]["n_pairs"] * prior["n_genes_used"] * 8 + per_edge_bytes * prior["n_edges"]
              + gram_copies * prior["n_tfs"] ** 2 * 8) / 1e6
        if (per_cluster_mb or design_copies) and "transition" in wildcards.keys():
            transition = wildcards.transition
            mb += (per_cluster_mb * _input_mb(transition_slices([transition]))
                   + design_copies * prior["n_tfs"] * 8 / 1e6 * max(config["mapping"]["n_pairs"], _transition_cells(transition)))
        return mb

    def mem(wildcards, input, attempt):
        return math.ceil(base_mb + per_input_mb * _input_mb(input) + data_mb(wildcards)) * 2 ** (attempt - 1)

    def mem_without_input(wildcards, attempt):
        # not asking for `input` keeps the value known inside a group job, before its inputs exist
        return math.ceil(base_mb + data_mb(wildcards)) * 2 ** (attempt - 1)  # round first: retries ask exactly 2x

    return mem if per_input_mb else mem_without_input


def _paths(entry):
    """A named input that an input function fills, as a list of paths. Until the checkpoint has run,
    Snakemake puts the checkpoint's output file (one path, a str) where the list will be; iterating
    that would go over its characters (a dry run on a fresh clone failed with FileNotFoundError: 'r')."""
    return [entry] if isinstance(entry, str) else list(entry)


def largest_transition_mb(input):
    """Size in MB of the largest transition's files that aggregate reads (coefficients + attribution).

    Stats only paths of the job's input, so a file that does not exist yet (a dry run, or the
    checkpoint's output standing in for the list) makes the value 'to be determined' (_input_mb)."""
    coefficients = _paths(input.coefficients)
    attributions = _paths(input.mlp_attribution) or [None] * len(coefficients)
    sizes = (os.stat(c).st_size + (os.stat(a).st_size if a else 0) for c, a in zip(coefficients, attributions))
    return max(sizes, default=0) / 1e6


def aggregate_mem_mb(wildcards, input, attempt):
    """aggregate streams one transition at a time, so its memory follows the largest transition, not
    their number: measured 0.5 GB peak for 500,000 edges (0.7 GB with bootstrap and MLP, 33 MB of
    files per transition) at 20 to 400 transitions (benchmarks/aggregate_scale.py). Doubled on retry."""
    return math.ceil(1000 + 30 * largest_transition_mb(input)) * 2 ** (attempt - 1)


def aggregate_runtime(wildcards, input, attempt):
    """Minutes: at least an hour, else 10 MB/s of input read (about 5 times slower than measured)."""
    return int(max(60, 10 + _input_mb(input) / 10 / 60) * attempt)


def runtime_min(minutes):
    """Resource function: wall-time limit in minutes, growing with the attempt."""

    def runtime(wildcards, attempt):
        return minutes * attempt

    return runtime


# Differential edges (differential.smk): pairs of transitions and the units that test them
def differential_pairs():
    """The configured pairs of the checkpoint's table with their unit's cluster id (``unit_id``),
    computed once per version of the table (the input functions ask for it once per job)."""
    from transgrn.differential import transition_pairs, unit_ids

    table = transition_table()
    if _PREPARED_CACHE.get("pairs_table") is not table:
        options = config["differential"]
        pairs = transition_pairs(table, options["pairs"], options["explicit"])
        _PREPARED_CACHE.update(pairs_table=table, differential=pairs.assign(unit_id=unit_ids(table, pairs)))
    return _PREPARED_CACHE["differential"]


def differential_units():
    """The units (cluster ids) of the run's pairs, in first-seen order."""
    return list(dict.fromkeys(differential_pairs()["unit_id"]))


def unit_transitions(wildcards):
    """The transitions of a unit's pairs, in first-seen order."""
    pairs = differential_pairs()
    pairs = pairs[pairs["unit_id"] == wildcards.unit]
    return list(dict.fromkeys([*pairs["transition_1"], *pairs["transition_2"]]))


def unit_files(filename):
    """Input function of a differential unit: a per-transition file of each transition its pairs name."""

    def paths(wildcards):
        return [str(TRANSITION_DIR / filename).format(transition=t) for t in unit_transitions(wildcards)]

    return paths


def unit_slices(wildcards):
    """The cluster slices of a unit's transitions, each once."""
    return transition_slices(unit_transitions(wildcards))


def differential_refits():
    """Whether the fits also refit the differential test's joint cell-bootstrap replicates
    (differential.enabled with the bootstrap standard error: transgrn.differential.fit_replicates)."""
    options = config["differential"]
    if not options["enabled"]:
        return False
    from transgrn.differential import analytic_supported
    from transgrn.options import FitOptions

    return options["se_method"] != "analytic" or not analytic_supported(FitOptions.from_config(config["fit"]))


def differential_unit_runtime(wildcards, attempt):
    """Minutes: 5 per transition of the unit."""
    return 5 * len(unit_transitions(wildcards)) * attempt


# The pooled network (rule fit_pooled, stage fit)

def run_slices(wildcards):
    """Input function: the cluster slices of every transition of the run, each once."""
    return transition_slices(transition_ids())


def pooled_design_mb(wildcards, attempt):
    """Resource function: mem_mb's part (prior-sized Gram matrices and edge tables) plus the pooled
    design -- dense TF inputs twice and the outputs once, over an equal share of fit.pooled_max_cells
    from each cluster -- and the largest cluster loaded whole before it is cut down."""
    from transgrn.pooled import cluster_share  # here: the DAG of every run need not import it

    table, prior, cap = transition_table(), _prior_sizes(), config["fit"]["pooled_max_cells"]
    cells = {**dict(zip(table["source_id"], table["n_source_cells"])), **dict(zip(table["target_id"], table["n_target_cells"]))}
    share = cluster_share(cap, len(cells))
    rows = sum(min(n, share) if share else n for n in cells.values())
    design = (rows * (2 * prior["n_tfs"] + prior["n_genes_used"]) + max(cells.values(), default=0) * prior["n_genes_used"]) * 8 / 1e6
    prior_part = mem_mb(1000, per_edge_bytes=250, gram_copies=2 + 16 * (config["fit"]["alpha"] == "auto"))
    return prior_part(wildcards, attempt) + math.ceil(design) * 2 ** (attempt - 1)
