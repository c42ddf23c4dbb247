"""The paper's Tables I–III beside ours.

paper_tables.csv (package data) holds every number of the paper's tables, one
per row, with the table and row it was read from (`provenance`, e.g. "Table
II, MNIST, 0 to 1"); percentages are stored as fractions. Our datasets and
classes are named as in roiroa's registry. A dataset the paper did not study
(digits) gets empty paper cells, never zeros, unless the config declares which
of the paper's rows it stands for (`datasets.<name>.paper`, `declare`).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import pandas as pd

# Datasets the paper tabulates; paper_tables.csv uses our dataset and class names.
PAPER_DATASETS = {"mnist", "fashion_mnist", "cats_vs_dogs", "malaria"}

PAPER, DELTA, ROW = " (paper)", " Δ", "paper row"

# Datasets of a config that declare which of the paper's rows they stand for
# (datasets.<name>.paper: {dataset: mnist, classes: {ours: the paper's}}): set by
# `declare` in the process that writes the tables (scripts/tables.py).
DECLARED: dict[str, dict] = {}


def declare(declarations: dict) -> None:
    """{our dataset: {"dataset": the paper's, "classes": {our class: the paper's class}}},
    class names as in the registry (roiroa.config.paper_declarations); replaces earlier ones."""
    DECLARED.clear()
    DECLARED.update(declarations)


@lru_cache(maxsize=1)
def paper_values() -> dict[tuple[str, str, str, str, str], tuple[float, str]]:
    """{(table, dataset, source, target, metric): (value, provenance)} from the package data."""
    text = resources.files(__package__).joinpath("paper_tables.csv").read_text(encoding="utf-8")
    return {
        (r["table"], r["dataset"], r["source"], r["target"], r["metric"]): (float(r["value"]), r["provenance"])
        for r in csv.DictReader(text.splitlines())
    }


def paper_key(table: str, dataset, source, target) -> tuple[str, str, str, str] | None:
    """The key of one of our table rows in paper_tables.csv, or None when the paper lacks the
    dataset (or, for a declared dataset, one of the two classes)."""
    if str(dataset) in DECLARED:
        declared = DECLARED[str(dataset)]
        source, target = (declared["classes"].get(str(c)) for c in (source, target))
        if source is None or target is None:
            return None
        return table, declared["dataset"], source, target
    if str(dataset) not in PAPER_DATASETS:
        return None
    return table, str(dataset), str(source), str(target)


def add_paper_columns(frame: pd.DataFrame, table: str, metrics: dict[str, str]) -> pd.DataFrame:
    """Beside each metric column with a value in the paper's `table`: `<column> (paper)`
    and `<column> Δ` (ours − paper); then `paper row`, the table and row they come from.

    metrics: {metric name in paper_tables.csv: our column}. Rows the paper has no
    value for get NaN (empty in the CSV)."""
    values = paper_values()
    in_table = {key[-1] for key in values if key[0] == table}
    keys = [paper_key(table, *row) for row in zip(frame["dataset"], frame["source"], frame["target"])]
    out = frame.copy()
    rows = [None] * len(out)
    for metric, column in metrics.items():
        if metric not in in_table:
            continue
        found = [values.get((*key, metric)) if key else None for key in keys]
        paper = [hit[0] if hit else float("nan") for hit in found]
        rows = [hit[1] if hit else row for hit, row in zip(found, rows)]
        at = out.columns.get_loc(column) + 1
        out.insert(at, column + PAPER, pd.Series(paper, index=out.index, dtype="float64"))
        out.insert(at + 1, column + DELTA, out[column] - out[column + PAPER])
    out[ROW] = pd.Series(rows, index=out.index, dtype="object")
    return out


def comparison_columns(metrics: list[str]) -> list[str]:
    """The paper and difference columns that `add_paper_columns` may add for `metrics`."""
    return [column + suffix for column in metrics for suffix in (PAPER, DELTA)]
