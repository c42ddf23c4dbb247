"""Tables over seeds: means, sd, Wilson intervals on pooled counts, pooled
McNemar, and random-mask draws averaged within a seed, by hand."""

import pandas as pd
import pytest

from roiroa.stats import wilson_interval
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
    assert sweep["seeds"] == "0 1" and sweep["n_images"] == 20 and sweep["theta"] == "0.15"
    assert blob["theta"] == "0.15 / 0.3" and random["theta"] == "0.15 / 0.3"
    assert sweep["score_mod"] == pytest.approx(0.7) and sweep["score_mod sd"] == pytest.approx(0.2 / 2**0.5)
    assert (sweep["score_clean 95% low"], sweep["score_clean 95% high"]) == pytest.approx(wilson_interval(19, 20))
    assert (sweep["score_mod 95% low"], sweep["score_mod 95% high"]) == pytest.approx(wilson_interval(14, 20))
    # pooled discordant pairs 6 vs 1: p = 2·(C(7,0) + C(7,1))/2^7
    assert sweep["p McNemar (clean vs mod)"] == pytest.approx(2 * 8 / 128)
    # random masks: seed 0 averages 7 and 9 correct (8), seed 1 has 6: 14 of 20 images, not of 40
    assert random["n_images"] == 20 and random["score_mod"] == pytest.approx(0.7)
    assert (random["score_mod 95% low"], random["score_mod 95% high"]) == pytest.approx(wilson_interval(14, 20))
    assert random["p McNemar (clean vs mod)"] == pytest.approx(2 * 8 / 128)  # (3+1)/2 + 4 = 6 vs (1+1)/2 + 0 = 1
    assert list(t2.index) == ["blob, chosen θ", "random mask of the blob's size", "blob, θ sweep"]
