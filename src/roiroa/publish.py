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
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from .config import (DERIVED_OF, SETTING_OF, SWEEP_OF, UPSTREAM_LEVELS, as_list, attack_level, config_value, fmt,
                     setting, with_defaults)
from .model_tag import LEVEL as MODEL_LEVEL, model_tag
from .orders import PAPER_ORDER
from .paper import PAPER
from .h5io import source_commit
from .stats import format_p, mcnemar_exact_log10
from . import tables, verdicts
from .environment import cpu_label
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


def of_config(config: dict, dataset: str):
    """Whether a file (its path's parts) belongs to `config`: none of its `key~value`
    folders holds a value the config does not list (a θ dropped since, another
    config's attack, ε or blob assignment, or another config's models of `dataset`,
    run in the same results/), and it skips none of the upstream levels (a file of
    an older layout, before a level was added, is no page's)."""
    # every level's values as the config runs them, defaults included: a setting the
    # config leaves at its default (attack.space: native) keeps out another config's
    # files that set it (the MNIST page counted the model-input reading's jobs)
    full = with_defaults(config)
    listed = {key: {fmt(v) for v in as_list(values)} for key, keys in SWEEP_OF.items()
              if (values := config_value(full, keys)) is not None}  # fmt: skip
    listed |= {key: {setting(full, key)} for key in (*SETTING_OF, *DERIVED_OF)}
    listed["attack_settings"] = {attack_level(full, method) for method in full["attack"]["method"]}
    listed[MODEL_LEVEL] = {model_tag(config, dataset)}  # another config's models left out

    def belongs(parts) -> bool:
        folders = dict(p.removesuffix(".tsv").split("~", 1) for p in parts if "~" in p)
        upstream = [key for key in folders if key in UPSTREAM_LEVELS]
        if upstream != list(UPSTREAM_LEVELS[: len(upstream)]):
            return False  # a level skipped: a file of an older layout
        return not any(key in listed and value not in listed[key] for key, value in folders.items())

    return belongs


def rule_times(results: Path, dataset: str, config: dict) -> pd.DataFrame:
    """Jobs and summed wall time per rule, from the benchmark files of `dataset`
    that belong to `config` (of_config)."""
    belongs = of_config(config, dataset)
    rows = []
    for tsv in sorted((results / "benchmarks").glob(f"*/{dataset}/**/*.tsv")) + sorted(
            (results / "benchmarks").glob(f"*/{dataset}.tsv")):
        parts = tsv.relative_to(results / "benchmarks").parts
        if not belongs(parts):
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


def _interval(row, column: str, signed: bool = False) -> str:
    """'value [low, high]' of a column and its 95% interval columns ('' when absent)."""
    if column not in row or pd.isna(row[column]):
        return ""
    number = "+.4f" if signed else ".4f"
    bound = "+.3f" if signed else ".3f"
    return f"{row[column]:{number}} [{row[column + ' 95% low']:{bound}}, {row[column + ' 95% high']:{bound}}]"


def markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def merged_tables(t2: pd.DataFrame, t3: pd.DataFrame) -> pd.DataFrame:
    """Tables II and III side by side, one row per setting and neutralization (joined
    on the columns that name a row, not on the scores or the per-table counts)."""
    on = [c for c in t2.columns if c in t3.columns and not c.startswith(("score_", "p ", "paper"))
          and not c.startswith(("random draws", "log10 p", "θ met")) and c not in (
              "blob_pixels", "n_images", "seeds", tables.PER_SEED, tables.POOLED)]
    return t2.merge(t3, on=on, suffixes=("", "_t3"))


def compares_settings(t1: pd.DataFrame) -> bool:
    """Whether the tables hold more than one attack, ε or RoA source (a comparison)."""
    return len(t1[["attack", "eps", "roa_source"]].drop_duplicates()) > 1


def setting_folder(row, attack: str | None = None, roa: str | None = None, model: str = "*") -> str:
    """The glob (under results/{dataset}) of seed 0's d2~ folder of a table row's
    settings, with another attack or RoA source when given (`**`: the levels of
    the settings of one value, roiroa.config.SETTING_OF, between them), of the
    models in model~{model} (roiroa.model_tag: the config's; the tables do not name it)."""
    return (f"*/model~{model}/seed~0/space~{row.get('space', '*')}/attack~{attack or row['attack']}/eps~{row['eps']:g}/"
            f"cam~{row['cam']}/**/d1~{row['delta1']:g}/roa~{roa or row['roa_source']}/d2~{row['delta2']:g}")


def ssim_section(t1: pd.DataFrame) -> str:
    rows = []
    for _, r in t1.iterrows():
        rows.append({
            "direction": f"{r['source']} → {r['target']}", "RoA": r["roa_source"], "attack": _attack(r),
            "seeds": r["seeds"], "images per seed": f"{r[tables.PER_SEED]:.0f}",
            "SSIM samples (mean ± sd over seeds)": _mean_sd(r, "SSIM value (mean of samples)"),
            "paper": _fmt(r.get("SSIM value (mean of samples) (paper)")),
            "shuffled pairs (null)": _mean_sd(r, "SSIM, shuffled pairs (null)"),
            "true − shuffled (paired) [95%]": _interval(r, tables.PAIRED_SSIM, signed=True),
            "random masks, same sizes": _mean_sd(r, "SSIM, random masks of the same sizes"),
            "true − random (paired) [95%]": _interval(r, tables.PAIRED_RANDOM, signed=True),
            "SSIM representatives": _mean_sd(r, "SSIM value (representatives)"),
            "paper ": _fmt(r.get("SSIM value (representatives) (paper)")),
        })
    return markdown_table(pd.DataFrame(rows))


def _mean_sd(row, column: str) -> str:
    if column not in row or pd.isna(row[column]):
        return ""
    sd = row.get(column + " sd")
    return f"{row[column]:.4f}" + (f" ± {sd:.4f}" if pd.notna(sd) else "")


def defense_section(t2: pd.DataFrame, t3: pd.DataFrame) -> str:
    """Tables II and III at the θ chosen on the calibration part, with the baselines,
    one row per threat model of the re-attack."""
    both = merged_tables(t2, t3)
    both = both[both["neutralization"].isin(CHOSEN)]
    drop, gain = tables.DIFFERENCES["table2_classification"][0], tables.DIFFERENCES["table3_reattack"][0]
    rows = []
    for _, r in both.iterrows():
        rows.append({
            "direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"],
            "re-attack (threat model)": r.get("order", ""),
            "neutralization": r["neutralization"],
            "θ per seed": r["theta"] + _constraint_note(r), "pixels": f"{r['blob_pixels']:.0f}",
            "images per seed": f"{r[tables.PER_SEED]:.0f}", "seeds": r["seeds"],
            "score_clean": _interval(r, "score_clean"), "score_mod": _interval(r, "score_mod"),
            "paper score_mod": _fmt(r.get("score_mod (paper)")),
            "drop (clean − mod)": _interval(r, drop, signed=True),
            "score_adv": _interval(r, "score_adv"), "score_mod_adv": _interval(r, "score_mod_adv"),
            "paper score_mod_adv": _fmt(r.get("score_mod_adv (paper)")),
            "gain (mod_adv − adv)": _interval(r, gain, signed=True),
            "asr_mod": _fmt(r["asr_mod"]),
            "p (adv vs mod_adv)": format_p(r.get("log10 p McNemar (adv vs mod_adv)")),
        })
    return markdown_table(pd.DataFrame(rows))


def _constraint_note(row) -> str:
    """' (constraint met in 2 of 3 seeds)' where some seed's θ did not meet the clean-loss constraint."""
    met = row.get("θ met the clean-loss constraint (seeds)")
    if not isinstance(met, str):
        return ""
    done, total = met.split(" of ")
    return "" if done == total else f" (clean-loss constraint met in {met} seeds; otherwise the least bad θ)"


def sweep_section(t2: pd.DataFrame, t3: pd.DataFrame) -> str:
    both = merged_tables(t2, t3)
    both = both[both["neutralization"] == "blob, θ sweep"]
    rows = [{
        "direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"],
        "re-attack": r.get("order", ""), "θ": r["theta"], "blob pixels": f"{r['blob_pixels']:.0f}",
        "score_mod": f"{r['score_mod']:.4f}",
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


def _blob(results: Path, dataset: str, row, attack: str, roa: str, theta: str, model: str):
    """The class masks of seed 0's blob for a table row's settings (another attack
    and RoA source allowed), or None when the file is not at hand."""
    folder = setting_folder(row, attack, roa, model)
    path = next((results / dataset).glob(f"{folder}/**/theta~{theta}/blob.h5"), None)
    return None if path is None else _read_blob(path)


def blob_iou(results: Path, dataset: str, row, theta: str, model: str = "*") -> float | None:
    """IoU of a row's blob (seed 0, source class, θ) with the paper's FGSM and
    perturbation-RoA blob at the same ε, CAM and δs: does a graded RoA change the blob?"""
    mine = _blob(results, dataset, row, row["attack"], row["roa_source"], theta, model)
    paper = _blob(results, dataset, row, "fgsm", "perturbation", theta, model)
    if mine is None or paper is None:
        return None
    a, b = mine[str(row["source"])], paper[str(row["source"])]
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def _attack(row) -> str:
    """An attack and its budget, as the tables' rows name them."""
    return f"{row['attack']} ε={row['eps']:g}"


def attack_section(results: Path, dataset: str, t1: pd.DataFrame, t2: pd.DataFrame, t3: pd.DataFrame,
                   model: str = "*") -> str:
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
            "re-attack (threat model)": r.get("order", ""), "RoA fraction": f"{ssim['RoA fraction']:.3f}",
            "SSIM (true / shuffled)": f"{ssim['SSIM value (mean of samples)']:.3f} / "
            f"{ssim['SSIM, shuffled pairs (null)']:.3f}",
            "blob pixels": f"{r['blob_pixels']:.0f}", "score_adv": f"{r['score_adv']:.4f}",
            "score_mod": _interval(r, "score_mod"), "score_mod_adv": _interval(r, "score_mod_adv"),
            "p (adv vs mod_adv)": format_p(r.get("log10 p McNemar (adv vs mod_adv)")),
        })
        ious.append(blob_iou(results, dataset, r, theta, model))
    table = pd.DataFrame(rows)
    if any(iou is not None for iou in ious):  # the blob files are there (not when publishing from copied tables)
        table[f"blob IoU with FGSM's (θ={theta}, seed 0)"] = [_fmt(iou, 2) for iou in ious]
    return markdown_table(table)


EQUAL_SIZE_KEYS = ["source", "target", "attack", "eps", "roa_source", "order", "equal_size_pixels"]


def equal_size_rows(results: Path, dataset: str, config: dict) -> pd.DataFrame:
    """Per-seed rows of the equal_size.json files of the page's config (its folders,
    its k of blob.equal_size_pixels); empty when it lists no k or none was run."""
    pixels = (config.get("blob") or {}).get("equal_size_pixels") or []
    paths = config_files(results, dataset, config, "**/equal_size.json")
    if not pixels or not paths:
        return pd.DataFrame()
    rows = pd.DataFrame(tables.load_rows(paths))
    return rows[rows["equal_size_pixels"].isin(pixels)].astype({"source": str, "target": str})


def equal_size_section(rows: pd.DataFrame) -> str:
    """Per direction, attack, RoA source, order and k: the k highest-ŪV pixels'
    score_mod and score_mod_adv (mean over seeds [seed-level 95% interval], as the
    tables give them) beside the mean of random masks of k pixels, and whether the
    blob's placement beats them (verdicts.better_than_random on each draw's
    score_mod_adv averaged over seeds); then, per direction, order and k, which
    setting's k pixels do best."""
    table, best = [], []
    for key, group in rows.groupby(EQUAL_SIZE_KEYS, sort=True):
        where = dict(zip(EQUAL_SIZE_KEYS, key))
        blob, random = group[group["neutralization"] == "equal_size_blob"], group[group["neutralization"] == "random_mask"]
        scores = tables.seed_level_score(blob, "mod") | tables.seed_level_score(blob, "mod_adv")
        draws = next(iter(tables.draw_scores(random, EQUAL_SIZE_KEYS, "score_mod_adv").values()), "")
        flips = int(blob["asr_adv_flipped"].sum()) if "asr_adv_flipped" in blob else None
        placed = verdicts.better_than_random(scores["score_mod_adv"], [float(v) for v in draws.split()], flips)
        table.append({
            "direction": f"{where['source']} → {where['target']}", "attack": _attack(where), "RoA": where["roa_source"],
            "re-attack (threat model)": where["order"], "k (pixels)": where["equal_size_pixels"],
            "seeds": " ".join(str(v) for v in sorted(blob["seed"])),
            "score_mod": _interval(scores, "score_mod"), "random k: score_mod": f"{random['score_mod'].mean():.4f}",
            "score_mod_adv": _interval(scores, "score_mod_adv"),
            "random k: score_mod_adv": f"{random['score_mod_adv'].mean():.4f}",
            "beats k random pixels (score_mod_adv)": str(placed),
        })
        best.append(where | {"score_mod_adv": scores["score_mod_adv"], "beats": placed.answer})
    lines = []
    for (source, target, order, k), group in pd.DataFrame(best).groupby(["source", "target", "order", "equal_size_pixels"]):
        top, low = group.loc[group["score_mod_adv"].idxmax()], group.loc[group["score_mod_adv"].idxmin()]
        if len(group) < 2:
            ranked = ""
        elif round(top["score_mod_adv"], verdicts.SCORE_DECIMALS) == round(low["score_mod_adv"], verdicts.SCORE_DECIMALS):
            ranked = f"every setting's k pixels score the same (score_mod_adv {top['score_mod_adv']:.4f}); "
        else:
            ranked = (f"the k pixels of {_attack(top)}, RoA {top['roa_source']} do best (score_mod_adv "
                      f"{top['score_mod_adv']:.4f}), those of {_attack(low)}, RoA {low['roa_source']} worst "
                      f"({low['score_mod_adv']:.4f}); ")
        lines.append(f"- {source} → {target}, `{order}`, k = {k}: {ranked}"
                     f"{(group['beats'] == verdicts.YES).sum()} of {len(group)} settings beat k random pixels.")
    not_run: dict[tuple[str, str], set[str]] = {}
    for attack, notes in zip(rows["attack"], rows.get("orders_not_run", [None] * len(rows))):
        for order, why in (notes if isinstance(notes, dict) else {}).items():
            not_run.setdefault((order, why), set()).add(attack)
    skipped = "".join(f"\n\n`{order}` is not run under {', '.join(sorted(attacks))}: {why}."
                      for (order, why), attacks in sorted(not_run.items()))
    return (f"{markdown_table(pd.DataFrame(table))}\n\nAt each k every setting's blob is its class's k pixels of "
            f"highest ŪV (wherever they are), so the rows differ in where the pixels are, not in how many: "
            f"the blobs at θ above mix both.\n\n" + "\n".join(lines) + skipped)


def training_section(results: Path, dataset: str, model: str = "*") -> str:
    """The models of model~{model} (the config's), one row per pair and seed."""
    rows = []
    for path in sorted((results / dataset).glob(f"*/model~{model}/seed~*/train.json")):
        t = json.loads(path.read_text())
        rows.append({"pair": path.parts[-4], "seed": t["seed"], "train images": t["n_train"],
                     "test images": t["n_test"], "epochs": len(t["history"]["loss"]),
                     "test accuracy": f"{t['test_accuracy']:.4f}", "device": t.get("device", "")})
    return markdown_table(pd.DataFrame(rows))


def trained_on(results: Path, dataset: str) -> str:
    """Where the jobs ran: the machines and versions train.json recorded for each model."""
    hosts = set()
    for path in (results / dataset).glob("*/model~*/seed~*/train.json"):
        record = json.loads(path.read_text())
        host = record.get("host") or f"device {record.get('device', 'unknown')} (host not recorded)"
        versions = record.get("versions", {})
        hosts.add(f"{host} with torch {versions.get('torch', '?')}, Python {versions.get('python', '?')}")
    return "; ".join(sorted(hosts)) or "unknown"


def copy_figures(results: Path, dataset: str, folder: Path, t1: pd.DataFrame, model: str = "*") -> list[Path]:
    """The class representatives of the first seed and drawn setting of the tables, the θ
    sweeps, and the ε curves when the tables sweep ε (a results folder may also
    hold figures of other configs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):  # from an earlier publication of this page
        stale.unlink()
    wanted = []
    for _, r in t1.iterrows():  # the first setting whose representatives were drawn
        wanted = sorted((results / dataset).glob(f"{setting_folder(r, model=model)}/**/figures/*/representatives.png"))
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


# The re-attack's threat models (docs/attacks.md): who the attacker is in each order.
THREAT_MODELS = {
    "neutralize_then_attack": "as in the paper: the attack re-run on S_mod, free to write into the blob "
                              "(not a deployable defense)",
    "attack_then_neutralize": "post-hoc: the blob blanked out of the adversarial image "
                              "(the attacker ignores the defense)",
    "adaptive": "adaptive: the attacker knows the blob and attacks through it",
    "neutralize_attack_neutralize": "the attack on S_mod, then the blob blanked again",
}
# Orders claim (c) is judged on: a defense is judged where it could be deployed.
DEPLOYABLE = ("attack_then_neutralize", "adaptive")


def threat_model(order: str) -> str:
    return THREAT_MODELS.get(order, order)


def claim_records(t1: pd.DataFrame, t2: pd.DataFrame, t3: pd.DataFrame, margin: float) -> list[dict]:
    """The paper's three claims judged by the rules of roiroa.verdicts, per direction,
    attack, RoA source and (claim c) threat model: blob at the chosen θ, evaluation
    part, intervals over seeds. One record per verdict: claim, direction, setting,
    threat model, answer, reason, key number."""
    records = []
    for _, r in t1.iterrows():
        where = {"direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "roa": r["roa_source"]}
        ssim = r["SSIM value (mean of samples)"]
        low = verdicts.low_similarity(r.get(tables.PAIRED_RANDOM + tables.LOW), r.get(tables.PAIRED_RANDOM + tables.HIGH))
        specific = verdicts.image_specific(r.get(tables.PAIRED_SSIM + tables.LOW), r.get(tables.PAIRED_SSIM + tables.HIGH))
        records.append({"claim": "a", "test": "low", **where, "threat": "", "verdict": low,
                        "number": f"SSIM {ssim:.3f}{_paper_number(r, 'SSIM value (mean of samples)', digits=3)}"})
        records.append({"claim": "a", "test": "image-specific", **where, "threat": "", "verdict": specific,
                        "number": f"true − shuffled {_fmt(r.get(tables.PAIRED_SSIM), 4)}"})
    merged = merged_tables(t2, t3)
    group_by = ["source", "target", "attack", "eps", "roa_source"]
    for _, group in merged.groupby(group_by, sort=False):
        chosen = group[group["neutralization"] == "blob, chosen θ"]
        if chosen.empty:
            continue
        first = chosen.iloc[0]
        where = {"direction": f"{first['source']} → {first['target']}", "attack": _attack(first),
                 "roa": first["roa_source"]}
        drop = tables.DIFFERENCES["table2_classification"][0]
        kept = verdicts.clean_accuracy_kept(first[drop + tables.LOW], first[drop + tables.HIGH], margin)
        records.append({"claim": "b", "test": "clean accuracy kept", **where, "threat": "",
                        "verdict": kept, "number": f"drop {first[drop]:+.4f}{_paper_number(first, 'score_clean', 'score_mod')}"})
        gain = tables.DIFFERENCES["table3_reattack"][0]
        for _, row in chosen.iterrows():
            order = row.get("order", PAPER_ORDER)
            flips = int(row["attack flips (images × seeds)"])
            raised = verdicts.attack_accuracy_raised(row[gain + tables.LOW], row[gain + tables.HIGH], flips)
            random = _random_draw_scores(group, row)
            # the paper's Table III is of its own order: beside that order's gain only
            paper = _paper_number(row, "score_mod_adv", "score_adv") if order == PAPER_ORDER else ""
            records.append({"claim": "c", "test": "accuracy under the repeated attack raised", **where,
                            "threat": order, "deployable": order in DEPLOYABLE, "verdict": raised,
                            "number": f"gain {row[gain]:+.4f}{paper}"})
            if random is not None:
                records.append({"claim": "c", "test": "blob better than random placement", **where, "threat": order,
                                "deployable": order in DEPLOYABLE,
                                "verdict": verdicts.better_than_random(row["score_mod_adv"], random, flips),
                                "number": f"score_mod_adv {row['score_mod_adv']:.4f}"})
    return records


def _paper_number(row, metric: str, minus: str | None = None, digits: int = 4) -> str:
    """'; paper <value>' of a claim's key number (metric, or metric − minus, from the
    paper's columns of the row), or '' where the paper has no value for the row."""
    value = row.get(metric + PAPER, float("nan"))
    if minus is not None:
        value = value - row.get(minus + PAPER, float("nan"))
    if pd.isna(value):
        return ""
    return f"; paper {value:+.{digits}f}" if minus else f"; paper {value:.{digits}f}"


def _random_draw_scores(group: pd.DataFrame, row) -> list[float] | None:
    """Each random draw's score_mod_adv (mean over seeds) for a chosen-θ row's threat
    model, from the `random_draws_mod_adv` column tables writes; None without draws."""
    random = group[(group["neutralization"] == "random mask of the blob's size")
                   & (group.get("order", "") == row.get("order", ""))]
    if random.empty or "random draws score_mod_adv" not in random or pd.isna(random.iloc[0]["random draws score_mod_adv"]):
        return None
    return [float(v) for v in str(random.iloc[0]["random draws score_mod_adv"]).split()]


def claims(t1: pd.DataFrame, t2: pd.DataFrame, t3: pd.DataFrame, margin: float) -> str:
    """The verdicts of claim_records as a list, with the rules they follow."""
    lines = []
    for rec in claim_records(t1, t2, t3, margin):
        threat = ""
        if rec["threat"]:
            label = "judged" if rec["deployable"] else "reported, not judged"
            threat = f" [{threat_model(rec['threat'])}; {label}]"
        lines.append(f"- ({rec['claim']}) {rec['direction']}, {rec['attack']}, RoA from {rec['roa']}{threat}: "
                     f"{rec['test']}: {rec['verdict']}; {rec['number']}.")
    return "\n".join(lines)


CLAIM_RULES = f"""Rules (`roiroa.verdicts`; every interval is a 95% interval over seeds and images,
`roiroa.stats.seed_level_interval`):

- (a) *low* unless the per-image SSIM of RoI and RoA exceeds that of random masks of the
  same sizes (paired per image; the interval of the difference above 0); *image-specific*: the per-image paired difference of the
  true pairing and shuffled pairings of the same class, its interval over seeds excludes 0;
  both *not testable* where the differences are within ±{verdicts.SSIM_TOLERANCE:g} (an empty RoA).
- (b) non-inferiority: *kept* when the upper end of the interval for the drop
  (score_clean − score_mod, the same images) is at most the margin (`blob.max_clean_drop`);
  *not kept* when its lower end exceeds the margin; else *undecided*.
- (c) *raised* when the lower end of the interval for the gain (score_mod_adv − score_adv)
  is above 0; *not testable* when the attack flips no image. Judged on the deployable
  threat models ({', '.join(DEPLOYABLE)}); the paper's order is reported beside them. The blob
  *beats random placement* when its score_mod_adv is at or above the 95th percentile of the
  same-size random masks (at least {verdicts.MIN_DRAWS_FOR_PERCENTILE} draws; scores at
  {verdicts.SCORE_DECIMALS} decimals, a tie counting half; not testable when the attack flips no image)."""


def replace_block(path: Path, block: str, body: str, command: str, writer: str = "python -m roiroa.publish") -> None:
    """Replace the generated block named `block` in a Markdown file (between its
    markers), naming the command and the module that wrote it."""
    begin, end = f"<!-- BEGIN generated: {block} -->", f"<!-- END generated: {block} -->"
    text = path.read_text()
    if begin not in text or end not in text:
        raise SystemExit(f"{path} has no {begin} … {end} block to replace")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    note = f"<!-- written by `{command}` ({writer}); do not edit by hand -->"
    path.write_text(f"{head}{begin}\n{note}\n\n{body}\n\n{end}{tail}")


def seeds_section(results: Path, dataset: str) -> str:
    """Every seed's own numbers (what a rerun of one seed is compared with): Table I,
    and Tables II/III of the blob at the θ chosen for the seed, per threat model."""
    ssim = _seed_rows(results, "table1_ssim", dataset)
    defense = _seed_rows(results, "table2_classification", dataset)
    rows = []
    for _, r in ssim.iterrows():
        rows.append({"direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"],
                     "seed": r["seed"], "images": r["n_images"], "SSIM samples": _fmt(r["ssim_mean_of_samples"]),
                     "shuffled": _fmt(r["ssim_shuffled_mean"]),
                     "SSIM representatives": _fmt(r["ssim_representatives"])})
    text = markdown_table(pd.DataFrame(rows))
    blob = defense[defense["neutralization"] == "blob"]
    rows = []
    for _, r in blob.iterrows():
        met = r.get("theta_met_constraint")
        rows.append({"direction": f"{r['source']} → {r['target']}", "attack": _attack(r), "RoA": r["roa_source"],
                     "re-attack": r.get("order", ""), "seed": r["seed"],
                     "θ": f"{r['theta']:g}" + ("" if met in (True, "True", None) or pd.isna(met) else " (constraint not met)"),
                     "pixels": int(r["blob_pixels"]), "images": int(r["n_images"]),
                     "score_clean": _fmt(r["score_clean"]), "score_mod": _fmt(r["score_mod"]),
                     "score_adv": _fmt(r["score_adv"]), "score_mod_adv": _fmt(r["score_mod_adv"]),
                     "p (adv vs mod_adv)": format_p(mcnemar_exact_log10(r["adv_vs_mod_adv_only_first"],
                                                                        r["adv_vs_mod_adv_only_second"]))})
    return f"{text}\n\n{markdown_table(pd.DataFrame(rows))}"


def seed_span(seeds: list[int]) -> str:
    """Seeds as a column name: '0–2' for a run of consecutive seeds, else '0, 3, 4'."""
    if seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def stability_section(results: Path, dataset: str, margin: float) -> str:
    """How many seeds a verdict needed: every verdict recomputed from the first k
    seeds (k = 2 … all), from the per-seed rows; a verdict is stable from the
    smallest k after which it no longer changes."""
    ssim = _seed_rows(results, "table1_ssim", dataset)
    defense = _seed_rows(results, "table2_classification", dataset)
    seeds = sorted(set(defense["seed"]))
    if len(seeds) < 2:
        return f"One seed ({seeds[0] if seeds else 'none'}): the verdicts' dependence on the seeds is not measured."
    answers: dict[tuple, list[str]] = {}
    for k in range(2, len(seeds) + 1):
        use = set(seeds[:k])
        t1 = tables.summarize_ssim(ssim[ssim["seed"].isin(use)])
        part = defense[defense["seed"].isin(use)]
        t2 = tables.summarize_defense("table2_classification", part)
        t3 = tables.summarize_defense("table3_reattack", part)
        for rec in claim_records(_as_published(t1), _as_published(t2), _as_published(t3), margin):
            key = (rec["claim"], rec["test"], rec["direction"], rec["attack"], rec["roa"], rec["threat"])
            answers.setdefault(key, []).append(rec["verdict"].answer)
    rows = []
    for (claim, test, direction, attack, roa, threat), found in answers.items():
        stable = next(k for k in range(2, len(seeds) + 1) if len(set(found[k - 2:])) == 1)
        rows.append({"claim": f"({claim}) {test}", "direction": direction, "attack": attack, "RoA": roa,
                     "re-attack": threat, **{f"seeds {seed_span(seeds[:k])}": a for k, a in zip(range(2, 99), found)},
                     "stable from": f"{stable} seeds"})
    return markdown_table(pd.DataFrame(rows))


def _as_published(frame: pd.DataFrame) -> pd.DataFrame:
    """A summary table as publish reads it back from CSV (classes and θ as text)."""
    return frame.astype({c: str for c in ("source", "target", "theta") if c in frame.columns})


def _seed_rows(results: Path, name: str, dataset: str) -> pd.DataFrame:
    frame = pd.read_csv(results / "tables" / f"{name}_seeds.csv", dtype={"source": str, "target": str})
    return frame[frame["dataset"] == dataset].reset_index(drop=True)


def config_files(results: Path, dataset: str, config: dict | list[dict] | None, pattern: str) -> list[Path]:
    """The files of `dataset` matching `pattern`; with `config` (or a list of configs, as
    the readings page has), only theirs (of_config): another config's jobs in the same
    results/ are not its page's."""
    tests = [of_config(c, dataset) for c in ([] if config is None else config if isinstance(config, list) else [config])]
    return [p for p in sorted((results / dataset).glob(pattern))
            if not tests or any(belongs(p.relative_to(results).parts) for belongs in tests)]  # fmt: skip


def job_hosts(results: Path, dataset: str, config: dict | list[dict] | None = None) -> str:
    """Each machine and float-kernel path the jobs of `dataset` (of `config`, when
    given) recorded (the `environment` of HDF5 root attributes and JSON outputs; a
    train.json of an older version: its `host`), with the kinds of file written there."""
    import h5py

    found: dict[str, dict[str, int]] = {}

    def note(environment, path: Path) -> None:
        if environment:
            files = found.setdefault(describe_environment(environment), {})
            files[path.name] = files.get(path.name, 0) + 1

    for path in config_files(results, dataset, config, "**/*.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            note(record.get("environment") or record.get("host"), path)
    for path in config_files(results, dataset, config, "**/*.h5"):
        try:
            with h5py.File(path, "r") as f:
                note(f.attrs.get("environment"), path)
        except OSError:
            continue
    if not found:
        return trained_on(results, dataset)
    return "; ".join(f"{where} ({', '.join(f'{n}× {name}' for name, n in sorted(files.items()))})"
                     for where, files in sorted(found.items()))


def describe_environment(environment) -> str:
    """One line of a job's recorded environment (runtime.job_environment, a dict or
    its JSON text; an older record's host string as it is)."""
    if isinstance(environment, bytes):
        environment = environment.decode()
    if isinstance(environment, str):
        try:
            environment = json.loads(environment)
        except ValueError:
            return environment
    e = environment
    parts = [f"{cpu_label(e.get('cpu', '?'), e.get('cpu_id', ''))}, {e.get('cores', '?')} cores"]
    if e.get("gpu"):
        parts.append(f"GPU {e['gpu']}")
    if e.get("torch"):
        parts.append(f"torch {e['torch']} ({e.get('torch_threads')} threads, CPU kernels "
                     f"{e.get('cpu_capability')}, oneDNN {'on' if e.get('mkldnn') else 'off'})")
    if e.get("kernel_env"):
        parts.append(" ".join(f"{k}={v}" for k, v in sorted(e["kernel_env"].items())))
    return ", ".join(parts)


def job_commits(results: Path, dataset: str, config: dict | list[dict] | None = None) -> set[str]:
    """The roiroa commits the jobs of `dataset` recorded (HDF5 root attributes, every
    JSON output); with `config`, only its own files (of_config): another config's jobs
    in the same results/ are not this page's."""
    import h5py

    commits = set()
    for path in config_files(results, dataset, config, "**/*.h5"):
        try:
            with h5py.File(path, "r") as f:
                commit = f.attrs.get("source_commit")
        except OSError:
            continue
        if commit is not None:
            commits.add(str(commit))
    for path in config_files(results, dataset, config, "**/*.json"):  # every stage's JSON output (runtime.write_json)
        try:
            commit = json.loads(path.read_text()).get("source_commit")
        except (OSError, ValueError, AttributeError):
            continue
        if commit:
            commits.add(commit)
    return commits


def check_clean(results: Path, dataset: str, allow_dirty: bool, out: Path,
                config: dict | list[dict] | None = None) -> str:
    """The commit line of a page. A page is published from a clean tree whose jobs (of
    `config`, when given) ran from clean commits, or (allow_dirty) with the diff of the
    modified code beside it: this checkout's uncommitted changes when it has some; when
    only the jobs ran from modified code, the diff an earlier publish wrote beside the
    page (a clean checkout does not hold the jobs' changes: without that file, refused)."""
    here, jobs = source_commit(), job_commits(results, dataset, config)
    ran = f"jobs ran from {', '.join(sorted(jobs)) or 'unrecorded commits'}"
    dirty = sorted(c for c in jobs | {here} if c.endswith("+dirty"))
    if not dirty:
        return f"roiroa commit {here}; {ran}"
    if not allow_dirty:
        raise SystemExit(f"not published: the jobs or this checkout ran from modified code ({', '.join(dirty)}). "
                         f"Commit, rerun the changed jobs and publish again, or pass --allow-dirty to publish "
                         f"with the diff recorded beside the page.")
    patch = out.with_suffix(".diff")
    if here.endswith("+dirty"):
        diff = subprocess.run(["git", "diff", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parents[2]).stdout  # fmt: skip
        patch.write_text(diff)
        return f"roiroa commit {here} with the uncommitted changes in [{patch.name}]({patch.name}); {ran}"
    if not patch.exists():
        raise SystemExit(f"not published: the jobs ran from modified code ({', '.join(dirty)}) and this checkout "
                         f"is clean, so their changes cannot be recorded beside the page ({patch} does not exist). "
                         f"Rerun those jobs from a commit.")
    return (f"roiroa commit {here}; {ran}: modified code, whose changes [{patch.name}]({patch.name}) recorded "
            f"when an earlier publish of this page ran from that checkout")


def verify_link(page: Path) -> str:
    """The page's rerun checks (roiroa.verify writes PAGE_verify_CPU.md beside it, one per
    kind of CPU that reran it), if any was run."""
    checks = sorted(page.parent.glob(f"{page.stem}_verify_*.md"))
    cause = page.with_name(f"{page.stem}_cause.md")
    found = ("; ".join(f"[{c.name}]({c.name})" for c in checks) + " (one seed rerun from scratch, compared with this page)"
             if checks else f"none run yet (`python -m roiroa.verify --page {page}` reruns one seed and compares)")
    if cause.exists():
        found += f"; why a rerun elsewhere differs: [{cause.name}]({cause.name})"
    return found


def link_rerun_checks(page: Path) -> None:
    """Rewrite the page's "Rerun check" line to link the checks beside it: a check runs
    after its page is published (it compares with the page), so the page learns of it
    here rather than by a second publish."""
    lines = page.read_text().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.startswith("- Rerun check: ")]
    if at:
        lines[at[0]] = f"- Rerun check: {verify_link(page)}\n"
        page.write_text("".join(lines))


def write_verdicts(path: Path, dataset: str, page: Path, records: list[dict]) -> None:
    """The page's verdicts as JSON, for the README's overview (`--overview`)."""
    path.write_text(json.dumps({"dataset": dataset, "page": str(page), "verdicts": [
        {k: (v.answer if isinstance(v, verdicts.Verdict) else v) for k, v in r.items()}
        | {"reason": r["verdict"].reason} for r in records]}, indent=2, ensure_ascii=False) + "\n")


def table_seeds(frames: dict[str, pd.DataFrame]) -> list[int]:
    """The seeds the tables were made from (their rows' `seeds` column, e.g. "0 1 2")."""
    return sorted({int(seed) for frame in frames.values() for seeds in frame["seeds"].dropna()
                   for seed in str(seeds).split()})


def seeds_note(seeds: list[int], file_seeds) -> str:
    """The header's seeds: the config's, or the subset the command line gave (SEEDS=)."""
    if file_seeds is None or sorted(as_list(file_seeds)) == sorted(seeds):
        return f"seeds {seeds}"
    return f"seeds {seeds}, given on the command line; the file lists {file_seeds}"


def publish(dataset: str, config_path: Path, command: str, results: Path, out: Path,
            readme: Path | None = None, block: str | None = None, allow_dirty: bool = False,
            seeds: list[int] | None = None) -> Path:
    config = yaml.safe_load(config_path.read_text())
    file_seeds = config.get("seeds")
    if seeds:  # a subset of the config's seeds (`make paper-fmnist SEEDS=0,3,4`)
        config["seeds"] = sorted(seeds)
    frames = {name: pd.read_csv(results / "tables" / f"{name}.csv", dtype={"source": str, "target": str, "theta": str})
              for name in ("table1_ssim", "table2_classification", "table3_reattack")}
    frames = {name: frame[frame["dataset"] == dataset].reset_index(drop=True) for name, frame in frames.items()}
    if any(frame.empty for frame in frames.values()):
        raise SystemExit(f"results/tables holds no {dataset} rows: run the workflow with {config_path} first")
    full = with_defaults(config)
    expected, found = sorted(as_list(full["seeds"])), table_seeds(frames)
    if found != expected:  # the page would name seeds its numbers are not from
        raise SystemExit(f"results/tables hold the seeds {found} of {dataset}, the page would "
                         f"name {expected}: run the workflow with the same config and seeds first")
    out.parent.mkdir(parents=True, exist_ok=True)
    commit_line = check_clean(results, dataset, allow_dirty, out, config)
    folder = out.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
        _seed_rows(results, name, dataset).to_csv(folder / f"{name}_seeds.csv", index=False)
    model = model_tag(config, dataset)  # the config's models (results/ may hold others)
    figures = copy_figures(results, dataset, folder, frames["table1_ssim"], model)
    times = rule_times(results, dataset, config)
    t1, t2, t3 = frames.values()
    margin = (config.get("blob") or {}).get("max_clean_drop", 0.01)
    records = claim_records(t1, t2, t3, margin)
    write_verdicts(folder / "verdicts.json", dataset, out, records)
    chosen = t2[t2["neutralization"] == "blob, chosen θ"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    orders = sorted(set(t3.get("order", pd.Series(dtype=str)).dropna()))
    baselines = full["baselines"]
    unscored = [o for o in orders if o not in baselines["orders"]]
    equal = equal_size_rows(results, dataset, config)
    equal_size = "" if equal.empty else f"## Blobs at equal size\n\n{equal_size_section(equal)}\n\n"
    text = f"""# Results: {dataset}

Generated by `python -m roiroa.publish` (run by `{command}`) from `{results}/` on {now}.
Do not edit by hand: rerun the command. Config: `{config_path}` ({seeds_note(expected, file_seeds)}).

- Jobs ran on: {job_hosts(results, dataset, config)}
- Published on: {host_description()} with {versions()}; {commit_line}
- Rerun check: {verify_link(out)}
- Blob fitted on: {', '.join(sorted(set(t2['fit_on'])))}; θ chosen per seed on the calibration part
  (criterion: `roiroa.selection`); the chosen θ per seed: {', '.join(sorted(set(chosen['theta'])))}.

## The paper's claims, judged by stated rules

{claims(t1, t2, t3, margin)}

{CLAIM_RULES}

## Models

{training_section(results, dataset, model)}

## Table I: SSIM of RoI and RoA (mean ± sd over seeds)

{ssim_section(t1)}

The shuffled-pair null pairs each RoI with the RoA of random other images of its class
(the paired column: per image, true minus shuffled, 95% interval over seeds); random
masks have the sizes of each image's RoI and RoA, placed anywhere: the reference for "low".

## Tables II and III at the chosen θ, with baselines

Accuracy: mean over seeds [95% interval over seeds and images: the wider of a t-interval
over the seeds' scores and a Wilson interval on the counts pooled over seeds]. drop and gain:
the paired difference on the same images [the same kind of interval, with Newcombe's paired
interval in place of Wilson's]. `asr_mod` = share of the images still right after
neutralization that the repeated attack flips; p = exact McNemar test of score_adv against
score_mod_adv, stratified by seed (the discordant pairs of every seed). The re-attack's
threat models: {'; '.join(f'`{o}` = {threat_model(o)}' for o in orders)}.
The baselines ({baselines['random_draws']} random masks of the blob's size, the RoI complement, no
neutralization) are scored under {', '.join(f'`{o}`' for o in baselines['orders'])} (`baselines.orders`){
    '' if not unscored else '; under ' + ', '.join(f'`{o}`' for o in unscored) + ' the blob has no baseline rows'}.

{defense_section(t2, t3)}

## Every seed

{seeds_section(results, dataset)}

## How many seeds the verdicts needed

Each verdict recomputed from the first k seeds by the same rules.

{stability_section(results, dataset, margin)}

## Attacks and RoA sources

{attack_section(results, dataset, t1, t2, t3, model)}

{equal_size}## The θ sweep (blob only, mean over seeds; evaluation part)

{sweep_section(t2, t3)}

## Wall time per rule

{markdown_table(times)}

## Files

Tables: {', '.join(f'[{p.name}]({folder.name}/{p.name})' for p in sorted(folder.glob('*.csv')))}.
Verdicts: [verdicts.json]({folder.name}/verdicts.json).
Figures: {', '.join(f'[{p.name}]({folder.name}/{p.name})' for p in figures)}.
"""
    out.write_text(text)
    if readme is not None:
        total = times["wall time (s)"].sum() / 60 if len(times) else float("nan")
        # a comparison of attacks, ε or RoA sources is summed up by its comparison table
        # (its claims, one per attack and source, stay on the page)
        body = attack_section(results, dataset, t1, t2, t3, model) if compares_settings(t1) else (
            f"{defense_section(t2, t3)}\n\n{claims(t1, t2, t3, margin)}")
        summary = (f"From [{out}]({out}) ({now}; jobs ran on {job_hosts(results, dataset, config)}; "
                   f"seeds {config.get('seeds')}; the rules' wall times add up to {total:.0f} min there):\n\n{body}")
        replace_block(readme, block or dataset, summary, command)
    return out


# The paper's datasets this machine cannot fetch: their overview row says so, with the command.
NOT_RUN = {
    "cats_vs_dogs": "Cats vs Dogs",
    "malaria": "Malaria",
    "cifar10": "CIFAR-10 (named in the paper, not tabulated)",
}
NOT_RUN_COMMAND = ("snakemake download_all --cores 1 --configfile config/paper.yaml; "
                   "snakemake --cores 8 --configfile config/paper.yaml")
OVERVIEW_COLUMNS = [  # (claim, test, threat model or "", column title)
    ("a", "low", "", "(a) low SSIM"),
    ("a", "image-specific", "", "(a) image-specific"),
    ("b", "clean accuracy kept", "", "(b) clean accuracy kept"),
    ("c", "accuracy under the repeated attack raised", "attack_then_neutralize", "(c) raised: post-hoc"),
    # a raise that random masks of the blob's size match is not the blob's doing
    ("c", "blob better than random placement", "attack_then_neutralize", "(c) blob beats random masks: post-hoc"),
    ("c", "accuracy under the repeated attack raised", "adaptive", "(c) raised: adaptive"),
    ("c", "accuracy under the repeated attack raised", "neutralize_then_attack", "(c) raised: paper's order (not judged)"),
]


def overview(pages: list[Path]) -> str:
    """The README's overview: one row per published page (its verdicts.json) and per
    paper dataset not run here; per claim and threat model, each direction's verdict
    with its key number."""
    rows = []
    for page in pages:
        judged = page.with_suffix("") / "verdicts.json"
        if not judged.exists():  # a page of an earlier publisher: its verdicts followed older rules
            rows.append({"dataset": f"[{page.stem}]({page})",
                         "setting": "published before the current rules (no verdicts.json): "
                                    "not judged here until its make target is rerun",
                         **{c[-1]: "—" for c in OVERVIEW_COLUMNS}})
            continue
        record = json.loads(judged.read_text())
        found = record["verdicts"]
        row = {"dataset": f"[{record['dataset']}]({page})",
               "setting": "; ".join(sorted({f"{v['attack']}, RoA {v['roa']}" for v in found}))}
        for claim, test, threat, title in OVERVIEW_COLUMNS:
            cells = [f"{v['direction']}: **{v['verdict']}** ({v['number']})" for v in found
                     if v["claim"] == claim and v["test"] == test and (v.get("threat") or "") == threat]
            row[title] = "<br>".join(cells) or "—"
        rows.append(row)
    for name, title in NOT_RUN.items():
        rows.append({"dataset": title, "setting": "not run: data not reachable offline",
                     **{c[-1]: "—" for c in OVERVIEW_COLUMNS}})
    return (markdown_table(pd.DataFrame(rows)) + "\n\n"
            "Each cell: the verdict and its key number (mean over seeds), with the paper's value where "
            "the paper has one (its Table III is of its own order, so (c) has it there only). "
            f"Rules: `roiroa.verdicts` (each page states them). Not run here: `{NOT_RUN_COMMAND}` "
            "on a machine with internet (docs/datasets.md).")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overview", type=Path, metavar="README",
                        help="only rewrite this file's overview block from the --pages' verdicts")
    parser.add_argument("--pages", type=Path, nargs="*", default=[], help="published pages (with --overview)")
    parser.add_argument("--dataset", help="default: the config's dataset, when it has one")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--command", help="the command that produced the results (for the page)")
    parser.add_argument("--results", default=Path("results"), type=Path)
    parser.add_argument("--out", type=Path, help="default: <results>/pages/<dataset>.md")
    parser.add_argument("--readme", type=Path, help="also rewrite this file's generated block of the dataset")
    parser.add_argument("--block", help="the name of that block (default: the dataset)")
    parser.add_argument("--seeds", type=int, nargs="+",
                        help="publish these seeds of the config (the workflow ran with --config seeds=[...])")
    parser.add_argument("--allow-dirty", action="store_true",
                        help="publish from modified code, with the diff written beside the page (this "
                             "checkout's; from a clean checkout, the one an earlier publish wrote there)")
    args = parser.parse_args(argv)
    if args.overview:
        replace_block(args.overview, "overview", overview(args.pages), args.command or "make overview")
        print(args.overview)
        return
    if not (args.config and args.command):
        parser.error("--config and --command are required to publish a page")
    if args.dataset is None:  # `make publish CONFIG=...` names no dataset
        datasets = list((yaml.safe_load(args.config.read_text()) or {}).get("datasets") or {})
        if len(datasets) != 1:
            parser.error(f"{args.config} has the datasets {', '.join(datasets) or 'none'}: name one with --dataset")
        args.dataset = datasets[0]
    args.out = args.out or args.results / "pages" / f"{args.dataset}.md"
    print(publish(args.dataset, args.config, args.command, args.results, args.out, args.readme, args.block,
                  args.allow_dirty, args.seeds))


if __name__ == "__main__":
    main()
