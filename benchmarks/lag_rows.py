"""Does the lag's cross-validation need every training row? (transgrn.lagged.CV_MAX_ROWS; run by hand)

    PYTHONPATH=src python benchmarks/lag_rows.py [--cells 16000] [--noise 1.0,2.0]

On the demo's simulator (``transgrn.simulate``, its branching trajectory) at ``--cells`` cells, each
transition's lagged design (the shipped mapping defaults) is chosen twice: on at most
``CV_MAX_ROWS`` training pairs (the shipped cap, a random subset beyond it) and on all of them (cap
lifted). Prints per transition the training pairs, the lag each chose, their held-out R^2 by lag and
the wall time of the choice. Every recovery track (benchmarks/recovery.py) has fewer training pairs
than the cap, so the cap changes nothing there; this shows what it changes where it applies.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recovery import method_options, simulated  # noqa: E402

import transgrn.mapping as mapping_module  # noqa: E402
from transgrn.design import TransitionData  # noqa: E402
from transgrn.mask import build_mask  # noqa: E402
from transgrn.options import MappingOptions  # noqa: E402

PAIRS = [("stem cell", "progenitor"), ("progenitor", "fate A"), ("progenitor", "fate B")]


class Scores(logging.Handler):
    """Keeps the lag scores the lagged design logs (transgrn.lagged.choose_lag_spec)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("lagged design"):
            self.last = re.sub(r" \(pseudotime range.*", "", message.split(": ", 1)[1])


def choose(dataset, label, source, target, cap: int, scores: Scores) -> tuple[float, str, float, int]:
    options, _, _ = method_options("defaults")
    mask = build_mask(dataset.prior, source, target, dataset.genes, options["method"])
    data = TransitionData(source, target, dataset.genes, mask)
    mapping_module.CV_MAX_ROWS = cap
    start = time.perf_counter()
    mapping = mapping_module.map_transition(source, target, "main", label, MappingOptions.from_config(options), 0, data)
    seconds = time.perf_counter() - start
    n_train = int((mapping["split"] == "train").sum())
    return mapping.attrs["lag"].lag, scores.last, seconds, n_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=16000)
    parser.add_argument("--noise", default="1.0,2.0")
    args = parser.parse_args()
    scores = Scores()
    logging.getLogger("transgrn.lagged").addHandler(scores)
    logging.getLogger("transgrn.lagged").setLevel(logging.INFO)
    shipped = mapping_module.CV_MAX_ROWS
    rows = []
    for noise in (float(v) for v in args.noise.split(",")):
        dataset = simulated(PAIRS, f"sim_noise{noise}", n_cells=args.cells, noise=noise)
        for label, source, target in dataset.transitions:
            for cap_name, cap in ((f"{shipped} rows", shipped), ("all rows", 10**9)):
                lag, curve, seconds, n_train = choose(dataset, label, source, target, cap, scores)
                rows.append({"noise": noise, "transition": label, "train_pairs": n_train, "cv_on": cap_name,
                             "lag": round(lag, 4), "seconds": round(seconds, 2), "r2_by_lag": curve})
    mapping_module.CV_MAX_ROWS = shipped
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
