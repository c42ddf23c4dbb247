"""The dataset registry's types and the registry itself.

Everything that defines or reads datasets imports this module, and it imports
none of them: roiroa.datasets (the built-in datasets), roiroa.loaders (the
datasets read from files) and roiroa.data (prepare_data) all sit above it, so
imports flow one way (tests/test_imports.py fails on any circle).
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
