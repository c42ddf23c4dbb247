"""Cost of an incremental rerun: change θ in the default config and rerun.

Runs the default workflow once in a scratch directory (or reuses --workdir),
then reruns it with a new θ and reports the wall time of that rerun,
Snakemake's own start-up included, and the jobs that ran.

    .venv/bin/python bench/rerun.py
    .venv/bin/python bench/rerun.py --workdir /tmp/roiroa-bench --theta 0.3
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
UPSTREAM = {"prepare_data", "train", "attack_cam", "regions"}


def run(workdir: Path, configfile: Path) -> tuple[float, collections.Counter]:
    cmd = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile),
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, help="reuse (or create) this run directory")
    parser.add_argument("--theta", type=float, help="the new θ (default: the old one + 0.05)")
    parser.add_argument("--out", type=Path, help="also write what it prints here (bench/results/rerun.txt)")
    args = parser.parse_args()
    lines = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")

    import platform

    import snakemake
    import torch

    say(f"# bench/rerun.py, {time.strftime('%Y-%m-%d')}, {platform.node()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Snakemake {snakemake.__version__}, torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    say("# " + " ".join(["python bench/rerun.py", *sys.argv[1:]]))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="roiroa-rerun-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    base = workdir / "config.yaml"
    base.write_text(yaml.safe_dump(config))
    first, jobs = run(workdir, base)
    say(f"initial run: {first:.1f} s, {sum(jobs.values())} jobs")

    old = config["blob"]["theta"]
    config["blob"]["theta"] = [args.theta if args.theta is not None else round(old[0] + 0.05, 4)]
    changed = workdir / "config_theta.yaml"
    changed.write_text(yaml.safe_dump(config))
    started = time.time()
    seconds, jobs = run(workdir, changed)
    say(f"rerun after θ {old} → {config['blob']['theta']}: {seconds:.1f} s wall (target < 20 s), "
          f"{config['threads']} torch thread(s) a job, {os.cpu_count()} cores")  # fmt: skip
    say("jobs: " + ", ".join(f"{rule} ×{n}" for rule, n in sorted(jobs.items())))
    say("their wall seconds (Snakemake benchmark files, rules that write one): " + ", ".join(
        f"{rule} {' '.join(f'{s:.1f}' for s in times)}" for rule, times in sorted(job_seconds(workdir, started).items())))
    upstream = UPSTREAM & set(jobs)
    say("upstream jobs: " + (", ".join(sorted(upstream)) if upstream else "none"))
    base.unlink()
    changed.unlink()


if __name__ == "__main__":
    main()
