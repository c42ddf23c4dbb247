"""The workflow end to end on the tiny config: outputs, reruns, determinism."""

import copy
import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import TINY_CONFIG, jobs_run, snakemake, write_config

pytestmark = pytest.mark.workflow

MAPS_DIR = "results/digits/0-1/attack~fgsm/eps~0.1/cam~gradcam"
TABLES = ["table1_ssim", "table2_classification", "table3_reattack"]


def read_tables(workdir):
    return {name: pd.read_csv(workdir / "results" / "tables" / f"{name}.csv") for name in TABLES}


def test_tables_have_both_directions(tiny_run):
    tables = read_tables(tiny_run)
    for name, frame in tables.items():
        assert sorted(zip(frame["source"].astype(str), frame["target"].astype(str))) == [("0", "1"), ("1", "0")], name
    t1, t2, t3 = tables.values()
    assert {"SSIM value (mean of samples)", "SSIM value (representatives)"} <= set(t1.columns)
    for column, frame in (("score_clean", t2), ("score_mod", t2), ("score_adv", t3), ("score_mod_adv", t3)):
        assert frame[column].between(0, 1).all()
    assert t1["SSIM value (mean of samples)"].between(-1, 1).all()
    md = (tiny_run / "results" / "tables" / "table2_classification.md").read_text()
    assert md.startswith("# Table II") and "score_mod" in md


def test_outputs_carry_provenance_and_logs(tiny_run):
    with h5py.File(tiny_run / MAPS_DIR / "maps.h5") as f:
        params = json.loads(f.attrs["params"])
        assert params["eps"] == 0.1 and params["seed"] == 0 and params["cam"] == "gradcam"
        assert f.attrs["roiroa_version"]
        assert f["x_adv"].dtype == np.float32
        x_adv, index = f["x_adv"][:], f["index"][:]
        assert f["cam"].shape == (len(index), 8, 8)  # maps at native resolution
    with h5py.File(tiny_run / "results/digits/data.h5") as f:
        clean = f["test"]["images"][:][index]
    assert np.abs(x_adv - clean).max() <= 0.1 + 1e-6
    train = json.loads((tiny_run / "results/digits/0-1/train.json").read_text())
    assert train["seed"] == 0 and len(train["history"]["loss"]) == TINY_CONFIG["model"]["epochs"]
    assert train["test_accuracy"] > 0.9  # digits 0 vs 1 is easy even for the tiny model
    train_log = (tiny_run / "results/logs/train/digits/0-1.log").read_text()
    assert "epoch 3/3 done" in train_log
    assert (tiny_run / "results/benchmarks/train/digits/0-1.tsv").exists()


def test_second_run_does_nothing(tiny_run):
    result = snakemake(tiny_run, tiny_run / "config.yaml", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_new_thresholds_rerun_only_downstream(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["regions"]["delta1"] = [0.5, 0.3]
    config["blob"]["theta"] = [0.15, 0.4]
    result = snakemake(workdir, write_config(workdir, config))
    ran = jobs_run(result)
    assert not {"prepare_data", "train", "attack_cam"} & set(ran), ran
    # new δ1: one regions job; blobs for (old δ1, new θ) and (new δ1, both θ)
    assert ran["regions"] == 1 and ran["blob"] == 3 and ran["neutralize_reattack"] == 3, ran
    tables = read_tables(workdir)
    assert sorted(tables["table1_ssim"]["delta1"].unique()) == [0.3, 0.5]
    t2 = tables["table2_classification"]
    assert len(t2) == 2 * 2 * 2 and set(t2["theta"]) == {0.15, 0.4}


def test_same_seed_same_tables(tiny_run, tmp_path):
    configfile = write_config(tmp_path, TINY_CONFIG)
    snakemake(tmp_path, configfile)
    for name in TABLES:
        for ext in ("csv", "md"):
            first = (tiny_run / "results" / "tables" / f"{name}.{ext}").read_bytes()
            second = (tmp_path / "results" / "tables" / f"{name}.{ext}").read_bytes()
            assert first == second, f"{name}.{ext} differs between two runs of the same config"
