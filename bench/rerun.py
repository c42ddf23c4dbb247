"""Cost of an incremental rerun: change θ in the default config and rerun.

Runs the default workflow once in a scratch directory (or reuses --workdir:
an empty one, for the first run to be `make run`'s), records that first
run's wall time and its rules' seconds, then reruns it with a new θ, --repeats times (a θ not run before each time),
and reports the wall time of each rerun, Snakemake's own start-up included,
their median, and the jobs that ran. --baseline REV does the same with the
workflow of commit REV (a git worktree) in the same run, its reruns
interleaved with ours, and reports the ratio of the medians: this machine is
shared and its speed drifts by a fifth within an hour.

    .venv/bin/python bench/rerun.py
    .venv/bin/python bench/rerun.py --baseline 4a35a1d --repeats 5 --out bench/results/rerun.txt
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
UPSTREAM = {"prepare_data", "train", "attack_cam", "regions"}


def run(root: Path, workdir: Path, configfile: Path) -> tuple[float, collections.Counter]:
    cmd = [SNAKEMAKE, "-s", str(root / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile),
           "--cores", "all"]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")
    jobs = collections.Counter(re.findall(r"^(?:local)?rule (\w+):$", result.stdout + result.stderr, flags=re.M))
    return seconds, jobs


def job_seconds(workdir: Path, since: float) -> dict[str, list[float]]:
    """Wall seconds of every job that wrote its benchmark file after `since`, per rule."""
    out = collections.defaultdict(list)
    for tsv in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        if tsv.stat().st_mtime >= since:
            rule = tsv.relative_to(workdir / "results" / "benchmarks").parts[0]
            out[rule].append(float(tsv.read_text().splitlines()[1].split("\t")[0]))
    return {rule: sorted(times) for rule, times in out.items()}


def baseline_checkout(rev: str, where: Path) -> Path:
    """The workflow of commit `rev`, checked out in a git worktree (removed at the end)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), rev],
                   check=True, capture_output=True)  # fmt: skip
    return where


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, help="reuse (or create) this directory for the run directories")
    parser.add_argument("--theta", type=float, help="the first new θ (default: the old one + 0.05)")
    parser.add_argument("--out", type=Path, help="also write what it prints here (bench/results/rerun.txt)")
    parser.add_argument("--repeats", type=int, default=5, help="reruns, each with a new θ (this machine is shared)")
    parser.add_argument("--baseline", metavar="REV", help="also measure the workflow of this commit, interleaved")
    args = parser.parse_args()
    lines = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")

    import snakemake
    import torch

    from roiroa.runtime import cpu_model  # the wall times depend on the CPU, not only on its cores

    say(f"# bench/rerun.py, {time.strftime('%Y-%m-%d')}, {platform.node()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({cpu_model()}), Snakemake {snakemake.__version__}, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    say("# " + " ".join(["python bench/rerun.py", *sys.argv[1:]]))
    scratch = args.workdir or Path(tempfile.mkdtemp(prefix="roiroa-rerun-"))
    scratch.mkdir(parents=True, exist_ok=True)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()  # fmt: skip
    checkouts = {f"this checkout ({head or 'no git'})": ROOT}
    if args.baseline:
        checkouts[f"baseline {args.baseline}"] = baseline_checkout(args.baseline, scratch / "baseline-src")
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    old = config["blob"]["theta"]
    first = args.theta if args.theta is not None else round(old[0] + 0.05, 4)
    workdirs = {name: scratch / f"run{i}" for i, name in enumerate(checkouts)}
    walls = {name: [] for name in checkouts}
    try:
        for name, root in checkouts.items():
            workdirs[name].mkdir(exist_ok=True)
            base = workdirs[name] / "config.yaml"
            base.write_text(yaml.safe_dump(config))
            started = time.time()
            seconds, jobs = run(root, workdirs[name], base)
            say(f"{name}: initial run {seconds:.1f} s, {sum(jobs.values())} jobs")
            # the first run is what `make run` runs on a fresh clone (less its report)
            say("  their wall seconds, added up per rule: " + ", ".join(
                f"{rule} {sum(times):.1f} ({len(times)} jobs)"
                for rule, times in sorted(job_seconds(workdirs[name], started).items())))
        for i in range(args.repeats):
            # each rerun a θ not run before in its directory: the same jobs every time
            theta = [round(first + 0.001 * i, 4)]
            order = list(checkouts) if i % 2 == 0 else list(reversed(checkouts))  # neither always first
            for name in order:
                changed = workdirs[name] / "config_theta.yaml"
                changed.write_text(yaml.safe_dump(config | {"blob": config["blob"] | {"theta": theta}}))
                started = time.time()
                seconds, jobs = run(checkouts[name], workdirs[name], changed)
                walls[name].append(seconds)
                upstream = UPSTREAM & set(jobs)
                say(f"{name}: rerun {i + 1} of {args.repeats}, θ {old} → {theta}: {seconds:.1f} s wall, "
                    f"{config['threads']} torch thread(s) a job, {os.cpu_count()} cores; upstream jobs: "
                    + (", ".join(sorted(upstream)) if upstream else "none"))  # fmt: skip
                say("  jobs: " + ", ".join(f"{rule} ×{n}" for rule, n in sorted(jobs.items())))
                say("  their wall seconds (Snakemake benchmark files, rules that write one): " + ", ".join(
                    f"{rule} {' '.join(f'{s:.1f}' for s in times)}"
                    for rule, times in sorted(job_seconds(workdirs[name], started).items())))
    finally:
        if args.baseline:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(scratch / "baseline-src")],
                           capture_output=True)  # fmt: skip
    for name, times in walls.items():
        say(f"{name}: rerun wall time, median of {len(times)}: {statistics.median(times):.1f} s (target < 20 s); "
            f"range {min(times):.1f}–{max(times):.1f} s")  # fmt: skip
    if args.baseline:
        ours, theirs = (statistics.median(times) for times in walls.values())
        say(f"ratio of the medians, this checkout / baseline {args.baseline}: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
