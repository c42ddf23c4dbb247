"""The workflow end to end on the tiny config: outputs, reruns, seeds, the
held-out choice of θ, determinism."""

import copy
import json
import re
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import TINY_CONFIG, jobs_run, model_dir, snakemake, write_config

pytestmark = pytest.mark.workflow

PAIR_DIR = f"{model_dir(TINY_CONFIG)}/seed~0"
MAPS_DIR = (f"{PAIR_DIR}/space~native/attack~fgsm/eps~0.1"
            "/cam~gradcam/layer~default/cam_target~predicted_class/n~all/attack_settings~none")
REGIONS_DIR = f"{MAPS_DIR}/d1~0.5/roa~perturbation/d2~0.5/rep~masks/fit~calibration/cal~0.5/shuffles~10"
# the orders' level: the three default orders, the adaptive attacker of TINY_CONFIG (ce, 2 restarts × 3 steps, step 0.25)
DEFENSE_DIR = f"{REGIONS_DIR}/blob~ubar_v/selected/fill~0/assign~true_class/orders~paper+posthoc+adaptive-ce-2x3-0.25"
SELECTED_DIR = f"{DEFENSE_DIR}/drop~0.01/select~adaptive"
TABLES = ["table1_ssim", "table2_classification", "table3_reattack"]


def read_tables(workdir):
    return {name: pd.read_csv(workdir / "results" / "tables" / f"{name}.csv", dtype={"theta": str})
            for name in TABLES}


def test_tables_have_both_directions_baselines_and_intervals(tiny_run):
    tables = read_tables(tiny_run)
    for name, frame in tables.items():
        assert sorted(set(zip(frame["source"].astype(str), frame["target"].astype(str)))) == [("0", "1"), ("1", "0")]
    t1, t2, t3 = tables.values()
    assert {"SSIM value (mean of samples)", "SSIM, shuffled pairs (null)", "SSIM value (representatives)",
            "SSIM value (mean of samples) sd", "seeds"} <= set(t1.columns)
    assert t1["SSIM value (mean of samples)"].between(-1, 1).all()
    for frame, sets, paired in ((t2, ("clean", "mod"), "clean vs mod"), (t3, ("adv", "mod_adv"), "adv vs mod_adv")):
        assert set(frame["neutralization"]) == {"blob, chosen θ", "random mask of the blob's size", "RoI complement",
                                                "no neutralization", "blob, θ sweep"}
        assert (frame["fit_on"] == "calibration").all()
        for s in sets:
            score, low, high = frame[f"score_{s}"], frame[f"score_{s} 95% low"], frame[f"score_{s} 95% high"]
            assert score.between(0, 1).all() and (low <= score + 1e-12).all() and (score <= high + 1e-12).all()
        assert frame[f"p McNemar ({paired})"].between(0, 1).all()
        # with no neutralization the paired sets are the same predictions: all ties
        none = frame[frame["neutralization"] == "no neutralization"]
        assert (none[f"p McNemar ({paired})"] == 1.0).all() and (none["blob_pixels"] == 0).all()
        sweep = frame[frame["neutralization"] == "blob, θ sweep"]
        assert sorted(sweep["theta"].unique()) == ["0.15", "0.3"]
    assert {"asr_adv", "asr_mod"} <= set(t3.columns)
    # the random-mask baseline neutralizes as many pixels as the blob at the chosen θ, under every
    # order of the baselines (Table III); Table II has one row for all orders (S_mod is the same)
    assert "order" not in t2.columns
    for source in ("0", "1"):
        rows = t3[t3["source"].astype(str) == source]
        blob = rows.loc[rows["neutralization"] == "blob, chosen θ", "blob_pixels"].unique().item()
        sized = rows[rows["neutralization"].isin(["random mask of the blob's size", "RoI complement"])]
        assert sorted(sized["order"]) == sorted(["neutralize_then_attack", "attack_then_neutralize"] * 2)
        assert (sized["blob_pixels"] == blob).all()
    md = (tiny_run / "results" / "tables" / "table2_classification.md").read_text()
    assert md.startswith("# Table II") and "score_mod" in md
    long = pd.read_csv(tiny_run / "results" / "tables" / "table3_reattack_seeds.csv")
    assert set(long["seed"]) == {0} and {"correct_mod_adv", "asr_mod_flipped", "draw"} <= set(long.columns)
    random = long[long["neutralization"] == "random_mask"]
    assert len(random) == 2 * 2 and (random["random_draws"] == 5).all()  # one summary row per direction and order


def test_ssim_json_holds_claim_a_paired_tests(tiny_run):
    """ssim.json: per direction the paired per-image tests of the true pairing
    against the null (regions.shuffles pairings, 10 by default) and against
    random masks of the same sizes, recorded with the number of shuffles."""
    ssim = json.loads((tiny_run / REGIONS_DIR / "ssim.json").read_text())
    assert ssim["params"]["shuffles"] == 10
    with h5py.File(tiny_run / REGIONS_DIR / "regions.h5") as f:
        assert f["shuffled_partner"].shape == (len(f["label"]), 10) and f["ssim_random_masks"].shape == f["ssim"].shape
    for d in ssim["directions"]:
        assert d["ssim_shuffles"] == 10
        for prefix in ("ssim_paired", "ssim_random"):
            assert d[f"{prefix}_diff_low"] <= d[f"{prefix}_diff_mean"] <= d[f"{prefix}_diff_high"]
            assert 0 <= d[f"{prefix}_p"] <= 1 and d[f"{prefix}_test"].startswith("Wilcoxon")
        assert d["ssim_paired_diff_mean"] == pytest.approx(d["ssim_mean_of_samples"] - d["ssim_shuffled_mean"])
        assert d["ssim_random_diff_mean"] == pytest.approx(d["ssim_mean_of_samples"] - d["ssim_random_masks_mean"])


def test_baselines_summarize_draws_and_compare_the_blob_to_them(tiny_run):
    """baselines.json: per order and direction one random-mask row with its five
    draws, the blob's percentile among them and the paired per-image comparison;
    the blob evaluated beside the draws scores what neutralize_reattack scored
    for it at the chosen θ (FGSM: no randomness)."""
    setting = tiny_run / REGIONS_DIR  # one setting below it: each file is the only one of its name
    baselines = json.loads(next(setting.rglob("baselines.json")).read_text())
    theta = json.loads(next(setting.rglob("theta.json")).read_text())["theta"]
    evaluation = json.loads(next(setting.rglob("evaluation.json")).read_text())["by_theta"]
    blob = {(d["source"], d["order"]): d for e in evaluation if e["params"]["theta"] == theta for d in e["directions"]}
    rows = baselines["directions"]
    assert baselines["params"]["orders"] == ["neutralize_then_attack", "attack_then_neutralize"]
    assert sorted((r["order"], r["neutralization"]) for r in rows) == sorted(
        (o, n) for o in ("neutralize_then_attack", "attack_then_neutralize")
        for n in ("random_mask", "roi_complement", "none") for _ in (0, 1))
    for row in rows:
        if row["neutralization"] != "random_mask":
            continue
        assert row["random_draws"] == 5 and len(row["draws_score_mod_adv"]) == 5
        assert row["random_score_mod_adv_mean"] == pytest.approx(np.mean(row["draws_score_mod_adv"]))
        assert row["score_mod_adv"] == pytest.approx(row["random_score_mod_adv_mean"])
        assert 0 <= row["percentile_mod"] <= 100 and 0 <= row["percentile_mod_adv"] <= 100
        assert 0 < row["random_support_pixels"] <= 64  # a blob may be larger (it then takes all of it)
        assert row["paired_test"].startswith("Wilcoxon")
        assert row["blob_score_mod"] == pytest.approx(blob[row["source"], row["order"]]["score_mod"])
        assert row["blob_score_mod_adv"] == pytest.approx(blob[row["source"], row["order"]]["score_mod_adv"])


def test_outputs_carry_provenance_and_logs(tiny_run):
    with h5py.File(tiny_run / MAPS_DIR / "maps.h5") as f:
        params = json.loads(f.attrs["params"])
        assert params["eps"] == 0.1 and params["seed"] == 0 and params["cam"] == "gradcam"
        assert f.attrs["roiroa_version"]
        assert f["x_adv"].dtype == np.float32
        x_adv, index = f["x_adv"][:], f["index"][:]
        assert f["cam"].shape == f["grad_magnitude"].shape == (len(index), 8, 8)  # maps at native resolution
    with h5py.File(tiny_run / "results/digits/data.h5") as f:
        clean = f["test"]["images"][:][index]
    assert np.abs(x_adv - clean).max() <= 0.1 + 1e-6
    with h5py.File(tiny_run / REGIONS_DIR / "regions.h5") as f:
        calibration, labels = f["calibration"][:], f["label"][:]
        assert f.attrs["fit_on"] == "calibration"
    for cls in (0, 1):  # a stratified half of each class
        assert abs(calibration[labels == cls].sum() - (labels == cls).sum() / 2) <= 1
    train = json.loads((tiny_run / PAIR_DIR / "train.json").read_text())
    assert train["seed"] == 0 and len(train["history"]["loss"]) == TINY_CONFIG["model"]["epochs"]
    assert train["test_accuracy"] > 0.9  # digits 0 vs 1 is easy even for the tiny model
    train_log = (tiny_run / f"results/logs/train/{PAIR_DIR.removeprefix('results/')}.log").read_text()
    assert "epoch 3/3 done" in train_log
    assert (tiny_run / f"results/benchmarks/train/{PAIR_DIR.removeprefix('results/')}.tsv").exists()
    settings = json.loads((tiny_run / model_dir(TINY_CONFIG) / "model_settings.json").read_text())
    assert settings["settings"]["epochs"] == 3 and settings["settings"]["pretrained"] is None
    assert train["pretrained"] is None
    evaluation = json.loads((tiny_run / DEFENSE_DIR / "evaluation.json").read_text())["by_theta"]
    calibration_scores = json.loads((tiny_run / DEFENSE_DIR / "calibration.json").read_text())["by_theta"]
    # every θ under every order of the default (the paper's, post-hoc, adaptive): an entry each
    orders = ["neutralize_then_attack", "attack_then_neutralize", "adaptive"]
    runs = [(t, o) for t in (0.15, 0.3) for o in orders]
    for entries in (evaluation, calibration_scores):
        assert [(e["params"]["theta"], e["params"]["order"]) for e in entries] == runs
    for scores, calib in zip(evaluation, calibration_scores, strict=True):
        assert "orders" not in scores["params"]
        assert ("adaptive_restarts" in scores["params"]) == (scores["params"]["order"] == "adaptive")
        for d, c in zip(scores["directions"], calib["directions"], strict=True):
            assert d["part"] == "evaluation" and c["part"] == "calibration"
            assert d["order"] == c["order"] == scores["params"]["order"]
            assert d["n_images"] + c["n_images"] == (labels == (0 if d["source"] == "0" else 1)).sum()
    by_run = {(e["params"]["theta"], e["params"]["order"]): e["directions"] for e in evaluation}
    for theta in (0.15, 0.3):  # S_mod does not depend on the order; the adaptive attacker gets through x itself
        assert len({tuple(d["score_mod"] for d in by_run[theta, o]) for o in orders}) == 1
        assert all(d["score_mod_adv"] <= d["score_mod"] for d in by_run[theta, "adaptive"])
    # S_mod and, per order, S_mod-adv of every θ: one group each in the setting's defense.h5
    with h5py.File(tiny_run / DEFENSE_DIR / "defense.h5") as defense:
        assert sorted(defense) == ["theta~0.15", "theta~0.3"]
        for name, entry in zip(["theta~0.15", "theta~0.3"], evaluation[::len(orders)], strict=True):
            params = json.loads(defense[name].attrs["params"])
            assert params["theta"] == entry["params"]["theta"] and params["orders"] == orders
            assert defense[name]["x_mod"].shape == (len(labels), 1, 8, 8)
            for order in orders:
                assert defense[name][order]["x_mod_adv"].shape == (len(labels), 1, 8, 8)
    # the sweep's rows: each θ's and order's evaluation scores, one row per direction
    rows = json.loads((tiny_run / "results/digits/0-1/sweep_scores.json").read_text())["rows"]
    assert [(row["theta"], row["order"], row["part"]) for row in rows] == [
        (t, o, "evaluation") for t, o in runs for _ in (0, 1)]
    chosen = json.loads((tiny_run / SELECTED_DIR / "theta.json").read_text())
    assert chosen["selection_order"] == "adaptive" and "of order adaptive" in chosen["criterion"]
    baselines = json.loads((tiny_run / SELECTED_DIR / "draws~5/scored~paper+posthoc/baselines.json").read_text())
    assert baselines["params"]["orders"] == ["neutralize_then_attack", "attack_then_neutralize"]
    assert "adaptive_restarts" not in baselines["params"]  # adaptive is not among the baselines' orders


def test_second_run_does_nothing(tiny_run):
    result = snakemake(tiny_run, tiny_run / "config.yaml", "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_theta_selection_reads_only_calibration_scores(tiny_run):
    """The rule that chooses θ gets only the calibration part's scores of every θ:
    no evaluation score or image can reach it (checked on the job's inputs, as
    Snakemake plans them, and on what that input holds)."""
    result = snakemake(tiny_run, tiny_run / "config.yaml", "-n", "--forcerun", "select_theta")
    text = result.stdout + result.stderr
    blocks = re.findall(r"^(?:local)?rule select_theta:\n((?:    .*\n)+)", text, flags=re.M)
    assert blocks, text[-2000:]
    for block in blocks:
        inputs = re.search(r"^    input: (.*)$", block, flags=re.M).group(1).split(", ")
        assert len(inputs) == 1 and inputs[0].endswith(f"{DEFENSE_DIR}/calibration.json"), inputs
        calibration = json.loads((tiny_run / inputs[0]).read_text())["by_theta"]
        assert sorted({entry["params"]["theta"] for entry in calibration}) == [0.15, 0.3]
        assert {d["part"] for entry in calibration for d in entry["directions"]} == {"calibration"}
    chosen = json.loads((tiny_run / SELECTED_DIR / "theta.json").read_text())
    assert chosen["theta"] in (0.15, 0.3) and chosen["inputs"] and "criterion" in chosen


def test_new_thresholds_rerun_only_downstream(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["regions"]["delta1"] = [0.5, 0.3]
    config["blob"]["theta"] = [0.15, 0.3, 0.4]
    result = snakemake(workdir, write_config(workdir, config))
    ran = jobs_run(result)
    assert not {"prepare_data", "train", "attack_cam"} & set(ran), ran
    # new δ1: one regions job; every θ of both δ1 (one blob and one neutralize_reattack
    # job each: a job runs all θ of its δ1)
    assert ran["regions"] == 1 and ran["blob"] == 2 and ran["neutralize_reattack"] == 2, ran
    # θ is chosen again for both δ1 (the candidates changed), and the baselines follow
    assert ran["select_theta"] == 2 and ran["baselines"] == 2, ran
    tables = read_tables(workdir)
    assert sorted(tables["table1_ssim"]["delta1"].unique()) == [0.3, 0.5]
    t2, t3 = tables["table2_classification"], tables["table3_reattack"]
    sweep = t2[t2["neutralization"] == "blob, θ sweep"]
    # directions × δ1 × θ (Table II: S_mod is the same under every order)
    assert len(sweep) == 2 * 2 * 3 and set(sweep["theta"]) == {"0.15", "0.3", "0.4"}
    # Table III: × the three orders of the default, a row each
    sweep = t3[t3["neutralization"] == "blob, θ sweep"]
    assert len(sweep) == 2 * 2 * 3 * 3
    assert set(sweep["order"]) == {"neutralize_then_attack", "attack_then_neutralize", "adaptive"}


def test_a_new_seed_trains_only_its_own_model(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["seeds"] = [0, 1]
    result = snakemake(workdir, write_config(workdir, config))
    ran = jobs_run(result)
    assert ran["train"] == 1 and ran["attack_cam"] == 1 and ran["regions"] == 1 and "prepare_data" not in ran, ran
    assert "seed~1" in result.stdout + result.stderr and (workdir / model_dir(config) / "seed~1/model.pt").exists()
    t2 = read_tables(workdir)["table2_classification"]
    assert (t2["seeds"] == "0 1").all()
    long = pd.read_csv(workdir / "results/tables/table2_classification_seeds.csv")
    assert set(long["seed"]) == {0, 1}


def test_same_seed_same_tables(tiny_run, tmp_path):
    configfile = write_config(tmp_path, TINY_CONFIG)
    snakemake(tmp_path, configfile)
    for name in TABLES:
        for path in (f"{name}.csv", f"{name}.md", f"{name}_seeds.csv"):
            first = (tiny_run / "results" / "tables" / path).read_bytes()
            second = (tmp_path / "results" / "tables" / path).read_bytes()
            assert first == second, f"{path} differs between two runs of the same config"


def test_the_upstream_levels_are_in_the_order_of_the_paths(tiny_run):
    """roiroa.config.UPSTREAM_LEVELS (publish leaves out files that skip one) is the order
    of the levels from the model to the regions in a path the workflow wrote."""
    from roiroa.config import UPSTREAM_LEVELS

    regions = next((tiny_run / "results/digits").glob("**/regions.h5")).relative_to(tiny_run)
    assert tuple(part.split("~")[0] for part in regions.parts if "~" in part) == UPSTREAM_LEVELS
