"""The paper's dataset loaders and the download step, on small files the tests
write in each native format (tests/native_files.py). No test touches the
network: downloads are pointed at a closed port on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
import zipfile

import h5py
import numpy as np
import pytest
import yaml
from snakemake.utils import validate

from conftest import ROOT, TINY_CONFIG, jobs_run, snakemake, write_config
from native_files import CIFAR_NAMES, write_cifar10, write_folder, write_idx_set
from roiroa.data import prepare
from roiroa.datasets import get_dataset
from roiroa.loaders import SOURCES, FetchError, IntegrityError, download, load_options

AWKWARD = ("truncated", "grey", "cmyk", "rgba", "palette", "not_image", "empty")


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: a real download attempt that fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address):
        raise AssertionError(f"network access to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


# ---- MNIST, Fashion-MNIST, CIFAR-10 (torchvision) ------------------------------


@pytest.mark.parametrize("name,folder,gz", [("mnist", "MNIST", True), ("fashion_mnist", "FashionMNIST", True),
                                            ("mnist", "MNIST", False)])
def test_idx_loader_reads_the_official_split(tmp_path, name, folder, gz):
    written = write_idx_set(tmp_path, folder, train_per_class=3, test_per_class=2, gz=gz)
    before = sorted(p.name for p in (tmp_path / folder / "raw").iterdir())
    loaded = get_dataset(name).load({"data_dir": str(tmp_path)})
    for split, key in ((loaded.train, "train"), (loaded.test, "t10k")):
        images, labels = written[key]
        assert split.images.dtype == np.float32 and split.images.shape == (len(labels), 1, 28, 28)
        assert 0 <= split.images.min() and split.images.max() <= 1
        np.testing.assert_allclose(split.images[:, 0] * 255, images, atol=1e-3)
        np.testing.assert_array_equal(split.labels, labels)
    assert len(loaded.train.labels) == 30 and len(loaded.test.labels) == 20
    # the .gz files are read through a temporary copy: nothing is written into data_dir
    assert sorted(p.name for p in (tmp_path / folder / "raw").iterdir()) == before


def test_cifar10_loader_reads_pickled_batches_without_md5_at_load(tmp_path):
    written = write_cifar10(tmp_path, per_batch_per_class=1, test_per_class=2)
    loaded = get_dataset("cifar10").load({"data_dir": str(tmp_path)})
    data = np.concatenate([d for d, _ in written["train"]])
    assert loaded.train.images.shape == (50, 3, 32, 32) and loaded.test.images.shape == (20, 3, 32, 32)
    # rows are 1024 red, 1024 green, 1024 blue values: channel-first after loading
    np.testing.assert_allclose(loaded.train.images.reshape(50, -1) * 255, data, atol=1e-3)
    np.testing.assert_array_equal(loaded.train.labels, np.concatenate([lab for _, lab in written["train"]]))
    np.testing.assert_array_equal(loaded.test.labels, written["test"][1])
    assert loaded.train.images.dtype == np.float32 and loaded.train.images.max() <= 1


def test_cifar10_loader_rejects_batches_of_another_dataset(tmp_path):
    write_cifar10(tmp_path, names=[f"class{i}" for i in range(10)])
    with pytest.raises(ValueError, match="batches.meta names the classes"):
        get_dataset("cifar10").load({"data_dir": str(tmp_path)})


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_torchvision_loader_names_missing_files(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=f"download_{name}") as err:
        get_dataset(name).load({"data_dir": str(tmp_path)})
    assert str(tmp_path) in str(err.value)


def test_class_names_are_slugs_and_resolve_by_name_or_index():
    fashion = get_dataset("fashion_mnist")
    assert fashion.class_index("trouser") == 1 == fashion.class_index("1")
    assert fashion.class_index("pullover") == 2 and fashion.classes[-1] == "ankle_boot"
    assert list(get_dataset("cifar10").classes) == CIFAR_NAMES
    assert get_dataset("malaria").classes == ("parasitized", "uninfected")
    assert get_dataset("cats_vs_dogs").class_index("dog") == 1


# ---- PetImages and NIH malaria folders ----------------------------------------


def test_folder_loader_skips_unreadable_and_converts_to_rgb(tmp_path):
    write_folder(tmp_path / "PetImages" / "Cat", good=4, extras=AWKWARD)
    write_folder(tmp_path / "PetImages" / "Dog", good=3, extras=("grey",), seed=10)
    loaded = get_dataset("cats_vs_dogs").load({"data_dir": str(tmp_path), "native_size": 16})
    assert loaded.test is None  # no official split
    assert loaded.train.images.shape == (4 + 4 + 3 + 1, 3, 16, 16)
    assert loaded.train.images.dtype == np.float32
    assert 0 <= loaded.train.images.min() and loaded.train.images.max() <= 1
    assert loaded.train.labels.tolist() == [0] * 8 + [1] * 4
    report = loaded.report
    assert report["native_size"] == 16
    assert report["files"]["cat"] | {"folder": None} == {"folder": None, "files": 11, "loaded": 8, "skipped": 3}
    assert report["files"]["dog"]["loaded"] == 4 and report["files"]["dog"]["skipped"] == 0
    assert report["converted_to_rgb"] == {"CMYK": 1, "L": 2, "P": 1, "RGBA": 1}
    reasons = {s["file"]: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"PetImages/Cat/truncated.jpg", "PetImages/Cat/Thumbs.db", "PetImages/Cat/666.jpg"}
    assert "truncated" in reasons["PetImages/Cat/truncated.jpg"]
    assert reasons["PetImages/Cat/Thumbs.db"] == "not an image PIL can identify"
    assert reasons["PetImages/Cat/666.jpg"] == "empty file"


def test_prepare_folder_set_draws_a_stratified_split_and_reports(tmp_path):
    for folder, n in (("Parasitized", 8), ("Uninfected", 12)):
        write_folder(tmp_path / "data" / "cell_images" / folder, good=n, extras=("not_image", "rgba"))
    options = {"data_dir": str(tmp_path / "data"), "native_size": 12}
    report = prepare(get_dataset("malaria"), options, seed=0, test_fraction=0.25, out=tmp_path / "data.h5")
    assert report["split"].startswith("stratified") and report["image_shape"] == [3, 12, 12]
    train, test = report["train_counts"], report["test_counts"]
    assert {c: train[c] + test[c] for c in train} == {"parasitized": 9, "uninfected": 13}  # 8 or 12, + the RGBA
    assert sum(test.values()) == 6 and all(abs(test[c] - 0.25 * (train[c] + test[c])) <= 1 for c in test)
    assert report["native_size"] == 12 and report["converted_to_rgb"] == {"RGBA": 2}
    assert [s["file"] for s in report["skipped"]] == ["cell_images/Parasitized/Thumbs.db",
                                                      "cell_images/Uninfected/Thumbs.db"]
    with h5py.File(tmp_path / "data.h5") as f:
        assert json.loads(f.attrs["params"])["native_size"] == 12
        assert json.loads(f.attrs["report"])["files"]["uninfected"]["loaded"] == 13
        assert f["test"]["images"].shape == (6, 3, 12, 12)


def test_folder_loader_errors_name_the_missing_folder_and_the_empty_class(tmp_path):
    spec = get_dataset("cats_vs_dogs")
    write_folder(tmp_path / "PetImages" / "Cat", good=2)
    with pytest.raises(FileNotFoundError, match=f"cats_vs_dogs: missing under {tmp_path}: PetImages/Dog/"):
        spec.load({"data_dir": str(tmp_path), "native_size": 8})
    (tmp_path / "PetImages" / "Dog").mkdir()
    with pytest.raises(FileNotFoundError, match=r"missing under .*: PetImages/Dog/ \(no files: an empty folder\)"):
        spec.load({"data_dir": str(tmp_path), "native_size": 8})
    write_folder(tmp_path / "PetImages" / "Dog", good=0, extras=("dangling",))
    with pytest.raises(FileNotFoundError, match=r"PetImages/Dog/ \(no files: only 1 dangling symlinks\)"):
        spec.load({"data_dir": str(tmp_path), "native_size": 8})
    (tmp_path / "PetImages" / "Dog" / "gone.jpg").unlink()
    write_folder(tmp_path / "PetImages" / "Dog", good=0, extras=("not_image", "empty"))
    with pytest.raises(ValueError, match=rf"class 'dog' has no readable image in {tmp_path / 'PetImages' / 'Dog'}"):
        spec.load({"data_dir": str(tmp_path), "native_size": 8})


def test_folder_loader_scales_deep_images_and_skips_what_it_cannot_read(tmp_path):
    odd = ("bomb", "grey16", "float", "float_range", "int32_range", "dangling")
    write_folder(tmp_path / "PetImages" / "Cat", good=2, extras=odd)
    write_folder(tmp_path / "PetImages" / "Dog", good=2, seed=10)
    loaded = get_dataset("cats_vs_dogs").load({"data_dir": str(tmp_path), "native_size": 16})
    report = loaded.report
    reasons = {s["file"].rsplit("/", 1)[1]: s["reason"] for s in report["skipped"]}
    assert reasons["huge.png"].startswith("too large to decode safely (PIL's decompression-bomb limit): "
                                          "Image size (400000000 pixels) exceeds limit")
    assert reasons["float1000.tif"] == "float image with values 0..1000, outside [0, 1]: no known scale"
    assert reasons["int32.tif"].startswith("32-bit integer image with values -50000..50000, outside 0..65535")
    assert reasons["gone.jpg"] == f"dangling symlink (to {tmp_path}/PetImages/Cat/moved_away.jpg, which does not exist)"
    assert report["files"]["cat"] | {"folder": None} == {"folder": None, "files": 8, "loaded": 4, "skipped": 4}
    assert report["converted_to_rgb"] == {"F": 1, "I;16": 1}
    # files in name order: 0.jpg 1.png float.tif grey16.png; both deep images hold the same
    # 0..1 left-to-right ramp, which must survive (not clip to all 255 or all 0)
    for image in loaded.train.images[[2, 3]]:
        row = image[0, 8]
        assert np.allclose(image, image[0:1, 0:1, :], atol=1 / 255)  # grey: equal channels, equal rows
        assert row[0] < 0.05 and row[-1] > 0.95 and np.all(np.diff(row) > 0), row
        assert abs(row.mean() - 0.5) < 0.02
    assert np.allclose(loaded.train.images[2], loaded.train.images[3], atol=1.5 / 255)


def test_empty_class_folder_is_named_and_nothing_is_downloaded_over_user_files(tmp_path, closed_port_url):
    write_folder(tmp_path / "PetImages" / "Cat", good=3)
    (tmp_path / "PetImages" / "Dog").mkdir()
    before = sorted(p.name for p in (tmp_path / "PetImages" / "Cat").iterdir())
    with pytest.raises(FetchError) as err:
        download("cats_vs_dogs", {"data_dir": str(tmp_path), "mirror": closed_port_url})
    message = str(err.value)
    assert "PetImages/Dog/ (no files: an empty folder)" in message and "PetImages/Cat/ (3 files)" in message
    assert "Nothing was downloaded" in message and "download" not in message.split("Nothing")[0].lower()
    assert sorted(p.name for p in (tmp_path / "PetImages" / "Cat").iterdir()) == before


# ---- the download step --------------------------------------------------------


def write_files(name, data_dir):
    if name in ("mnist", "fashion_mnist"):
        write_idx_set(data_dir, {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[name])
    elif name == "cifar10":
        write_cifar10(data_dir)
    else:
        top, folders = {"cats_vs_dogs": ("PetImages", ("Cat", "Dog")),
                        "malaria": ("cell_images", ("Parasitized", "Uninfected"))}[name]
        for folder in folders:
            write_folder(data_dir / top / folder, good=2)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_download_with_files_present_downloads_nothing(tmp_path, no_network, name):
    write_files(name, tmp_path)
    manifest = download(name, {"data_dir": str(tmp_path), "verify": False})
    assert manifest["dataset"] == name and manifest["downloaded"] is False
    listed = manifest.get("files") or list(manifest["folders"].values())
    assert listed and all(entry["bytes"] > 0 for entry in listed)


def test_download_checks_published_md5_unless_told_not_to(tmp_path, no_network):
    write_cifar10(tmp_path)
    with pytest.raises(IntegrityError, match="data_batch_1 has md5 .* published file has c99cafc1"):
        download("cifar10", {"data_dir": str(tmp_path), "verify": True})
    manifest = download("cifar10", {"data_dir": str(tmp_path), "verify": False})
    assert [e["file"] for e in manifest["files"]][-1] == "cifar-10-batches-py/batches.meta"
    assert not any(e["verified"] for e in manifest["files"])


EXPECTED_BY_HAND = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz", "MNIST/raw/t10k-labels-idx1-ubyte.gz"),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
                      "FashionMNIST/raw/train-images-idx3-ubyte.gz"),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "tar xzf cifar-10-python.tar.gz -C"),
    "cats_vs_dogs": ("https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/"
                     "kagglecatsanddogs_5340.zip", "PetImages/Cat"),
    "malaria": ("https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip", "cell_images/Uninfected"),
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_download_without_files_fails_fast_saying_what_to_fetch(tmp_path, closed_port_url, name, monkeypatch):
    if getattr(SOURCES[name], "system_dirs", ()):  # as on a machine without Debian's package
        monkeypatch.setitem(SOURCES, name, dataclasses.replace(SOURCES[name], system_dirs=(str(tmp_path / "none"),)))
    start = time.monotonic()
    with pytest.raises(FetchError) as err:
        download(name, {"data_dir": str(tmp_path / name), "mirror": closed_port_url})
    assert time.monotonic() - start < 10
    message = str(err.value)
    url, where = EXPECTED_BY_HAND[name]
    assert "Fetch by hand" in message and url in message and where in message
    assert f"from the mirror {closed_port_url}" in message and f"download_{name}" in message


def test_download_unpacks_an_archive_put_in_place(tmp_path, no_network):
    staging = tmp_path / "staging"
    write_folder(staging / "PetImages" / "Cat", good=2)
    write_folder(staging / "PetImages" / "Dog", good=3)
    data_dir = tmp_path / "cats_vs_dogs"
    data_dir.mkdir()
    with zipfile.ZipFile(data_dir / "kagglecatsanddogs_5340.zip", "w") as z:
        for path in sorted(staging.rglob("*.*")):
            z.write(path, path.relative_to(staging))
    manifest = download("cats_vs_dogs", {"data_dir": str(data_dir)})
    assert manifest["downloaded"] is True and manifest["folders"]["dog"]["files"] == 3
    assert not (data_dir / "kagglecatsanddogs_5340.zip").exists()


def test_download_only_options_do_not_reach_the_loader():
    options = {"data_dir": "d", "native_size": 64, "mirror": "http://x/", "verify": True}
    assert load_options(options) == {"data_dir": "d", "native_size": 64}


# ---- config -------------------------------------------------------------------


def test_schema_fills_loader_defaults_and_catches_typos():
    schema = str(ROOT / "config" / "schema.yaml")
    config = {"datasets": {"mnist": {"pairs": [[0, 1]]}, "malaria": {"pairs": "all"}}}
    validate(config, schema)
    assert config["datasets"]["mnist"] == {"pairs": [[0, 1]], "test_fraction": 0.25, "verify": True,
                                           "data_dir": "data/mnist", "source": "torchvision"}
    assert config["datasets"]["malaria"]["native_size"] == 64
    for typo in ({"mnist": {"pairs": "all", "data_dri": "x"}}, {"mnist": {"pairs": "all", "native_size": 32}},
                 {"digits": {"pairs": "all", "data_dir": "x"}}):
        with pytest.raises(Exception, match="Unevaluated properties are not allowed"):
            validate({"datasets": typo}, schema)


# ---- workflow -----------------------------------------------------------------


def mnist_config(data_dir, **options):
    config = {k: v for k, v in TINY_CONFIG.items() if k != "datasets"}
    config["datasets"] = {"mnist": {"pairs": [[0, 1]], "data_dir": str(data_dir), **options}}
    return config


@pytest.mark.workflow
def test_prepare_data_runs_through_snakemake_on_test_written_mnist(tmp_path):
    write_idx_set(tmp_path / "data", "MNIST", train_per_class=4, test_per_class=2)
    configfile = write_config(tmp_path, mnist_config(tmp_path / "data", verify=False))
    result = snakemake(tmp_path, configfile, "results/mnist/data.h5")
    assert jobs_run(result) == {"download_mnist": 1, "prepare_data": 1}
    assert "localrule download_mnist:" in result.stdout + result.stderr
    manifest = json.loads((tmp_path / "results/mnist/download.json").read_text())
    assert manifest["downloaded"] is False and len(manifest["files"]) == 4
    report = json.loads((tmp_path / "results/mnist/data_report.json").read_text())
    assert report["split"] == "official" and report["image_shape"] == [1, 28, 28]
    assert report["train_counts"]["0"] == 4 and report["test_counts"]["9"] == 2
    with h5py.File(tmp_path / "results/mnist/data.h5") as f:
        assert f["train"]["images"].shape == (40, 1, 28, 28)
        assert "verify" not in json.loads(f.attrs["params"])
    # a new mirror reruns the download step only, not prepare_data (its input is ancient)
    configfile = write_config(tmp_path, mnist_config(tmp_path / "data", verify=False, mirror="http://127.0.0.1:9/"))
    planned = snakemake(tmp_path, configfile, "results/mnist/data.h5", "-n")
    assert "rule download_mnist:" in planned.stdout and "rule prepare_data:" not in planned.stdout


@pytest.mark.workflow
def test_download_step_without_files_fails_with_fetch_by_hand(tmp_path, closed_port_url):
    configfile = write_config(tmp_path, mnist_config(tmp_path / "empty", mirror=closed_port_url))
    result = snakemake(tmp_path, configfile, "results/mnist/data.h5", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Fetch by hand" in output and "https://ossci-datasets.s3.amazonaws.com/mnist/" in output
    assert not (tmp_path / "results/mnist/download.json").exists()


@pytest.mark.workflow
def test_paper_config_plans_the_whole_reproduction_without_data(tmp_path):
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    assert set(paper["datasets"]) == {"mnist", "fashion_mnist", "cifar10", "cats_vs_dogs", "malaria"}
    assert paper["blob"]["theta"] == [round(0.10 + 0.01 * i, 2) for i in range(10)]
    result = snakemake(tmp_path, ROOT / "config" / "paper.yaml", "-n")
    planned = dict(
        (rule, int(n)) for rule, n in
        (line.split() for line in result.stdout.splitlines() if len(line.split()) == 2 and line.split()[1].isdigit())
    )
    for name in paper["datasets"]:
        assert planned[f"download_{name}"] == 1
    seeds = len(paper["seeds"])
    assert planned["prepare_data"] == 5 and planned["train"] == 5 * seeds
    assert planned["blob"] == planned["neutralize_reattack"] == 5 * seeds  # each for every θ
    assert not (tmp_path / "data").exists()
    targets = snakemake(tmp_path, ROOT / "config" / "paper.yaml", "-n", "download_all")
    assert len(re.findall(r"^rule download_(?!all)", targets.stdout, re.M)) == 5
    assert "rule prepare_data:" not in targets.stdout
