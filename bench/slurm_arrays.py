"""Job arrays against one sbatch per job, on a real one-node SLURM.

Starts the test cluster (tests/slurm/slurm_up.sh, one fake GPU; root and apt
needed), installs profiles/slurm as `make slurm-profile` does into a scratch
HOME, and runs the tiny test config with two class pairs through it, as typed
(`snakemake --cores 8 --profile slurm`), once per design:

- `jobs`: the profile as it is, one sbatch per train, attack_cam and group job
  (with `--slurm-efficiency-report`: the plugin's CSV, rows counted);
- `arrays`: the same plus `--slurm-array-jobs=train,attack_cam` (the plugin
  sends the ready jobs of those rules as one array; group jobs cannot be arrays).

Each run counts the SLURM commands it issues (shims for sbatch, squeue, sacct,
scancel in front of PATH; roiroa's pending-job watch is counted apart from the
executor's status queries), its wall time, and whether its tables equal the other
design's. A third check shows the plugin's array hazard: a rule whose ready
jobs are more than Snakemake selects at once (here 10 jobs, `--jobs 3`).

    .venv/bin/python bench/slurm_arrays.py --out bench/results/slurm_arrays.txt
"""

from __future__ import annotations

import argparse
import collections
import copy
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import TINY_CONFIG, write_config  # noqa: E402

SLURM = ROOT / "tests" / "slurm"
COMMANDS = ("sbatch", "squeue", "sacct", "scancel")
WATCH_FORMAT = "%i|%T|%r|%Z|%k"  # roiroa.cluster.SQUEUE_FORMAT: the profile's pending-job watch
ARRAY_RULES = "train,attack_cam"

HAZARD = """
rule all:
    input: expand("out/{i}.txt", i=range(10))

rule many:
    output: "out/{i}.txt"
    resources: runtime=5, mem_mb=100
    shell: "touch {output}"
"""


def shims(directory: Path, log: Path) -> None:
    """sbatch, squeue, sacct, scancel that append their arguments to `log`, then run the real one."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        real = shutil.which(name)
        script = directory / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\nexec {real} "$@"\n')
        script.chmod(0o755)


def count(log: Path) -> dict:
    calls = log.read_text().splitlines() if log.exists() else []
    out = collections.Counter(line.split(" ", 1)[0] for line in calls)
    watch = sum(1 for line in calls if line.startswith("squeue") and WATCH_FORMAT in line)
    out["squeue"] -= watch
    return {name: out[name] for name in COMMANDS} | {"squeue_pending_watch": watch}


def checkout(workdir: Path, config: dict) -> None:
    for name in ("Snakefile", "rules", "scripts", "src", "envs"):
        (workdir / name).symlink_to(ROOT / name)
    (workdir / "config").mkdir()
    (workdir / "config" / "schema.yaml").symlink_to(ROOT / "config" / "schema.yaml")
    write_config(workdir / "config", config)


def run(workdir: Path, env: dict, extra: list[str], timeout: float) -> dict:
    log = workdir / "slurm_calls.log"
    shims(workdir / "shims", log)
    env = env | {"PATH": f"{workdir / 'shims'}{os.pathsep}{env['PATH']}"}
    start = time.perf_counter()
    try:
        result = subprocess.run(["snakemake", "--cores", "8", "--profile", "slurm", *extra], cwd=workdir, env=env,
                                capture_output=True, text=True, timeout=timeout)  # fmt: skip
        returncode, output = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired as err:
        returncode, output = "timeout", (err.stdout or b"").decode() + (err.stderr or b"").decode()
    wall = time.perf_counter() - start
    (workdir / "snakemake.log").write_text(output)
    return {"returncode": returncode, "wall_s": wall, "calls": count(log),
            "arrays": output.count("Submitted array job"), "output": output}  # fmt: skip


def environment(base: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROIROA_SLURM_")}
    home = base / "home"
    home.mkdir(exist_ok=True)
    env |= {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "SLURM_CONF": str(base / "etc" / "slurm.conf"), "ROIROA_SLURM_PARTITION": "debug",
            "ROIROA_SLURM_GPU_MODEL": "fake", "ROIROA_SLURM_STATUS_SECONDS": "2", "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))}  # fmt: skip
    subprocess.run(["make", "-s", "-C", str(ROOT), "slurm-profile"], env=env, check=True, capture_output=True)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="also write the summary here")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="roiroa-arrays-"))
    up = subprocess.run(["bash", str(SLURM / "slurm_up.sh"), str(base / "slurm")], capture_output=True, text=True,
                        env=os.environ | {"FAKE_GPUS": "1", "GPU_TYPE": "fake"})  # fmt: skip
    if up.returncode:
        sys.exit(f"slurm_up.sh failed ({up.returncode}): {up.stderr[-2000:]}")
    lines = [f"# bench/slurm_arrays.py, {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} CPUs, "
             f"load average {os.getloadavg()[0]:.1f} at the start; one-node SLURM (tests/slurm/slurm_up.sh)"]  # fmt: skip
    try:
        env = environment(base / "slurm")
        config = copy.deepcopy(TINY_CONFIG)
        config["device"] = "auto"
        config["datasets"]["digits"]["pairs"] = [[0, 1], [2, 3]]
        tables = {}
        # the plugin's efficiency report (sacct; needs AccountingStoreFlags=job_comment) on the first run
        for design, extra in (("jobs", ["--slurm-efficiency-report"]), ("arrays", [f"--slurm-array-jobs={ARRAY_RULES}"])):
            workdir = base / design
            workdir.mkdir()
            checkout(workdir, config)
            result = run(workdir, env, extra, args.timeout)
            tables[design] = sorted((p.name, p.read_bytes()) for p in (workdir / "results" / "tables").glob("*.csv"))
            calls = ", ".join(f"{k} {v}" for k, v in result["calls"].items())
            lines.append(f"{design} ({' '.join(extra) or 'the profile as it is'}): exit {result['returncode']}, "
                         f"{result['wall_s']:.0f} s wall; SLURM commands: {calls}; array submissions "
                         f"{result['arrays']}")  # fmt: skip
            print(lines[-1], flush=True)
            if design == "jobs":  # Snakemake's report of this two-pair run, both forms (no SLURM involved)
                for name in ("report.html", "report.zip"):
                    made = subprocess.run(["snakemake", "--cores", "1", "--report", name], cwd=workdir, env=env,
                                          capture_output=True, text=True)  # fmt: skip
                    size = (workdir / name).stat().st_size if (workdir / name).exists() else None
                    lines.append(f"  snakemake --report {name}: exit {made.returncode}, {size} bytes")
            for report in workdir.glob("efficiency_report_*.csv"):
                rows = report.read_text().splitlines()
                lines.append(f"  {report.name}: {len(rows) - 1} rows, columns {rows[0]}")
        same = tables["jobs"] == tables["arrays"] and bool(tables["jobs"])
        lines.append(f"tables of both designs byte-identical: {same}")
        hazard = base / "hazard"
        hazard.mkdir()
        (hazard / "Snakefile").write_text(HAZARD)
        result = run(hazard, env, ["--slurm-array-jobs=many", "--jobs", "3"], timeout=120)
        done = len(list((hazard / "out").glob("*.txt"))) if (hazard / "out").exists() else 0
        lines.append(f"hazard (10 ready jobs of an array rule, --jobs 3): exit {result['returncode']} after "
                     f"{result['wall_s']:.0f} s, {done} of 10 outputs, sbatch calls {result['calls']['sbatch']}")
    finally:
        subprocess.run(["bash", str(SLURM / "slurm_down.sh"), str(base / "slurm")], capture_output=True)
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    print(f"work directory: {base}")


if __name__ == "__main__":
    main()
