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

`probe_gpus()` (profiles/slurm, when Snakemake starts) records in
ROIROA_SLURM_GPUS what `sinfo` says the GPU jobs' partition offers; `gpu_plan()`
then plans CPU jobs on a cluster without GPUs and stops on a GPU request that it
cannot meet, before any submission.

`watch_pending()` (started by profiles/slurm) finds the run's jobs that stay
PENDING for a reason that waiting cannot resolve, cancels them and stops the run
(ROIROA_SLURM_PENDING=warn: only warns); `python -m roiroa.cluster` lists such
jobs once and exits 1 if there are any.
"""

from __future__ import annotations

import os
import signal
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


class ClusterError(ValueError):
    """A request that the cluster cannot meet, found before any job is submitted."""


# What the cluster offers the GPU jobs (`sinfo` gres of their partition): set by
# profiles/slurm when Snakemake starts (probe_gpus), or by the site; `none`: no GPU.
GPUS_VARIABLE = "ROIROA_SLURM_GPUS"


def gpu_plan(config: Mapping, environ: Mapping[str, str] | None = None) -> tuple[int, str | None]:
    """GPUs a torch job asks for, and a line to print when the cluster decided it.

    `device: cpu`: none. Otherwise one, unless ROIROA_SLURM_GPUS says the cluster
    has none: then `device: auto` plans CPU jobs (the line says so), and a request
    that only a GPU can meet (`device: cuda…`, ROIROA_SLURM_GPU_PARTITION,
    ROIROA_SLURM_GPU_MODEL) raises ClusterError naming the setting, as does a GPU
    model that the partition does not have. ROIROA_SLURM_GPUS unset (no probe, a
    site's own profile): one GPU, unchecked.
    """
    environ = os.environ if environ is None else environ
    device = str(config["device"])
    if device == "cpu":
        return 0, None
    offered = environ.get(GPUS_VARIABLE, "").strip()
    if not offered:
        return 1, None
    model = environ.get("ROIROA_SLURM_GPU_MODEL", "")
    partition = environ.get("ROIROA_SLURM_GPU_PARTITION", "")
    said = f"{GPUS_VARIABLE}={offered}, from sinfo or the site"
    if offered == "none":
        target = partition or environ.get("ROIROA_SLURM_PARTITION", "")
        where = f"partition {target}" if target else "the cluster's default partition"
        if partition:
            raise ClusterError(f"ROIROA_SLURM_GPU_PARTITION={partition}: {where} offers no GPU ({said}): "
                               "unset it or name a partition with GPUs; docs/hpc.md")
        if model:
            raise ClusterError(f"ROIROA_SLURM_GPU_MODEL={model}: {where} offers no GPU ({said}): unset it, or "
                               "name a partition with GPUs (ROIROA_SLURM_GPU_PARTITION); docs/hpc.md")
        if device != "auto":
            raise ClusterError(f"config device: {device} asks for a GPU, but {where} offers none ({said}): set "
                               "config `device: auto` (CPU jobs) or `device: cpu`, or send the GPU jobs to a "
                               "partition with GPUs (ROIROA_SLURM_GPU_PARTITION); docs/hpc.md")
        return 0, f"roiroa: no GPU on {where} ({said}): the torch jobs run as CPU jobs (device: auto); docs/hpc.md"
    types = {entry.split(":")[1] for entry in offered.split(",") if entry.count(":") >= 2}
    if model and model not in types:
        have = ", ".join(sorted(types)) or "GPUs without a type"
        raise ClusterError(f"ROIROA_SLURM_GPU_MODEL={model}: the GPU jobs' partition offers {have} ({said}): "
                           "name one of them or unset it; docs/hpc.md")
    return 1, None


def gpus(config: Mapping, environ: Mapping[str, str] | None = None) -> int:
    """GPUs a torch job asks for (gpu_plan)."""
    return gpu_plan(config, environ)[0]


def gres_of(partitions: list[str] | None = None, timeout: float = 20) -> list[str] | None:
    """The gpu gres that `sinfo` lists for the nodes of `partitions` (the default
    partition when none is given), e.g. ["gpu:a100:4"]; [] for none; None when
    sinfo is not there or does not know the partition."""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P|%G"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    per_partition: dict[str, set[str]] = {}
    default = None
    for line in out.stdout.splitlines():
        name, _, gres = line.partition("|")
        if name.endswith("*"):
            name = default = name[:-1]
        # "gpu:a100:4(S:0-1),shard:8" -> gpu:a100:4; "(null)" -> nothing
        entries = {entry.split("(")[0] for entry in gres.split(",") if entry.startswith("gpu")}
        per_partition.setdefault(name, set()).update(entries)
    wanted = [p for p in (partitions or []) if p] or ([default] if default else list(per_partition))
    if not all(p in per_partition for p in wanted):
        return None
    return sorted(set().union(*(per_partition[p] for p in wanted)))


def probe_gpus(environ=None) -> str | None:
    """profiles/slurm, on the submitting side: unless the site set ROIROA_SLURM_GPUS,
    set it to what `sinfo` lists for the GPU jobs' partition (`none`, or its gpu gres,
    comma-separated); the jobs inherit it (sbatch --export=ALL), so every parse of
    the workflow plans the same. Returns the value, None where sinfo does not answer."""
    environ = os.environ if environ is None else environ
    if environ.get(GPUS_VARIABLE):
        return environ[GPUS_VARIABLE]
    partition = environ.get("ROIROA_SLURM_GPU_PARTITION") or environ.get("ROIROA_SLURM_PARTITION")
    gres = gres_of([partition] if partition else None)
    if gres is None:
        return None
    environ[GPUS_VARIABLE] = ",".join(gres) or "none"
    return environ[GPUS_VARIABLE]


def torch_resources(config: Mapping, environ: Mapping[str, str] | None = None) -> dict:
    """`resources:` of the torch rules (use as `resources: **TORCH_RESOURCES`)."""
    environ = os.environ if environ is None else environ
    out = {"gpu": gpus(config, environ), "runtime": grows_with_attempt(TORCH_RUNTIME_MIN), "mem_mb": TORCH_MEM_MB}
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
    """`resources:` of the rules of group "analysis"; `torch`: neutralize_reattack, baselines, equal_size;
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


SQUEUE_FORMAT = "%i|%T|%r|%Z|%k"  # the comment last: it may hold "|"


def pending_hopeless(squeue_lines: list[str]) -> list[dict]:
    """Jobs among `squeue -h -o SQUEUE_FORMAT` lines that are PENDING for good."""
    out = []
    for line in squeue_lines:
        parts = line.split("|", 4)
        if len(parts) < 3:
            continue
        job, state, reason, workdir, comment = (parts + ["", ""])[:5]
        why = hopeless_reason(reason.strip()) if state.strip() == "PENDING" else None
        if why:
            out.append({"job": job.strip(), "reason": reason.strip(), "why": why, "workdir": workdir.strip(),
                        "comment": comment.strip()})  # fmt: skip
    return out


def squeue_mine(timeout: float = 30) -> list[str]:
    user = os.environ.get("USER") or None
    cmd = ["squeue", "-h", "-o", SQUEUE_FORMAT] + (["-u", user] if user else ["--me"])
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return []
    return result.stdout.splitlines() if result.returncode == 0 else []


def describe(job: dict, cancelled: bool = False) -> str:
    """What is wrong with a job that can never start, and what to do (`cancelled`: the watcher did)."""
    what = f" ({job['comment']})" if job["comment"] else ""
    lower = "lower the request (config `threads`, the rule's mem_mb/runtime) or pick another partition"
    if cancelled:
        todo = (f"Cancelled it and stopping the run: {lower}, then run the same command again "
                f"({PENDING_VARIABLE}=warn only warns)")
    else:
        todo = f"Cancel it (scancel {job['job']}) and {lower}"
    return (f"SLURM job {job['job']}{what} is PENDING with reason {job['reason']}, which waiting does not resolve: "
            f"{job['why']}. {todo}; docs/hpc.md")


# ROIROA_SLURM_PENDING: what the profile's watcher does about such a job. `cancel`
# (default): scancel it and stop the run, as retries would only submit the same
# request again; `warn`: only warn (a site where a drained node may come back).
PENDING_VARIABLE = "ROIROA_SLURM_PENDING"
PENDING_ACTIONS = ("cancel", "warn")


def pending_action(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    action = environ.get(PENDING_VARIABLE, "cancel").strip() or "cancel"
    if action not in PENDING_ACTIONS:
        raise ClusterError(f"{PENDING_VARIABLE}={action}: expected one of {', '.join(PENDING_ACTIONS)}; docs/hpc.md")
    return action


def this_runs_jobs(jobs: list[dict], workdir: str) -> list[dict]:
    """The jobs of Snakemake's SLURM executor (comment `rule_...`) that run in
    `workdir`: Snakemake locks a working directory, so they are this run's."""
    here = os.path.realpath(workdir)
    return [job for job in jobs if job["comment"].startswith("rule_") and os.path.realpath(job["workdir"]) == here]


def watch_pending(interval: float = 60, stream=None, stop: threading.Event | None = None, action: str = "warn",
                  stop_run: Callable[[], None] | None = None) -> threading.Thread | None:  # fmt: skip
    """Every `interval` s, warn once per job of this run (this_runs_jobs) that can never start;
    with `action` "cancel", also scancel it and call `stop_run` (default: SIGINT to this
    process, what Ctrl-C does: the executor cancels the run's other jobs and Snakemake
    exits with an error).

    A daemon thread: it ends with the Snakemake process that started it (or when
    `stop` is set). None where there is no squeue.
    """
    stream = sys.stderr if stream is None else stream
    stop = threading.Event() if stop is None else stop
    stop_run = stop_run or (lambda: os.kill(os.getpid(), signal.SIGINT))
    answer_ctrl_c()
    warned: set[str] = set()

    def loop():
        while not stop.wait(interval):
            for job in this_runs_jobs(pending_hopeless(squeue_mine()), os.getcwd()):
                if job["job"] in warned:
                    continue
                warned.add(job["job"])
                if action != "cancel":
                    print(f"WARNING (roiroa): {describe(job)}", file=stream, flush=True)
                    continue
                subprocess.run(["scancel", job["job"]], capture_output=True, timeout=60)
                print(f"ERROR (roiroa): {describe(job, cancelled=True)}", file=stream, flush=True)
                stop_run()
                return

    if not _has("squeue"):
        return None
    thread = threading.Thread(target=loop, name="roiroa-slurm-pending-watch", daemon=True)
    thread.start()
    return thread


def answer_ctrl_c() -> None:
    """Make this process stop on SIGINT (Ctrl-C) even when it was started with SIGINT
    ignored: a shell starts a background command (`nohup snakemake ... &` on a login
    node, a script's `&`) with SIGINT ignored, and Python then never turns it into
    KeyboardInterrupt, so neither Ctrl-C's stand-in (the watcher's stop_run, `kill
    -INT`) nor the executor's cancelling of the run's jobs would happen. Only the
    main thread may set a handler; the profile calls the watcher from there."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
