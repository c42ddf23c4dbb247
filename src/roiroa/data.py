"""prepare_data's logic and the readers of data.h5.

data.h5 holds every class of a dataset (so adding a pair never re-prepares):
/train/images, /train/labels, /test/images, /test/labels, and the class
names. Images are N×C×H×W float32 in [0, 1] at native resolution.
`clean_images` gives the stages after the map stage the clean images in the
space their maps live in (attack.space).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from .registry import DatasetSpec, LoadedData, Split
from .h5io import BLOCK, create_h5, damaged, open_h5, read_attr, read_dataset, write_array


def split_data(loaded: LoadedData, test_fraction: float, seed: int) -> tuple[Split, Split, str]:
    """Use the official test split when there is one, else a seeded stratified split."""
    if loaded.test is not None:
        return loaded.train, loaded.test, "official"
    # imported here: every torch job reads data.h5 through this module, and
    # sklearn's import (about a second) is paid by each (bench/plan.py)
    from sklearn.model_selection import train_test_split

    idx_train, idx_test = train_test_split(
        np.arange(len(loaded.train.labels)),
        test_size=test_fraction,
        stratify=loaded.train.labels,
        random_state=seed,
    )
    whole = loaded.train
    pick = lambda idx: Split(whole.images[np.sort(idx)], whole.labels[np.sort(idx)])  # noqa: E731
    return pick(idx_train), pick(idx_test), f"stratified test_fraction={test_fraction} seed={seed}"


def check_images(split: Split, what: str) -> None:
    images = split.images
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"{what}: images must be N×C×H×W with C in (1, 3), got {images.shape}")
    if len(images) and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"{what}: pixel values must lie in [0, 1]")
    if len(images) != len(split.labels):
        raise ValueError(f"{what}: {len(images)} images but {len(split.labels)} labels")


def class_counts(labels: np.ndarray, classes: tuple[str, ...]) -> dict[str, int]:
    counts = np.bincount(labels, minlength=len(classes))
    return {name: int(n) for name, n in zip(classes, counts)}


def prepare(spec: DatasetSpec, options: dict, seed: int, test_fraction: float, out: str | Path) -> dict:
    """Load a dataset, split it, write data.h5; return the data report."""
    loaded = spec.load(options)
    train, test, how = split_data(loaded, test_fraction, seed)
    for split, name in ((train, "train"), (test, "test")):
        check_images(split, f"{spec.name} {name}")
    report = {
        "dataset": spec.name,
        "split": how,
        "image_shape": list(train.images.shape[1:]),
        "train_counts": class_counts(train.labels, spec.classes),
        "test_counts": class_counts(test.labels, spec.classes),
        **loaded.report,
    }
    params = {"dataset": spec.name, "seed": seed, "test_fraction": test_fraction, **options}
    with create_h5(out, params) as f:
        f.attrs["classes"] = json.dumps(spec.classes)
        f.attrs["report"] = json.dumps(report)
        for split, name in ((train, "train"), (test, "test")):
            group = f.create_group(name)
            write_array(group, "images", split.images.astype(np.float32, copy=False))
            write_array(group, "labels", split.labels.astype(np.int64))
    return report


def read_classes(path: str | Path) -> tuple[str, ...]:
    with open_h5(path, "prepared data") as f:
        return tuple(json.loads(read_attr(f, "classes")))


def read_pair(path: str | Path, split: str, classes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """All images of a pair's two classes in one split, with binary labels
    (0 = first class of the pair, 1 = second)."""
    with open_h5(path, "prepared data") as f:
        rows = np.flatnonzero(np.isin(read_dataset(f, f"{split}/labels"), classes))
        try:
            images, labels = read_rows(f[split], rows)
        except (OSError, RuntimeError, KeyError) as err:  # a damaged chunk of the images
            raise damaged(path, f"the {split} images", err) from err
    return images, (labels == classes[1]).astype(np.int64)


def read_rows(split: h5py.Group, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of a split (an open data.h5 group) at sorted row numbers,
    one BLOCK-aligned span per read (h5py's fancy indexing is slow; a span keeps
    each read bounded)."""
    images, labels = split["images"], split["labels"]
    out_images = np.empty((len(rows), *images.shape[1:]), np.float32)
    out_labels = np.empty(len(rows), np.int64)
    start = 0
    while start < len(rows):
        span_end = (rows[start] // BLOCK + 1) * BLOCK
        stop = int(np.searchsorted(rows, span_end, side="left"))
        lo, hi = rows[start], rows[stop - 1] + 1
        out_images[start:stop] = images[lo:hi][rows[start:stop] - lo]
        out_labels[start:stop] = labels[lo:hi][rows[start:stop] - lo]
        start = stop
    return out_images, out_labels


# maps.h5's copy of the clean images, written where the map stage moved them out of
# data.h5's native space (attack.space: model_input; roiroa.maps.in_space)
CLEAN = "x"


def clean_images(data: h5py.Group, maps: h5py.File, positions: np.ndarray) -> np.ndarray:
    """The clean images of maps.h5's rows at (increasing) `positions`, in the space
    its maps live in: its own copy (CLEAN) where it has one, else data.h5's test
    images (`data`: that open group) at those rows."""
    if CLEAN in maps:
        return maps[CLEAN][positions]
    return read_rows(data, maps["index"][positions])[0]
