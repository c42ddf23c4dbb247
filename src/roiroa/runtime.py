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

from .environment import KERNEL_ENV, _read, cpu_identity, cpu_label, cpu_model, job_environment  # noqa: F401  (re-exported)


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
    sys.excepthook = _report_and_exit
    remove_stale_tmp_files(outputs)


def _report_and_exit(kind, error, traceback) -> None:
    """Print the traceback; after a full disk, exit at once. Python's shutdown would
    then finalize h5py objects whose file could not be written, which prints
    "Exception ignored in ... Disable slist on flush dest failure failed" (or
    crashes) after the clear DiskFullError, hiding it from the log's last line."""
    from .h5io import DiskFullError

    sys.__excepthook__(kind, error, traceback)
    if isinstance(error, DiskFullError):
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(1)


def _exit_on_sigterm(signum, frame):
    # a second SIGTERM while cleaning up kills at once
    signal.signal(signum, signal.SIG_DFL)
    print(f"stopped by signal {signum} (SIGTERM): removing temporary files", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def install_sigterm_handler() -> None:
    """SIGTERM → SystemExit(143) in the main thread (cleanup runs, the exit status stays 143)."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def remove_stale_tmp_files(outputs: Iterable[str]) -> list[Path]:
    """Delete the `.NAME.tmpPID@HOST` files of `outputs` that killed writers left behind
    (h5io.stale_tmp_files), and log those left alone: a writer that still runs (after
    Snakemake was killed, its job may go on, and a rerun starts beside it) keeps its file.
    """
    from .h5io import stale_tmp_files, tmp_files

    removed = []
    log = logging.getLogger("roiroa")
    for output in outputs:
        stale = stale_tmp_files(output)
        for path in stale:
            size = path.stat().st_size if path.exists() else 0
            path.unlink(missing_ok=True)
            log.info("removed stale temporary file %s (%d bytes)", path, size)
            removed.append(path)
        for path in set(tmp_files(output)) - set(stale):
            log.warning("left temporary file %s alone: its writer may still run (another job for the same "
                        "output, or one on another machine)", path)
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
    the order of every dict (rows whose column order a table keeps). It records the
    roiroa commit that wrote it (`source_commit`, as every HDF5 output does), so a
    page refuses numbers that passed through modified code at any stage."""
    from .h5io import atomic_path, source_commit

    payload = {"source_commit": source_commit(), **payload}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=sort_keys) + "\n")


# What each intermediate JSON holds (by file name), checked by read_json: a dict
# names its required keys, [spec] is a list of items each matching spec, a type is
# an isinstance check. Every stage's reader goes through read_json.
NUMBER = (int, float)
BY_THETA = [{"params": dict, "directions": list}]
JSON_SHAPES = {
    "calibration.json": {"params": dict, "by_theta": BY_THETA},
    "evaluation.json": {"params": dict, "by_theta": BY_THETA},
    "ssim.json": {"params": dict, "directions": list},
    "baselines.json": {"params": dict, "directions": list},
    "equal_size.json": {"params": dict, "directions": list},
    "theta.json": {"params": dict, "theta": NUMBER},
    "sweep_scores.json": {"inputs": list, "rows": [dict]},
    "train.json": {"seed": int, "history": dict},
}


def shape_problem(value, spec, where: str = "") -> str | None:
    """Where `value` departs from `spec` (JSON_SHAPES), in words; None if it matches."""
    def kind(v) -> str:
        return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
            type(v), "a number" if isinstance(v, NUMBER) else "null")

    top = where or "the top level"
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{top} is {kind(value)}, expected an object with the keys {', '.join(spec)}"
        for key, sub in spec.items():
            if key not in value:
                return f"{top} has no key {key!r} (it holds: {', '.join(sorted(value)) or 'nothing'})"
            problem = shape_problem(value[key], sub, f"{where}.{key}" if where else key)
            if problem:
                return problem
        return None
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{top} is {kind(value)}, expected a list"
        return next(filter(None, (shape_problem(v, spec[0], f"{where}[{i}]") for i, v in enumerate(value))), None)
    if not isinstance(value, spec) or isinstance(value, bool):
        expected = "a number" if spec is NUMBER else kind(spec())
        return f"{top} is {kind(value)}, expected {expected}"
    return None


def read_json(path: str | Path):
    """A JSON file written by an earlier stage; a truncated, corrupt or foreign one
    (not the shape JSON_SHAPES gives for its name) raises InputFileError naming the
    file, what is wrong, and that deleting it and rerunning rewrites it."""
    from .h5io import InputFileError

    path = Path(path)
    redo = "delete it and run the workflow again, which rewrites it"
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputFileError(
            f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); it is "
            f"truncated or corrupt: {redo}"
        ) from None
    except UnicodeDecodeError as err:
        raise InputFileError(f"{path}: not a text (JSON) file ({err}); {redo}") from None
    problem = shape_problem(payload, JSON_SHAPES[path.name]) if path.name in JSON_SHAPES else None
    if problem:
        raise InputFileError(f"{path}: not what the workflow writes there: {problem}; {redo}")
    return payload


def read_checkpoint(path: str | Path, device="cpu") -> dict:
    """A model.pt written by models.save_model (weights only: no code is run while
    reading it); a missing, cut or foreign file raises an error naming the path.

    torch's own message for a foreign file advises weights_only=False, which would
    run whatever code the file holds: it is never repeated here.
    """
    import pickle

    import torch

    from .h5io import InputFileError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, f"model file {path} does not exist")
    redo = "delete it and run the workflow again, which trains the model again"
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise InputFileError(
            f"{path}: not a model checkpoint this workflow writes (it holds something other than "
            f"weights, so it is not read); {redo}"
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputFileError(
            f"{path}: cannot read the model checkpoint ({type(err).__name__}: {first_line}); it is "
            f"truncated or corrupt (a copy cut off, a full disk): {redo}"
        ) from None
    if not isinstance(checkpoint, dict) or not {"spec", "state_dict"} <= set(checkpoint):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise InputFileError(
            f"{path}: a torch file, but not a model checkpoint this workflow writes (expected the keys "
            f"spec and state_dict, found {found}); {redo}"
        )
    return checkpoint


def host_description() -> str:
    """The machine a job runs on, for the records: OS, cores, CPU (name and identity), memory, and the
    CUDA card when there is one."""
    memory = next((line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "")
    gib = f", {int(memory) / 2**20:.0f} GiB" if memory else ""
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    cpu = cpu_label(cpu_model(), cpu_identity())
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores of {cpu}{gib}{gpu}"
