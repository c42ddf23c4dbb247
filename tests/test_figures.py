"""Figures: every plotting function on hand-made arrays; which jobs a new θ reruns."""

import copy
import shutil
from unittest import mock

import matplotlib.image
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.text import Text
import pytest

from conftest import TINY_CONFIG, jobs_run, model_dir, snakemake, write_config
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


def drawn_texts(fig) -> list:
    """Draw `fig`; every Text it drew (suptitle, titles, labels, tick labels,
    legend, colour bar) with its extent in display pixels."""
    drawn, draw = [], Text.draw

    def recording(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return draw(self, renderer)

    with mock.patch.object(Text, "draw", recording):
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in drawn]


def texts_outside(fig, drawn=None, tolerance: float = 0.5) -> list[str]:
    """The drawn texts that cross the canvas bounds, with how far (pixels)."""
    width, height = fig.bbox.width, fig.bbox.height
    out = []
    for text, box in drawn or drawn_texts(fig):
        over = max(-box.x0, -box.y0, box.x1 - width, box.y1 - height)
        if over > tolerance:
            out.append(f"{text.get_text()!r} by {over:.0f} px")
    return out


def overlapping_texts(fig, drawn=None) -> list[str]:
    """Pairs of drawn texts whose extents overlap (by more than a pixel)."""
    boxes = drawn or drawn_texts(fig)
    out = []
    for i, (t1, b1) in enumerate(boxes):
        for t2, b2 in boxes[i + 1:]:
            dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
            dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
            if dx > 1 and dy > 1:
                out.append(f"{t1.get_text()!r} and {t2.get_text()!r}")
    return out


# Names that do not fit the fixed-width figures: a long dataset name, long class
# names, and a 40-character name for both.
FORTY = "a_dataset_name_of_exactly_forty_letters_"
LONG_NAMES = [("cats_vs_dogs", "cat", "dog"), ("malaria", "parasitized", "uninfected"),
              (FORTY, FORTY[:-1] + "a", FORTY[:-1] + "b")]
assert len(FORTY) == 40


def sweep_rows(source, seeds=(0, 1, 2), d1=(0.5,)):
    """scores.json rows of one direction: θ 0.10 … 0.19, δ1 and seeds as given."""
    return [dict(source=source, seed=seed, attack="fgsm", eps=0.1, cam="gradcam", delta1=delta1, delta2=0.5,
                 theta=theta, fill=0, score_clean=0.99 - 0.01 * seed, score_adv=0.4 + 0.05 * seed,
                 score_mod=0.95 - theta + 0.02 * seed, score_mod_adv=theta + 0.03 * seed)
            for seed in seeds for delta1 in d1 for theta in np.round(np.arange(0.10, 0.195, 0.01), 2)]


def build(kind, fg, dataset, source, target, size=28, channels=1, seed=0):
    """One figure of `kind` with the titles the rule scripts write."""
    rng = np.random.default_rng(seed)
    image, x_adv = rng.random((channels, size, size)), rng.random((channels, size, size))
    cam, magnitude = rng.random((size, size)), rng.random((size, size))
    roi, roa = cam >= 0.5, magnitude >= 0.5
    direction = f"{dataset} {source}→{target}"
    index, n = 1234, 1000
    image_name = f"test image #{index} (the first of class {source})"
    classes = [source, target]
    if kind == "roi_individual":
        return fg.roi_individual(image, cam, roi, delta1=0.5, cam_method="gradcam",
                                 title=f"{direction}: RoI of {image_name}")
    if kind == "roa_individual":
        return fg.roa_individual(image, x_adv, magnitude, roa, delta2=0.5, eps=0.1,
                                 title=f"{direction}: RoA of {image_name} under FGSM",
                                 clean_label=fg.prediction(np.array([0.97, 0.03]), classes),
                                 adv_label=fg.prediction(np.array([0.12, 0.88]), classes))
    if kind in ("representatives", "representatives_maps"):
        return fg.representatives(cam, magnitude, mode="maps" if kind.endswith("maps") else "masks",
                                  title=f"{direction}: class representatives over {n} images, "
                                  f"SSIM(RoI, RoA) = 0.1234")
    if kind == "regions_individual":
        return fg.regions_individual(roi, roa, title=f"{direction}: four regions of {image_name}")
    if kind == "regions_representatives":
        reps = {name: rng.random((size, size)) for name in REGIONS}
        return fg.regions_representatives(
            reps, title=f"{direction}: four regions over the class's {n} images (δ1 = 0.5, δ2 = 0.5)")
    if kind in ("blob", "blob_empty"):
        mask = np.zeros((size, size), bool) if kind == "blob_empty" else magnitude >= 0.7
        return fg.blob(magnitude, mask, image, theta=0.15, mode="ubar_v",
                       title=f"{direction}: blob of class {source} (from {n} images; image #{index} is the "
                       "first of the class)", image_label=f"test image #{index}")
    if kind in ("score_sweep", "score_sweep_panels"):
        rows = sweep_rows(source, d1=(0.3, 0.5) if kind.endswith("panels") else (0.5,))
        return fg.score_sweep(fg.sweep_groups(rows, "theta", source), "theta",
                              title=f"{direction}: scores against θ\n{fg.fixed_settings(rows, 'theta')}")
    if kind == "roa_comparison":
        roas = {label: (rng.random((size, size)), rng.random((size, size)) >= 0.5) for label in ATTACK_LABELS}
        return fg.roa_comparison(image, roi, roas, title=f"{direction}: RoA of {image_name} under each attack")
    if kind == "accuracy_vs_eps":
        return fg.accuracy_vs_eps(eps_curves(), title=f"{direction}: accuracy on the source class against ε")
    raise ValueError(kind)


ATTACK_LABELS = ["FGSM perturbation", "PGD-L∞ perturbation", "PGD-L2 perturbation", "DeepFool perturbation",
                 "gradient"]
KINDS = ["roi_individual", "roa_individual", "representatives", "representatives_maps", "regions_individual",
         "regions_representatives", "blob", "blob_empty", "score_sweep", "score_sweep_panels", "roa_comparison",
         "accuracy_vs_eps"]


def eps_curves():
    eps = [0.0, 0.01, 0.03, 0.1, 0.3]
    curves = {}
    for k, attack in enumerate(["FGSM", "PGD-L∞", "PGD-L2"]):
        for j, variant in enumerate(["clean", "neutralized"]):
            mean = np.clip(1 - np.array(eps) * (2 + k + j), 0, 1)
            curves[f"{attack} {variant}"] = dict(eps=eps, mean=mean, low=np.clip(mean - 0.05, 0, 1),
                                                 high=np.clip(mean + 0.05, 0, 1))
    return curves


@pytest.mark.parametrize("kind", KINDS)
def test_long_names_fit_the_figure(kind):
    """No title, label, tick label or legend entry crosses the canvas, and no two
    texts overlap, for long dataset and class names."""
    problems = []
    for dataset, source, target in LONG_NAMES:
        fig = build(kind, fg, dataset, source, target, channels=3 if dataset == "cats_vs_dogs" else 1)
        drawn = drawn_texts(fig)
        assert len(drawn) >= 3  # at least the figure title and some labels were measured
        problems += [f"{dataset}: outside: {t}" for t in texts_outside(fig, drawn)]
        problems += [f"{dataset}: overlap: {t}" for t in overlapping_texts(fig, drawn)]
    assert not problems, "\n".join(problems)


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


def test_sweep_panels_never_average_the_orders():
    """Every run has rows of each re-attack order at every θ: one panel per order
    (averaged as if they were seeds, the paper's order and adaptive would mix)."""
    rows = [dict(source="0", attack="fgsm", eps=0.1, cam="gradcam", delta1=0.5, delta2=0.5, theta=theta, fill=0,
                 order=order, score_clean=1.0, score_adv=0.5, score_mod=0.9, score_mod_adv=gain)
            for theta in (0.1, 0.2) for order, gain in (("adaptive", 0.6), ("neutralize_then_attack", 0.8))]
    groups = fg.sweep_groups(rows, "theta", "0")
    assert list(groups) == ["order = adaptive", "order = neutralize_then_attack"]
    assert groups["order = adaptive"]["score_mod_adv"].tolist() == [0.6, 0.6]


def test_score_sweep_averages_the_seeds(tmp_path):
    rows = sweep_rows("0", seeds=(0, 1, 2))
    groups = fg.sweep_groups(rows, "theta", "0")
    assert list(groups) == ["one setting"] and groups["one setting"]["seed"].size == 30
    fig = fg.score_sweep(groups, "theta", title="three seeds")
    saved(fig, tmp_path)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    mod = lines["score_mod (blob neutralized)"]
    thetas = np.round(np.arange(0.10, 0.195, 0.01), 2)
    assert np.allclose(mod.get_xdata(), thetas)  # one point per θ, not one per row: no zig-zag
    assert np.allclose(mod.get_ydata(), 0.95 - thetas + 0.02)  # the mean of seeds 0, 1, 2
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # score_mod and score_mod_adv: min to max over the seeds
    assert len(ax.patches) == 2  # score_clean and score_adv vary over the seeds too
    assert "mean of 3 seeds" in texts(fig)
    assert not texts_outside(fig)

    one = fg.score_sweep(fg.sweep_groups(sweep_rows("0", seeds=(0,)), "theta", "0"), "theta", title="one seed")
    ax = one.axes[0]
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)] and not ax.patches
    assert "seeds" not in texts(one)


def test_roa_comparison(tmp_path):
    rng = np.random.default_rng(1)
    image, roi = rng.random((1, 28, 28)), np.zeros((28, 28), bool)
    roi[5:15, 8:20] = True
    roas = {label: (rng.random((28, 28)), rng.random((28, 28)) >= 0.6) for label in ATTACK_LABELS}
    fig = fg.roa_comparison(image, roi, roas, title="fashion_mnist trouser→pullover: RoA under each attack")
    saved(fig, tmp_path)
    n = len(roas)
    assert len(fig.axes) == 2 * (n + 1) + 1  # image + RoI column, one column per label, one colour bar
    panels = np.array(fig.axes[:-1]).reshape(2, n + 1)
    for column, (label, (magnitude, mask)) in enumerate(roas.items(), 1):
        top, bottom = panels[:, column]
        assert top.get_title() == label
        assert np.array_equal(top.get_images()[0].get_array(), magnitude)
        assert f"RoA: {int(mask.sum())} px" in bottom.get_title()
        assert f"{int((mask & roi).sum())} of them in the RoI" in bottom.get_title()
        assert len(bottom.collections) == 1  # the RoI outline
    assert f"RoI: {int(roi.sum())} px" in panels[1, 0].get_title()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["RoI (important)", "RoA (attacked)", "RoI outline"]
    assert not texts_outside(fig) and not overlapping_texts(fig)


def test_accuracy_vs_eps(tmp_path):
    curves = eps_curves()
    fig = fg.accuracy_vs_eps(curves, title="fashion_mnist trouser→pullover: accuracy against ε")
    saved(fig, tmp_path)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == list(curves)
    assert np.allclose(lines["PGD-L∞ clean"].get_ydata(), curves["PGD-L∞ clean"]["mean"])
    assert lines["FGSM clean"].get_color() == lines["FGSM neutralized"].get_color()  # one colour per attack
    assert lines["FGSM clean"].get_color() != lines["PGD-L∞ clean"].get_color()
    assert lines["FGSM clean"].get_linestyle() != lines["FGSM neutralized"].get_linestyle()  # a style per variant
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == len(curves)  # one band each
    assert ax.get_ylim() == (-0.03, 1.03)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(curves)
    assert not texts_outside(fig) and not overlapping_texts(fig)
    # a curve without an interval has no band
    curves["gradient"] = dict(eps=[0.0, 0.1, 0.3], mean=[1.0, 0.5, 0.2])
    fig = fg.accuracy_vs_eps(curves, title="no band for one")
    assert len(fig.axes[0].get_lines()) == 7
    assert len([c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]) == 6


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
    assert ran["figures_blob"] == 1 and ran["figures_sweep"] == 1, ran  # new θ: one job draws both directions
    assert ran["sweep_scores"] == 1, ran  # the rows they read: every evaluation.json of the pair
    # which the new θ rewrites: its files of every θ exist, yet their record names the old θ
    assert ran["blob"] == ran["neutralize_reattack"] == 1, ran
    # the δ-level figures folder, wherever the path's key~value levels put it (model~, seed~, roa~, ...)
    (figures,) = [p for p in (workdir / "results/digits/0-1").rglob("figures")
                  if "d2~0.5" in p.parts and not any(part.startswith("theta~") for part in p.parts)]
    assert figures.relative_to(workdir / "results/digits/0-1").parts[:2] == (model_dir(TINY_CONFIG).split("/")[-1], "seed~0")
    assert sorted(p.name for p in figures.iterdir()) == ["0-to-1", "1-to-0"]
    assert {p.name for p in (figures / "0-to-1").iterdir()} == {
        "roi_individual.png", "roa_individual.png", "representatives.png",
        "regions_individual.png", "regions_representatives.png"}
