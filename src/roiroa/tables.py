"""The paper's Tables I–III from the per-run summaries (ssim.json, scores.json).

Each metric the paper also reports has the paper's value and the difference
beside it (`score_mod (paper)`, `score_mod Δ` = ours − paper; roiroa.paper).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import pandas as pd

from .paper import DELTA, PAPER, ROW, add_paper_columns, comparison_columns

# Columns that identify a row: dataset, direction, then each stage's parameters.
KEYS = ["dataset", "source", "target", "attack", "eps", "cam", "cam_target", "delta1", "delta2", "representative"]
DEFENSE_KEYS = ["theta", "blob_mode", "fill", "assign", "order"]

TABLES = {
    "table1_ssim": {
        "paper": "I",
        "title": "Table I: structural similarity of RoI and RoA",
        "keys": KEYS,
        "columns": {
            "n_images": "n_images",
            "ssim_mean_of_samples": "SSIM value (mean of samples)",
            "ssim_representatives": "SSIM value (representatives)",
        },
    },
    "table2_classification": {
        "paper": "II",
        "title": "Table II: effect of neutralization on classification accuracy",
        "keys": KEYS + DEFENSE_KEYS,
        "columns": {
            "n_images": "n_images",
            "blob_pixels": "blob_pixels",
            "score_clean": "score_clean",
            "score_mod": "score_mod",
        },
    },
    "table3_reattack": {
        "paper": "III",
        "title": "Table III: effect of neutralization on a repeated attack",
        "keys": KEYS + DEFENSE_KEYS,
        "columns": {
            "n_images": "n_images",
            "blob_pixels": "blob_pixels",
            "score_adv": "score_adv",
            "score_mod_adv": "score_mod_adv",
        },
    },
}


def load_rows(paths: list[str | Path]) -> list[dict]:
    """One row per direction: the run's parameters plus the direction's numbers."""
    rows = []
    for path in paths:
        payload = json.loads(Path(path).read_text())
        for direction in payload["directions"]:
            rows.append({**payload["params"], **direction})
    return rows


def build_table(name: str, rows: list[dict]) -> pd.DataFrame:
    spec = TABLES[name]
    keys = [k for k in spec["keys"] if any(k in r for r in rows)] or spec["keys"]
    frame = pd.DataFrame(rows, columns=keys + list(spec["columns"]))
    frame = frame.rename(columns=spec["columns"])
    frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return add_paper_columns(frame, spec["paper"], spec["columns"])


def metric_columns(name: str) -> list[str]:
    """The columns of a table that hold numbers to print with fixed decimals."""
    metrics = list(TABLES[name]["columns"].values())
    return metrics + comparison_columns(metrics)


def cell(column: str, value, metrics: list[str], digits: int = 4) -> str:
    """A table cell as text: metrics with `digits` decimals (differences signed),
    parameters as written, missing values (no paper value) empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and column in metrics:
        return f"{value:+.{digits}f}" if column.endswith(DELTA) else f"{value:.{digits}f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def to_markdown(frame: pd.DataFrame, title: str, metrics: list[str], digits: int = 4) -> str:
    """A Markdown table: metrics with `digits` decimals, parameters as written."""
    lines = [f"# {title}", "", "| " + " | ".join(frame.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in frame.columns) + "|")
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(c, v, metrics, digits) for c, v in zip(frame.columns, row)) + " |")
    return "\n".join(lines) + "\n"


def write_tables(ssim_paths, score_paths, out_dir: str | Path) -> dict[str, pd.DataFrame]:
    from .h5io import atomic_path

    out_dir = Path(out_dir)
    sources = {"table1_ssim": ssim_paths, "table2_classification": score_paths, "table3_reattack": score_paths}
    frames = {}
    for name, paths in sources.items():
        frame = build_table(name, load_rows(paths))
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
        with atomic_path(out_dir / f"{name}.md") as tmp:
            tmp.write_text(to_markdown(frame, TABLES[name]["title"], metric_columns(name)))
        frames[name] = frame
    return frames


# ---- HTML pages (the report shows a table as a page) ----------------------------

HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.text { text-align: left; }
.paper { color: #555; background: #f7f7f7; font-style: italic; }
.far { background: #ffe0b2; }
p { max-width: 60em; }
"""


def to_html(frame: pd.DataFrame, name: str, csv_text: str | None = None, digits: int = 4) -> str:
    """One table as a standalone HTML page: the direction and the parameters that
    differ between rows, then the numbers (paper columns shaded, |Δ| ≥ 0.05
    highlighted), then the parameters shared by all rows."""
    metrics = metric_columns(name)
    ids = ["dataset", "source", "target"]
    params = [c for c in frame.columns if c in KEYS + DEFENSE_KEYS and c not in ids]
    varying = [c for c in params if frame[c].nunique(dropna=False) > 1]
    first = ids + varying + [c for c in frame.columns if c in metrics] + [ROW]
    frame = frame[[c for c in first if c in frame.columns] + [c for c in frame.columns if c not in first]]
    paper = {c for c in frame.columns if c.endswith(PAPER) or c == ROW}

    def td(column, value) -> str:
        classes = ["paper"] if column in paper else []
        if column not in metrics:
            classes.append("text")
        if column.endswith(DELTA) and isinstance(value, float) and abs(value) >= 0.05:
            classes.append("far")
        text = html.escape(cell(column, value, metrics, digits))
        return f'<td class="{" ".join(classes)}">{text}</td>'

    head = "".join(
        f'<th class="paper">{html.escape(c)}</th>' if c in paper else f"<th>{html.escape(c)}</th>"
        for c in frame.columns
    )
    body = "\n".join(
        "<tr>" + "".join(td(c, v) for c, v in zip(frame.columns, row)) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    download = ""
    if csv_text is not None:
        uri = "data:text/csv;base64," + base64.b64encode(csv_text.encode()).decode()
        download = f' <a download="{name}.csv" href="{uri}">Download the CSV.</a>'
    title = html.escape(TABLES[name]["title"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{HTML_STYLE}</style></head>
<body>
<h1>{title}</h1>
<p>One row per dataset, direction (source → target class) and parameter set.
Columns marked <span class="paper">(paper)</span> hold the value the paper reports for the same dataset and
direction (its table and row in <span class="paper">paper row</span>); <i>Δ</i> = ours − paper, highlighted
<span class="far">like this</span> where it is 0.05 or more in size. Empty cells: the paper has no value
(e.g. for the embedded digits data).{download}</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</body></html>
"""


def write_html(frame: pd.DataFrame, name: str, out: str | Path, csv_path: str | Path | None = None) -> None:
    from .h5io import atomic_path

    csv_text = Path(csv_path).read_text() if csv_path is not None else None
    with atomic_path(out) as tmp:
        tmp.write_text(to_html(frame, name, csv_text), encoding="utf-8")
