"""Dataset registry: every dataset the workflow knows, by name.

A dataset is a list of class names plus a loader that returns its images in
[0, 1] at native resolution. The rules never name a dataset: they ask the
registry, so a new dataset plugs in by registering here.
"""

from __future__ import annotations

import numpy as np

# Every dataset is registered on import of this module: digits here, the rest by
# roiroa.loaders (which, like this module, imports the types from roiroa.registry).
from . import loaders  # noqa: F401
from .loaders import own_folders
from .registry import REGISTRY, DatasetSpec, LoadedData, Split, get_dataset, register

__all__ = ["REGISTRY", "DatasetSpec", "LoadedData", "Split", "dataset_spec", "get_dataset", "register"]


def dataset_spec(name: str, options: dict) -> DatasetSpec:
    """The dataset a config section names: a folder dataset it declares (`folder:`,
    registered here, in whichever process asks first) or one of the registry's."""
    if "folder" in options:
        return own_folders.declare(name, options)
    return get_dataset(name)


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

