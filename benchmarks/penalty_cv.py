"""Time of ``MaskedRidgeCV`` by how the penalty is chosen, on one atlas-sized transition
(run by hand).

    python benchmarks/penalty_cv.py [--pairs 2000] [--tfs 1500] [--targets 20000] [--edges 500000]
                                    [--repeats 3] [--cv gcv,loo,5] [--threads 1]

The design is :func:`fit_speed.synthesize`'s (TFs with shared low-rank structure, a planted sparse
``W`` inside a prior of ``--edges`` random edges whose TF out-degrees vary); the defaults are the
training pairs of one 2,500 -> 2,500-cell transition of the 100,000-cell atlas (README, Scale):
2,000 pairs, 1,500 TFs x 20,000 targets, 500,000 edges, about 25 TFs a target. Each ``--cv`` is
timed ``--repeats`` times, interleaved (so that a change in the machine's load hits every one
alike), on ``--threads`` torch threads (a fit job runs on one). Printed per criterion: the chosen
alpha, its error curve and the seconds of each fit (the whole fit: moments, the penalty's choice
and the solve at it). A fit job does this twice per transition (the main fit and the null's). Output of a run:
``benchmarks/penalty_cv.out.txt``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_speed import synthesize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--tfs", type=int, default=1500)
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--edges", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cv", default="gcv,loo,5", help="criteria: gcv, loo or a number of folds")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from transgrn.solvers import MaskedRidgeCV

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = synthesize(n_source=args.pairs, n_target_cells=args.pairs, n_tfs=args.tfs, n_targets=args.targets,
                      n_edges=args.edges, density=None, n_pairs=args.pairs)
    x, y, mask = data["x"], data["y"], data["mask"]
    print(f"design: {x.shape[0]} pairs, {x.shape[1]} TFs x {y.shape[1]} targets, {int(mask.sum())} edges "
          f"({mask.sum(0).mean():.1f} TFs a target; made in {time.perf_counter() - start:.0f} s); "
          f"torch threads {torch.get_num_threads()}")
    criteria = [int(c) if c.isdigit() else c for c in args.cv.split(",")]
    seconds: dict = {c: [] for c in criteria}
    chosen: dict = {}
    for _ in range(args.repeats):
        for cv in criteria:
            start = time.perf_counter()
            model = MaskedRidgeCV(cv=cv, device="cpu").fit(x, y, mask)
            seconds[cv].append(time.perf_counter() - start)
            chosen[cv] = (model.alpha_, model.cv_scores_)
    for cv in criteria:
        alpha, scores = chosen[cv]
        name = f"{cv}-fold" if isinstance(cv, int) else cv
        print(f"{name:>7}: alpha {alpha:.4g}; error per alpha {np.array2string(scores, precision=4)}; "
              f"fit {statistics.median(seconds[cv]):.1f} s median of {args.repeats} "
              f"({', '.join(f'{s:.1f}' for s in seconds[cv])})")


if __name__ == "__main__":
    main()
