"""Rule plot_transition (stage report): one transition's network, per-gene R^2 and prediction figures."""
import pandas as pd

from transgrn.report import transition_title, write_transition_figures
from transgrn.script import run_script


def main(table: str, coefficients: str, gene_r2: str, predictions: str, network_figure: str, gene_r2_figure: str,
         predictions_figure: str, *, transition: str, n_edges: int = 40, record: dict | None = None) -> None:
    figures = {"network": network_figure, "gene_r2": gene_r2_figure, "predictions": predictions_figure}
    title = transition_title(table, transition)
    write_transition_figures(pd.read_parquet(coefficients), pd.read_parquet(gene_r2), pd.read_parquet(predictions),
                             title, figures, n_edges)


if __name__ == "__main__":
    run_script(main, globals().get("snakemake"))
