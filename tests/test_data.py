"""prepare_data, data.h5 readers and the HDF5 conventions."""

import json

import h5py
import numpy as np
import pytest

from roiroa.data import prepare, read_pair, read_rows
from roiroa.datasets import get_dataset
from roiroa.h5io import BLOCK, atomic_path, create_h5, write_array
from roiroa.maps import sample_rows


def test_digits_prepare_is_seeded_stratified_and_in_unit_range(tmp_path):
    spec = get_dataset("digits")
    report = prepare(spec, {}, seed=3, test_fraction=0.25, out=tmp_path / "a.h5")
    prepare(spec, {}, seed=3, test_fraction=0.25, out=tmp_path / "b.h5")
    prepare(spec, {}, seed=4, test_fraction=0.25, out=tmp_path / "c.h5")
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b, h5py.File(tmp_path / "c.h5") as c:
        images, labels = a["test"]["images"][:], a["test"]["labels"][:]
        assert images.dtype == np.float32 and images.shape[1:] == (1, 8, 8)
        assert images.min() == 0 and images.max() == 1
        np.testing.assert_array_equal(images, b["test"]["images"][:])
        assert not np.array_equal(images, c["test"]["images"][:])
        assert json.loads(a.attrs["classes"]) == list(spec.classes)
        assert json.loads(a.attrs["params"])["seed"] == 3
        train_labels = a["train"]["labels"][:]
    counts = np.bincount(labels, minlength=10)
    total = counts + np.bincount(train_labels, minlength=10)
    # stratified: each class keeps its share of the test split (±1 image)
    assert (np.abs(counts - 0.25 * total) <= 1).all()
    assert report["test_counts"]["0"] == counts[0] and report["split"].startswith("stratified")


def test_class_index_by_name_or_index():
    spec = get_dataset("digits")
    assert spec.class_index(3) == 3 and spec.class_index("3") == 3
    with pytest.raises(ValueError, match="not a class of digits"):
        spec.class_index("03x")
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("imagenet")


def test_read_rows_matches_fancy_indexing_across_chunks(tmp_path):
    n = 3 * BLOCK + 17
    images = np.random.default_rng(0).random((n, 1, 3, 3), dtype=np.float32)
    labels = np.arange(n) % 4
    with create_h5(tmp_path / "d.h5", {}) as f:
        group = f.create_group("test")
        write_array(group, "images", images)
        write_array(group, "labels", labels)
    rows = np.array([0, 1, BLOCK - 1, BLOCK, BLOCK + 5, 2 * BLOCK + 1, n - 1])
    with h5py.File(tmp_path / "d.h5") as f:
        got_images, got_labels = read_rows(f["test"], rows)
        empty, _ = read_rows(f["test"], np.array([], dtype=np.int64))
    np.testing.assert_array_equal(got_images, images[rows])
    np.testing.assert_array_equal(got_labels, labels[rows])
    assert empty.shape == (0, 1, 3, 3)
    pair_images, binary = read_pair(tmp_path / "d.h5", "test", (3, 1))
    np.testing.assert_array_equal(pair_images, images[np.isin(labels, (1, 3))])
    assert binary.tolist() == [int(v == 1) for v in labels[np.isin(labels, (1, 3))]]


def test_sample_rows_per_class():
    labels = np.array([0, 1, 2, 0, 1, 0, 0])
    assert sample_rows(labels, (0, 1), None, 0).tolist() == [0, 1, 3, 4, 5, 6]
    some = sample_rows(labels, (0, 1), 2, 0)
    assert len(some) == 4 and (np.bincount(labels[some])[:2] == 2).all()
    assert some.tolist() == sample_rows(labels, (0, 1), 2, 0).tolist()
    with pytest.raises(ValueError, match="no test images"):
        sample_rows(labels, (0, 3), None, 0)


def test_atomic_write_leaves_nothing_on_a_crash(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with create_h5(target, {"x": 1}) as f:
            f["a"] = np.zeros(3)
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
