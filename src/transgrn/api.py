"""transgrn from a notebook: AnnData in, a transition's network and its metrics out.

:func:`fit_transition` runs, for one transition, the same job functions the workflow's rules run
(:mod:`transgrn.jobs`: the checkpoint, the pooled network, the mapping, the fit and the evaluation),
in a working folder of its own, so its numbers are the workflow's. :func:`read_results` reads a
finished run's folder.

    import scanpy as sc, transgrn
    adata = sc.read_h5ad("my.h5ad")
    fit = transgrn.fit_transition(adata, "prior.csv", source="HSC", target="MPP", cluster_key="leiden",
                                  fit={"bootstrap": 20})
    fit.edges.sort_values("weight").head()       # tf, target_gene, weight, ... (signed)
    fit.metrics["r2_test"], fit.metrics["r2_test_null"]

    results = transgrn.read_results("results/")  # a whole workflow run
    results.edges, results.transitions, results.tensor(), results.run_network()
    results.plot_network("c00_stem_cell__c01_progenitor")   # the report's drawings, as matplotlib Figures
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError

from .jobs import EVALUATE_FILES, FIT_FILES, MAPPING_FILES


@dataclass
class TransitionFit:
    """One transition's network and its evaluation, as the workflow writes them."""

    transition: str
    #: per prior edge: tf, target_gene, weight (signed), and the fit's other columns (README, Outputs)
    edges: pd.DataFrame
    #: held-out accuracy, its null, recovery of the reference, the chosen penalty (metrics.json)
    metrics: dict[str, Any]
    #: held-out R^2 per target gene
    gene_r2: pd.DataFrame
    #: the cell pairs the network was fitted on
    mapping: pd.DataFrame
    #: the folder with every file the jobs wrote (results/transitions/<transition>/ inside it)
    workdir: Path


def _input_file(value: Any, folder: Path, name: str) -> str:
    """A path for an input given as a path, an AnnData or a table (wide TF x target matrix, or an
    edge list with tf and target columns)."""
    if isinstance(value, (str, os.PathLike)):
        return str(value)
    if hasattr(value, "write_h5ad"):
        path = folder / f"{name}.h5ad"
        value.write_h5ad(path)
        return str(path)
    if isinstance(value, pd.DataFrame):
        path = folder / f"{name}.csv"
        edge_list = {"tf", "source"} & {str(c).lower() for c in value.columns}
        value.to_csv(path, index=not edge_list, index_label=None if edge_list else "tf")
        return str(path)
    raise ConfigError(f"{name}: expected a file path, an AnnData or a pandas DataFrame, not {type(value).__name__}")


def _transition_id(table: pd.DataFrame, source: str, target: str) -> str:
    found = table[(table["source_cluster"] == str(source)) & (table["target_cluster"] == str(target))]
    if found.empty:
        listed = ", ".join(f"{a} -> {b}" for a, b in zip(table["source_cluster"], table["target_cluster"]))
        raise ConfigError(f"transition {source} -> {target} is not among the configured transitions ({listed}); "
                          "check the cluster labels, or pass transitions={'mode': 'all'} or an explicit list")
    return str(found["transition"].iloc[0])


def fit_transition(adata: Any, prior: Any, source: str, target: str, *, cluster_key: str,
                   pseudotime_key: str | None = None, reference: Any = None, seed: int = 0,
                   workdir: str | os.PathLike | None = None, **options: Any) -> TransitionFit:
    """The network of the transition ``source`` -> ``target`` (cluster labels of ``adata.obs[cluster_key]``).

    ``adata`` and ``prior`` (and ``reference``) are objects (AnnData, DataFrame) or file paths, as
    the config's ``data`` keys take them. ``options`` are config sections with the workflow's
    keys and defaults (the config schema, transgrn/schemas/config.schema.yaml), e.g. ``mapping={"method": "ot"}``,
    ``fit={"alpha": 1.0, "bootstrap": 20}``, ``transitions={"mode": "all"}``; ``data`` options
    such as ``layer`` or ``normalize`` go in ``data={...}``. The pooled network the fit borrows
    from (``fit.borrow_below``) spans the configured transitions' clusters, as in a workflow run
    of the same config, so the numbers equal that run's for this transition.
    """
    from .config import load_schema, validate_config
    from .jobs import evaluate as evaluate_job
    from .jobs import fit as fit_job
    from .jobs import mapping as mapping_job
    from .jobs import prepare as prepare_job
    from .options import DataOptions, FitOptions
    from .prepare import read_transitions

    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="transgrn-"))
    inputs = folder / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    data = {**options.pop("data", {}), "adata": _input_file(adata, inputs, "adata"),
            "prior": _input_file(prior, inputs, "prior"), "cluster_key": cluster_key}
    if pseudotime_key is not None:
        data["pseudotime_key"] = pseudotime_key
    config = {"data": data, "seed": seed, **options}
    if reference is not None:
        config["reference"] = _input_file(reference, inputs, "reference")
    config = validate_config(config, load_schema())  # the schema shipped with the package
    prepared = folder / "results" / "prepared"
    prepare_job.prepare(str(prepared / "transitions.tsv"), config=config, seed=seed)
    table = read_transitions(prepared / "transitions.tsv")
    transition = _transition_id(table, source, target)
    files = {name: str(folder / "results" / "transitions" / transition / filename)
             for name, filename in {**MAPPING_FILES, **FIT_FILES, **EVALUATE_FILES}.items()}
    slices = {cluster: str(prepared / "clusters" / f"{cluster}.h5ad") for cluster in transition.split("__")}
    cells = dict(zip(("source", "target"), slices.values()))
    # the jobs take the config's sections as the rules pass them; what is read here, typed
    smooth, fit = DataOptions.from_config(config["data"]).smooth, FitOptions.from_config(config["fit"])
    pooled = {}
    if fit.borrow_below > 0:  # over the run's clusters, in the workflow's order (common.smk run_slices)
        clusters = dict.fromkeys(c for t in table["transition"] for c in t.split("__"))
        pooled = {"pooled_network": str(folder / "results/pooled/network.parquet"),
                  "pooled_tf_variance": str(folder / "results/pooled/tf_variance.parquet")}
        fit_job.fit_pooled([str(prepared / "clusters" / f"{c}.h5ad") for c in clusters], str(prepared / "prior_edges.parquet"),
                           pooled["pooled_network"], pooled["pooled_tf_variance"], fit=config["fit"], seed=seed,
                           smooth=smooth)
    mapping_job.map_cells(str(prepared / "prior_edges.parquet"), **cells, **{k: files[k] for k in MAPPING_FILES},
                          transition=transition, options=config["mapping"], seed=seed, smooth=smooth)
    fit_job.fit_grn(**{k: files[k] for k in MAPPING_FILES}, **cells, **{k: files[k] for k in FIT_FILES}, **pooled,
                    fit=config["fit"], transition=transition, seed=seed, smooth=smooth)
    evaluate_job.evaluate_grn(**{k: files[k] for k in {**MAPPING_FILES, **FIT_FILES}}, **cells,
                              reference=str(prepared / "reference.parquet"),
                              **{k: files[k] for k in EVALUATE_FILES}, smooth=smooth, filter=config["filter"],
                              self_term=fit.self_term, transition=transition)
    metrics = json.loads(Path(files["metrics"]).read_text())
    metrics.pop("transgrn_provenance", None)
    return TransitionFit(transition=transition, edges=pd.read_parquet(files["coefficients"]), metrics=metrics,
                         gene_r2=pd.read_parquet(files["gene_r2"]), mapping=pd.read_parquet(files["mapping_main"]),
                         workdir=folder)


@dataclass
class Results:
    """A finished run's results folder (``results/`` of the workflow)."""

    folder: Path
    #: one row per transition: accuracy, its null, recovery (transitions.tsv)
    transitions: pd.DataFrame
    #: one row per transition and prior edge: source_cluster, target_cluster, tf, target_gene, weight, ...
    edges: pd.DataFrame
    tf_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    target_scores: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tensor(self, layer: str | None = None):
        """The GRN tensor: ``(array, transitions, tfs, targets)``, transitions x TFs x targets."""
        from .tensor import read_tensor

        return read_tensor(self.folder / "grn_tensor.h5ad", layer)

    def plot_network(self, transition: str, n_edges: int = 40):
        """The report's network drawing of one transition (its ``n_edges`` strongest edges), as a
        matplotlib Figure (a notebook shows it; ``fig.savefig(...)`` writes it)."""
        from .report import transition_title
        from .report.figures import network_figure

        coefficients = pd.read_parquet(self.folder / "transitions" / transition / "coefficients.parquet")
        return network_figure(coefficients, transition_title(self.folder / "transitions.tsv", transition), n_edges)

    def plot_r2_heatmap(self):
        """The report's heatmap of held-out R^2 (and its null) per transition, as a matplotlib Figure."""
        from .report.figures import r2_heatmap_figure

        return r2_heatmap_figure(self.transitions)

    def run_network(self) -> pd.DataFrame:
        """The run-level network (network.parquet): per prior edge a rank ``score`` and a ``sign`` over every
        transition, strongest first (:mod:`transgrn.run_network`); its recovery is in network_metrics.json."""
        path = self.folder / "network.parquet"
        if not path.exists():
            raise ConfigError(f"{path} does not exist: the run predates the run-level network; rerun snakemake "
                              "on the same config to write it (only the aggregate and the report rerun)")
        return pd.read_parquet(path)

    def network(self, transition: str) -> pd.DataFrame:
        """One transition's edges, strongest first (by |weight|)."""
        source, target = self.transitions.set_index("transition").loc[transition, ["source_cluster", "target_cluster"]]
        edges = self.edges[(self.edges["source_cluster"] == source) & (self.edges["target_cluster"] == target)]
        return edges.reindex(edges["weight"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def read_results(folder: str | os.PathLike = "results") -> Results:
    """The tables of a finished workflow run (``results/``)."""
    from .prepare import read_transitions

    folder = Path(folder)
    if not (folder / "transitions.tsv").exists():
        raise ConfigError(f"{folder} holds no transitions.tsv: give the results folder of a finished run "
                          "(snakemake writes it as results/)")

    def optional(name: str) -> pd.DataFrame:
        path = folder / name
        return pd.read_csv(path, sep="\t") if path.exists() else pd.DataFrame()

    return Results(folder=folder, transitions=read_transitions(folder / "transitions.tsv"),
                   edges=pd.read_parquet(folder / "edges.parquet"), tf_scores=optional("tf_scores.tsv"),
                   target_scores=optional("target_scores.tsv"))
