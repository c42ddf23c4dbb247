"""The study of the paper's open decisions: which reading of the paper reproduces it?

`run` runs each reading of config/readings.yaml (a dataset's page config with one
factor changed) through the workflow, reusing whatever an earlier reading or the
page already computed (every result-changing setting is a path level), and keeps
each reading's Tables I–III in results/readings/<dataset>/<reading>/tables. `page`
judges every reading by the rules of the published pages (roiroa.publish,
roiroa.verdicts), measures its distance to the paper's numbers and writes
docs/results/readings.md, ending with a generated answer.

    python -m roiroa.readings run --dataset mnist [--only NAME ...] [--cores 2]
    python -m roiroa.readings page --dataset mnist [--dataset fashion_mnist] --out docs/results/readings.md
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import publish, roi_shape, tables, verdicts
from .orders import PAPER_ORDER
from .runtime import host_description, write_json

ROOT = Path(__file__).resolve().parents[2]
# The paper's six numbers per direction (Tables I–III) and where ours sit: Table I's
# row, the chosen-θ blob row of Table II, and Table III's row in the paper's order.
PAPER_METRICS = {
    "SSIM samples": ("t1", "SSIM value (mean of samples)"),
    "SSIM representatives": ("t1", "SSIM value (representatives)"),
    "score_clean": ("t2", "score_clean"),
    "score_mod": ("t2", "score_mod"),
    "score_adv": ("t3", "score_adv"),
    "score_mod_adv": ("t3", "score_mod_adv"),
}
DISTANCE = ("distance to the paper: the mean absolute difference between our value and the paper's over "
            "its six numbers of the direction (Table I: SSIM of samples and of representatives; Table II: "
            "score_clean, score_mod; Table III: score_adv, score_mod_adv in the paper's order), every one "
            "on a 0–1 scale; 0 = the paper's numbers exactly")


def deep_merge(base: dict, changes: dict) -> dict:
    """`base` with `changes` merged in: nested mappings merged key by key, anything
    else (lists included) replaced."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_study(path: Path) -> dict:
    study = yaml.safe_load(path.read_text())
    names = [r["name"] for r in study["readings"]]
    if len(set(names)) != len(names):
        raise SystemExit(f"{path}: reading names repeat: {names}")
    return study


def reading_folder(results: Path, dataset: str, name: str) -> Path:
    return results / "readings" / dataset / name


def reading_config(study: dict, dataset: str, reading: dict) -> dict:
    """The reading's config: the dataset's base config (a path relative to the
    project), the study's `common` changes and the reading's `set`; its tables in
    its own folder."""
    settings = study["datasets"].get(dataset)
    if settings is None:
        raise SystemExit(f"the study has no dataset {dataset!r} (it has {', '.join(study['datasets'])})")
    base = yaml.safe_load((ROOT / settings["base"]).read_text())
    config = deep_merge(deep_merge(base, study.get("common") or {}), reading.get("set") or {})
    config["tables_dir"] = str(reading_folder(Path("results"), dataset, reading["name"]) / "tables")
    return config


def run(study: dict, dataset: str, workdir: Path, cores: int | str, only: list[str] | None = None) -> None:
    """Each runnable reading (in the study's order, or those named in `only`) through
    the workflow in `workdir` up to its tables; its config and wall time beside them."""
    readings = [r for r in study["readings"] if not only or r["name"] in only]
    unknown = set(only or ()) - {r["name"] for r in readings}
    if unknown:
        raise SystemExit(f"no reading named {', '.join(sorted(unknown))} in the study")
    failed = []
    for reading in readings:
        if reading.get("not_run"):
            print(f"[readings] {reading['name']}: not run ({reading['not_run']})", flush=True)
            continue
        folder = reading_folder(workdir / "results", dataset, reading["name"])
        folder.mkdir(parents=True, exist_ok=True)
        config_path = folder / "config.yaml"
        config_path.write_text(yaml.safe_dump(reading_config(study, dataset, reading), sort_keys=False))
        print(f"[readings] {dataset} / {reading['name']}: {reading['what']}", flush=True)
        started = time.monotonic()
        # Snakemake's code trigger reruns a job whose script file is newer than its
        # outputs, so a checkout that merely touched scripts/train.py would retrain every
        # model; the study reuses the page's models instead (their settings, inputs and
        # times still trigger a rerun when they change; each file records its commit).
        finished = subprocess.run([sys.executable, "-m", "snakemake", "tables", "-s", str(ROOT / "Snakefile"), "-d",
                                   str(workdir), "--cores", str(cores), "--rerun-incomplete",
                                   "--rerun-triggers", "mtime", "params", "input", "software-env",
                                   "--configfile", str(config_path.resolve())])
        if finished.returncode:  # the next readings still run: an hour-long study is not lost to one
            print(f"[readings] {dataset} / {reading['name']}: failed (snakemake exit {finished.returncode}; "
                  f"its output above names the job and its log)", flush=True)
            failed.append(reading["name"])
            continue
        write_json(folder / "run.json", {  # with the commit that ran it
            "wall_time_s": round(time.monotonic() - started, 1),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": host_description(),
            "note": "wall time of this reading's workflow run, reusing what earlier runs computed"})
    if failed:
        raise SystemExit(f"readings that failed on {dataset}: {', '.join(failed)} (the others ran); rerun them "
                         f"with --only {' '.join(failed)}")


def read_tables(folder: Path, dataset: str) -> tuple[pd.DataFrame, ...] | None:
    """A reading's Tables I–III (its dataset's rows), or None when it has not run."""
    paths = [folder / "tables" / f"{name}.csv" for name in tables.TABLES]
    if not all(p.exists() for p in paths):
        return None
    frames = [pd.read_csv(p, dtype={"source": str, "target": str, "theta": str}) for p in paths]
    return tuple(f[f["dataset"] == dataset].reset_index(drop=True) for f in frames)


def _one(frame: pd.DataFrame, **where) -> pd.Series | None:
    rows = frame
    for column, value in where.items():
        rows = rows[rows[column].astype(str) == str(value)]
    return rows.iloc[0] if len(rows) else None


def _verdict(records: list[dict], direction: str, claim: str, test: str, threat: str = "") -> verdicts.Verdict | None:
    return next((r["verdict"] for r in records if r["direction"] == direction and r["claim"] == claim
                 and r["test"] == test and (r.get("threat") or "") == threat), None)


def reading_rows(reading: dict, frames: tuple[pd.DataFrame, ...], margin: float) -> list[dict]:
    """One row per direction of a reading that ran: its numbers, the distance to the
    paper and the verdicts on claims (b) and (c) under each threat model."""
    t1, t2, t3 = frames
    records = publish.claim_records(t1, t2, t3, margin)
    rows = []
    for _, first in t1.iterrows():
        source, target = first["source"], first["target"]
        direction = f"{source} → {target}"
        chosen = dict(source=source, target=target, neutralization="blob, chosen θ")
        found = {"t1": first, "t2": _one(t2, **chosen), "t3": _one(t3, **chosen, order=PAPER_ORDER)}
        row = {"dataset": first["dataset"], "direction": direction, "reading": reading["name"],
               "what": reading["what"]}
        differences = []
        for metric, (table, column) in PAPER_METRICS.items():
            values = found[table]
            ours = None if values is None else values.get(column)
            paper = None if values is None else values.get(f"{column} (paper)")
            row[metric] = ours
            row[f"{metric} (paper)"] = paper
            if ours is not None and paper is not None and not pd.isna(ours) and not pd.isna(paper):
                differences.append(abs(float(ours) - float(paper)))
        row["distance"] = sum(differences) / len(differences) if differences else float("nan")
        row["paper numbers compared"] = len(differences)
        post_hoc = _one(t3, **chosen, order="attack_then_neutralize")
        row["gain post-hoc"] = None if post_hoc is None else post_hoc["gain (mod_adv − adv)"]
        row["attack flips"] = None if post_hoc is None else post_hoc["attack flips (images × seeds)"]
        row["(b) kept"] = _verdict(records, direction, "b", "clean accuracy kept")
        raised = "accuracy under the repeated attack raised"
        for order, title in (("attack_then_neutralize", "(c) post-hoc"), ("adaptive", "(c) adaptive"),
                             (PAPER_ORDER, "(c) paper's order")):
            row[title] = _verdict(records, direction, "c", raised, order)
        row["seeds"] = first["seeds"]
        row["drop"] = None if found["t2"] is None else found["t2"]["drop (clean − mod)"]
        rows.append(row)
    return rows


def _settings(changes: dict, prefix: str = "") -> str:
    """Nested config changes as `key.sub: value` items ('none' when empty)."""
    items = [_settings(v, f"{prefix}{k}.") if isinstance(v, dict) else f"`{prefix}{k}: {v}`"
             for k, v in changes.items()]
    return ", ".join(items) or "none"


# The numbers a rerun of a page's own setting must give again, per seed: the blob's
# rows (the baselines' random draws differ, as the study draws fewer of them).
AGREEMENT = {
    "table1_ssim": ["ssim_mean_of_samples", "ssim_representatives", "roa_fraction"],
    "table2_classification": ["blob_pixels", "score_clean", "score_mod", "prob_clean", "prob_mod"],
    "table3_reattack": ["score_adv", "score_mod_adv", "prob_adv", "prob_mod_adv"],
}
AGREEMENT_KEYS = ["seed", "source", "target", "theta", "order", "part"]


def agreement(folder: Path, published: Path) -> str:
    """How a reading's per-seed rows (its tables `folder`) compare with a published page's (its folder of
    *_seeds.csv): the default reading reruns the page's setting, here in the
    study's code and paths, so every blob number should come out the same."""
    compared, largest = 0, 0.0
    for name, columns in AGREEMENT.items():
        ours_path, page_path = folder / f"{name}_seeds.csv", published / f"{name}_seeds.csv"
        if not (ours_path.exists() and page_path.exists()):
            return f"not compared ({page_path} or {ours_path} is missing)"
        ours, page = (pd.read_csv(p, dtype={"source": str, "target": str, "theta": str})
                      for p in (ours_path, page_path))
        if "neutralization" in ours:
            ours, page = ours[ours["neutralization"] == "blob"], page[page["neutralization"] == "blob"]
        keys = [k for k in AGREEMENT_KEYS if k in ours and k in page]
        joined = ours.merge(page, on=keys, suffixes=("", " (page)"))
        if len(joined) != len(page):
            return f"{len(page) - len(joined)} of the page's {name} rows have no counterpart"
        for column in columns:
            compared += len(joined)
            largest = max(largest, float((joined[column] - joined[f"{column} (page)"]).abs().max()))
    same = "identical" if largest == 0 else f"the largest difference is {largest:.2e}"
    return f"{compared} per-seed numbers of the blob rows compared with the page's: {same}"


def _answer(verdict) -> str:
    return verdict.answer if isinstance(verdict, verdicts.Verdict) else "not run"


def study_frame(study: dict, datasets: list[str], results: Path) -> tuple[pd.DataFrame, list[dict]]:
    """Every reading's rows (those that ran) and the list of those that did not."""
    rows, missing = [], []
    for dataset in datasets:
        for reading in study["readings"]:
            folder = reading_folder(results, dataset, reading["name"])
            frames = None if reading.get("not_run") else read_tables(folder, dataset)
            if frames is None or any(t.empty for t in frames):
                missing.append({"dataset": dataset, "reading": reading["name"], "what": reading["what"],
                                "why": reading.get("not_run") or "not run yet (CPU time): "
                                f"`python -m roiroa.readings run --dataset {dataset} --only {reading['name']}`"})
                continue
            config = yaml.safe_load((folder / "config.yaml").read_text())
            margin = (config.get("blob") or {}).get("max_clean_drop", 0.01)
            wall = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}
            for row in reading_rows(reading, frames, margin):
                row["wall time (min)"] = wall.get("wall_time_s", float("nan")) / 60
                rows.append(row)
    return pd.DataFrame(rows), missing


def holds(frame: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and reading: do (b) and (c) hold in every direction? (c) on a
    deployable threat model (post-hoc or adaptive), as the pages judge it."""
    out = []
    for (dataset, reading), group in frame.groupby(["dataset", "reading"], sort=False):
        b = all(_answer(v) == verdicts.YES for v in group["(b) kept"])
        c = all(_answer(p) == verdicts.YES or _answer(a) == verdicts.YES
                for p, a in zip(group["(c) post-hoc"], group["(c) adaptive"]))
        c_paper = all(_answer(v) == verdicts.YES for v in group["(c) paper's order"])
        out.append({"dataset": dataset, "reading": reading, "b": b, "c": c, "c_paper": c_paper,
                    "distance": group["distance"].mean()})
    return pd.DataFrame(out)


def answer_section(frame: pd.DataFrame) -> str:
    """The generated answer: the closest reading per dataset and direction, and
    whether any reading makes (b) and (c) hold."""
    if frame.empty:
        return "No reading has run yet."
    lines = []
    for (dataset, direction), group in frame.groupby(["dataset", "direction"], sort=False):
        if group["distance"].isna().all():
            lines.append(f"- {dataset}, {direction}: the paper has no numbers to compare with.")
            continue
        best = group.loc[group["distance"].idxmin()]
        if len(group) == 1:  # nothing to be closest among
            lines.append(f"- {dataset}, {direction}: only **{best['reading']}** has run, distance to the paper "
                         f"{best['distance']:.3f}.")
            continue
        default = group[group["reading"] == "default"]
        versus = (f" (the default: {default.iloc[0]['distance']:.3f})" if len(default) else "")
        lines.append(f"- {dataset}, {direction}: closest to the paper is **{best['reading']}** "
                     f"({best['what']}), distance {best['distance']:.3f}{versus}.")
    verdict = holds(frame)
    for dataset, group in verdict.groupby("dataset", sort=False):
        both = group[group["b"] & group["c"]]
        n = len(group)
        if len(both):
            lines.append(f"- {dataset}: claims (b) and (c) both hold, in every direction, under "
                         f"{', '.join(f'**{r}**' for r in both['reading'])} (of {n} readings run).")
        else:
            lines.append(f"- {dataset}: **no reading** of the {n} run makes claims (b) and (c) both hold in every "
                         "direction on a deployable threat model. (b) holds in every direction under: "
                         f"{', '.join(group[group['b']]['reading']) or 'none'}; (c) under: "
                         f"{', '.join(group[group['c']]['reading']) or 'none'} (per direction: the page's tables).")
        paper_only = group[group["b"] & group["c_paper"] & ~group["c"]]
        if len(paper_only):
            lines.append(f"  In the paper's order only (the attacker re-attacks the neutralized image, reported, "
                         f"not judged): {', '.join(paper_only['reading'])}.")
    return "\n".join(lines)


def distance_figure(frame: pd.DataFrame, dataset: str, path: Path) -> Path:
    """Readings × the paper's six numbers of each direction: each cell our value,
    coloured by its absolute difference from the paper's."""
    from .figures import figure, save

    rows = frame[frame["dataset"] == dataset]
    metrics = list(PAPER_METRICS)
    labels = [f"{r['reading']} ({r['direction']})" for _, r in rows.iterrows()]
    ours = rows[metrics].astype(float).to_numpy()
    paper = rows[[f"{m} (paper)" for m in metrics]].astype(float).to_numpy()
    fig = figure(1.3 * len(metrics) + 3.5, 0.32 * len(labels) + 1.6)
    ax = fig.add_subplot()
    image = ax.imshow(abs(ours - paper), cmap="Reds", vmin=0, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(ours):
        ax.text(j, i, "" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(metrics)), metrics, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_title(f"{dataset}: each reading's numbers, coloured by |ours − paper|", fontsize=9)
    fig.colorbar(image, ax=ax, label="|ours − paper|")
    path.parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return path


def _cell(value, digits: int = 3) -> str:
    if isinstance(value, verdicts.Verdict):
        return value.answer
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return f"{value:+.{digits}f}" if isinstance(value, float) and value < 0 else (
        f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def table_section(frame: pd.DataFrame, dataset: str) -> str:
    columns = ["reading", *PAPER_METRICS, "drop", "gain post-hoc", "attack flips", "(b) kept", "(c) post-hoc",
               "(c) adaptive", "(c) paper's order", "distance", "wall time (min)"]
    parts = []
    for direction, group in frame[frame["dataset"] == dataset].groupby("direction", sort=False):
        paper = group.iloc[0]
        header = ", ".join(f"{m} {_cell(paper[f'{m} (paper)'])}" for m in PAPER_METRICS)
        cells = pd.DataFrame({c: [_cell(v, 1 if c == "wall time (min)" else 3) for v in group[c]] for c in columns})
        parts.append(f"### {direction}\n\nThe paper: {header}.\n\n{publish.markdown_table(cells)}")
    return "\n\n".join(parts)


def shape_section(study: dict, frame: pd.DataFrame, dataset: str, results: Path, folder: Path) -> str:
    """Where the RoI's shape comes from (roiroa.roi_shape): the readings that change
    the CAM map (method, layer, target) beside the default, those that ran."""
    ran = set(frame[frame["dataset"] == dataset]["reading"]) if len(frame) else set()
    names = [r["name"] for r in study["readings"] if r["name"] in ran
             and (r["name"] == "default" or "cam" in (r.get("set") or {}))]
    configs = {n: yaml.safe_load((reading_folder(results, dataset, n) / "config.yaml").read_text()) for n in names}
    shapes = roi_shape.study_shapes(results, dataset, configs)
    if shapes.empty:
        return ""
    path = roi_shape.figure(results, dataset, configs, folder / f"{dataset}_roi_shapes.png")
    cells = shapes.map(lambda v: _cell(v, 0 if isinstance(v, float) and v > 1.5 else 2))
    return f"""### Where the RoI's shape comes from: the map or the data

{roi_shape.answer(shapes)}

{publish.markdown_table(cells)}

`r(…)`: pixel-wise Pearson correlation (mean over seeds) of the two classes' representative RoIs,
of their mean test images, and of a class's representative RoI with its mean image; `distinct RoI
masks`: different binary RoIs among the class's test images (of `images`). A RoI shaped by the data
differs between the classes about as much as their images do; one shaped by the map is alike for
both. Figure (lowest seed): [{path.name}]({folder.name}/{path.name}).
"""


def page(study: dict, datasets: list[str], results: Path, out: Path, command: str,
         allow_dirty: bool = False, readme: Path | None = None) -> Path:
    """docs/results/readings.md from every reading that ran (and README's block of
    its answer, when `readme` is given)."""
    frame, missing = study_frame(study, datasets, results)
    # the jobs of the readings that ran (a dataset's page and partial readings are not this page's)
    configs = {d: [yaml.safe_load((reading_folder(results, d, name) / "config.yaml").read_text())
                   for name in frame[frame["dataset"] == d]["reading"].unique()] if len(frame) else []
               for d in datasets}  # fmt: skip
    ran = [d for d in datasets if configs[d]]  # a dataset none of whose readings ran is only listed under Not run
    # as a dataset's page: only from clean code, or with the diff beside it
    commit_lines = [f"{d}: {publish.check_clean(results, d, allow_dirty, out, configs[d])}" for d in ran]
    folder = out.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    csv = frame.map(lambda v: v.answer if isinstance(v, verdicts.Verdict) else v)
    csv.to_csv(folder / "readings.csv", index=False)
    figures = [distance_figure(frame, d, folder / f"{d}_distance.png") for d in ran]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = "\n\n".join(f"## {d}\n\n{table_section(frame, d)}\n\n{shape_section(study, frame, d, results, folder)}"
                           for d in ran)
    not_run = "\n".join(f"- {m['dataset']} / **{m['reading']}** ({m['what']}): {m['why']}" for m in missing)
    text = f"""# Which reading of the paper reproduces it?

Generated by `python -m roiroa.readings page` (run by `{command}`) from `{results}/readings/` on {now}.
Do not edit by hand: rerun the command. Readings: `config/readings.yaml` (one factor at a time
from each dataset's page config; every reading uses that config's seeds and trained models),
with the study's common changes: {_settings(study.get('common') or {})}.

- The default reading against each dataset's published page (the same setting, rerun by the
  study's code into its own paths): {'; '.join(f"{d}: {agreement(reading_folder(results, d, 'default') / 'tables', Path('docs/results') / d)}" for d in ran) or 'no reading ran'}
- Jobs ran on: {'; '.join(f"{d}: {publish.job_hosts(results, d, configs[d])}" for d in ran) or 'no reading ran'}
- Published on: {host_description()} with {publish.versions()}; {'; '.join(commit_lines)}

## The answer

{answer_section(frame)}

Verdicts follow the rules of the published pages (below); (c) is judged on the deployable threat
models (post-hoc: `attack_then_neutralize`; adaptive where run), the paper's order is reported.
The {DISTANCE}.

{sections}

Columns: our value of each of the paper's numbers (mean over seeds; Table III in the paper's
order), `drop` = score_clean − score_mod and `gain post-hoc` = score_mod_adv − score_adv under
`attack_then_neutralize` (evaluation part, chosen θ), `attack flips` = images the first attack
turned wrong (over seeds), the verdicts, the distance, and the wall time of the reading's run here
(reusing models and stages earlier readings computed).

{publish.CLAIM_RULES}

## Not run

{not_run or 'Every reading ran.'}

## Files

Every reading's row: [readings.csv]({folder.name}/readings.csv); its tables and config:
`results/readings/<dataset>/<reading>/`. Figures: {', '.join(f'[{p.name}]({folder.name}/{p.name})' for p in figures)}.
"""
    out.write_text(text)
    if readme is not None:
        publish.replace_block(readme, "readings", f"From [{out}]({out}) ({now}):\n\n{answer_section(frame)}",
                              command, writer="python -m roiroa.readings")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["run", "page"])
    parser.add_argument("--dataset", action="append", required=True)
    parser.add_argument("--study", type=Path, default=ROOT / "config" / "readings.yaml")
    parser.add_argument("--workdir", type=Path, default=Path("."), help="where the workflow runs (its results/)")
    parser.add_argument("--only", nargs="*", help="run only these readings")
    parser.add_argument("--cores", default="all", help="as snakemake --cores (a number or all)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/readings.md"))
    parser.add_argument("--command", default="make readings-mnist")
    parser.add_argument("--readme", type=Path, help="also rewrite this file's generated `readings` block")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="write the page from modified code, with the diff beside it")
    args = parser.parse_args(argv)
    study = load_study(args.study)
    if args.action == "run":
        for dataset in args.dataset:
            run(study, dataset, args.workdir, args.cores, args.only)
    else:
        print(page(study, args.dataset, args.workdir / "results", args.out, args.command, args.allow_dirty, args.readme))


if __name__ == "__main__":
    main()
