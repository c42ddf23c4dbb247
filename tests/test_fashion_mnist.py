"""The real Fashion-MNIST from Debian's dataset-fashion-mnist: read in place,
checked on its decompressed content, and run through the whole chain.

As root on Debian/Ubuntu the tests install the package themselves (as the
SLURM and Chromium tests do); elsewhere they skip, saying why."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import jobs_run, model_dir, snakemake, write_config
from roiroa.datasets import get_dataset
from roiroa.loaders import SOURCES, IntegrityError, download

SYSTEM = Path("/usr/share/datasets/fashion-mnist")
NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture(scope="module")
def debian_copy() -> Path:
    if not all((SYSTEM / name).is_file() for name in NAMES):
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("needs Debian's dataset-fashion-mnist: run as root with apt-get, or "
                        "`sudo apt-get install dataset-fashion-mnist`")
        install = ["apt-get", "install", "-y", "-q", "dataset-fashion-mnist"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            result = subprocess.run(install, capture_output=True, text=True)
            if result.returncode != 0:
                pytest.skip(f"apt-get install dataset-fashion-mnist failed: {result.stderr[-500:]}")
    return SYSTEM


def test_system_copy_is_found_read_and_verified_without_network(debian_copy, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the download step tried the network")

    monkeypatch.setattr(type(SOURCES["fashion_mnist"]), "fetch", refuse)
    empty = tmp_path / "data"
    manifest = download("fashion_mnist", {"data_dir": str(empty)})
    assert manifest["downloaded"] is False and not empty.exists()  # nothing linked or copied into data_dir
    assert [Path(e["file"]).name for e in manifest["files"]] == NAMES
    assert all(e["verified"] and e["file"].startswith(str(debian_copy)) for e in manifest["files"])
    assert "decompressed content" in manifest["integrity"]
    loaded = get_dataset("fashion_mnist").load({"data_dir": str(empty)})
    assert loaded.train.images.shape == (60000, 1, 28, 28) and loaded.test.images.shape == (10000, 1, 28, 28)
    assert np.bincount(loaded.test.labels).tolist() == [1000] * 10


def test_zalando_style_and_extracted_copies_pass_the_content_check(debian_copy, tmp_path):
    """The .gz checksums differ between zalando's and Debian's archives; the content does not."""
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in NAMES[:2]:  # re-gzip two files with other settings: other .gz bytes, same content
        (raw / name).write_bytes(gzip.compress(gzip.decompress((debian_copy / name).read_bytes()), 1, mtime=0))
    for name in NAMES[2:]:  # and extract the other two
        (raw / name.removesuffix(".gz")).write_bytes(gzip.decompress((debian_copy / name).read_bytes()))
    manifest = download("fashion_mnist", {"data_dir": str(tmp_path)})
    assert all(e["verified"] and str(tmp_path) in e["file"] for e in manifest["files"])


@pytest.mark.parametrize("damage", ["flipped byte", "truncated"])
def test_a_damaged_copy_fails_naming_the_file(debian_copy, tmp_path, damage):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in NAMES:
        shutil.copyfile(debian_copy / name, raw / name)
    victim = raw / "t10k-images-idx3-ubyte.gz"
    content = bytearray(gzip.decompress(victim.read_bytes()))
    if damage == "flipped byte":
        content[5000] ^= 0xFF  # same length, valid gzip: only the content digest can tell
    else:
        content = content[: len(content) // 2]
    victim.write_bytes(gzip.compress(bytes(content), mtime=0))
    with pytest.raises(IntegrityError, match=str(victim)):
        download("fashion_mnist", {"data_dir": str(tmp_path)})
    if damage == "truncated":  # loading checks the IDX header against the length
        with pytest.raises(IntegrityError, match="truncated or damaged"):
            get_dataset("fashion_mnist").load({"data_dir": str(tmp_path)})


REAL_CONFIG = {
    "seeds": [0],
    "device": "cpu",
    "threads": 1,
    "n_samples": 60,
    "datasets": {"fashion_mnist": {"pairs": [["trouser", "pullover"]], "data_dir": "data/fashion_mnist"}},
    "model": {"arch": "tiny_vgg", "input_size": 16, "epochs": 1, "batch_size": 64, "lr": 0.003, "hidden": 32},
    "attack": {"eps": [0.1]},
    "regions": {"delta1": [0.5], "delta2": [0.5]},
    "blob": {"theta": [0.15, 0.3]},
    "baselines": {"random_draws": 2},
}


@pytest.mark.slow
@pytest.mark.workflow
def test_whole_chain_on_the_real_files(debian_copy, tmp_path):
    """prepare_data → … → tables on the real Fashion-MNIST (all 12,000 training
    images of the pair, 1 epoch of the tiny model, 60 test images per class)."""
    configfile = write_config(tmp_path, REAL_CONFIG)
    ran = jobs_run(snakemake(tmp_path, configfile))
    assert ran["download_fashion_mnist"] == 1 and ran["train"] == 1 and ran["tables"] == 1, ran
    report = json.loads((tmp_path / "results/fashion_mnist/data_report.json").read_text())
    assert "/usr/share/datasets/fashion-mnist" in json.dumps(report)
    train = json.loads((tmp_path / model_dir(REAL_CONFIG, "fashion_mnist", "trouser-pullover") / "seed~0/train.json").read_text())
    assert train["n_train"] == 12000 and train["test_accuracy"] > 0.9  # trouser vs pullover is easy
    t3 = pd.read_csv(tmp_path / "results/tables/table3_reattack.csv", dtype={"theta": str})
    assert set(t3["source"]) == {"trouser", "pullover"}
    assert t3["score_mod_adv (paper)"].notna().all()  # the paper's values sit beside ours
    assert (t3["images per seed"] == 30).all()  # the evaluation half of 60 per class
