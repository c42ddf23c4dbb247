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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, help="reuse (or create) this run directory")
    parser.add_argument("--theta", type=float, help="the new θ (default: the old one + 0.05)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="roiroa-rerun-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    base = workdir / "config.yaml"
    base.write_text(yaml.safe_dump(config))
    first, jobs = run(workdir, base)
    print(f"initial run: {first:.1f} s, {sum(jobs.values())} jobs")

    old = config["blob"]["theta"]
    config["blob"]["theta"] = [args.theta if args.theta is not None else round(old[0] + 0.05, 4)]
    changed = workdir / "config_theta.yaml"
    changed.write_text(yaml.safe_dump(config))
    seconds, jobs = run(workdir, changed)
    print(f"rerun after θ {old} → {config['blob']['theta']}: {seconds:.1f} s wall (target < 20 s)")
    print("jobs: " + ", ".join(f"{rule} ×{n}" for rule, n in sorted(jobs.items())))
    upstream = UPSTREAM & set(jobs)
    print("upstream jobs: " + (", ".join(sorted(upstream)) if upstream else "none"))
    base.unlink()
    changed.unlink()


if __name__ == "__main__":
    main()
