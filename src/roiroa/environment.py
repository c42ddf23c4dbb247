"""The machine and float-kernel path a job runs on, as its outputs record it.

Its own module (standard library, numpy, and torch only when the job imported
it): h5io.provenance and runtime both need it, and neither may import the other
at module level.
"""

from __future__ import annotations

import hashlib
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


def cpu_identity(cpuinfo: str | None = None) -> str:
    """The CPU beyond its model name, which a virtual machine may shorten to "AMD
    EPYC" for several generations: vendor, family, model, stepping and a digest of
    the feature flags (the instruction sets the float kernels may pick). Empty where
    /proc/cpuinfo (or `cpuinfo`, its text) does not say (not Linux)."""
    fields = {}
    for line in (_read("/proc/cpuinfo") if cpuinfo is None else cpuinfo).splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("vendor_id", "cpu family", "model", "stepping", "flags") and key not in fields:
            fields[key] = value.strip()
        if not line.strip() and fields:
            break  # the first processor's block is enough: every core of a machine is alike
    if not fields:
        return ""
    flags = hashlib.sha256(" ".join(sorted(fields.get("flags", "").split())).encode()).hexdigest()[:8]
    return (f"{fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')} stepping {fields.get('stepping', '?')}, flags {flags}")


def cpu_label(name: str, identity: str = "") -> str:
    """A CPU as the records print it: 'AMD EPYC (AuthenticAMD family 25 ...)', or the
    name alone for a record without an identity (older records, not Linux)."""
    return f"{name} ({identity})" if identity else name


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
    (model name and identity), torch's kernels and, for a training on CUDA, the GPU model. Two trainings
    agree bit for bit only where these agree (docs/results/fashion_mnist_cause.md)."""
    import torch

    gpu = torch.cuda.get_device_name(0) if str(device).startswith("cuda") else None
    return {"cpu": cpu_model(), "cpu_id": cpu_identity(), "kernel_env": kernel_env(),
            **torch_kernels(torch), "gpu": gpu}


def job_environment() -> dict:
    """What a rerun needs to match a job's numbers: CPU model and identity (and GPU), core
    count, torch threads and float-kernel path, library versions. torch fields
    only when the job imported torch (cheap jobs do not pay its import)."""
    import numpy

    record = {
        "platform": f"{platform.system()} {platform.machine()}",
        "cpu": cpu_model(),
        "cpu_id": cpu_identity(),
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
