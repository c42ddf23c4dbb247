"""The claims' rules (roiroa.verdicts), each on a case where the rule published
before gave the wrong verdict, with the numbers computed by roiroa.stats."""

import pytest

from roiroa.stats import mcnemar_exact, paired_difference_interval, seed_level_interval, wilson_interval
from roiroa.verdicts import (
    attack_accuracy_raised,
    better_than_random,
    ordinal,
    clean_accuracy_kept,
    image_specific,
    low_similarity,
)


def test_clean_accuracy_is_a_non_inferiority_claim():
    """docs/results/digits_eps.md published "kept: yes" for 1.0000 → 0.8261 (n = 23):
    the old rule kept accuracy whenever McNemar's p ≥ 0.05 (here 0.125)."""
    clean, mod, only_clean, only_mod, n = 23, 19, 4, 0, 23
    old_kept = (clean - mod) / n <= 0.01 or mcnemar_exact(only_clean, only_mod) >= 0.05
    assert old_kept
    drop, low, high = paired_difference_interval(clean, mod, only_clean, only_mod, n)
    assert drop == pytest.approx(4 / 23) and low < 0.01 < high
    verdict = clean_accuracy_kept(low, high, margin=0.01)
    assert verdict.answer == "undecided" and "n too small" in verdict.reason
    # many images: the same drop is clearly beyond the margin; a tiny drop clearly within it
    big = paired_difference_interval(2300, 1900, 400, 0, 2300)
    assert clean_accuracy_kept(big[1], big[2], 0.01).answer == "no"
    small = paired_difference_interval(5000, 4999, 1, 0, 5000)
    assert clean_accuracy_kept(small[1], small[2], 0.01).answer == "yes"


def test_repeated_attack_that_flips_nothing_is_not_testable():
    """Real MNIST 0↔1 at ε = 0.1: FGSM flips no image (score_adv = 1.0), and the old
    rule answered "raised: no"."""
    verdict = attack_accuracy_raised(-0.02, 0.0, attack_flips=0)
    assert verdict.answer == "not testable" and "flips no image" in verdict.reason
    assert attack_accuracy_raised(0.05, 0.2, attack_flips=30).answer == "yes"
    assert attack_accuracy_raised(-0.3, -0.1, attack_flips=30).answer == "no"
    assert attack_accuracy_raised(-0.1, 0.2, attack_flips=30).answer == "undecided"


def test_seed_level_interval_includes_the_seed_to_seed_spread():
    """trouser → pullover score_mod_adv 0.501 with a seed sd of 0.361 was printed as
    [0.476, 0.527] (Wilson on counts pooled over seeds)."""
    scores, n = [0.10, 0.50, 0.903], 500
    pooled = wilson_interval(round(sum(scores) * n), 3 * n)
    assert pooled[1] - pooled[0] < 0.06
    low, high = seed_level_interval(scores, pooled)
    assert low == 0.0 and high == 1.0  # t with 2 degrees of freedom: the spread is that large
    # seeds that agree: the pooled interval is kept where it is wider
    steady = seed_level_interval([0.5, 0.5, 0.5], pooled)
    assert steady == pytest.approx(pooled)
    # one seed: no spread to measure, the pooled interval alone
    assert seed_level_interval([0.5], (0.4, 0.6)) == (0.4, 0.6)


def test_a_gain_that_is_large_in_pooled_counts_but_not_across_seeds_is_undecided():
    """A gain of two seeds out of three, the third losing: the pooled paired interval
    alone says "raised", the interval over seeds does not."""
    per_seed = [0.30, 0.25, -0.20]
    n = 500
    first = [round(0.5 * n)] * 3
    only_second = [round(max(g, 0) * n) for g in per_seed]
    only_first = [round(max(-g, 0) * n) for g in per_seed]
    second = [f - a + b for f, a, b in zip(first, only_first, only_second)]
    diff, low, high = paired_difference_interval(sum(first), sum(second), sum(only_first), sum(only_second), 3 * n)
    pooled = (-high, -low)  # gain = second − first
    assert pooled[0] > 0  # the pooled counts alone: raised
    low, high = seed_level_interval(per_seed, pooled, bounds=(-1, 1))
    assert low < 0 < high
    assert attack_accuracy_raised(low, high, attack_flips=3 * 250).answer == "undecided"


def test_blob_against_random_placement_needs_enough_draws():
    """The old rule compared the blob's lower Wilson bound with 5 draws' mean; a
    percentile among fewer than 20 draws cannot be told from the 95th."""
    assert better_than_random(0.6, [0.1, 0.2, 0.3, 0.4, 0.5]).answer == "undecided"
    draws = [i / 100 for i in range(100)]
    assert better_than_random(0.97, draws).answer == "yes"
    verdict = better_than_random(0.50, draws)
    assert verdict.answer == "no" and "50th percentile of 100" in verdict.reason


def test_image_specific_uses_the_paired_difference_not_the_spread_of_seeds():
    """Seeds whose SSIM differ a lot (sd 0.03) but whose true pairing beats the shuffled
    one on every seed: the old rule (|true − null| > 2 sd across seeds) said "no"."""
    true, null, sd = 0.070, 0.060, 0.03
    assert not abs(true - null) > 2 * sd
    per_seed = [0.011, 0.009, 0.010]
    low, high = seed_level_interval(per_seed, (0.006, 0.014), bounds=(-1, 1))
    assert image_specific(low, high).answer == "yes"
    assert image_specific(-0.004, 0.006).answer == "no"


def test_low_similarity_is_judged_against_random_masks():
    """"Low (< 0.3)" had no reference: an SSIM of 0.25 is low next to unrelated masks of
    the same sizes at 0.30, not next to masks that score 0.05 (paired per image)."""
    assert 0.25 < 0.3  # the old rule: low, whatever the masks' sizes
    assert low_similarity(0.25 - 0.30 - 0.02, 0.25 - 0.30 + 0.02).answer == "yes"
    verdict = low_similarity(0.25 - 0.05 - 0.02, 0.25 - 0.05 + 0.02)
    assert verdict.answer == "no" and "more alike than unrelated masks" in verdict.reason
    assert low_similarity(-0.01, 0.02).answer == "yes"  # as alike as unrelated masks
    assert low_similarity(float("nan"), float("nan")).answer == "not testable"


def test_a_blob_that_ties_every_draw_is_not_above_them():
    """The draws reach the verdict as the tables write them (4 decimals); the blob's
    score came unrounded, so a tie (the same images right: 18 of 23) counted as a win
    whenever the rounding went down: the old rule put this blob at the 100th percentile."""
    tie = 18 / 23  # 0.78260869...
    draws = [float(f"{tie:.4f}")] * 20  # 0.7826, as tables.draw_scores writes them
    assert tie > draws[0]
    verdict = better_than_random(tie, draws)
    assert verdict.answer == "no" and "50th percentile of 20" in verdict.reason


def test_percentiles_are_written_as_ordinals():
    """The pages printed "52th" and "53th" percentiles."""
    assert [ordinal(n) for n in (0, 1, 2, 3, 4, 11, 12, 13, 21, 22, 52, 53, 100, 101, 111)] == [
        "0th", "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "52nd", "53rd", "100th", "101st", "111th"]
    assert "52nd percentile of 20" in better_than_random(0.9, [0.9] * 1 + [0.8] * 10 + [1.0] * 9).reason


def test_an_ssim_difference_of_an_empty_roa_is_not_testable():
    """DeepFool at ε = 0.05 leaves every RoA of digits empty: the true, shuffled and
    random-mask SSIMs are all SSIM's constants (about 3e-6), and their differences
    (the digits ε page: true − random [+3.5e-7, +4.3e-7], true − shuffled
    [-4.6e-22, -2.4e-22]) carry no sign. The old rules read one: "low: no" and
    "image-specific: yes"."""
    assert low_similarity(3.5e-7, 4.3e-7).answer == "not testable"
    assert image_specific(-4.6e-22, -2.4e-22).answer == "not testable"
    assert low_similarity(0.0, 0.0).answer == "not testable"
    assert low_similarity(0.0144, 0.0611).answer == "no"  # real masks' differences still count
    assert image_specific(-0.0002, 0.0004).answer == "no"


def test_placement_is_not_ranked_where_the_attack_flips_nothing():
    """FGSM at ε 0.05 flips no digit 0: blob and every random mask keep every image
    (score_mod_adv 1.0), and the old rule called the blob "no" better than random."""
    assert better_than_random(1.0, [1.0] * 20).answer == "no"
    assert better_than_random(1.0, [1.0] * 20, attack_flips=0).answer == "not testable"
    assert better_than_random(1.0, [0.5] * 20, attack_flips=3).answer == "yes"
