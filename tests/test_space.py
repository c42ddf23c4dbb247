"""attack.space: model_input attacks the model's input (grey copied to 3 channels,
resized to input_size) with the same trained model, and every stage after the
map stage lives in that space."""

from __future__ import annotations

import copy
import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from conftest import TINY_CONFIG, jobs_run, model_dir, snakemake, write_config
from roiroa.maps import in_space
from roiroa.models import ModelSpec, build_model

SIZE = TINY_CONFIG["model"]["input_size"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(ModelSpec(arch="tiny_vgg", input_size=SIZE, hidden=8)).eval()


def test_the_model_computes_the_same_function_on_an_image_and_on_it_in_input_space(model):
    torch.manual_seed(1)
    x = torch.rand(4, 1, 8, 8)
    moved = in_space(model, x, "model_input")
    assert moved.shape == (4, 3, SIZE, SIZE)
    assert torch.equal(moved[:, 0], moved[:, 1]) and torch.equal(moved[:, 0], moved[:, 2])
    assert 0 <= moved.min() and moved.max() <= 1  # bilinear weights are convex: ε keeps its pixel units
    # the model's own copy and resize do nothing to an image already in its input space
    assert torch.equal(model.to_input_space(moved), moved)
    with torch.no_grad():
        assert torch.equal(model(x), model(moved))
    assert in_space(model, x, "native") is x


def test_an_unknown_space_names_the_key(model):
    with pytest.raises(ValueError, match=r"attack.space: unknown space 'input' \(known: native, model_input\)"):
        in_space(model, torch.rand(1, 1, 8, 8), "input")


@pytest.mark.slow
@pytest.mark.workflow
def test_the_model_input_reading_runs_end_to_end_on_the_trained_model(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["attack"]["space"] = "model_input"
    ran = jobs_run(snakemake(workdir, write_config(workdir, config)))
    assert ran["attack_cam"] == 1 and "train" not in ran, ran  # the same model.pt serves both spaces
    maps_path = next((workdir / model_dir(config) / "seed~0").glob("space~model_input/**/maps.h5"))
    setting = maps_path.parent
    with h5py.File(maps_path) as maps, h5py.File(workdir / "results/digits/data.h5") as data:
        assert maps["x"].shape[1:] == maps["x_adv"].shape[1:] == (3, SIZE, SIZE)
        for name in ("cam", "roa", "grad_magnitude"):
            assert maps[name].shape[1:] == (SIZE, SIZE), name
        assert json.loads(maps.attrs["params"])["space"] == "model_input"
        # the clean images kept are data.h5's test images moved by the model's own transform
        native = torch.from_numpy(data["test/images"][:][maps["index"][:]])
        model = build_model(ModelSpec(arch="tiny_vgg", input_size=SIZE, hidden=32))
        np.testing.assert_array_equal(maps["x"][:], model.to_input_space(native).numpy())
        x, x_adv = maps["x"][:], maps["x_adv"][:]
        assert np.abs(x_adv - x).max() <= 0.1 + 1e-6 and np.abs(x_adv - x).max() > 0
    regions_path = next(setting.rglob("regions.h5"))
    with h5py.File(regions_path) as regions:
        assert regions["roi"].shape[1:] == regions["roa"].shape[1:] == (SIZE, SIZE)
    for blob_path in setting.rglob("blob.h5"):
        with h5py.File(blob_path) as blob:
            assert all(blob["blob"][c].shape == (SIZE, SIZE) for c in blob["blob"])
    defense_path = next(setting.rglob("defense.h5"))
    with h5py.File(defense_path) as defense, h5py.File(next(setting.rglob("theta~0.15/blob.h5"))) as blob:
        x_mod = defense["theta~0.15/x_mod"][:]
        assert x_mod.shape[1:] == (3, SIZE, SIZE)
        # true-class assignment, fill 0: every channel of the class's blob is blanked, the rest kept
        masks = np.stack([blob["blob"][str(c)][:] for c in blob.attrs["classes"]])[defense["theta~0.15/label"][:]]
        assert masks.any()
        assert (x_mod.transpose(1, 0, 2, 3)[:, masks] == 0).all()
        np.testing.assert_array_equal(x_mod.transpose(1, 0, 2, 3)[:, ~masks], x.transpose(1, 0, 2, 3)[:, ~masks])
    scores = json.loads(next(setting.rglob("evaluation.json")).read_text())["by_theta"]
    assert scores and all(0 <= d["score_mod_adv"] <= 1 for e in scores for d in e["directions"])
    assert {e["params"]["space"] for e in scores} == {"model_input"}
    assert next(setting.rglob("baselines.json")).exists()
    table = (workdir / "results/tables/table3_reattack.csv").read_text()
    assert "model_input" in table
