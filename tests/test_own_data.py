"""Your own images from the config alone (issue 19): folder datasets declared
with `folder:`, written here as real image files; the loader, the checks at
the start, and the workflow end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import ROOT, jobs_run, model_dir, snakemake, write_config
from roiroa.config import ConfigError, validate_config
from roiroa.data import prepare
from roiroa.datasets import dataset_spec

# A run that goes through every stage quickly: one seed, a tiny model, one epoch.
OWN_CONFIG = {
    "seeds": [0],
    "device": "cpu",
    "threads": 1,
    "datasets": {"own": {"folder": "data/own", "classes": "auto", "pairs": [["left", "right"]]}},
    "model": {"arch": "tiny_vgg", "input_size": 16, "epochs": 1, "batch_size": 16, "lr": 0.003, "hidden": 16},
    "attack": {"eps": [0.1]},
    "blob": {"theta": [0.15]},
}


def write_class_images(folder: Path, n: int, side: str, mode: str = "L", size=(12, 12), seed: int = 0,
                       fmt: str = "png") -> None:
    """`n` images whose bright half is the class (`left` or `right`), with noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(n):
        pixels = rng.integers(0, 60, (h, w), dtype=np.uint8)
        half = slice(0, w // 2) if side == "left" else slice(w // 2, w)
        pixels[:, half] += 150
        image = Image.fromarray(pixels, "L")
        if mode != "L":
            image = Image.merge("RGB", (image, image.point(lambda v: v // 2), image.point(lambda v: 255 - v)))
        image.save(folder / f"{i:03d}.{fmt}")


def own_folder(root: Path, n: int = 12, mode: str = "L", size=(12, 12)) -> Path:
    folder = root / "data" / "own"
    write_class_images(folder / "Left", n, "left", mode, size, seed=1)
    write_class_images(folder / "Right", n, "right", mode, size, seed=2, fmt="bmp")
    return folder


def declared(folder: Path, **options) -> dict:
    config = copy.deepcopy(OWN_CONFIG)
    config["datasets"]["own"] |= {"folder": str(folder), **options}
    return config


# ---- the loader ----------------------------------------------------------------


def test_grey_folder_keeps_one_channel_at_native_size(tmp_path):
    folder = own_folder(tmp_path, n=6)
    (folder / "Left" / "notes.txt").write_text("not an image")
    deep = np.full((12, 12), 65535, np.uint16)  # 16-bit grey: still grey, scaled by 1/65535
    deep[:, 6:] = 0
    Image.fromarray(deep).save(folder / "Left" / "sixteen.png")
    config = declared(folder)
    validate_config(config)
    options = config["datasets"]["own"]
    spec = dataset_spec("own", options)
    assert spec.classes == ("left", "right")
    report = prepare(spec, {k: options[k] for k in ("folder", "classes", "channels", "native_size")}, seed=0,
                     test_fraction=0.25, out=tmp_path / "data.h5")
    assert report["image_shape"] == [1, 12, 12] and report["channels"] == 1
    assert report["files"]["left"]["loaded"] == 7 and report["files"]["left"]["skipped"] == 1
    assert report["skipped"] == [{"file": "Left/notes.txt", "reason": "not an image PIL can identify"}]
    assert report["converted_to_grey"] == {}
    with h5py.File(tmp_path / "data.h5") as f:
        images = np.concatenate([f["train"]["images"][:], f["test"]["images"][:]])
        labels = np.concatenate([f["train"]["labels"][:], f["test"]["labels"][:]])
    assert images.shape == (13, 1, 12, 12)
    left = images[labels == 0, 0]  # the pixels as stored in the files: the left half bright
    assert left[:, :, :6].min() >= 150 / 255 and left[:, :, 6:].max() < 60 / 255


def test_colour_and_mixed_folders(tmp_path):
    folder = own_folder(tmp_path, n=4, mode="RGB", size=(10, 8))
    whole = (folder / "Left" / "000.png").read_bytes()
    (folder / "Left" / "cut.png").write_bytes(whole[: len(whole) // 2])  # opens, fails to decode
    loaded = dataset_spec("own", {"folder": str(folder)}).load({"folder": str(folder)})
    assert loaded.train.images.shape == (8, 3, 8, 10)  # colour stays colour, H×W as stored
    assert loaded.report["files"]["left"] | {"folder": None} == {"folder": None, "files": 5, "loaded": 4,
                                                                 "skipped": 1}
    assert [s["file"] for s in loaded.report["skipped"]] == ["Left/cut.png"]
    (folder / "Left" / "cut.png").unlink()
    write_class_images(folder / "Left", 2, "left", "L", (10, 8), seed=5, fmt="jpg")
    loaded = dataset_spec("own", {"folder": str(folder)}).load({"folder": str(folder)})
    assert loaded.train.images.shape == (10, 3, 8, 10) and loaded.report["converted_to_rgb"] == {"L": 2}
    forced = dataset_spec("own", {"folder": str(folder)}).load({"folder": str(folder), "channels": 1,
                                                               "native_size": 6})
    assert forced.train.images.shape == (10, 1, 6, 6) and forced.report["converted_to_grey"] == {"RGB": 8}


def test_listed_classes_and_a_test_folder(tmp_path):
    folder = own_folder(tmp_path, n=4)
    test = tmp_path / "test"
    write_class_images(test / "Left", 3, "left")
    write_class_images(test / "Right", 2, "right")
    options = {"folder": str(folder), "classes": ["Right", "Left"], "test_folder": str(test)}
    spec = dataset_spec("own", options)
    assert spec.classes == ("right", "left")
    loaded = spec.load(options)
    assert loaded.train.labels.tolist() == [0] * 4 + [1] * 4
    assert loaded.test.labels.tolist() == [0] * 2 + [1] * 3 and loaded.test.images.shape == (5, 1, 12, 12)


# ---- bad input: clear errors naming the key and the path -----------------------


def test_bad_folders_are_named_at_the_start(tmp_path):
    folder = tmp_path / "data" / "own"
    write_class_images(folder / "Left", 2, "left")
    with pytest.raises(ConfigError, match=rf"datasets.own.folder: {folder} has 1 class folder\(s\) \(Left\); "
                                          "a pair needs two"):
        validate_config(declared(folder))
    write_class_images(folder / "Right", 2, "right")
    with pytest.raises(ConfigError, match=r"datasets.own.pairs\[0\]: 'up' is not a class of own \(classes: left, "
                                          rf"right.*the classes are the sub-folders of {folder}"):
        validate_config(declared(folder, pairs=[["left", "up"]]))
    with pytest.raises(ConfigError, match=rf"datasets.own.classes: no folder {folder / 'Up'}"):
        validate_config(declared(folder, classes=["Left", "Up"]))
    with pytest.raises(ConfigError, match=r"datasets.own.native_sise: unknown key"):
        validate_config(declared(folder, native_sise=28))
    with pytest.raises(ConfigError, match=r"datasets.own.verify: unknown key"):
        validate_config(declared(folder, verify=False))
    with pytest.raises(ConfigError, match=r"datasets.own.test_fraction: 0.25 gives class 'left' \(2 images\) no "
                                          r"test image"):  # counted in the folders at the start
        validate_config(declared(folder))
    with pytest.raises(ConfigError, match=rf"datasets.own.folder: {tmp_path / 'nowhere'} is not a folder"):
        validate_config(declared(tmp_path / "nowhere"))


def test_bad_images_are_named_before_training(tmp_path):
    folder = own_folder(tmp_path, n=3)
    (folder / "Right" / "000.bmp").write_bytes(b"")
    with pytest.raises(ValueError, match=r"datasets.own.native_size: auto needs one image size, but .* holds 5 "
                                         r"image\(s\) of 12×12 .*, 1 image\(s\) of 20×10"):
        write_class_images(folder / "Left", 1, "left", size=(20, 10), seed=9, fmt="gif")
        dataset_spec("own", {"folder": str(folder)}).load({"folder": str(folder)})
    for p in (folder / "Right").iterdir():
        p.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=rf"datasets.own.folder: class 'right' has no readable image in "
                                         rf"{folder / 'Right'} \(3 file\(s\), all skipped: Right/000.bmp: not an "
                                         r"image PIL can identify"):
        dataset_spec("own", {"folder": str(folder)}).load({"folder": str(folder), "native_size": 12})


# ---- the workflow, end to end, from the config alone -----------------------------


@pytest.mark.workflow
@pytest.mark.slow  # ~60 s end to end; the colour folder and checkpoint variants are slow too
def test_grey_folder_runs_end_to_end_without_a_download(tmp_path, monkeypatch):
    own_folder(tmp_path, n=12)
    config = copy.deepcopy(OWN_CONFIG)
    config["datasets"]["own"]["paper"] = {"dataset": "mnist", "classes": {"left": 0, "right": 1}}
    result = snakemake(tmp_path, write_config(tmp_path, config))
    jobs = jobs_run(result)
    assert not [rule for rule in jobs if rule.startswith("download")], jobs
    assert jobs["prepare_data"] == 1 and jobs["tables"] == 1
    with h5py.File(tmp_path / "results/own/data.h5") as f:
        assert f["train"]["images"].shape[1:] == (1, 12, 12)
        assert json.loads(f.attrs["classes"]) == ["left", "right"]
    maps = next((tmp_path / model_dir(config, "own", "left-right") / "seed~0").rglob("maps.h5"))
    with h5py.File(maps) as f:
        assert f["x_adv"].shape[1:] == (1, 12, 12) and f["cam"].shape[1:] == (12, 12)
    table2 = pd.read_csv(tmp_path / "results/tables/table2_classification.csv", dtype={"source": str})
    chosen = table2[(table2["dataset"] == "own") & (table2["neutralization"] == "blob, chosen θ")]
    # the declaration puts the paper's MNIST 0↔1 rows beside ours
    assert chosen.set_index("source")["paper row"].to_dict() == {"left": "Table II, MNIST, 0 to 1",
                                                                 "right": "Table II, MNIST, 1 to 0"}
    assert chosen["score_mod (paper)"].notna().all()
    # an image added to a class folder prepares the data again (the class folders are inputs)
    write_class_images(tmp_path / "data/own/Left", 1, "left", seed=7, fmt="tif")
    (tmp_path / "data/own/Left/000.tif").rename(tmp_path / "data/own/Left/new.tif")
    assert "prepare_data" in jobs_run(snakemake(tmp_path, tmp_path / "config.yaml", "-n"))
    # `make publish CONFIG=...`: the page of the config's one dataset, at results/pages/<dataset>.md
    from roiroa.publish import main

    monkeypatch.chdir(tmp_path)
    # --allow-dirty: the run is of this checkout, modified or not (the refusal has its own test)
    main(["--config", "config.yaml", "--command", "make publish CONFIG=config.yaml", "--allow-dirty"])
    page = (tmp_path / "results/pages/own.md").read_text()
    from roiroa.paper import paper_values

    mnist = paper_values()[("II", "mnist", "0", "1", "score_mod")][0]
    assert "make publish CONFIG=config.yaml" in page and "paper score_mod" in page and f"| {mnist:.4f} |" in page


def test_the_example_config_reads_the_example_images(tmp_path, monkeypatch):
    """config/own_data.yaml on what `make own-example` writes: real digits 0 and 1 as PNG folders."""
    import yaml

    from roiroa.config import resolve_pairs
    from roiroa.own_example import write_example

    config = yaml.safe_load((ROOT / "config" / "own_data.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert write_example(tmp_path / "data" / "own") == {"zero": 178, "one": 182}
    validate_config(config)
    options = config["datasets"]["own"]
    assert options["folder"] == "data/own" and options["classes"] == "auto"
    spec = dataset_spec("own", options)
    assert spec.classes == ("one", "zero") and resolve_pairs("own", options["pairs"], "pairs") == [(0, 1)]
    loaded = spec.load(options)
    assert loaded.train.images.shape == (360, 1, 8, 8) and loaded.report["channels"] == 1


@pytest.mark.slow
@pytest.mark.workflow
def test_colour_folder_with_resnet18_and_a_named_cam_layer(tmp_path):
    own_folder(tmp_path, n=12, mode="RGB")
    config = copy.deepcopy(OWN_CONFIG)
    # at 32 px layer4's map is one pixel: layer2's 4×4 map gives the CAM structure
    config["model"] = {"arch": "resnet18", "input_size": 32, "epochs": 1, "batch_size": 16}
    config["cam"] = {"layer": "layer2"}
    snakemake(tmp_path, write_config(tmp_path, config))
    with h5py.File(tmp_path / "results/own/data.h5") as f:
        assert f["train"]["images"].shape[1:] == (3, 12, 12)
    pair = tmp_path / model_dir(config, "own", "left-right") / "seed~0"
    summary = json.loads((pair / "train.json").read_text())
    assert summary["model"]["arch"] == "resnet18"
    maps = next(pair.rglob("maps.h5"))
    assert "/layer~layer2/" in str(maps)
    with h5py.File(maps) as f:
        assert f["x_adv"].shape[1:] == (3, 12, 12) and f["cam"][:].max() == 1.0
    assert (tmp_path / "results/tables/table3_reattack.csv").exists()


@pytest.mark.slow
@pytest.mark.workflow
def test_a_checkpoint_is_used_instead_of_training(tmp_path):
    import torch

    from roiroa.models import ModelSpec, build_model

    own_folder(tmp_path, n=12)
    torch.manual_seed(0)
    mine = build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=16))
    torch.save({k: v for k, v in mine.state_dict().items() if k not in ("mean", "std")}, tmp_path / "mine.pt")
    config = copy.deepcopy(OWN_CONFIG)
    config["model"] |= {"checkpoint": "mine.pt", "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3}}
    result = snakemake(tmp_path, write_config(tmp_path, config))
    seed = model_dir(config, "own", "left-right").removeprefix("results/") + "/seed~0"
    assert "epoch 1/1" not in (tmp_path / f"results/logs/train/{seed}.log").read_text()
    summary = json.loads((tmp_path / f"results/{seed}/train.json").read_text())
    assert summary["checkpoint"] == "mine.pt" and summary["history"]["loss"] == []
    imported = torch.load(tmp_path / f"results/{seed}/model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(imported[k], v) for k, v in mine.state_dict().items() if k not in ("mean", "std"))
    assert jobs_run(result)["tables"] == 1
    # a checkpoint of three classes stops at the start of the import, naming the key and the file
    torch.save({**torch.load(tmp_path / "mine.pt"), "head.4.weight": torch.zeros(3, 16),
                "head.4.bias": torch.zeros(3)}, tmp_path / "mine.pt")
    failed = snakemake(tmp_path, tmp_path / "config.yaml", check=False)
    assert failed.returncode != 0
    log = (tmp_path / f"results/logs/train/{seed}.log").read_text()
    assert "model.checkpoint: mine.pt has 3 outputs" in log
