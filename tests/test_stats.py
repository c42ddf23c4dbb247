"""The statistics behind the tables, against hand-computed answers."""

import math

import numpy as np
import pytest

from roiroa.selection import calibration_by_theta, select_theta
from roiroa.stats import (
    calibration_split,
    mcnemar_exact,
    mean_sd,
    paired_counts,
    random_mask_like,
    shuffled_partners,
    wilson_interval,
)


def test_wilson_interval_by_hand():
    # 34/45: p = 0.7556, centre (p + z²/2n)/(1 + z²/n) = 0.7355, half-width 0.1222
    low, high = wilson_interval(34, 45)
    assert low == pytest.approx(0.6133, abs=2e-4) and high == pytest.approx(0.8577, abs=2e-4)
    # 0/n: the lower end is 0 and the upper end is z²/(n + z²)
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))
    assert wilson_interval(10, 10) == pytest.approx((10 / (10 + z2), 1.0))
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_mcnemar_exact_by_hand():
    assert mcnemar_exact(0, 0) == 1.0  # all ties: no evidence either way
    assert mcnemar_exact(1, 5) == pytest.approx(2 * (1 + 6) / 64)  # C(6,0)+C(6,1) over 2^6, two-sided
    assert mcnemar_exact(5, 1) == mcnemar_exact(1, 5)
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(3, 3) == 1.0  # the two-sided sum exceeds 1 and is capped
    assert mcnemar_exact(0, 1) == 1.0


def test_paired_counts():
    first = np.array([1, 1, 0, 0, 1], bool)
    second = np.array([1, 0, 1, 0, 0], bool)
    assert paired_counts(first, second) == {"n": 5, "first": 3, "second": 2, "only_first": 2, "only_second": 1}


def test_calibration_split_is_disjoint_stratified_and_seeded():
    labels = np.array([0] * 10 + [1] * 6)
    calibration = calibration_split(labels, 0.5, seed=3)
    evaluation = ~calibration
    assert calibration.sum() + evaluation.sum() == len(labels) and not (calibration & evaluation).any()
    assert calibration[labels == 0].sum() == 5 and calibration[labels == 1].sum() == 3
    assert np.array_equal(calibration, calibration_split(labels, 0.5, seed=3))
    assert any(not np.array_equal(calibration, calibration_split(labels, 0.5, seed=s)) for s in range(4, 10))
    # every class keeps at least one image on each side
    tiny = calibration_split(np.array([0, 0, 1, 1, 1]), 0.01, seed=0)
    assert tiny[:2].sum() == 1 and tiny[2:].sum() == 1
    assert calibration_split(np.array([0, 0, 1, 1]), 0.99, seed=0).tolist().count(True) == 2


def test_random_mask_has_the_blob_size_and_is_seeded():
    blob = np.zeros((8, 8), bool)
    blob[2:5, 1:7] = True  # 18 pixels
    a = random_mask_like(blob, np.random.default_rng(7))
    assert a.shape == blob.shape and a.sum() == 18
    assert np.array_equal(a, random_mask_like(blob, np.random.default_rng(7)))
    assert not np.array_equal(a, random_mask_like(blob, np.random.default_rng(8)))
    assert random_mask_like(np.zeros((3, 3), bool), np.random.default_rng(0)).sum() == 0


def test_shuffled_partners_pair_each_image_with_another_of_its_class():
    labels = np.array([0, 1, 0, 0, 1, 1, 1, 2])
    partners = shuffled_partners(labels, seed=0)
    for row, partner in enumerate(partners):
        assert labels[partner] == labels[row]
        assert partner != row or (labels == labels[row]).sum() == 1  # class 2 has one image
    for cls in (0, 1):  # a permutation within each class
        rows = np.flatnonzero(labels == cls)
        assert sorted(partners[rows]) == sorted(rows)
    assert np.array_equal(partners, shuffled_partners(labels, seed=0))


def test_mean_sd_uses_the_sample_sd():
    assert mean_sd([0.5, 0.7, 0.9]) == pytest.approx((0.7, 0.2))
    mean, sd = mean_sd([0.4])
    assert mean == 0.4 and math.isnan(sd)


def direction(clean, mod, adv, mod_adv):
    return {"score_clean": clean, "score_mod": mod, "score_adv": adv, "score_mod_adv": mod_adv}


def test_theta_selection_criterion():
    by_theta = {
        0.1: [direction(1.0, 0.95, 0.2, 0.9), direction(1.0, 1.0, 0.2, 0.9)],  # big gain, costs 5 points
        0.2: [direction(1.0, 0.995, 0.2, 0.5), direction(1.0, 1.0, 0.2, 0.4)],  # gain 0.25 within 1 point
        0.3: [direction(1.0, 1.0, 0.2, 0.45), direction(1.0, 1.0, 0.2, 0.45)],  # gain 0.25, smaller blob
        0.4: [direction(1.0, 1.0, 0.2, 0.2), direction(1.0, 1.0, 0.2, 0.2)],
    }
    choice = select_theta(by_theta, max_clean_drop=0.01, order="adaptive")
    assert choice["theta"] == 0.3 and choice["meets_constraint"]  # the tie goes to the larger θ
    assert choice["selection_order"] == "adaptive" and "of order adaptive" in choice["criterion"]
    assert [c["theta"] for c in choice["candidates"]] == [0.1, 0.2, 0.3, 0.4]
    assert select_theta(by_theta, max_clean_drop=0.05, order="adaptive")["theta"] == 0.1
    infeasible = {0.1: [direction(1.0, 0.5, 0.2, 0.9)] * 2, 0.2: [direction(1.0, 0.8, 0.2, 0.3)] * 2}
    choice = select_theta(infeasible, 0.01, order="adaptive")
    assert choice["theta"] == 0.2 and not choice["meets_constraint"]


def test_theta_is_ranked_on_the_selection_order_only():
    """calibration.json holds every (θ, order); the gains of the other orders
    must not rank θ: here the paper's order prefers θ = 0.1, adaptive θ = 0.2."""
    entries = [
        {"params": {"theta": 0.1, "order": "neutralize_then_attack"}, "directions": [direction(1.0, 1.0, 0.2, 0.9)]},
        {"params": {"theta": 0.1, "order": "adaptive"}, "directions": [direction(1.0, 1.0, 0.2, 0.3)]},
        {"params": {"theta": 0.2, "order": "neutralize_then_attack"}, "directions": [direction(1.0, 1.0, 0.2, 0.5)]},
        {"params": {"theta": 0.2, "order": "adaptive"}, "directions": [direction(1.0, 1.0, 0.2, 0.4)]},
    ]
    for order, theta in (("adaptive", 0.2), ("neutralize_then_attack", 0.1)):
        assert select_theta(calibration_by_theta(entries, order), 0.01, order)["theta"] == theta
    with pytest.raises(ValueError, match="blob.selection_order 'attack_then_neutralize'.*add it to neutralize.orders"):
        calibration_by_theta(entries, "attack_then_neutralize")
