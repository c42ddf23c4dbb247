"""Figures: every plotting function on hand-made arrays; which jobs a new θ reruns."""

import copy
import shutil

import matplotlib.image
import numpy as np
from matplotlib.text import Text
import pytest

from conftest import TINY_CONFIG, jobs_run, snakemake, write_config
from roiroa import figures as fg
from roiroa.regions import REGIONS, four_regions

RNG = np.random.default_rng(0)
IMAGE = RNG.random((1, 8, 8)).astype(np.float32)
CAM, MAGNITUDE = RNG.random((8, 8)), RNG.random((8, 8))
ROI, ROA = CAM >= 0.5, MAGNITUDE >= 0.5


def saved(fig, tmp_path, name="figure.png"):
    """Save as PNG; return the pixels after checking they are not one flat colour."""
    fg.save(fig, tmp_path / name)
    pixels = matplotlib.image.imread(tmp_path / name)[..., :3]
    assert pixels.std() > 0.05
    return pixels


def texts(fig) -> str:
    """Every title, label and tick label of a figure, as one string."""
    return " ".join(t.get_text() for t in fig.findobj(Text))


def test_roi_and_roa_figures_say_what_they_show(tmp_path):
    fig = fg.roi_individual(IMAGE, CAM, ROI, delta1=0.5, cam_method="gradcam", title="RoI of test image #3")
    saved(fig, tmp_path)
    assert "RoI of test image #3" in texts(fig) and "δ1 = 0.5" in texts(fig) and "CAM value" in texts(fig)
    fig = fg.roa_individual(RNG.random((3, 8, 8)), RNG.random((3, 8, 8)), MAGNITUDE, ROA, delta2=0.5, eps=0.1,
                            title="RoA", clean_label=fg.prediction(np.array([0.9, 0.1]), ["cat", "dog"]))
    saved(fig, tmp_path)  # an RGB image works too
    assert "predicted cat (p = 0.90)" in texts(fig) and f"({int(ROA.sum())} px)" in texts(fig)


def test_region_figures(tmp_path):
    reps = {name: mask.astype(float) for name, mask in four_regions(ROI, ROA).items()}
    saved(fg.representatives(CAM, MAGNITUDE, mode="masks", title="reps"), tmp_path)
    fig = fg.regions_individual(ROI, ROA, title="four regions")
    saved(fig, tmp_path)
    counts = {name: int(mask.sum()) for name, mask in four_regions(ROI, ROA).items()}
    assert all(f"({counts[name]} px)" in texts(fig) for name in REGIONS)
    saved(fg.regions_representatives(reps, title="class"), tmp_path)


def test_blob_figure_states_size_and_emptiness(tmp_path):
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:5] = True
    fig = fg.blob(MAGNITUDE, mask, IMAGE, theta=0.15, mode="ubar_v", title="blob", image_label="test image #3")
    saved(fig, tmp_path)
    assert "6 of 64 px" in texts(fig) and "θ = 0.15" in texts(fig)
    empty = fg.blob(MAGNITUDE, np.zeros((8, 8), bool), IMAGE, theta=0.9, mode="ubar_v", title="b", image_label="x")
    assert "empty" in texts(empty)


def test_sweep_groups_split_by_the_other_swept_parameters(tmp_path):
    rows = [dict(source="0", attack="fgsm", eps=0.1, cam="gradcam", delta1=d1, delta2=0.5, theta=theta, fill=0,
                 score_clean=1.0, score_adv=0.5, score_mod=1 - theta, score_mod_adv=theta)
            for d1 in (0.3, 0.5) for theta in (0.2, 0.1)]
    rows.append({**rows[0], "source": "1"})
    groups = fg.sweep_groups(rows, "theta", "0")
    assert list(groups) == ["δ1 = 0.3", "δ1 = 0.5"]
    assert groups["δ1 = 0.3"]["theta"].tolist() == [0.2, 0.1]
    assert fg.fixed_settings(rows, "theta") == "attack = fgsm, ε = 0.1, cam = gradcam, δ2 = 0.5, fill = 0"
    saved(fg.score_sweep(groups, "theta", title="sweep"), tmp_path)
    many = {f"setting {i}": groups["δ1 = 0.3"] for i in range(6)}  # wraps into rows of 4
    saved(fg.score_sweep(many, "theta", title="six panels"), tmp_path)


def test_a_direction_must_belong_to_the_pair():
    assert fg.class_index(["0", "1"], "1", "0") == 1
    with pytest.raises(ValueError, match="not a direction"):
        fg.class_index(["0", "1"], "0", "2")


@pytest.mark.workflow
def test_new_theta_redraws_only_the_blob_and_the_sweep(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["blob"]["theta"] = [0.15, 0.4]
    ran = jobs_run(snakemake(workdir, write_config(workdir, config), "-n"))
    assert "figures_regions" not in ran, ran
    assert ran["figures_blob"] == 2 and ran["figures_sweep"] == 2, ran  # new θ, both directions
    figures = workdir / "results/digits/0-1/attack~fgsm/eps~0.1/cam~gradcam/d1~0.5/d2~0.5/figures"
    assert sorted(p.name for p in figures.iterdir()) == ["0-to-1", "1-to-0"]
    assert {p.name for p in (figures / "0-to-1").iterdir()} == {
        "roi_individual.png", "roa_individual.png", "representatives.png",
        "regions_individual.png", "regions_representatives.png"}
