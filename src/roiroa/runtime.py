"""What every rule script does first: log to the rule's log; for torch rules,
threads, device and seed. torch is imported only by the rules that use it
(its import alone costs seconds, which cheap rules should not pay)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def start_job(log_path: str) -> None:
    """Send logging, stdout and stderr (tracebacks too) to the rule's log file."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(log_path, "w", buffering=1)
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True
    )


def start_torch_job(log_path: str, threads: int, device: str = "auto", seed: int | None = None):
    """start_job, then torch threads (from the rule's `threads:`), device and seed."""
    import numpy as np
    import torch

    start_job(log_path)
    torch.set_num_threads(max(1, int(threads)))
    # same config, same numbers: no autotuned (run-dependent) cuDNN kernels
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    if seed is not None:
        torch.manual_seed(seed)
        np.random.seed(seed)
    resolved = resolve_device(device)
    logging.getLogger("roiroa").info("device %s, %d torch threads", resolved, torch.get_num_threads())
    return resolved


def resolve_device(name: str = "auto"):
    """'auto' = CUDA when present, else CPU. Asking for CUDA without one is an error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available")
    return device


def write_json(path: str | Path, payload: dict) -> None:
    from .h5io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
