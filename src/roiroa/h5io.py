"""HDF5 conventions: atomic writes, provenance attributes, chunked streams.

One writer per file; it writes to a temporary name beside the target and
renames on success, so a crash never leaves a file that looks complete.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from . import __version__

# Samples per streamed block: small enough to bound memory, large enough that
# per-call overhead doesn't dominate.
BLOCK = 256
# Bytes per HDF5 chunk: h5py's default chunk cache holds 1 MiB per dataset, and a
# chunk that does not fit it is re-read and re-compressed on every partial write.
CHUNK_BYTES = 1 << 20


class InputFileError(ValueError):
    """An input file a stage cannot use (truncated, corrupt, unexpected content);
    the message names the path and, where one applies, the dataset."""


class DiskFullError(OSError):
    """No space left on the device while writing an output; the message names it."""


def tmp_path_of(path: str | Path, pid: int | None = None, host: str | None = None) -> Path:
    """The temporary name an output is written under: .NAME.tmpPID@HOST beside it
    (the host: on a shared file system, a PID says nothing about another machine's processes)."""
    path = Path(path)
    pid = os.getpid() if pid is None else pid
    return path.with_name(f".{path.name}.tmp{pid}@{socket.gethostname() if host is None else host}")


# Another machine's temporary file untouched this long is taken for a killed writer's:
# a live writer's file changes as it writes (HDF5 chunks leave the cache; JSON and
# model.pt are written at once).
OTHER_HOST_STALE_S = 24 * 3600


def writer_alive(pid: int, since: float) -> bool:
    """Whether process `pid` of this machine runs and started by `since` (a file's last
    change): a process started later reuses the PID of a writer that is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    started = process_start(pid)
    return started is None or started <= since + 1  # unknown start: keep the file


def process_start(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), from /proc; None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after the command name in parentheses
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def tmp_files(path: str | Path) -> list[Path]:
    """Every temporary file of `path` (.NAME.tmpPID, or .NAME.tmpPID@HOST), live or not."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.tmp\d+(@.+)?$")
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if pattern.match(p.name))


def stale_tmp_files(path: str | Path) -> list[Path]:
    """Temporary files of `path` whose writer is gone: on this machine (or named by
    PID only), no process with that PID has run since the file last changed; on
    another machine (unknowable here), unchanged for OTHER_HOST_STALE_S."""
    stale = []
    for tmp in tmp_files(path):
        pid, _, host = tmp.name.rsplit(".tmp", 1)[1].partition("@")
        try:
            changed = tmp.stat().st_mtime
        except FileNotFoundError:
            continue  # its writer just renamed or removed it
        if host and host != socket.gethostname():
            gone = time.time() - changed > OTHER_HOST_STALE_S
        else:
            gone = not writer_alive(int(pid), changed)
        if gone:
            stale.append(tmp)
    return stale


def _no_space(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)  # h5py and torch report the C library's error in the message
    return "No space left on device" in text or "errno = 28," in text or "Disk quota exceeded" in text


# Free bytes below which a failed write is taken for a full disk.
NEARLY_FULL = 1 << 20


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` on success.

    On any exception, KeyboardInterrupt and SystemExit included (runtime.start_job
    turns SIGTERM into SystemExit), the temporary file is removed. A full disk is
    reported as DiskFullError naming `path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_of(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except Exception as err:
        free = shutil.disk_usage(path.parent).free
        # torch.save on a full disk says only "unexpected pos ..."; the free space tells
        if _no_space(err) or free < NEARLY_FULL:
            raise DiskFullError(
                errno.ENOSPC,
                f"no space left on device while writing {path} ({free / 2**20:.1f} MiB free on its file "
                f"system; {type(err).__name__}: {' '.join(str(err).split())}). Free space or move results/ "
                f"elsewhere, then rerun",  # one line (h5py's message has a newline): the log's last
            ) from err
        raise
    finally:
        tmp.unlink(missing_ok=True)


# ---- reading intermediates ------------------------------------------------------


@contextmanager
def open_h5(path: str | Path, role: str) -> Iterator[h5py.File]:
    """Open an intermediate HDF5 file for reading; errors name the file.

    `role` says what the file is to the reader ("maps", "the prepared data"). A
    missing file raises FileNotFoundError, an unreadable one (truncated, not HDF5,
    corrupt superblock) InputFileError, both naming the path. Read its datasets
    with `read_dataset`, which names the dataset too.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, f"{role} file {path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise InputFileError(
            f"cannot open {role} file {path}: {err}. It is truncated or corrupt (a copy cut off, "
            f"a full disk): delete it and run the workflow again, which rewrites it"
        ) from err
    try:
        yield f
    finally:
        f.close()


def damaged(path, what: str, err: BaseException) -> InputFileError:
    """The error for a part of an HDF5 file that cannot be read (a damaged block)."""
    return InputFileError(
        f"{path}: cannot read {what}: {err}. The file is corrupt or truncated: delete it "
        f"and run the workflow again, which rewrites it"
    )


def read_group(f: h5py.File | h5py.Group, name: str) -> h5py.Group:
    """f[name] as a group; a missing or damaged one raises InputFileError naming the file."""
    where = f"{f.name.rstrip('/')}/{name}"
    try:
        group = f[name]
        if isinstance(group, h5py.Group):
            list(group)  # a damaged index of the group's members fails here, not at the caller's loop
    except KeyError as err:
        if not missing_object(err):
            raise damaged(f.file.filename, f"group {where}", err) from err
        raise InputFileError(
            f"{f.file.filename}: no group {where}; the file is from another version or stage: delete it "
            f"and run the workflow again"
        ) from None
    except (OSError, RuntimeError, ValueError) as err:
        raise damaged(f.file.filename, f"group {where}", err) from err
    if not isinstance(group, h5py.Group):
        raise InputFileError(f"{f.file.filename}: {where} is a dataset, not a group")
    return group


def missing_object(err: KeyError) -> bool:
    """h5py raises KeyError both for a name that is not there and for a damaged
    group index on the way to it (wrong B-tree signature); only the first is missing."""
    return "doesn't exist" in str(err) or "not found" in str(err)


def read_attr(obj: h5py.File | h5py.Group | h5py.Dataset, name: str):
    """obj.attrs[name]; a missing or damaged attribute raises InputFileError naming the file."""
    try:
        return obj.attrs[name]
    except KeyError:
        raise InputFileError(
            f"{obj.file.filename}: {obj.name} has no attribute {name!r}; the file is from another version or "
            f"stage: delete it and run the workflow again"
        ) from None
    except (OSError, RuntimeError, ValueError) as err:
        raise damaged(obj.file.filename, f"attribute {name!r} of {obj.name}", err) from err


def read_dataset(f: h5py.File | h5py.Group, name: str, selection=()) -> np.ndarray:
    """f[name][selection] (all of it by default); errors name the file and the dataset.

    A missing dataset raises InputFileError listing what the group holds; a read
    that fails (a corrupt chunk: "filter returned failure during read", a
    truncated file) raises InputFileError too.
    """
    path = f.file.filename
    where = f"{f.name.rstrip('/')}/{name}"
    try:
        dataset = f[name]
    except KeyError as err:
        if not missing_object(err):
            raise damaged(path, f"dataset {where}", err) from err
        raise InputFileError(
            f"{path}: no dataset {where} (the group {f.name} holds: {', '.join(sorted(f.keys())) or 'nothing'}); "
            f"the file is from another version or stage: delete it and run the workflow again"
        ) from None
    except (OSError, RuntimeError, ValueError) as err:  # a damaged group on the way (B-tree, heap)
        raise damaged(path, f"dataset {where}", err) from err
    if not isinstance(dataset, h5py.Dataset):
        raise InputFileError(f"{path}: {where} is a group, not a dataset")
    try:
        return dataset[selection]
    except (OSError, RuntimeError, ValueError) as err:
        raise damaged(path, f"dataset {where}", err) from err


def check_labels(labels: np.ndarray, path: str | Path, name: str = "label") -> np.ndarray:
    """Binary labels of a pair's file: integers in {0, 1}, else InputFileError naming the file."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise InputFileError(f"{path}: {name} must be one label per image, got shape {labels.shape}")
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        values = sorted({v.item() for v in labels[bad][:20]})
        raise InputFileError(
            f"{path}: {name} holds {int(bad.sum())} of {len(labels)} values outside {{0, 1}} "
            f"(e.g. {values}, first at row {int(np.flatnonzero(bad)[0])}); labels of a pair's file are 0 "
            f"(first class) or 1. The file was not written by this version of the workflow: delete it and rerun"
        )
    return labels


def check_rows(f: h5py.File | h5py.Group, names: list[str], n: int) -> None:
    """Every dataset in `names` has `n` rows (one per image), else InputFileError."""
    for name in names:
        if name not in f:
            read_dataset(f, name)  # raises, listing what is there
        rows = f[name].shape[0] if f[name].shape else None
        if rows != n:
            raise InputFileError(
                f"{f.file.filename}: {f.name.rstrip('/')}/{name} has {rows} rows, expected {n} (one per image)"
            )


def check_range(values: np.ndarray, lo: float, hi: float, path: str | Path, name: str) -> np.ndarray:
    """Values within [lo, hi] (NaN counts as outside), else InputFileError naming file and dataset."""
    values = np.asarray(values)
    bad = ~((values >= lo) & (values <= hi))
    if bad.any():
        finite = values[np.isfinite(values)]
        seen = f"{finite.min()}..{finite.max()}" if finite.size else "no finite value"
        raise InputFileError(
            f"{path}: {name} has {int(bad.sum())} values outside [{lo}, {hi}] ({seen}"
            f"{', NaN' if np.isnan(values).any() else ''})"
        )
    return values


# What publishing writes (the pages under docs/, README's generated blocks): a checkout
# whose only changes are these ran the same code, so a page published before the next
# page's run does not mark that run's jobs as modified code.
GENERATED_PATHS = ("docs", "README.md")


def checkout_commit(root: Path) -> str:
    """The git commit of the checkout at `root`, '+dirty' if a tracked file outside
    GENERATED_PATHS is modified; raises OSError/SubprocessError where there is no git."""
    def git(*args) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()  # fmt: skip

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                *(f":(exclude){path}" for path in GENERATED_PATHS))
    return commit + ("+dirty" if dirty else "")


@lru_cache(maxsize=1)
def source_commit() -> str:
    """The git commit of the roiroa checkout (checkout_commit). A copy without git
    (a cluster's staging area, say) names it in $ROIROA_SOURCE_COMMIT; else 'unknown'."""
    try:
        return checkout_commit(Path(__file__).resolve().parents[2])
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("ROIROA_SOURCE_COMMIT", "unknown")


def provenance(params: dict, inputs: list[str] | None = None) -> dict:
    """Root attributes every output carries: what produced it, from what, and on
    which machine (`environment`: runtime.job_environment, as JSON)."""
    from .environment import job_environment

    return {
        "roiroa_version": __version__,
        "source_commit": source_commit(),
        "environment": json.dumps(job_environment(), sort_keys=True),
        "params": json.dumps(params, sort_keys=True, default=str),
        "inputs": json.dumps([str(p) for p in inputs or []]),
    }


@contextmanager
def create_h5(path: str | Path, params: dict, inputs: list[str] | None = None):
    """Open a new HDF5 file for writing, atomically, with provenance attributes."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(provenance(params, inputs))
            yield f


def read_params(f: h5py.File) -> dict:
    return json.loads(f.attrs["params"])


def create_stream(
    group: h5py.Group, name: str, n: int, item_shape: tuple, dtype, compress: bool = True
) -> h5py.Dataset:
    """A dataset of `n` samples chunked along the sample axis (≤ CHUNK_BYTES a chunk)."""
    shape = (n, *item_shape)
    if n == 0:
        return group.create_dataset(name, shape=shape, dtype=dtype)
    item_bytes = max(1, int(np.prod(item_shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    rows = int(np.clip(CHUNK_BYTES // item_bytes, 1, n))
    options = dict(compression="gzip", compression_opts=4, shuffle=True) if compress else {}
    return group.create_dataset(name, shape=shape, dtype=dtype, chunks=(rows, *item_shape), **options)


def write_array(group: h5py.Group, name: str, data: np.ndarray) -> h5py.Dataset:
    data = np.asarray(data)
    dataset = create_stream(group, name, len(data), data.shape[1:], data.dtype)
    if len(data):
        dataset[...] = data
    return dataset


def blocks(n: int, size: int = BLOCK) -> Iterator[slice]:
    """Consecutive slices covering range(n)."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))
