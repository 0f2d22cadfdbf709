# Config validation, paths and small named input functions shared by the rules.
import math
import os
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
# Rule scripts import transgrn from this checkout even where it is not pip-installed
# (e.g. --sdm conda environments); jobs inherit the variable.
sys.path.insert(0, str(SRC))
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))

from transgrn.config import load_schema, validate_config  # noqa: E402
from transgrn.errors import ConfigError  # noqa: E402
from transgrn.batches import BATCH_ID_PATTERN, assign_batches, pack_batches  # noqa: E402
from transgrn.columns import CLUSTER_ID_PATTERN, TRANSITION_PATTERN  # noqa: E402

if "data" not in config:  # e.g. only --config key=value: say what a config is, not just "required property"
    raise WorkflowError(
        "no data configured: run the demo with `--configfile config/demo.yaml` (or `make demo`), or copy the "
        "template config.yaml, point its data keys at your files and pass `--configfile my.yaml` (README, Your own data)"
    )
try:
    validated = validate_config(config, load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"))
except ConfigError as error:
    raise WorkflowError(str(error)) from None
# the validated config in its one key order (transgrn.config.canonical_order), the top level included:
# update() alone would keep the user's order of top-level keys, and rule params compare in order, so
# writing out a default or moving a key would rerun the rules that take the whole config
config.clear()
config.update(validated)

# transitions.batch_size says how the work is cut into jobs, not what it computes: it is left out of
# the params (a rerun trigger) and so of the provenance of every result, which then do not depend on it
RESULT_CONFIG = {**config, "transitions": {k: v for k, v in config["transitions"].items() if k != "batch_size"}}

RESULTS = Path("results")
PREPARED = RESULTS / "prepared"
TRANSITION_DIR = RESULTS / "transitions" / "{transition}"
# a batch job's manifest and staged files (transgrn.batches): per-transition stages run one job per batch
BATCH_DIR = RESULTS / "batches" / "{batch}"
LOGS = Path("logs")

wildcard_constraints:
    transition=TRANSITION_PATTERN,
    batch=BATCH_ID_PATTERN,


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
    from transgrn.prepare import read_transitions

    path = prepared_checkpoint().output.transitions
    key = (path, os.stat(path).st_mtime_ns)
    if _PREPARED_CACHE.get("table_key") != key:
        _PREPARED_CACHE.update(table_key=key, table=read_transitions(path))
    return _PREPARED_CACHE["table"]


def transition_ids():
    """All transition ids, read from the checkpoint's table."""
    return list(transition_table()["transition"])


# Batches (transgrn.batches): the per-transition stages run one job per batch of transitions, and a
# per-transition rule of each stage (a shell command, no Python start-up) links the batch's files
# into results/transitions/<transition>/, so that every transition's files stay tracked outputs.
def batches():
    """Batch id -> its transitions, from the checkpoint's table (computed once per version of it)."""
    table = transition_table()
    if _PREPARED_CACHE.get("batches_table") is not table:
        assigned = batch_assignment(table)
        owner = {transition: batch for batch, members in assigned.items() for transition in members}
        _PREPARED_CACHE.update(batches_table=table, batches=assigned, batch_of=owner)
    return _PREPARED_CACHE["batches"]


def batch_manifest(stage):
    """Input function of a stage's per-transition rule: the manifest of the batch that ran the transition."""

    def manifest(wildcards):
        batches()
        return str(BATCH_DIR / f"{stage}.json").format(batch=_PREPARED_CACHE["batch_of"][wildcards.transition])

    return manifest


def member_slices(wildcards):
    """Input function of a batch rule: the cluster slices its transitions read, each once."""
    return transition_slices(batches()[wildcards.batch])


def batch_transitions(wildcards):
    """Params function of a batch rule: its transitions. From the table file itself, not the checkpoint
    object, which a params function may not ask for in a cluster job ("Rule parameter depends on
    checkpoint"); a batch job exists only after the checkpoint wrote the table."""
    from transgrn.prepare import read_transitions

    return batch_assignment(read_transitions(PREPARED / "transitions.tsv"))[wildcards.batch]


def batch_assignment(table):
    """Batch id -> transitions of the checkpoint's table; ``auto`` sizes the batches by the run's
    work, the cells of every transition's two clusters times the genes (transgrn.batches)."""
    work = float((table["n_source_cells"] + table["n_target_cells"]).sum()) * _prior_sizes()["n_genes_used"]
    return assign_batches(list(table["transition"]), config["transitions"]["batch_size"], work)


# what a batch rule's script is told about each transition's input files (run_batch in transgrn.script)
SLICE_PATTERNS = {
    "source": str(PREPARED / "clusters" / "{source}.h5ad"),
    "target": str(PREPARED / "clusters" / "{target}.h5ad"),
}


def transition_files(files):
    """``inputs_per_transition`` of a batch rule: patterns of a stage's per-transition files (name -> file)."""
    return {name: str(TRANSITION_DIR / filename) for name, filename in files.items()}


def staged_inputs(**stage_files):
    """The ``staged_inputs`` param of a batch rule: input name -> the earlier batch stage that wrote it.
    The rule reads those per-transition files from the batch's folder, where they were written
    (transgrn.script.run_batch), so that the stages of a batch follow each other at once; the
    per-transition link jobs run beside them and feed only what comes after the batches (aggregate,
    the report, the MLP, the differential test)."""
    return {name: stage for stage, files in stage_files.items() for name in files}


def stage_manifests(staged):
    """A batch rule's inputs for its ``staged_inputs``: each earlier stage's manifest of the same
    batch, as ``<stage>_manifest``."""
    return {f"{stage}_manifest": BATCH_DIR / f"{stage}.json" for stage in dict.fromkeys(staged.values())}


# The body of a stage's per-transition rule: link each declared output from the batch's folder (a copy
# where hard links are impossible) and touch it, so that it is newer than the batch's manifest. A shell
# command, not a run: block, which Snakemake (8+) executes by starting a whole Snakemake of its own per job.
LINK_FROM_BATCH = (
    'for file in {output:q}; do '
    'staged="$(dirname {input.manifest:q})/{params.stage}/{wildcards.transition}/$(basename "$file")"; '
    'if [ ! -e "$staged" ]; then echo "{params.stage} failed on transition {wildcards.transition} in its batch job: '
    'see the log in logs/batches/$(basename "$(dirname {input.manifest:q})")/" | tee {log:q} >&2; exit 1; fi; '
    'ln -f "$staged" "$file" 2>/dev/null || cp "$staged" "$file"; touch "$file"; done; '
    'echo "linked {output} from {input.manifest}" > {log:q}'
)
# a link job's own small needs: not the profile's default, which would set a group job's memory floor
LINK_RESOURCES = {"mem_mb": 100, "runtime": 1}


def per_transition(filename):
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
    return sum(os.stat(path).st_size for path in input) / 1e6


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
        if per_cluster_mb or design_copies:  # the largest transition of a batch: they run one at a time
            mb += max(per_cluster_mb * _input_mb(transition_slices([transition]))
                      + design_copies * prior["n_tfs"] * 8 / 1e6 * max(config["mapping"]["n_pairs"], _transition_cells(transition))
                      for transition in _job_transitions(wildcards))
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


def _job_transitions(wildcards):
    """The transitions a job works on: its batch's, its own, or none (a whole-run job)."""
    if "batch" in wildcards.keys():
        return batches()[wildcards.batch]
    if "dbatch" in wildcards.keys():
        return dbatch_transitions(wildcards)
    return [wildcards.transition] if "transition" in wildcards.keys() else [None]


def runtime_min(minutes):
    """Resource function: wall-time limit in minutes (per transition of a batch), growing with the attempt."""

    def runtime(wildcards, attempt):
        return minutes * len(_job_transitions(wildcards)) * attempt

    return runtime


# Differential edges (differential.smk): pairs of transitions, the units that test them, and the jobs
def differential_plan(table):
    """The configured pairs of a transitions table with their unit's cluster id (``unit_id``), and
    batch id -> units: consecutive units in one job while their refits add up to at most
    MAX_AUTO_BATCH transitions (transgrn.batches.pack_batches), so that the demo's units share one
    job's start-up while an atlas unit (39 refits) is a job of its own; memory is one unit's at a time."""
    from transgrn.differential import transition_pairs, unit_ids

    options = config["differential"]
    pairs = transition_pairs(table, options["pairs"], options["explicit"])
    pairs = pairs.assign(unit_id=unit_ids(table, pairs))
    sizes = {unit: len(unit_transitions(pairs, [unit])) for unit in dict.fromkeys(pairs["unit_id"])}
    return pairs, pack_batches(sizes)


def unit_transitions(pairs, units):
    """The transitions that ``units`` refit: those of their pairs, in first-seen order."""
    pairs = pairs[pairs["unit_id"].isin(units)]
    return list(dict.fromkeys([*pairs["transition_1"], *pairs["transition_2"]]))


def differential_pairs():
    """:func:`differential_plan` of the checkpoint's table, computed once per version of it (the
    input functions ask for it once per job)."""
    table = transition_table()
    if _PREPARED_CACHE.get("pairs_table") is not table:
        _PREPARED_CACHE.update(pairs_table=table, differential=differential_plan(table))
    return _PREPARED_CACHE["differential"]


def single_dbatch():
    """The id of the differential's only batch, or None when there are several: a run with one batch
    (the demo's) has rule differential test it in the gather's place, saving a job's start-up."""
    batches = differential_pairs()[1]
    return next(iter(batches)) if len(batches) == 1 else None


def dbatch_id(wildcards):
    """A differential batch's id: its wildcard, or, in rule differential, the only batch."""
    return wildcards.dbatch if "dbatch" in wildcards.keys() else single_dbatch()


def dbatch_transitions(wildcards):
    """The transitions of a differential batch's units (whose replicates, or cells, it reads)."""
    pairs, batches = differential_pairs()
    return unit_transitions(pairs, batches[dbatch_id(wildcards)])


def dbatch_files(filename):
    """Input function of a differential batch: a per-transition file of each transition its units refit."""

    def paths(wildcards):
        return [str(TRANSITION_DIR / filename).format(transition=t) for t in dbatch_transitions(wildcards)]

    return paths


def dbatch_slices(wildcards):
    """The cluster slices of the batch's transitions, each once (ids are part of the transition ids)."""
    return transition_slices(dbatch_transitions(wildcards))


def dbatch_units(wildcards):
    """Params function of a differential batch: its units, from the table file itself (see
    batch_transitions); in rule differential, those of the only batch, or none (it gathers)."""
    from transgrn.prepare import read_transitions

    batches = differential_plan(read_transitions(PREPARED / "transitions.tsv"))[1]
    if "dbatch" in wildcards.keys():
        return batches[wildcards.dbatch]
    return next(iter(batches.values())) if len(batches) == 1 else []


def differential_inputs(wildcards):
    """Input function of the differential rule: every batch's table to gather, or, with one batch, that
    batch's own inputs (DIFFERENTIAL_BATCH_INPUTS), which it then tests itself."""
    if single_dbatch() is None:
        return {"batches": [str(DIFFERENTIAL / f"{batch}.parquet") for batch in differential_pairs()[1]]}
    return {name: entry(wildcards) if callable(entry) else entry for name, entry in DIFFERENTIAL_BATCH_INPUTS.items()}


def differential_resource(batch, gather):
    """Resource function of the differential rule: ``batch``'s value when it tests the only batch itself,
    else ``gather``'s (both resource functions of wildcards and attempt)."""

    def value(wildcards, attempt):
        from snakemake.exceptions import IncompleteCheckpointException

        try:
            single = single_dbatch()
        except IncompleteCheckpointException:  # a dry run before the checkpoint: known once it ran
            single = None
        return (batch if single else gather)(wildcards, attempt)

    return value


def differential_refits():
    """Whether the fits also refit the differential test's joint cell-bootstrap replicates
    (differential.enabled with the bootstrap standard error: transgrn.differential.fit_replicates)."""
    options = config["differential"]
    if not options["enabled"]:
        return False
    from transgrn.differential import analytic_supported

    return options["se_method"] != "analytic" or not analytic_supported(config["fit"])


def differential_batch_runtime(wildcards, attempt):
    """Minutes: 5 per transition of the batch's units."""
    return 5 * len(dbatch_transitions(wildcards)) * attempt


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
