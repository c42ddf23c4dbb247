"""Publish one dataset's results from results/ into docs/results/: a Markdown
page with the paper's value beside ours, the tables as CSV and the key figures
as PNG, with the machine, the package versions, the seeds and the wall time
of every rule. Nothing here computes a result; it only reads files the
workflow wrote, so the page can always be regenerated from results/.

    python -m roiroa.publish --dataset fashion_mnist --config config/fashion_mnist.yaml \\
        --command "make paper-fmnist" --out docs/results/fashion_mnist.md
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from .config import SETTING_OF, SWEEP_OF, as_list, config_value, fmt, setting
from .h5io import source_commit
from .runtime import host_description

PACKAGES = ("torch", "torchvision", "numpy", "h5py", "scikit-image", "pandas", "snakemake", "matplotlib")
CHOSEN = ["blob, chosen θ", "random mask of the blob's size", "RoI complement", "no neutralization"]


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return f"Python {platform.python_version()}, " + ", ".join(found)


def rule_times(results: Path, dataset: str, config: dict) -> pd.DataFrame:
    """Jobs and summed wall time per rule, from the benchmark files of `dataset`
    that belong to `config`: a file under a `key~value` folder whose value the
    config does not list (a θ dropped since, another config's attack, ε or
    blob assignment run in the same results/) is left out."""
    listed = {key: {fmt(v) for v in as_list(values)} for key, keys in SWEEP_OF.items()
              if (values := config_value(config, keys)) is not None}  # fmt: skip
    # the settings of one value the config names (one left out: its default, not known here)
    listed |= {key: {setting(config, key)} for key, keys in SETTING_OF.items()
               if keys[-1] in (config_value(config, keys[:-1]) or {})}  # fmt: skip
    rows = []
    for tsv in sorted((results / "benchmarks").glob(f"*/{dataset}/**/*.tsv")) + sorted(
            (results / "benchmarks").glob(f"*/{dataset}.tsv")):
        parts = tsv.relative_to(results / "benchmarks").parts
        folders = dict(p.removesuffix(".tsv").split("~", 1) for p in parts if "~" in p)
        if any(key in listed and value not in listed[key] for key, value in folders.items()):
            continue
        rows.append({"rule": parts[0], "s": float(pd.read_csv(tsv, sep="\t")["s"].iloc[0])})
    if not rows:
        return pd.DataFrame(columns=["rule", "jobs", "wall time (s)"])
    frame = pd.DataFrame(rows).groupby("rule", sort=False)["s"].agg(["count", "sum"]).reset_index()
    return frame.rename(columns={"count": "jobs", "sum": "wall time (s)"})


def _fmt(value, digits: int = 4) -> str:
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _interval(row, column: str) -> str:
    return f"{row[column]:.4f} [{row[column + ' 95% low']:.3f}, {row[column + ' 95% high']:.3f}]"


def markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def merged_tables(t2: pd.DataFrame, t3: pd.DataFrame) -> pd.DataFrame:
    """Tables II and III side by side, one row per setting and neutralization (joined
    on the columns that name a row, not on the scores or the per-table counts)."""
    on = [c for c in t2.columns if c in t3.columns and not c.startswith(("score_", "p ", "paper"))
          and c not in ("blob_pixels", "n_images", "seeds")]
    return t2.merge(t3, on=on, suffixes=("", "_t3"))


def compares_settings(t1: pd.DataFrame) -> bool:
    """Whether the tables hold more than one attack, ε or RoA source (a comparison)."""
    return len(t1[["attack", "eps", "roa_source"]].drop_duplicates()) > 1


def setting_folder(row, attack: str | None = None, roa: str | None = None) -> str:
    """The glob (under results/{dataset}) of seed 0's d2~ folder of a table row's
    settings, with another attack or RoA source when given (`**`: the levels of
    the settings of one value, roiroa.config.SETTING_OF, between them)."""
    return (f"*/seed~0/attack~{attack or row['attack']}/eps~{row['eps']:g}/cam~{row['cam']}/**/"
            f"d1~{row['delta1']:g}/roa~{roa or row['roa_source']}/d2~{row['delta2']:g}")


def ssim_section(t1: pd.DataFrame) -> str:
    rows = []
    for _, r in t1.iterrows():
        rows.append({
            "direction": f"{r['source']} → {r['target']}", "RoA": r["roa_source"], "attack": _attack(r),
            "SSIM samples (mean ± sd over seeds)": f"{r['SSIM value (mean of samples)']:.4f} ± "
            f"{r['SSIM value (mean of samples) sd']:.4f}",
            "paper": _fmt(r.get("SSIM value (mean of samples) (paper)")),
            "shuffled pairs (null)": f"{r['SSIM, shuffled pairs (null)']:.4f} ± {r['SSIM, shuffled pairs (null) sd']:.4f}",
            "SSIM representatives": f"{r['SSIM value (representatives)']:.4f} ± {r['SSIM value (representatives) sd']:.4f}",
            "paper ": _fmt(r.get("SSIM value (representatives) (paper)")),
        })
    return markdown_table(pd.DataFrame(rows))


def defense_section(t2: pd.DataFrame, t3: pd.DataFrame) -> str:
    """Tables II and III at the θ chosen on the calibration part, with the baselines."""
    both = merged_tables(t2, t3)
    both = both[both["neutralization"].isin(CHOSEN)]
    rows = []
    for _, r in both.iterrows():
        rows.append({
            "direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"],
            "neutralization": r["neutralization"],
            "θ per seed": r["theta"], "pixels": f"{r['blob_pixels']:.0f}", "n": r["n_images"],
            "score_clean": _interval(r, "score_clean"), "score_mod": _interval(r, "score_mod"),
            "paper score_mod": _fmt(r.get("score_mod (paper)")),
            "score_adv": _interval(r, "score_adv"), "score_mod_adv": _interval(r, "score_mod_adv"),
            "paper score_mod_adv": _fmt(r.get("score_mod_adv (paper)")),
            "asr_mod": _fmt(r["asr_mod"]),
            "p (adv vs mod_adv)": f"{r['p McNemar (adv vs mod_adv)']:.2g}",
        })
    return markdown_table(pd.DataFrame(rows))


def sweep_section(t2: pd.DataFrame, t3: pd.DataFrame) -> str:
    both = merged_tables(t2, t3)
    both = both[both["neutralization"] == "blob, θ sweep"]
    rows = [{
        "direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"], "θ": r["theta"],
        "blob pixels": f"{r['blob_pixels']:.0f}", "score_mod": f"{r['score_mod']:.4f}",
        "paper score_mod": _fmt(r.get("score_mod (paper)")), "score_adv": f"{r['score_adv']:.4f}",
        "score_mod_adv": f"{r['score_mod_adv']:.4f}", "paper score_mod_adv": _fmt(r.get("score_mod_adv (paper)")),
        "asr_mod": _fmt(r["asr_mod"]),
    } for _, r in both.iterrows()]
    return markdown_table(pd.DataFrame(rows))


@lru_cache(maxsize=None)
def _read_blob(path: Path) -> dict:
    """The class masks of a blob.h5 (read once: every row of a setting compares with
    the same FGSM blob)."""
    import h5py

    with h5py.File(path) as f:
        return {c: f["blob"][c][:] for c in f["blob"]}


def _blob(results: Path, dataset: str, row, attack: str, roa: str, theta: str):
    """The class masks of seed 0's blob for a table row's settings (another attack
    and RoA source allowed), or None when the file is not at hand."""
    path = next((results / dataset).glob(f"{setting_folder(row, attack, roa)}/**/theta~{theta}/blob.h5"), None)
    return None if path is None else _read_blob(path)


def blob_iou(results: Path, dataset: str, row, theta: str) -> float | None:
    """IoU of a row's blob (seed 0, source class, θ) with the paper's FGSM and
    perturbation-RoA blob at the same ε, CAM and δs: does a graded RoA change the blob?"""
    mine = _blob(results, dataset, row, row["attack"], row["roa_source"], theta)
    paper = _blob(results, dataset, row, "fgsm", "perturbation", theta)
    if mine is None or paper is None:
        return None
    a, b = mine[str(row["source"])], paper[str(row["source"])]
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _attack(row) -> str:
    """An attack and its budget, as the tables' rows name them."""
    return f"{row['attack']} ε={row['eps']:g}"


def attack_section(results: Path, dataset: str, t1: pd.DataFrame, t2: pd.DataFrame, t3: pd.DataFrame) -> str:
    """One row per direction, attack, ε and RoA source (blob at the chosen θ)."""
    if not compares_settings(t1):
        return "One attack and RoA source only (see the attack configs for the comparison)."
    theta = sorted(t2.loc[t2["neutralization"] == "blob, θ sweep", "theta"].unique(), key=float)[0]
    both = merged_tables(t2, t3)
    both = both[both["neutralization"] == "blob, chosen θ"]
    rows, ious = [], []
    for _, r in both.iterrows():
        ssim = t1[(t1["source"] == r["source"]) & (t1["attack"] == r["attack"]) & (t1["eps"] == r["eps"])
                  & (t1["roa_source"] == r["roa_source"])].iloc[0]
        rows.append({
            "direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"],
            "RoA fraction": f"{ssim['RoA fraction']:.3f}",
            "SSIM (true / shuffled)": f"{ssim['SSIM value (mean of samples)']:.3f} / "
            f"{ssim['SSIM, shuffled pairs (null)']:.3f}",
            "blob pixels": f"{r['blob_pixels']:.0f}", "score_adv": f"{r['score_adv']:.4f}",
            "score_mod": _interval(r, "score_mod"), "score_mod_adv": _interval(r, "score_mod_adv"),
            "p (adv vs mod_adv)": f"{r['p McNemar (adv vs mod_adv)']:.2g}",
        })
        ious.append(blob_iou(results, dataset, r, theta))
    table = pd.DataFrame(rows)
    if any(iou is not None for iou in ious):  # the blob files are there (not when publishing from copied tables)
        table[f"blob IoU with FGSM's (θ={theta}, seed 0)"] = [_fmt(iou, 2) for iou in ious]
    return markdown_table(table)


def training_section(results: Path, dataset: str) -> str:
    rows = []
    for path in sorted((results / dataset).glob("*/seed~*/train.json")):
        t = json.loads(path.read_text())
        rows.append({"pair": path.parts[-3], "seed": t["seed"], "train images": t["n_train"],
                     "test images": t["n_test"], "epochs": len(t["history"]["loss"]),
                     "test accuracy": f"{t['test_accuracy']:.4f}", "device": t.get("device", "")})
    return markdown_table(pd.DataFrame(rows))


def trained_on(results: Path, dataset: str) -> str:
    """Where the jobs ran: the machines and versions train.json recorded for each model."""
    hosts = set()
    for path in (results / dataset).glob("*/seed~*/train.json"):
        record = json.loads(path.read_text())
        host = record.get("host") or f"device {record.get('device', 'unknown')} (host not recorded)"
        versions = record.get("versions", {})
        hosts.add(f"{host} with torch {versions.get('torch', '?')}, Python {versions.get('python', '?')}")
    return "; ".join(sorted(hosts)) or "unknown"


def copy_figures(results: Path, dataset: str, folder: Path, t1: pd.DataFrame) -> list[Path]:
    """The class representatives of the first seed and drawn setting of the tables, the θ
    sweeps, and the ε curves when the tables sweep ε (a results folder may also
    hold figures of other configs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):  # from an earlier publication of this page
        stale.unlink()
    wanted = []
    for _, r in t1.iterrows():  # the first setting whose representatives were drawn
        wanted = sorted((results / dataset).glob(f"{setting_folder(r)}/**/figures/*/representatives.png"))
        if wanted:
            break
    wanted += sorted((results / "figures" / dataset).glob("*/*/scores_vs_theta.png"))
    if t1["eps"].nunique() > 1:
        wanted += sorted((results / "figures" / dataset).glob("*/*/accuracy_vs_eps.png"))
    copied = []
    for source in wanted:
        direction = source.parent.name
        target = folder / f"{direction}_{source.name}"
        shutil.copyfile(source, target)
        copied.append(target)
    return copied


def claims(t1: pd.DataFrame, t2: pd.DataFrame, t3: pd.DataFrame, max_clean_drop: float) -> str:
    """The paper's three claims, judged from the tables by stated rules, per direction
    and attack (blob at the chosen θ, evaluation part, pooled over seeds)."""
    lines = []
    for _, r in t1.iterrows():
        true, null = r["SSIM value (mean of samples)"], r["SSIM, shuffled pairs (null)"]
        spread = 2 * max(r["SSIM value (mean of samples) sd"], r["SSIM, shuffled pairs (null) sd"], 1e-4)
        paper = r.get("SSIM value (mean of samples) (paper)")
        lines.append(
            f"- (a) {r['source']} → {r['target']}, {_attack(r)}, RoA from {r['roa_source']}: per-image SSIM "
            f"{true:.3f} ± {r['SSIM value (mean of samples) sd']:.3f}"
            + (f" (paper {paper:.3f})" if pd.notna(paper) else "")
            + f"; shuffled-pair null {null:.3f}. Low (< 0.3): **{'yes' if true < 0.3 else 'no'}**; "
            f"image-specific (differs from the null by more than 2 sd): **{'yes' if abs(true - null) > spread else 'no'}**."
        )
    merged = merged_tables(t2, t3)
    for (source, target, _, _, roa), group in merged.groupby(["source", "target", "attack", "eps", "roa_source"],
                                                              sort=False):
        attack = _attack(group.iloc[0])
        by = group.set_index("neutralization")
        if "blob, chosen θ" not in by.index:
            continue
        blob = by.loc["blob, chosen θ"]
        drop = blob["score_clean"] - blob["score_mod"]
        kept = drop <= max_clean_drop or blob["p McNemar (clean vs mod)"] >= 0.05
        lines.append(
            f"- (b) {source} → {target}, {attack}, RoA from {roa}: score_mod {_interval(blob, 'score_mod')} against score_clean "
            f"{blob['score_clean']:.4f} (p = {blob['p McNemar (clean vs mod)']:.2g}, θ per seed {blob['theta']}, "
            f"{blob['blob_pixels']:.0f} pixels). Clean accuracy kept: **{'yes' if kept else 'no'}**."
        )
        gain = blob["score_mod_adv"] - blob["score_adv"]
        raised = gain > 0 and blob["p McNemar (adv vs mod_adv)"] < 0.05
        text = (f"- (c) {source} → {target}, {attack}, RoA from {roa}: score_mod_adv {_interval(blob, 'score_mod_adv')} against "
                f"score_adv {blob['score_adv']:.4f} (p = {blob['p McNemar (adv vs mod_adv)']:.2g}); "
                f"accuracy under the repeated attack raised: **{'yes' if raised else 'no'}**")
        if "random mask of the blob's size" in by.index:
            random = by.loc["random mask of the blob's size"]
            better = blob["score_mod_adv 95% low"] > random["score_mod_adv"]
            text += (f"; a random mask of the same size gives {random['score_mod_adv']:.4f}: the blob does "
                     f"better than chance placement: **{'yes' if better else 'no'}**")
        lines.append(text + ".")
    return "\n".join(lines)


def replace_block(path: Path, block: str, body: str, command: str) -> None:
    """Replace the generated block named `block` in a Markdown file (between its markers)."""
    begin, end = f"<!-- BEGIN generated: {block} -->", f"<!-- END generated: {block} -->"
    text = path.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{path} has no {begin} … {end} block to replace")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    note = f"<!-- written by `{command}` (python -m roiroa.publish); do not edit by hand -->"
    path.write_text(f"{head}{begin}\n{note}\n\n{body}\n\n{end}{tail}")


def publish(dataset: str, config_path: Path, command: str, results: Path, out: Path,
            readme: Path | None = None, block: str | None = None) -> Path:
    config = yaml.safe_load(config_path.read_text())
    tables = {name: pd.read_csv(results / "tables" / f"{name}.csv", dtype={"source": str, "target": str, "theta": str})
              for name in ("table1_ssim", "table2_classification", "table3_reattack")}
    tables = {name: frame[frame["dataset"] == dataset].reset_index(drop=True) for name, frame in tables.items()}
    if any(frame.empty for frame in tables.values()):
        raise SystemExit(f"results/tables holds no {dataset} rows: run the workflow with {config_path} first")
    folder = out.with_suffix("")
    for name, frame in tables.items():
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / f"{name}.csv", index=False)
    figures = copy_figures(results, dataset, folder, tables["table1_ssim"])
    times = rule_times(results, dataset, config)
    t1, t2, t3 = tables.values()
    chosen = t2[t2["neutralization"] == "blob, chosen θ"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Results: {dataset}

Generated by `python -m roiroa.publish` (run by `{command}`) from `{results}/` on {now}.
Do not edit by hand: rerun the command. Config: `{config_path}` (seeds {config.get('seeds')}).

- Jobs ran on: {trained_on(results, dataset)}
- Published on: {host_description()} with {versions()}; roiroa commit {source_commit()}
- Blob fitted on: {', '.join(sorted(set(t2['fit_on'])))}; θ chosen per seed on the calibration part
  (criterion: `roiroa.selection`); the chosen θ per seed: {', '.join(sorted(set(chosen['theta'])))}.

## Models

{training_section(results, dataset)}

## Table I: SSIM of RoI and RoA (mean ± sd over seeds)

{ssim_section(t1)}

The shuffled-pair null pairs each RoI with the RoA of a random other image of its
class: where it equals the true pairing, the SSIM is not specific to the image.

## Tables II and III at the chosen θ, with baselines

Accuracy with a 95% Wilson interval on the counts pooled over seeds (n = images × seeds);
`asr_mod` = share of the images still right after neutralization that the repeated attack
flips; p = exact McNemar test of score_adv against score_mod_adv on the same images.

{defense_section(t2, t3)}

## The paper's claims, judged by stated rules

{claims(t1, t2, t3, (config.get('blob') or {{}}).get('max_clean_drop', 0.01))}

## Attacks and RoA sources

{attack_section(results, dataset, t1, t2, t3)}

## The θ sweep (blob only, mean over seeds; evaluation part)

{sweep_section(t2, t3)}

## Wall time per rule

{markdown_table(times)}

## Files

Tables: {', '.join(f'[{p.name}]({folder.name}/{p.name})' for p in sorted(folder.glob('*.csv')))}.
Figures: {', '.join(f'[{p.name}]({folder.name}/{p.name})' for p in figures)}.
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if readme is not None:
        max_drop = (config.get("blob") or {}).get("max_clean_drop", 0.01)
        total = times["wall time (s)"].sum() / 60 if len(times) else float("nan")
        # a comparison of attacks, ε or RoA sources is summed up by its comparison table
        # (its claims, one per attack and source, stay on the page)
        body = attack_section(results, dataset, t1, t2, t3) if compares_settings(t1) else (
            f"{defense_section(t2, t3)}\n\n{claims(t1, t2, t3, max_drop)}")
        summary = (f"From [{out}]({out}) ({now}; jobs ran on {trained_on(results, dataset)}; "
                   f"seeds {config.get('seeds')}; the rules' wall times add up to {total:.0f} min there):\n\n{body}")
        replace_block(readme, block or dataset, summary, command)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--command", required=True, help="the command that produced the results (for the page)")
    parser.add_argument("--results", default=Path("results"), type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--readme", type=Path, help="also rewrite this file's generated block of the dataset")
    parser.add_argument("--block", help="the name of that block (default: the dataset)")
    args = parser.parse_args(argv)
    print(publish(args.dataset, args.config, args.command, args.results, args.out, args.readme, args.block))


if __name__ == "__main__":
    main()
