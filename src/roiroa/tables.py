"""The paper's Tables I–III from the per-run summaries (ssim.json, scores.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

# Columns that identify a row: dataset, direction, then each stage's parameters.
KEYS = ["dataset", "source", "target", "attack", "eps", "cam", "cam_target", "delta1", "delta2", "representative"]
DEFENSE_KEYS = ["theta", "blob_mode", "fill", "assign", "order"]

TABLES = {
    "table1_ssim": {
        "title": "Table I: structural similarity of RoI and RoA",
        "keys": KEYS,
        "columns": {
            "n_images": "n_images",
            "ssim_mean_of_samples": "SSIM value (mean of samples)",
            "ssim_representatives": "SSIM value (representatives)",
        },
    },
    "table2_classification": {
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
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def to_markdown(frame: pd.DataFrame, title: str, metrics: list[str], digits: int = 4) -> str:
    """A Markdown table: metrics with `digits` decimals, parameters as written."""

    def cell(column: str, value) -> str:
        if isinstance(value, float) and column in metrics:
            return f"{value:.{digits}f}"
        return f"{value:g}" if isinstance(value, float) else str(value)

    lines = [f"# {title}", "", "| " + " | ".join(frame.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in frame.columns) + "|")
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row)) + " |")
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
            tmp.write_text(to_markdown(frame, TABLES[name]["title"], list(TABLES[name]["columns"].values())))
        frames[name] = frame
    return frames
