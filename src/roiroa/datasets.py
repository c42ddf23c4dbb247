"""Dataset registry: every dataset the workflow knows, by name.

A dataset is a list of class names plus a loader that returns its images in
[0, 1] at native resolution. The rules never name a dataset: they ask the
registry, so a new dataset plugs in by registering here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

CLASS_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass
class Split:
    """Images (N×C×H×W float32 in [0,1]) and integer labels of one split."""

    images: np.ndarray
    labels: np.ndarray


@dataclass
class LoadedData:
    """What a loader returns.

    `test` is None when the dataset has no official test split: then
    prepare_data draws a seeded stratified split from `train`.
    `report` holds loader notes (skipped files, conversions) for the data report.
    """

    train: Split
    test: Split | None
    report: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    classes: tuple[str, ...]
    load: Callable[[dict], LoadedData]
    description: str = ""

    def class_index(self, value: int | str) -> int:
        """Resolve a class given by index (1, "1") or by name ("trouser")."""
        if isinstance(value, bool):
            raise ValueError(f"class must be a name or an index, not {value!r}")
        if isinstance(value, str) and value in self.classes:
            return self.classes.index(value)
        try:
            index = int(value)
        except (TypeError, ValueError):
            index = -1
        if 0 <= index < len(self.classes) and str(index) == str(value).strip():
            return index
        raise ValueError(
            f"{value!r} is not a class of {self.name} "
            f"(classes: {', '.join(self.classes)}; or an index 0..{len(self.classes) - 1})"
        )


REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    bad = [c for c in spec.classes if not CLASS_NAME.match(c)]
    if bad:
        raise ValueError(f"class names must match {CLASS_NAME.pattern}: {bad}")
    REGISTRY[spec.name] = spec
    return spec


def get_dataset(name: str) -> DatasetSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r} (known: {', '.join(sorted(REGISTRY))})"
        ) from None


# Images per class of scikit-learn's digits (fixed data; tests/test_config.py checks
# it against load_digits): config checks read it at every Snakemake start, where
# importing scikit-learn would cost a second.
DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)


def _load_digits(options: dict) -> LoadedData:
    """scikit-learn's handwritten digits: 1797 real 8×8 images, 17 grey levels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    return LoadedData(
        train=Split(images, digits.target.astype(np.int64)),
        test=None,
        report={"source": "sklearn.datasets.load_digits (ships with scikit-learn)"},
    )


register(
    DatasetSpec(
        name="digits",
        classes=tuple(str(i) for i in range(10)),
        load=_load_digits,
        description="scikit-learn's embedded 8×8 handwritten digits",
    )
)


# The paper's datasets: mnist, fashion_mnist, cifar10, cats_vs_dogs, malaria
# (roiroa.loaders; their files come from the download step).
from . import loaders  # noqa: E402, F401
