"""Blobs at equal size (roiroa.equal_size, rule equal_size, the page's section):
the top-k mask, why equal size matters (a made-up case where the raw blobs and
the equal-size blobs rank two attacks the other way round), and the rule and
the page on a tiny real digits run."""

import copy
import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from conftest import TINY_CONFIG, jobs_run, model_dir, snakemake, write_config
from roiroa.baselines import ranked_pixels
from roiroa.blob import blob_mask
from roiroa.defense import Attack, evaluate_masks
from roiroa.equal_size import run_equal_size, top_pixels


def test_top_pixels_are_exactly_the_k_highest_with_seeded_ties():
    ubar_v = np.zeros((2, 4, 4))
    ubar_v[0].flat[[3, 7, 9]] = [0.9, 0.8, 0.5]
    ubar_v[0].flat[[1, 2, 4, 5]] = 0.3  # four pixels tied for the last two places
    masks = top_pixels(ubar_v, 5, seed=0)
    assert masks.shape == (2, 4, 4) and masks.sum(axis=(1, 2)).tolist() == [5, 5]
    chosen = set(np.flatnonzero(masks[0]))
    assert {3, 7, 9} <= chosen and len(chosen & {1, 2, 4, 5}) == 2
    assert np.array_equal(masks, top_pixels(ubar_v, 5, seed=0))  # the seed decides the ties
    ties = {frozenset(np.flatnonzero(top_pixels(ubar_v, 5, seed)[0])) - {3, 7, 9} for seed in range(30)}
    assert len(ties) > 1 and set().union(*ties) == {1, 2, 4, 5}  # every tied pixel can win, none else
    # class 1 (ŪV 0 everywhere) gets 5 pixels too; more than the image: every pixel
    assert top_pixels(ubar_v, 99, seed=0).all()


def test_highest_is_lowest_of_the_negated_score_with_the_same_generator():
    """One helper for both ends (the RoI complement takes the lowest, the equal-size
    blob the highest), the ties drawn the same way."""
    score = np.random.default_rng(1).integers(0, 3, (6, 6)).astype(float)
    support = np.random.default_rng(2).random((6, 6)) < 0.7
    high = ranked_pixels(score, support, 9, np.random.default_rng(5), highest=True)
    assert np.array_equal(high, ranked_pixels(-score, support, 9, np.random.default_rng(5)))
    assert high.sum() == 9 and (high <= support).all()  # 9 < the support's size: all inside it
    assert score[high].min() >= score[support & ~high].max()


# ---- why equal size matters: a made-up model and two attacks' ŪV ------------
# 4×4 images. Class 1: the top row (pixels 0–3) is 1, the rest 0; class 0: all 0.
# The model's logit for class 1 is g = Σ top row − Σ w·rest − 2.8, with w = 6 on
# pixels 4 and 5 and 0.5 elsewhere. The attack on a 1 moves every pixel by ε = 0.1
# toward class 0: g goes from 1.2 to −0.9. Blanking (fill 0) a background pixel
# after the attack removes 0.1·w from the attack: pixels 4 and 5 together win the
# image back (+1.2), one of them does not (+0.6), the light pixels barely count (+0.05).
HEAVY, LIGHT = [4, 5], list(range(6, 16))


class LinearModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        w = torch.full((16,), -0.5)
        w[:4], w[HEAVY] = 1.0, -6.0
        self.register_buffer("w", w)

    def forward(self, x):
        g = x.flatten(1) @ self.w - 2.8
        return torch.stack([torch.zeros_like(g), g], 1)


def made_up_setting(folder, ubar_v_of_one):
    """data.h5, maps.h5 and regions.h5 of 6 images per class (all scored: fit_on test)
    whose class-1 ŪV representative is `ubar_v_of_one` (16 values)."""
    folder.mkdir()
    labels = np.repeat([0, 1], 6)
    x = np.zeros((12, 1, 4, 4), np.float32)
    x[labels == 1, 0, 0, :] = 1.0
    w = LinearModel().w.numpy().reshape(4, 4)
    x_adv = np.clip(x - 0.1 * np.sign(w) * (labels == 1)[:, None, None, None], 0, 1).astype(np.float32)
    with torch.no_grad():
        prob = {name: torch.softmax(LinearModel()(torch.from_numpy(v)), 1).numpy() for name, v in
                (("clean", x), ("adv", x_adv))}
    with h5py.File(folder / "data.h5", "w") as f:
        f.create_group("test")  # the clean images are maps.h5's own copy (x)
    with h5py.File(folder / "maps.h5", "w") as f:
        f["x"], f["x_adv"], f["label"], f["index"] = x, x_adv, labels, np.arange(12)
        for name, p in prob.items():
            f[f"prob_{name}"], f[f"pred_{name}"] = p, p.argmax(1)
    with h5py.File(folder / "regions.h5", "w") as f:
        f.attrs["classes"], f.attrs["fit_on"] = ["0", "1"], "test"
        f["calibration"] = np.zeros(12, bool)
        for name, ubar_v in (("0", np.zeros(16)), ("1", np.asarray(ubar_v_of_one, float))):
            f[f"representatives/{name}/ubar_v"] = ubar_v.reshape(4, 4)
            f[f"representatives/{name}/roi"] = np.zeros((4, 4))
    return [folder / name for name in ("data.h5", "maps.h5", "regions.h5")]


def test_equal_size_can_reverse_the_comparison_of_raw_blobs(tmp_path):
    """Attack A's ŪV is highest on light pixels and reaches θ on both heavy ones too:
    its blob at θ = 0.4 holds 8 pixels and wins the 1s back. Attack B's ŪV reaches θ
    on one heavy pixel only: a 1-pixel blob that does not. Raw, A beats B; at k = 2, B's
    two highest pixels are the heavy ones and A's two are light: B beats A. The raw
    comparison measured size, not place."""
    a, b = np.zeros(16), np.zeros(16)
    a[LIGHT[:6]], a[HEAVY] = np.linspace(1.0, 0.75, 6), 0.5
    b[HEAVY] = [0.9, 0.3]
    model, attack = LinearModel().eval(), Attack("fgsm", 0.1)
    options = dict(fill=0, assign="true_class", attack=attack, batch_size=4, device="cpu")
    raw, equal = {}, {}
    for name, ubar_v in (("A", a), ("B", b)):
        data, maps, regions = made_up_setting(tmp_path / name, ubar_v)
        blob = np.stack([np.zeros((4, 4), bool), blob_mask({"ubar_v": ubar_v.reshape(4, 4)}, 0.4)])
        with h5py.File(data) as d, h5py.File(maps) as m:
            probs = evaluate_masks(model, d["test"], m, np.arange(12), torch.from_numpy(blob),
                                   order="attack_then_neutralize", **options)
        raw[name] = (int(blob[1].sum()), float((probs["mod_adv"][6:].argmax(1) == 1).mean()))
        rows = run_equal_size(model, data, maps, regions, pixels=[2], draws=3, seed=0,
                              orders=["attack_then_neutralize"], **options)
        row = next(r for r in rows if r["source"] == "1" and r["neutralization"] == "equal_size_blob")
        equal[name] = (row["blob_pixels"], row["score_mod_adv"])
        assert row["score_adv"] == 0.0 and row["score_mod"] == 1.0  # the attack flips every 1; the clean ones stay
    assert raw == {"A": (8, 1.0), "B": (1, 0.0)}
    assert equal == {"A": (2, 0.0), "B": (2, 1.0)}


# ---- the rule and the page on a tiny real digits run ---------------------------

EQUAL_SIZE_JSON = (model_dir(TINY_CONFIG) + "/seed~0/space~native/attack~fgsm/eps~0.1/cam~gradcam/layer~default"
                   "/cam_target~predicted_class/n~all/attack_settings~none/d1~0.5/roa~perturbation/d2~0.5/rep~masks/fit~calibration"
                   "/cal~0.5/shuffles~10/equal_size/fill~0/assign~true_class/draws~5/pixels~4+8/equal_size.json")


@pytest.fixture(scope="module")
def equal_size_run(tiny_run, tmp_path_factory):
    """The tiny run with blob.equal_size_pixels [4, 8], and the jobs that took."""
    workdir = tmp_path_factory.mktemp("equal_size")
    shutil.copytree(tiny_run, workdir, dirs_exist_ok=True, symlinks=True)
    config = copy.deepcopy(TINY_CONFIG)
    config["blob"]["equal_size_pixels"] = [4, 8]
    configfile = write_config(workdir, config)
    return workdir, configfile, jobs_run(snakemake(workdir, configfile))


@pytest.mark.workflow
def test_the_rule_runs_alone_and_scores_every_k_order_and_direction(equal_size_run):
    """A k list added to a finished run plans the equal_size job and nothing else (no
    existing rule's params, inputs or scripts changed); its file holds, per k, order
    and direction, the k-pixel blob and the random k-pixel masks on the evaluation part."""
    workdir, _, ran = equal_size_run
    assert set(ran) - {"all"} == {"equal_size"} and ran["equal_size"] == 1, ran
    result = json.loads((workdir / EQUAL_SIZE_JSON).read_text())
    params = result["params"]
    assert params["equal_size_pixels"] == [4, 8] and params["random_draws"] == 5 and result["source_commit"]
    assert params["orders"] == ["neutralize_then_attack", "attack_then_neutralize"]  # FGSM: both are cheap
    rows = result["directions"]
    assert sorted((r["equal_size_pixels"], r["order"], r["source"], r["neutralization"]) for r in rows) == sorted(
        (k, o, s, n) for k in (4, 8) for o in params["orders"] for s in ("0", "1")
        for n in ("equal_size_blob", "random_mask"))
    with h5py.File(workdir / EQUAL_SIZE_JSON.replace("equal_size/fill~0/assign~true_class/draws~5/pixels~4+8/equal_size.json",
                                                     "regions.h5")) as f:
        evaluated = int((~f["calibration"][:]).sum())
        ubar_v = {c: f["representatives"][c]["ubar_v"][:] for c in ("0", "1")}
    for r in rows:
        assert r["blob_pixels"] == r["equal_size_pixels"] and r["part"] == "evaluation"
        assert 0 <= r["score_mod"] <= 1 and 0 <= r["score_mod_adv"] <= 1
        if r["neutralization"] == "equal_size_blob":  # every pixel above the k-th highest ŪV is in
            assert (ubar_v[r["source"]] > r["kth_highest_ubar_v"]).sum() < r["equal_size_pixels"]
        else:
            assert r["random_draws"] == 5 and len(r["draws_score_mod_adv"]) == 5 and 0 <= r["percentile_mod_adv"] <= 100
    assert sum(r["n_images"] for r in rows if r["neutralization"] == "random_mask" and r["equal_size_pixels"] == 4
               and r["order"] == "attack_then_neutralize") == evaluated
    # the post-hoc order reuses the map stage's S_adv and S_mod is the same under both orders
    by = {(r["equal_size_pixels"], r["order"], r["source"], r["neutralization"]): r for r in rows}
    for (k, order, source, name), r in by.items():
        assert r["score_mod"] == by[k, "attack_then_neutralize", source, name]["score_mod"]


@pytest.mark.workflow
def test_a_new_k_list_reruns_only_the_rule(equal_size_run, tmp_path):
    workdir, _, _ = equal_size_run
    config = copy.deepcopy(TINY_CONFIG)
    config["blob"]["equal_size_pixels"] = [4, 8]
    plan = snakemake(workdir, write_config(tmp_path, config), "-n")
    assert "Nothing to be done" in plan.stdout + plan.stderr
    config["blob"]["equal_size_pixels"] = [4, 16]
    ran = jobs_run(snakemake(workdir, write_config(tmp_path, config), "-n"))
    assert set(ran) - {"all"} == {"equal_size"}, ran


def test_an_iterative_attack_runs_the_post_hoc_order_only_and_says_why():
    from roiroa.orders import equal_size_orders

    for method in ("pgd_linf", "pgd_l2", "deepfool", "apgd_ce", "apgd_ce_l2"):
        orders, skipped = equal_size_orders(method)
        assert orders == ["attack_then_neutralize"] and "iterative" in skipped["neutralize_then_attack"]
    assert equal_size_orders("fgsm") == (["neutralize_then_attack", "attack_then_neutralize"], {})


@pytest.mark.workflow
def test_the_page_has_the_equal_size_section(equal_size_run, tmp_path):
    """The page of a run with a k list: one row per direction, attack, RoA source, order
    and k, with the interval and the random masks' mean; none without the key."""
    from roiroa.publish import publish
    from test_publish import table_rows

    workdir, configfile, _ = equal_size_run
    page = publish("digits", configfile, "make test", workdir / "results", tmp_path / "page.md",
                   allow_dirty=True).read_text()
    assert "## Blobs at equal size" in page
    rows = table_rows(page, "## Blobs at equal size")
    assert len(rows) == 2 * 2 * 2  # directions × orders × k (one attack and RoA source)
    stored = {(r["source"], r["order"], r["equal_size_pixels"], r["neutralization"]): r
              for r in json.loads((workdir / EQUAL_SIZE_JSON).read_text())["directions"]}
    for row in rows:
        direction, attack, roa, order, k, seeds, mod, random_mod, mod_adv, random_mod_adv, beats = row
        assert (attack, roa, seeds) == ("fgsm ε=0.1", "perturbation", "0")
        blob, random = (stored[direction[0], order, int(k), n] for n in ("equal_size_blob", "random_mask"))
        assert mod.startswith(f"{blob['score_mod']:.4f} [") and mod_adv.startswith(f"{blob['score_mod_adv']:.4f} [")
        assert random_mod == f"{random['score_mod']:.4f}" and random_mod_adv == f"{random['score_mod_adv']:.4f}"
        assert beats.startswith("**undecided**") and "5 random placements" in beats  # 5 draws cannot tell
    assert "`neutralize_then_attack`, k = 8" in page
    config = copy.deepcopy(TINY_CONFIG)  # the same results, a config without the key: no section
    page = publish("digits", write_config(tmp_path, config), "make test", workdir / "results", tmp_path / "page.md",
                   allow_dirty=True).read_text()
    assert "Blobs at equal size" not in page


def test_the_section_gives_seed_level_intervals_the_best_setting_and_what_was_not_run():
    """Made-up rows of three seeds and two attacks at k = 8: the interval is the tables'
    over seeds, the blob that beats all 20 random draws says yes, the one below them no,
    the line per k names both, and the order left out under PGD is said."""
    import pandas as pd

    from roiroa import tables
    from roiroa.publish import equal_size_section

    rows = []
    for seed, (fgsm, pgd) in enumerate([(40, 20), (42, 22), (44, 18)]):
        for attack, right, not_run in (("fgsm", fgsm, {}), ("pgd_linf", pgd, {"neutralize_then_attack": "costly"})):
            base = dict(source="0", target="1", attack=attack, eps=0.1, roa_source="gradient", seed=seed,
                        order="attack_then_neutralize", equal_size_pixels=8, n_images=50, orders_not_run=not_run)
            rows.append(base | dict(neutralization="equal_size_blob", correct_mod=50, score_mod=1.0,
                                    correct_mod_adv=right, score_mod_adv=right / 50))
            rows.append(base | dict(neutralization="random_mask", correct_mod=49.0, score_mod=0.98,
                                    correct_mod_adv=30.0, score_mod_adv=0.6,
                                    draws_score_mod_adv=[0.5 + 0.01 * d for d in range(20)]))
    frame = pd.DataFrame(rows)
    text = equal_size_section(frame)
    table = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| 0 →")]
    assert [row[1] for row in table] == ["fgsm ε=0.1", "pgd_linf ε=0.1"]
    fgsm = tables.seed_level_score(frame[(frame["attack"] == "fgsm") & (frame["neutralization"] == "equal_size_blob")],
                                   "mod_adv")
    assert fgsm["score_mod_adv 95% low"] < 0.84 < fgsm["score_mod_adv 95% high"]
    assert table[0][5] == "0 1 2" and table[0][8] == (
        f"0.8400 [{fgsm['score_mod_adv 95% low']:.3f}, {fgsm['score_mod_adv 95% high']:.3f}]")
    assert table[0][7] == "0.9800" and table[0][9] == "0.6000"
    assert table[0][10].startswith("**yes** (blob at the 100th percentile of 20")
    assert table[1][10].startswith("**no** (blob at the 0th percentile of 20")
    assert ("- 0 → 1, `attack_then_neutralize`, k = 8: the k pixels of fgsm ε=0.1, RoA gradient do best "
            "(score_mod_adv 0.8400), those of pgd_linf ε=0.1, RoA gradient worst (0.4000); "
            "1 of 2 settings beat k random pixels.") in text
    assert "`neutralize_then_attack` is not run under pgd_linf: costly." in text
