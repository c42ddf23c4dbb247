"""A rerun check of a published results page: rerun one seed of its config from
scratch in a scratch folder, then write beside the page each number of that
seed against the page's value for the seed and against the spread over the
page's seeds.

    python -m roiroa.verify --page docs/results/fashion_mnist.md \\
        --config config/fashion_mnist.yaml --seed 0 --workdir results/verify/fashion_mnist

The page's numbers are its per-seed rows, `docs/results/<name>/<table>_seeds.csv`
(copies of the workflow's results/tables/*_seeds.csv); the rerun's are the same
files of the scratch run. The report is `docs/results/<name>_verify_<cpu>.md`, one per
kind of CPU that reran it: a model is replayed bit for bit only on the CPU kind that
trained it (docs/results/fashion_mnist_cause.md), so a rerun on the page's own kind and
one on another kind answer different questions, and neither overwrites the other.
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from .environment import cpu_model
from .publish import job_commits, link_rerun_checks
from .runtime import read_json
from .tables import DEFENSE_KEYS, KEYS, SSIM_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
# The numbers compared, per table: Table I's SSIMs; Table II's accuracies on clean and
# neutralized images, the blob's size and the θ chosen for the seed; Table III's
# accuracies under the attack.
METRICS = {
    "table1_ssim": list(SSIM_COLUMNS),
    "table2_classification": ["score_clean", "score_mod", "blob_pixels", "chosen_theta"],
    "table3_reattack": ["score_adv", "score_mod_adv"],
}
VERDICTS = ("same as the page", "within the page's seed range", "within mean ± 2 sd", "outside", "not on the page")
SAME = dict(rel_tol=1e-9, abs_tol=1e-12)


def per_seed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """One row per setting and seed with the table's metrics: random-mask draws
    averaged within each seed (as the tables do); the θ of a chosen-θ row moved
    from the keys to the metric `chosen_theta` (it may differ between seeds)."""
    frame = frame.copy()
    if "neutralization" in frame:
        chosen = frame["neutralization"] != "blob_sweep"
        frame["chosen_theta"] = frame["theta"].where(chosen)
        frame["theta"] = frame["theta"].astype(object).where(~chosen, "chosen")
    keys = row_keys(frame)
    metrics = [m for m in METRICS[table] if m in frame]
    return frame.groupby(keys + ["seed"], dropna=False, sort=False)[metrics].mean().reset_index()


def row_keys(frame: pd.DataFrame) -> list[str]:
    """The columns that name a row (the tables' keys present in the file)."""
    return [k for k in KEYS + DEFENSE_KEYS if k in frame.columns]


def verdict(value: float, page_value: float, spread: pd.Series) -> str:
    """How a rerun's number stands against the page: equal to the page's value for
    the same seed, inside the min..max of the page's seeds, inside mean ± 2 sd, or
    outside."""
    spread = spread.dropna()
    if math.isnan(value) and math.isnan(page_value):
        return VERDICTS[0]
    if not math.isnan(page_value) and math.isclose(value, page_value, **SAME):
        return VERDICTS[0]
    if spread.empty or math.isnan(value):
        return VERDICTS[3]
    if spread.min() <= value <= spread.max():
        return VERDICTS[1]
    sd = spread.std(ddof=1) if len(spread) > 1 else 0.0
    return VERDICTS[2] if abs(value - spread.mean()) <= 2 * sd else VERDICTS[3]


def compare(page: pd.DataFrame, rerun: pd.DataFrame, table: str, seed: int) -> pd.DataFrame:
    """Each metric of each row of the rerun (seed `seed`) against the page's seeds."""
    page, rerun = per_seed(page, table), per_seed(rerun, table)
    keys = [k for k in row_keys(rerun) if k in page.columns]
    varying = [k for k in keys if rerun[k].nunique(dropna=False) > 1 or page[k].nunique(dropna=False) > 1]
    out = []
    for _, row in rerun[rerun["seed"] == seed].iterrows():
        same_row = pd.Series(True, index=page.index)
        for k in keys:
            same_row &= (page[k] == row[k]) | (page[k].isna() & pd.isna(row[k]))
        matches = page[same_row]
        label = row_label(row, varying)
        for metric in (m for m in METRICS[table] if m in rerun.columns):
            value = float(row[metric])
            if math.isnan(value) and metric == "chosen_theta":
                continue  # a θ-sweep row has no chosen θ
            spread = matches[metric] if metric in matches else pd.Series(dtype=float)
            at_seed = matches.loc[matches["seed"] == seed, metric] if metric in matches else spread
            page_value = float(at_seed.iloc[0]) if len(at_seed) else float("nan")
            known = spread.dropna()
            out.append({
                "table": table, "row": label, "number": metric, "rerun": value, f"page, seed {seed}": page_value,
                "page min": known.min() if len(known) else float("nan"),
                "page max": known.max() if len(known) else float("nan"),
                "page mean": known.mean() if len(known) else float("nan"),
                "page sd": known.std(ddof=1) if len(known) > 1 else float("nan"),
                "page seeds": len(known),
                "verdict": verdict(value, page_value, spread) if len(matches) else VERDICTS[4],
            })  # fmt: skip
    return pd.DataFrame(out)


def row_label(row: pd.Series, varying: list[str]) -> str:
    """'source → target' and the settings that tell this row from the others."""
    parts = [f"{row['source']} → {row['target']}"] if "source" in row and "target" in row else []
    parts += [f"{k}={row[k]}" for k in varying if k not in ("source", "target") and not pd.isna(row[k])]
    return ", ".join(parts)


def seed_rows(folder: Path) -> dict[str, Path]:
    """`<table>_seeds.csv` of every table in `folder`; a missing one is named."""
    paths = {table: folder / f"{table}_seeds.csv" for table in METRICS}
    for table, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no per-seed rows of {table} (a page folder holds copies of "
                                    f"results/tables/*_seeds.csv; republish the page)")  # fmt: skip
    return paths


def compare_tables(page_dir: Path, rerun_dir: Path, seed: int) -> pd.DataFrame:
    """Every table's comparison, from `<table>_seeds.csv` in both folders."""
    frames = []
    pages, reruns = seed_rows(page_dir), seed_rows(rerun_dir)
    for table in METRICS:
        page_csv, rerun_csv = pages[table], reruns[table]
        page = pd.read_csv(page_csv)
        if seed not in set(page["seed"]):
            print(f"note: {page_csv} has no seed {seed} (seeds {sorted(set(page['seed']))})", file=sys.stderr)
        frames.append(compare(page, pd.read_csv(rerun_csv), table, seed))
    return pd.concat(frames, ignore_index=True)


def scratch_config(config_path: Path, seed: int, workdir: Path) -> Path:
    """The page's config with `seeds: [seed]`; a relative data_dir that exists from
    here made absolute (the rerun runs in another folder)."""
    config = yaml.safe_load(config_path.read_text())
    config["seeds"] = [seed]
    for options in (config.get("datasets") or {}).values():
        data_dir = (options or {}).get("data_dir")
        if data_dir and not Path(data_dir).is_absolute() and Path(data_dir).exists():
            options["data_dir"] = str(Path(data_dir).resolve())
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "verify_config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def rerun(config_path: Path, seed: int, workdir: Path, cores: str, resume: bool) -> list[str]:
    """Run the workflow's tables for one seed in `workdir`; returns the command."""
    if (workdir / "results").exists() and not resume:
        raise FileExistsError(f"{workdir}/results exists: a rerun from scratch needs an empty folder "
                              f"(remove it, or pass --resume to finish or reuse that rerun)")  # fmt: skip
    configfile = scratch_config(config_path, seed, workdir)
    snakemake = Path(sys.executable).with_name("snakemake")
    command = [str(snakemake), "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile),
               "--cores", str(cores), "--rerun-incomplete", "tables"]  # fmt: skip
    if resume:  # the rerun being resumed was killed, so its lock is stale
        subprocess.run(command[:-1] + ["--unlock"], check=True)
    subprocess.run(command, check=True)
    return command


def rerun_hosts(workdir: Path) -> list[str]:
    """The machines the rerun's models were trained on (train.json)."""
    return sorted({read_json(p).get("host", "host not recorded") for p in workdir.glob("results/*/*/model~*/seed~*/train.json")})


def rerun_commits(workdir: Path, config_path: Path) -> list[str]:
    """The roiroa commits the rerun's jobs ran from (their records), for its report."""
    datasets = yaml.safe_load(config_path.read_text()).get("datasets") or {}
    return sorted(set().union(*(job_commits(workdir / "results", name) for name in datasets)))


def cpu_slug(cpu: str) -> str:
    """'Intel(R) Xeon(R) Processor' -> 'intel-xeon-processor': a CPU model as a file-name part."""
    return re.sub(r"[^a-z0-9]+", "-", re.sub(r"\((r|tm)\)", "", cpu.lower())).strip("-") or "unknown-cpu"


def report_path(page: Path, cpu: str) -> Path:
    """Where the rerun check of `page` on a `cpu` is written: beside the page."""
    return page.with_name(f"{page.stem}_verify_{cpu_slug(cpu)}.md")


def number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return f"{value:g}" if float(value).is_integer() else f"{value:.4f}"


def write_report(out: Path, comparison: pd.DataFrame, *, page: Path, config: Path, seed: int, command: str,
                 hosts: list[str], commits: list[str]) -> None:  # fmt: skip
    counts = comparison["verdict"].value_counts()
    seeds_col = f"page, seed {seed}"
    lines = [
        f"# Rerun check: {page.stem}",
        "",
        f"Generated by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        f"Do not edit by hand: rerun the command. Page: [{page.name}]({page.name}); config: `{config}`,",
        f"rerun with `seeds: [{seed}]` from scratch in a scratch folder.",
        "",
        f"- Rerun on: {'; '.join(hosts) or 'unknown'}",
        f"- Rerun's jobs ran from: roiroa {', '.join(commits) or 'unrecorded commits'}",
        "- Verdicts: " + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in VERDICTS if counts.get(v, 0)),
        "",
        "Each number of the rerun's seed against the page's value for that seed and the page's",
        "spread over seeds (its per-seed rows): the same value; else within the min…max of the",
        "page's seeds; else within mean ± 2 sd; else outside.",
        "",
        "| table | row | number | rerun | " + seeds_col + " | page min | page max | page mean ± sd | seeds | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in comparison.to_dict("records"):
        lines.append("| " + " | ".join([
            r["table"], r["row"], r["number"], number(r["rerun"]), number(r[seeds_col]), number(r["page min"]),
            number(r["page max"]), f"{number(r['page mean'])} ± {number(r['page sd'])}", str(r["page seeds"]),
            f"**{r['verdict']}**" if r["verdict"] == "outside" else r["verdict"],
        ]) + " |")  # fmt: skip
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", type=Path, required=True, help="a published page, docs/results/<name>.md")
    parser.add_argument("--config", type=Path, required=True, help="the config the page was published from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, required=True, help="scratch folder of the rerun (empty or absent)")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--resume", action="store_true", help="finish or reuse a rerun already in --workdir")
    parser.add_argument("--out", type=Path, help="default: <page>_verify_<this CPU>.md beside the page")
    parser.add_argument("--command", help="the command to name on the report (default: this one)")
    args = parser.parse_args(argv)
    page_dir = args.page.with_suffix("")
    if not page_dir.is_dir():
        raise SystemExit(f"{page_dir}: no page folder beside {args.page}")
    seed_rows(page_dir)  # before the rerun's hours, not after
    rerun(args.config, args.seed, args.workdir, args.cores, args.resume)
    comparison = compare_tables(page_dir, args.workdir / "results" / "tables", args.seed)
    out = args.out or report_path(args.page, cpu_model())
    command = args.command or "python -m roiroa.verify " + shlex.join(argv if argv is not None else sys.argv[1:])
    write_report(out, comparison, page=args.page, config=args.config, seed=args.seed, command=command,
                 hosts=rerun_hosts(args.workdir), commits=rerun_commits(args.workdir, args.config))  # fmt: skip
    if out.parent == args.page.parent:
        link_rerun_checks(args.page)
    counts = comparison["verdict"].value_counts().to_dict()
    print(f"{out}: {len(comparison)} numbers: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
