# Config validation, paths and small named input functions shared by the rules.
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

try:
    config.update(validate_config(config, load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")))
except ConfigError as error:
    raise WorkflowError(str(error)) from None

RESULTS = Path("results")
PREPARED = RESULTS / "prepared"
TRANSITION_DIR = RESULTS / "transitions" / "{transition}"
LOGS = Path("logs")

wildcard_constraints:
    transition=r"c\d+(_[A-Za-z0-9]+)*__c\d+(_[A-Za-z0-9]+)*",
    role="main|null",


def cluster_slice(which):
    """Input function: the per-cluster slice of a transition's source or target cluster.

    Asking the checkpoint makes Snakemake run it first; the ids are part of the transition id.
    """

    def slice_path(wildcards):
        checkpoints.prepare.get()
        source_id, target_id = wildcards.transition.split("__")
        return str(PREPARED / "clusters" / f"{source_id if which == 'source' else target_id}.h5ad")

    return slice_path


def transition_ids():
    """All transition ids, read from the checkpoint's table."""
    from transgrn.prepare import read_transitions

    return list(read_transitions(checkpoints.prepare.get().output.transitions)["transition"])


def per_transition(filename):
    def paths(wildcards):
        return [str(TRANSITION_DIR / filename).format(transition=t) for t in transition_ids()]

    return paths
