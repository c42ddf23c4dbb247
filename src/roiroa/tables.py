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

import numpy as np
import pandas as pd

from . import verdicts
from .paper import DELTA, PAPER, ROW, add_paper_columns, comparison_columns

from .stats import (mcnemar_exact_log10, mean_sd, paired_difference_interval, seed_level_interval,
                    wilson_interval)

# Columns that identify a row: dataset, direction, then each stage's parameters.
KEYS = ["dataset", "source", "target", "space", "attack", "eps", "attack_settings", "cam", "cam_layer", "cam_target",
        "delta1", "roa_source", "delta2", "representative", "fit_on"]
DEFENSE_KEYS = ["blob_mode", "fill", "assign", "order", "neutralization", "theta"]
# What a row of Tables II/III neutralizes: the blob at the θ chosen on the calibration
# part, the baselines at that θ, or the blob at each θ of the sweep.
NEUTRALIZATIONS = {
    "blob": "blob, chosen θ",
    "random_mask": "random mask of the blob's size",
    "roi_complement": "RoI complement",
    "none": "no neutralization",
    "blob_sweep": "blob, θ sweep",
}
SD, LOW, HIGH = " sd", " 95% low", " 95% high"
IMAGE_SETS = {"table2_classification": ("clean", "mod"), "table3_reattack": ("adv", "mod_adv")}
PAIRED = {"table2_classification": "clean_vs_mod", "table3_reattack": "adv_vs_mod_adv"}
# The paired difference each table's claim is about, on the same images: the clean
# accuracy neutralization costs (claim b), the accuracy it wins back under the
# repeated attack (claim c). sign: +1 = first − second, −1 = second − first.
DIFFERENCES = {"table2_classification": ("drop (clean − mod)", +1),
               "table3_reattack": ("gain (mod_adv − adv)", -1)}
# What a count column counts: images of one seed's evaluation part, or those summed over seeds.
PER_SEED, POOLED = "images per seed", "n (images × seeds)"
SSIM_COLUMNS = {
    "roa_fraction": "RoA fraction",
    "ssim_mean_of_samples": "SSIM value (mean of samples)",
    "ssim_shuffled_mean": "SSIM, shuffled pairs (null)",
    "ssim_representatives": "SSIM value (representatives)",
    "ssim_random_masks_mean": "SSIM, random masks of the same sizes",
}
# Claim (a)'s paired per-image comparisons (ssim.json fields {prefix}_diff_mean/low/high, _p, _test):
# the true RoI/RoA pairing against shuffled pairings of the class, and against random masks
# of the same sizes.
PAIRED_SSIM = "SSIM true − shuffled (paired)"
PAIRED_RANDOM = "SSIM true − random masks (paired)"
PAIRED_SSIM_COLUMNS = {"ssim_paired": PAIRED_SSIM, "ssim_random": PAIRED_RANDOM}

TABLES = {
    "table1_ssim": {"paper": "I", "title": "Table I: structural similarity of RoI and RoA"},
    "table2_classification": {"paper": "II", "title": "Table II: effect of neutralization on classification accuracy"},
    "table3_reattack": {"paper": "III", "title": "Table III: effect of neutralization on a repeated attack"},
}


def load_rows(paths: list[str | Path]) -> list[dict]:
    """One row per direction: the run's parameters plus the direction's numbers;
    a file of every θ (`by_theta`: evaluation.json) gives the rows of each θ."""
    from .runtime import read_json  # a truncated or corrupt file is named

    rows = []
    for path in paths:
        payload = read_json(path)
        for entry in payload.get("by_theta", [payload]):
            params = dict(entry["params"])
            params["attack_settings"] = settings_text(params.get("attack_settings") or {})
            for direction in entry["directions"]:
                rows.append({**params, **direction})
    return rows


def settings_text(settings: dict) -> str:
    """An attack's settings as one table cell ('' for FGSM, which has none)."""
    return " ".join(f"{k}={v}" for k, v in sorted(settings.items()))


def defense_rows(score_rows: list[dict], selected_paths, baseline_paths) -> pd.DataFrame:
    """Per-seed rows of Tables II/III: the blob at every θ (`blob_sweep`), the blob
    at the θ chosen for the seed (`blob`), and the baselines at that θ. Rows at the
    chosen θ carry `theta_met_constraint` (whether any θ met the clean-loss
    constraint on the calibration part, or the least bad one was taken)."""
    sweep = pd.DataFrame(score_rows).assign(neutralization="blob_sweep", draw=0)
    chosen = pd.DataFrame([_chosen(p) for p in selected_paths])
    blob = sweep.merge(chosen, on=CHOSEN_JOIN + ["theta"]).assign(neutralization="blob")
    frames = [blob, sweep]
    if baseline_paths:
        baselines = pd.DataFrame(load_rows(baseline_paths))
        met = chosen.drop(columns="theta")
        frames.insert(1, baselines.drop(columns="theta_met_constraint", errors="ignore").merge(met, on=CHOSEN_JOIN))
    return pd.concat(frames, ignore_index=True)


CHOSEN_JOIN = ["dataset", "pair", "seed", "attack", "eps", "cam", "delta1", "roa_source", "delta2", "fill"]


def _chosen(path) -> dict:
    from .runtime import read_json

    payload = read_json(path)
    return ({k: payload["params"][k] for k in CHOSEN_JOIN}
            | {"theta": payload["theta"], "theta_met_constraint": bool(payload["meets_constraint"])})


def summarize_defense(name: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Table II or III: one row per direction, parameter set (the re-attack's order
    among them) and neutralization. Per score: the mean and sd over seeds and the
    seed-level 95% interval (stats.seed_level_interval: t over the seeds' scores ∪
    Wilson on the pooled counts). The table's paired difference (DIFFERENCES) gets
    the same kind of interval (t over the seeds' differences ∪ Newcombe's paired
    interval on the pooled counts). p: the exact McNemar test stratified by seed
    (each seed's discordant pairs, summed: the conditional test of matched pairs).
    Random masks: draws are averaged within each seed first, so counts are images,
    not draws."""
    first, second = IMAGE_SETS[name]
    paired = PAIRED[name]
    difference, sign = DIFFERENCES[name]
    keys = [k for k in KEYS + DEFENSE_KEYS if k in rows.columns]
    if name == "table2_classification":
        # S_mod does not depend on the re-attack's order: one row for every order
        keys = _without(keys, "order")
    rows = _theta_as_text(rows, keys)
    rows = rows.assign(theta_met_constraint=rows.get("theta_met_constraint", pd.Series(dtype=float)).astype(float))
    numeric = [c for c in rows.columns if c.startswith(("correct_", "score_", "asr_", "clean_vs_mod_", "adv_vs_mod_adv_"))
               or c in ("n_images", "blob_pixels", "theta_met_constraint")]
    seeds = rows.groupby(keys + ["seed"], dropna=False, sort=False)[numeric].mean().reset_index()
    draws = draw_scores(rows[rows["neutralization"] == "random_mask"], keys, f"score_{second}")
    out = []
    for key, group in seeds.groupby(keys, dropna=False, sort=False):
        row = dict(zip(keys, key))
        if _hashable(key) in draws:
            row[f"random draws score_{second}"] = draws[_hashable(key)]
        n = float(group["n_images"].sum())
        row |= {"seeds": " ".join(str(s) for s in sorted(group["seed"])), PER_SEED: group["n_images"].mean(),
                POOLED: int(round(n)), "blob_pixels": group["blob_pixels"].mean()}
        for s in (first, second):
            row |= seed_level_score(group, s)
        only_first, only_second = group[f"{paired}_only_first"], group[f"{paired}_only_second"]
        per_seed = sign * (only_first - only_second) / group["n_images"]
        diff, low, high = paired_difference_interval(
            group[f"correct_{first}"].sum(), group[f"correct_{second}"].sum(), only_first.sum(), only_second.sum(), n)
        if sign < 0:
            diff, low, high = -diff, -high, -low
        low, high = seed_level_interval(per_seed, (low, high), bounds=(-1.0, 1.0))
        row |= {difference: per_seed.mean(), difference + LOW: low, difference + HIGH: high}
        if name == "table3_reattack":
            for asr in ("asr_adv", "asr_mod"):
                flipped, of = group[f"{asr}_flipped"].sum(), group[f"{asr}_of"].sum()
                row[asr] = flipped / of if of else float("nan")
            row["attack flips (images × seeds)"] = int(round(group["asr_adv_flipped"].sum()))
        elif group["theta_met_constraint"].notna().any():
            row["θ met the clean-loss constraint (seeds)"] = (
                f"{int(group['theta_met_constraint'].sum())} of {group['theta_met_constraint'].notna().sum()}")
        log10_p = mcnemar_exact_log10(only_first.sum(), only_second.sum())
        row[f"p McNemar ({first} vs {second})"] = 10**log10_p
        row[f"log10 p McNemar ({first} vs {second})"] = log10_p
        out.append(row)
    frame = pd.DataFrame(out)
    frame["neutralization"] = pd.Categorical(frame["neutralization"], list(NEUTRALIZATIONS), ordered=True)
    frame = frame.sort_values(_without(keys, "neutralization", "theta") + ["neutralization", "theta"],
                              kind="stable").reset_index(drop=True)
    frame["neutralization"] = frame["neutralization"].map(NEUTRALIZATIONS).astype(str)
    metrics = {f"score_{s}": f"score_{s}" for s in (first, second)}
    return add_paper_columns(frame, TABLES[name]["paper"], metrics)


def seed_level_score(group: pd.DataFrame, s: str) -> dict[str, float]:
    """score_{s} over the per-seed rows of one table row: mean, sd over seeds and the
    seed-level 95% interval (t over the seeds' scores ∪ Wilson on the counts pooled
    over seeds: stats.seed_level_interval)."""
    mean, sd = mean_sd(group[f"score_{s}"])
    pooled = wilson_interval(int(round(group[f"correct_{s}"].sum())), int(round(group["n_images"].sum())))
    low, high = seed_level_interval(group[f"score_{s}"], pooled)
    return {f"score_{s}": mean, f"score_{s}{SD}": sd, f"score_{s}{LOW}": low, f"score_{s}{HIGH}": high}


def draw_scores(rows: pd.DataFrame, keys: list[str], score: str) -> dict[tuple, str]:
    """{row key: each random draw's score, averaged over seeds, space-separated}: the
    distribution a blob's placement is ranked in (roiroa.verdicts.better_than_random).
    A random-mask row holds its draws' scores as a list (`draws_<score>`, baselines.json;
    text when read back from a CSV); rows of one draw each (`draw`) are taken as they are."""
    out = {}
    for key, group in rows.groupby(keys, dropna=False, sort=False):
        listed = f"draws_{score}"
        if listed in group and group[listed].notna().all():
            per_seed = np.array([json.loads(v) if isinstance(v, str) else list(v) for v in group[listed]], float)
            scores = per_seed.mean(axis=0)
        else:
            scores = group.groupby("draw")[score].mean().to_numpy()
        out[_hashable(key)] = " ".join(f"{v:.{verdicts.SCORE_DECIMALS}f}" for v in scores)
    return out


def _hashable(key: tuple) -> tuple:
    """A group key that compares equal to itself: NaN (an empty cell read back from a
    CSV) as None, since NaN != NaN."""
    return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in key)


def summarize_ssim(rows: pd.DataFrame) -> pd.DataFrame:
    """Table I: mean and sd over seeds of the per-image SSIM, its shuffled-pair
    null, the SSIM of random masks of the same sizes and the representatives'
    SSIM; and claim (a)'s paired comparison of the true pairing with shuffled
    pairings of the same class (per image, within each seed): the mean
    difference with a seed-level 95% interval (t over the seeds' mean differences
    ∪ the mean of the seeds' own intervals) and the largest per-seed p; the same
    against random masks of each image's RoI and RoA sizes."""
    keys = [k for k in KEYS if k in rows.columns]
    out = []
    for key, group in rows.groupby(keys, dropna=False, sort=True):
        row = dict(zip(keys, key))
        row |= {"seeds": " ".join(str(s) for s in sorted(group["seed"])), PER_SEED: group["n_images"].mean()}
        for column, title in SSIM_COLUMNS.items():
            row[title], row[title + SD] = mean_sd(group[column]) if column in group else (float("nan"),) * 2
        for prefix, title in PAIRED_SSIM_COLUMNS.items():
            if f"{prefix}_diff_mean" not in group:
                continue
            within = (group[f"{prefix}_diff_low"].mean(), group[f"{prefix}_diff_high"].mean())
            low, high = seed_level_interval(group[f"{prefix}_diff_mean"], within, bounds=(-1.0, 1.0))
            row |= {title: group[f"{prefix}_diff_mean"].mean(), title + LOW: low, title + HIGH: high,
                    f"largest p per seed ({title})": group[f"{prefix}_p"].max()}
            row["paired test"] = "; ".join(sorted(set(group[f"{prefix}_test"].astype(str))))
        out.append(row)
    metrics = {"ssim_mean_of_samples": SSIM_COLUMNS["ssim_mean_of_samples"],
               "ssim_representatives": SSIM_COLUMNS["ssim_representatives"]}
    return add_paper_columns(pd.DataFrame(out), "I", metrics)


def _theta_as_text(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """θ as a key: each sweep row's own value; for the rows at the chosen θ, the θ
    chosen for each seed in seed order ("0.12 / 0.15"), since it may differ."""
    rows = rows.copy()
    rows["theta"] = rows["theta"].map(lambda v: f"{v:g}")
    chosen = rows["neutralization"] != "blob_sweep"
    group = _without(keys, "theta", "neutralization")
    per_seed = rows[chosen].drop_duplicates(group + ["seed"]).sort_values("seed")
    text = per_seed.groupby(group, dropna=False)["theta"].agg(" / ".join).rename("chosen")
    merged = rows.loc[chosen, group].merge(text.reset_index(), on=group, how="left")
    rows.loc[chosen, "theta"] = merged["chosen"].to_numpy()
    return rows


def _without(keys: list[str], *drop: str) -> list[str]:
    return [k for k in keys if k not in drop]


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of a summary table that hold numbers to print with fixed decimals."""
    keys = set(KEYS + DEFENSE_KEYS + ["seeds", "n_images", "paired test", PER_SEED, POOLED, "attack flips (images × seeds)",
                                      "pair", "seed", "draw", "part", "source", "target", ROW])
    return [c for c in frame.columns if c not in keys and pd.api.types.is_numeric_dtype(frame[c])]


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


def write_tables(ssim_paths, score_rows, selected_paths, baseline_paths, out_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Tables I–III over seeds (CSV, Markdown) and their per-seed rows (`*_seeds.csv`);
    `score_rows`: load_rows() of every evaluation.json (the scores.json of every θ)."""
    from .h5io import atomic_path

    out_dir = Path(out_dir)
    ssim = pd.DataFrame(load_rows(ssim_paths))
    defense = defense_rows(score_rows, selected_paths, baseline_paths)
    long = {"table1_ssim": ssim, "table2_classification": defense, "table3_reattack": defense}
    frames = {
        "table1_ssim": summarize_ssim(ssim),
        "table2_classification": summarize_defense("table2_classification", defense),
        "table3_reattack": summarize_defense("table3_reattack", defense),
    }
    for name, frame in frames.items():
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
        with atomic_path(out_dir / f"{name}.md") as tmp:
            tmp.write_text(to_markdown(frame, TABLES[name]["title"], metric_columns(frame)))
        with atomic_path(out_dir / f"{name}_seeds.csv") as tmp:
            long[name].sort_values(sorted(set(long[name].columns) & {"dataset", "source", "seed", "theta"}),
                                   kind="stable").to_csv(tmp, index=False)
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
    metrics = metric_columns(frame)
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
