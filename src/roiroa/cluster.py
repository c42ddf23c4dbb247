"""What the workflow asks of a cluster, whatever profile submits it, and a
warning for SLURM jobs that can never start.

The rules take their per-rule resources from here (rules/common.smk), not from
profiles/slurm, so a site's own `slurm` profile runs them the same way:

- `torch_resources(config)`: train, attack_cam, neutralize_reattack (and the
  other torch rules): one GPU unless `device: cpu`; ROIROA_SLURM_GPU_PARTITION
  and ROIROA_SLURM_GPU_MODEL apply only when a GPU is requested; 240 min × attempt.
- `data_resources()`: prepare_data, 60 min × attempt.
- `analysis_resources(config, torch)`: the rules that profiles/slurm groups into
  `analysis` (regions to baselines): minutes, not hours, as their jobs' runtimes
  add up in a group job.

`runtime` grows with Snakemake's `attempt` (1, 2, 3 with `retries: 2`), so a
job that hit its time limit is retried with more time, not the same limit.

`watch_pending()` (started by profiles/slurm) warns on stderr when a job of this
user stays PENDING for a reason that waiting cannot resolve; `python -m
roiroa.cluster` lists such jobs once and exits 1 if there are any.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Callable, Mapping

# Minutes of the first attempt (the retry after a time-out gets 2×, then 3×), and MB.
TORCH_RUNTIME_MIN = 240
TORCH_MEM_MB = 8000
DATA_RUNTIME_MIN = 60
DATA_MEM_MB = 4000


def grows_with_attempt(minutes: int) -> Callable:
    """A `runtime` resource of `minutes` × attempt (Snakemake passes `attempt`)."""

    def runtime(wildcards, attempt):
        return minutes * attempt

    runtime.__name__ = f"runtime_{minutes}_min_x_attempt"
    return runtime


def gpus(config: Mapping) -> int:
    """GPUs a torch job asks for: none with `device: cpu`, else one."""
    return 0 if config["device"] == "cpu" else 1


def torch_resources(config: Mapping, environ: Mapping[str, str] | None = None) -> dict:
    """`resources:` of the torch rules (use as `resources: **TORCH_RESOURCES`)."""
    environ = os.environ if environ is None else environ
    out = {"gpu": gpus(config), "runtime": grows_with_attempt(TORCH_RUNTIME_MIN), "mem_mb": TORCH_MEM_MB}
    if out["gpu"]:  # a CPU job neither goes to the GPU partition nor names a GPU model
        if environ.get("ROIROA_SLURM_GPU_PARTITION"):
            out["slurm_partition"] = environ["ROIROA_SLURM_GPU_PARTITION"]
        if environ.get("ROIROA_SLURM_GPU_MODEL"):
            out["gpu_model"] = environ["ROIROA_SLURM_GPU_MODEL"]
    return out


def data_resources() -> dict:
    """`resources:` of prepare_data."""
    return {"runtime": grows_with_attempt(DATA_RUNTIME_MIN), "mem_mb": DATA_MEM_MB}


# Group "analysis" (profiles/slurm): one cluster job runs the jobs after the map
# stage of a few (pair, seed, attack, ε, CAM, δ1, RoA, δ2), one after another: each
# takes the one `serial` slot that profiles/slurm gives a submission (a resource of
# local scope), so Snakemake sizes it for one job at a time: the CPUs, memory and
# GPU of its largest job and the sum of their runtimes (tests/test_slurm.py checks
# the time limit).
# Hence runtimes near the work, not TORCH_RUNTIME_MIN: neutralize_reattack and
# baselines take about 100 CPU-s at paper size on 1 core (Fashion-MNIST), seconds
# on a GPU; the numpy and figure jobs seconds.
ANALYSIS_TORCH_RUNTIME_MIN = 10
ANALYSIS_RUNTIME_MIN = 2
ANALYSIS_MEM_MB = 2000


def analysis_resources(
    config: Mapping, torch: bool, environ: Mapping[str, str] | None = None, evaluations: int = 1
) -> dict:
    """`resources:` of the rules of group "analysis"; `torch`: neutralize_reattack, baselines;
    `evaluations`: how many a job runs (neutralize_reattack: one per θ), each given the time of one.

    All of them carry the GPU partition and model of the torch jobs: Snakemake
    requires a string resource to be the same in every job of a group.
    """
    gpu_job = torch_resources(config, environ)
    out = {name: value for name, value in gpu_job.items() if isinstance(value, str)}
    out["serial"] = 1
    if torch:
        out |= {"gpu": gpu_job["gpu"], "runtime": grows_with_attempt(ANALYSIS_TORCH_RUNTIME_MIN * evaluations),
                "mem_mb": TORCH_MEM_MB}
    else:
        out |= {"runtime": grows_with_attempt(ANALYSIS_RUNTIME_MIN), "mem_mb": ANALYSIS_MEM_MB}
    return out


# ---- SLURM: what fits, and jobs that can never start ----------------------------------

# squeue reasons (%r) that waiting does not resolve: the request exceeds a limit of
# the partition, the QOS or the association, or names something that does not exist.
HOPELESS = {
    "PartitionConfig": "the request exceeds what the partition's nodes have (CPUs, memory, GPUs)",
    "PartitionNodeLimit": "more nodes than the partition allows",
    "PartitionTimeLimit": "a time limit above the partition's MaxTime",
    "BadConstraints": "a constraint no node satisfies",
    "InvalidAccount": "an account that does not exist or is not yours",
    "InvalidQOS": "a QOS that does not exist or is not allowed",
}
HOPELESS_PREFIXES = ("QOSMax", "AssocMax")  # ...PerJob limits of the QOS or the association


def hopeless_reason(reason: str) -> str | None:
    """Why a PENDING reason cannot resolve, or None if it may (Resources, Priority, ...)."""
    if reason in HOPELESS:
        return HOPELESS[reason]
    if reason.startswith(HOPELESS_PREFIXES) and "PerJob" in reason:
        return f"a per-job limit of the QOS or the association ({reason})"
    return None


def pending_hopeless(squeue_lines: list[str]) -> list[dict]:
    """Jobs among `squeue -h -o '%i|%T|%r|%k'` lines that are PENDING for good."""
    out = []
    for line in squeue_lines:
        parts = line.split("|", 3)
        if len(parts) < 3:
            continue
        job, state, reason, comment = (parts + [""])[:4]
        why = hopeless_reason(reason.strip()) if state.strip() == "PENDING" else None
        if why:
            out.append({"job": job.strip(), "reason": reason.strip(), "why": why, "comment": comment.strip()})
    return out


def squeue_mine(timeout: float = 30) -> list[str]:
    user = os.environ.get("USER") or None
    cmd = ["squeue", "-h", "-o", "%i|%T|%r|%k"] + (["-u", user] if user else ["--me"])
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return []
    return result.stdout.splitlines() if result.returncode == 0 else []


def describe(job: dict) -> str:
    what = f" ({job['comment']})" if job["comment"] else ""
    return (
        f"SLURM job {job['job']}{what} is PENDING with reason {job['reason']}, which waiting does not "
        f"resolve: {job['why']}. Cancel it (scancel {job['job']}) and lower the request "
        f"(config `threads`, the rule's mem_mb/runtime) or pick another partition; docs/hpc.md"
    )


def watch_pending(interval: float = 60, stream=None, stop: threading.Event | None = None) -> threading.Thread | None:
    """Warn once per job, every `interval` s, about this user's jobs that can never start.

    A daemon thread: it ends with the Snakemake process that started it (or when
    `stop` is set). Only the jobs of Snakemake's SLURM executor (comment
    `rule_...`) are looked at. None where there is no squeue.
    """
    stream = sys.stderr if stream is None else stream
    stop = threading.Event() if stop is None else stop
    warned: set[str] = set()

    def loop():
        while not stop.wait(interval):
            for job in pending_hopeless(squeue_mine()):
                if job["job"] not in warned and job["comment"].startswith("rule_"):
                    warned.add(job["job"])
                    print(f"WARNING (roiroa): {describe(job)}", file=stream, flush=True)

    if not _has("squeue"):
        return None
    thread = threading.Thread(target=loop, name="roiroa-slurm-pending-watch", daemon=True)
    thread.start()
    return thread


def _has(command: str) -> bool:
    from shutil import which

    return which(command) is not None


def node_cpus(partitions: list[str] | None = None, timeout: float = 20) -> int | None:
    """The most CPUs of one node in `partitions` (the default partition when none is
    given), from sinfo; None when sinfo is not there or says nothing.

    profiles/slurm caps every job's threads at this (`max-threads`), so that the
    default `threads` never asks for more CPUs than a node has (such a job would
    pend forever with reason PartitionConfig).
    """
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P|%c"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    per_partition: dict[str, int] = {}
    default = None
    for line in out.stdout.splitlines():
        name, _, cpus = line.partition("|")
        if name.endswith("*"):
            name = default = name[:-1]
        try:
            n = int(cpus.strip().rstrip("+"))
        except ValueError:
            continue
        per_partition[name] = max(n, per_partition.get(name, 0))
    wanted = [p for p in (partitions or []) if p] or ([default] if default else list(per_partition))
    counts = [per_partition[p] for p in wanted if p in per_partition]
    return min(counts) if counts else None


def main(argv: list[str] | None = None) -> int:
    """`python -m roiroa.cluster`: list this user's jobs that can never start; exit 1 if any."""
    jobs = pending_hopeless(squeue_mine())
    for job in jobs:
        print(describe(job))
    if not jobs:
        print("no pending job of yours waits for a reason that cannot resolve")
    return 1 if jobs else 0


if __name__ == "__main__":
    sys.exit(main())
