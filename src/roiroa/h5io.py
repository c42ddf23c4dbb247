"""HDF5 conventions: atomic writes, provenance attributes, chunked streams.

One writer per file; it writes to a temporary name beside the target and
renames on success, so a crash never leaves a file that looks complete.
"""

from __future__ import annotations

import json
import os
import subprocess
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


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def source_commit() -> str:
    """The git commit of the roiroa checkout, '+dirty' if modified, or 'unknown'."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(params: dict, inputs: list[str] | None = None) -> dict:
    """Root attributes every output carries: what produced it and from what."""
    return {
        "roiroa_version": __version__,
        "source_commit": source_commit(),
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
