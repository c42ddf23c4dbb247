"""What every rule script does first: log to the rule's log; for torch rules,
threads, device and seed. torch is imported only by the rules that use it
(its import alone costs seconds, which cheap rules should not pay)."""

from __future__ import annotations

import json
import logging
import os
import platform
import signal
import sys
from pathlib import Path
from typing import Iterable


def start_job(log_path: str, outputs: Iterable[str] = ()) -> None:
    """Send logging, stdout and stderr (tracebacks too) to the rule's log file;
    make SIGTERM clean up; remove stale temporary files of `outputs`.

    SIGTERM (what SLURM's scancel and time limit send first, and Snakemake on
    Ctrl-C) raises SystemExit(143), so `with` blocks unwind and atomic writes
    remove their `.NAME.tmpPID` file. A job killed outright (SIGKILL) leaves its
    temporary file behind: the next job for the same outputs removes it here.
    """
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "w", buffering=1)
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True
    )
    install_sigterm_handler()
    remove_stale_tmp_files(outputs)


def _exit_on_sigterm(signum, frame):
    # a second SIGTERM while cleaning up kills at once
    signal.signal(signum, signal.SIG_DFL)
    print(f"stopped by signal {signum} (SIGTERM): removing temporary files", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def install_sigterm_handler() -> None:
    """SIGTERM → SystemExit(143) in the main thread (cleanup runs, the exit status stays 143)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def remove_stale_tmp_files(outputs: Iterable[str]) -> list[Path]:
    """Delete the `.NAME.tmpPID` files of `outputs` that killed writers left behind.

    Snakemake runs one job per output at a time, so any such file is stale.
    """
    from .h5io import stale_tmp_files

    removed = []
    for output in outputs:
        for stale in stale_tmp_files(output):
            size = stale.stat().st_size if stale.exists() else 0
            stale.unlink(missing_ok=True)
            logging.getLogger("roiroa").info("removed stale temporary file %s (%d bytes)", stale, size)
            removed.append(stale)
    return removed


def start_torch_job(
    log_path: str, threads: int, device: str = "auto", seed: int | None = None, outputs: Iterable[str] = ()
):
    """start_job, then torch threads (from the rule's `threads:`), device and seed."""
    import torch

    start_job(log_path, outputs)
    torch.set_num_threads(max(1, int(threads)))
    # same config, same numbers: no autotuned (run-dependent) cuDNN kernels
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    if seed is not None:
        seed_everything(seed)
    resolved = resolve_device(device)
    logging.getLogger("roiroa").info("device %s, %d torch threads", resolved, torch.get_num_threads())
    return resolved


def seed_everything(seed: int) -> None:
    """torch's and numpy's global generators, as at the start of a job."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def resolve_device(name: str = "auto"):
    """'auto' = CUDA when present, else CPU. Asking for CUDA without one is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return device


def write_json(path: str | Path, payload: dict, sort_keys: bool = True) -> None:
    """`payload` as JSON, renamed into place when complete; `sort_keys=False` keeps
    the order of every dict (rows whose column order a table keeps)."""
    from .h5io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=sort_keys) + "\n")


def read_json(path: str | Path):
    """A JSON file written by an earlier stage; a truncated or corrupt one raises
    InputFileError naming the file and where it breaks."""
    from .h5io import InputFileError

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputFileError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); it is "
            f"truncated or corrupt: delete it and run the workflow again, which rewrites it"
        ) from None
    except UnicodeDecodeError as err:
        raise InputFileError(f"{path}: not a text (JSON) file ({err}); delete it and rerun") from None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    return next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                 if line.startswith("model name")), platform.processor() or "unknown CPU")


# Environment variables that choose float kernels (torch's vectorized ops, oneDNN's
# convolutions, MKL's GEMM) or the thread count: a model trained under other values
# is a different model (docs/results/fashion_mnist_cause.md).
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS",
              "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG")


def job_environment() -> dict:
    """What a rerun needs to match a job's numbers: CPU model (and GPU), core
    count, torch threads and float-kernel path, library versions. torch fields
    only when the job imported torch (cheap jobs do not pay its import)."""
    import numpy

    record = {
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "kernel_env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        record |= {
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": bool(torch.backends.mkldnn.enabled),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        }
    return record


def host_description() -> str:
    """The machine a job runs on, for the records: OS, cores, CPU, memory, and the
    CUDA card when there is one."""
    memory = next((line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "")
    gib = f", {int(memory) / 2**20:.0f} GiB" if memory else ""
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu_model()}){gib}{gpu}"
