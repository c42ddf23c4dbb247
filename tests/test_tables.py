"""Tables over seeds: means, sd, seed-level intervals (t over seeds ∪ Wilson on
pooled counts), the paired difference with its interval, McNemar stratified by
seed, and random-mask draws averaged within a seed, by hand."""

import math

import pandas as pd
import pytest

from roiroa.stats import mcnemar_exact, paired_difference_interval, seed_level_interval, wilson_interval
from roiroa.tables import summarize_defense

PARAMS = dict(dataset="digits", source="0", target="1", attack="fgsm", eps=0.1, attack_settings="", cam="gradcam",
              cam_target="predicted_class", delta1=0.5, roa_source="perturbation", delta2=0.5,
              representative="masks", fit_on="calibration", blob_mode="ubar_v", fill=0.0, assign="true_class",
              order="neutralize_then_attack", theta=0.15)


def row(seed, neutralization, clean, mod, only_first, only_second, draw=0, n=10):
    out = {**PARAMS, "seed": seed, "neutralization": neutralization, "draw": draw, "n_images": n, "blob_pixels": 20}
    for s, correct in (("clean", clean), ("mod", mod), ("adv", clean), ("mod_adv", mod)):
        out[f"correct_{s}"], out[f"score_{s}"] = correct, correct / n
    for asr, of in (("asr_adv", clean), ("asr_mod", mod)):
        out[f"{asr}_flipped"], out[f"{asr}_of"] = 0, of
    for pair in ("clean_vs_mod", "adv_vs_mod_adv"):
        out[f"{pair}_only_first"], out[f"{pair}_only_second"] = only_first, only_second
    return out


def test_pooled_intervals_and_paired_test_over_seeds():
    rows = pd.DataFrame([
        row(0, "blob_sweep", clean=9, mod=8, only_first=2, only_second=1),
        row(1, "blob_sweep", clean=10, mod=6, only_first=4, only_second=0),
        row(0, "blob", clean=9, mod=8, only_first=2, only_second=1),
        row(1, "blob", clean=10, mod=6, only_first=4, only_second=0),
        # two draws per seed: averaged within the seed before pooling
        row(0, "random_mask", clean=9, mod=7, only_first=3, only_second=1, draw=0),
        row(0, "random_mask", clean=9, mod=9, only_first=1, only_second=1, draw=1),
        row(1, "random_mask", clean=10, mod=6, only_first=4, only_second=0, draw=0),
        row(1, "random_mask", clean=10, mod=6, only_first=4, only_second=0, draw=1),
    ])
    rows.loc[rows["seed"] == 1, "theta"] = 0.3  # seed 1 chose another θ for its chosen-θ rows
    rows.loc[(rows["seed"] == 1) & (rows["neutralization"] == "blob_sweep"), "theta"] = 0.15
    t2 = summarize_defense("table2_classification", rows).set_index("neutralization")
    sweep, blob, random = (t2.loc[k] for k in ("blob, θ sweep", "blob, chosen θ", "random mask of the blob's size"))
    assert sweep["seeds"] == "0 1" and sweep["n (images × seeds)"] == 20 and sweep["images per seed"] == 10
    assert sweep["theta"] == "0.15"
    assert blob["theta"] == "0.15 / 0.3" and random["theta"] == "0.15 / 0.3"
    assert sweep["score_mod"] == pytest.approx(0.7) and sweep["score_mod sd"] == pytest.approx(0.2 / 2**0.5)
    # the seed-level interval: t over the seeds' 0.8 and 0.6 (1 degree of freedom) is far wider
    # than Wilson's on 14 of 20 pooled images, which it replaces
    low, high = seed_level_interval([0.8, 0.6], wilson_interval(14, 20))
    assert (sweep["score_mod 95% low"], sweep["score_mod 95% high"]) == pytest.approx((low, high))
    assert (low, high) == (0.0, 1.0) and wilson_interval(14, 20)[0] > 0.45
    # seeds 0.9 and 1.0: 0.95 ± t(0.975, 1) · 0.0707 / √2 = 0.95 ± 0.635, clipped at 1
    assert sweep["score_clean 95% high"] == 1.0 and sweep["score_clean 95% low"] == pytest.approx(0.3147, abs=1e-4)
    # the drop: per seed (2 − 1)/10 and (4 − 0)/10, mean 0.25; Newcombe's interval on the pooled
    # pairs is inside the t-interval over the two seeds
    assert sweep["drop (clean − mod)"] == pytest.approx(0.25)
    pooled = paired_difference_interval(19, 14, 6, 1, 20)[1:]
    expected = seed_level_interval([0.1, 0.4], pooled, bounds=(-1, 1))
    assert (sweep["drop (clean − mod) 95% low"], sweep["drop (clean − mod) 95% high"]) == pytest.approx(expected)
    # McNemar stratified by seed: the discordant pairs of both seeds, 6 vs 1
    assert sweep["p McNemar (clean vs mod)"] == pytest.approx(mcnemar_exact(6, 1))
    assert sweep["log10 p McNemar (clean vs mod)"] == pytest.approx(math.log10(2 * 8 / 128))
    # random masks: seed 0 averages 7 and 9 correct (8), seed 1 has 6: 14 of 20 images, not of 40
    assert random["n (images × seeds)"] == 20 and random["score_mod"] == pytest.approx(0.7)
    assert random["p McNemar (clean vs mod)"] == pytest.approx(mcnemar_exact(6, 1))  # (3+1)/2 + 4 vs (1+1)/2 + 0
    # each draw's score, averaged over seeds: draw 0 (0.7 + 0.6)/2, draw 1 (0.9 + 0.6)/2
    assert random["random draws score_mod"] == "0.6500 0.7500"
    assert list(t2.index) == ["blob, chosen θ", "random mask of the blob's size", "blob, θ sweep"]


def test_chosen_theta_that_missed_the_constraint_is_counted():
    rows = pd.DataFrame([row(0, "blob", clean=9, mod=8, only_first=2, only_second=1),
                         row(1, "blob", clean=10, mod=6, only_first=4, only_second=0)])
    rows["theta_met_constraint"] = [True, False]
    t2 = summarize_defense("table2_classification", rows).iloc[0]
    assert t2["θ met the clean-loss constraint (seeds)"] == "1 of 2"


def test_random_draws_listed_in_one_row_per_seed():
    """baselines.json's random-mask rows: one per seed, the draws' scores as a list
    (as a CSV cell they are text): each draw's score averaged over the seeds."""
    rows = []
    for seed, draws in ((0, [0.5, 0.7]), (1, [0.7, 0.9])):
        r = row(seed, "random_mask", clean=10, mod=6, only_first=4, only_second=0)
        r["draws_score_mod"] = draws if seed == 0 else str(draws)
        rows.append(r)
    t2 = summarize_defense("table2_classification", pd.DataFrame(rows)).iloc[0]
    assert t2["random draws score_mod"] == "0.6000 0.8000"
