"""Compare the per-seed tables of finished runs with roiroa.verify's comparison:
the runs given as --page are pooled as the "page" (their seeds are its spread),
--rerun is one run whose --seed is compared with them, number by number.

    python bench/cause_compare.py --page RUN_A RUN_B RUN_C --rerun RUN_D --seed 0

Each RUN is a workflow folder (its results/tables/*_seeds.csv are read). Prints
the comparison as a table and the count of each verdict (used for
docs/results/fashion_mnist_cause.md: a model trained with other float kernels,
or the same model through an older commit's later stages, against seeds).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from roiroa import verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", nargs="+", type=Path, required=True)
    parser.add_argument("--rerun", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as pooled:
        for table in verify.METRICS:
            name = f"{table}_seeds.csv"
            frames = [pd.read_csv(run / "results" / "tables" / name) for run in args.page]
            pd.concat(frames, ignore_index=True).to_csv(Path(pooled) / name, index=False)
        comparison = verify.compare_tables(Path(pooled), args.rerun / "results" / "tables", args.seed)
    pd.set_option("display.width", 250)
    columns = ["table", "row", "number", "rerun", f"page, seed {args.seed}", "page min", "page max", "page mean",
               "page sd", "verdict"]  # fmt: skip
    print(comparison[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(comparison["verdict"].value_counts().to_string())
    if args.out:
        comparison.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
