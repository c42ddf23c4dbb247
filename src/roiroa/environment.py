"""The machine and float-kernel path a job runs on, as its outputs record it.

Its own module (standard library, numpy, and torch only when the job imported
it): h5io.provenance and runtime both need it, and neither may import the other
at module level.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


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


def kernel_env() -> dict:
    """The KERNEL_ENV variables set in this process."""
    return {k: os.environ[k] for k in KERNEL_ENV if k in os.environ}


def torch_kernels(torch) -> dict:
    """torch's version, thread count and CPU kernel path (oneDNN on or off)."""
    return {
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "mkldnn": bool(torch.backends.mkldnn.enabled),
    }  # fmt: skip


def float_path(device: str = "cpu") -> dict:
    """What decides a training's float results besides its code and data: the CPU
    model, torch's kernels and, for a training on CUDA, the GPU model. Two trainings
    agree bit for bit only where these agree (docs/results/fashion_mnist_cause.md)."""
    import torch

    gpu = torch.cuda.get_device_name(0) if str(device).startswith("cuda") else None
    return {"cpu": cpu_model(), "kernel_env": kernel_env(), **torch_kernels(torch), "gpu": gpu}


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
        "kernel_env": kernel_env(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        record |= torch_kernels(torch) | {"gpu": gpu}
    return record
