"""Rule report: the self-contained HTML summary report."""
import json
from pathlib import Path

import pandas as pd

from transgrn.report import write_report
from transgrn.script import run


def main(smk):
    table = pd.read_csv(smk.input.table, sep="\t", dtype={"source_cluster": str, "target_cluster": str}, keep_default_na=False, na_values=["NA"])
    predictions = {Path(p).parent.name: pd.read_parquet(p) for p in smk.input.predictions}
    write_report(
        smk.output.report, table=table, edges=pd.read_parquet(smk.input.edges),
        summary=json.loads(Path(smk.input.summary).read_text()),
        skipped=pd.read_csv(smk.input.skipped, sep="\t", keep_default_na=False), config=smk.params.config,
        predictions=predictions, top=smk.params.config["report"]["top_edges"],
    )


run(main, snakemake)  # noqa: F821
