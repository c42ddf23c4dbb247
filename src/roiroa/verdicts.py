"""The paper's three claims as stated rules: numbers in, a verdict and its reason out.

Every rule reads 95% intervals that include the seed-to-seed spread
(roiroa.stats.seed_level_interval), never a point estimate alone, and says
"undecided" or "not testable" rather than guess:

- (a) RoI and RoA are not spatially similar: "low" compares the per-image
  SSIM with the SSIM of random masks of the same sizes, per image (no
  reference, no "low"); "image-specific" asks whether the true pairing differs from shuffled
  pairings of the same class, per image, within each seed. Differences within
  SSIM_TOLERANCE at both ends (an empty RoA) are not testable.
- (b) neutralization keeps clean accuracy: a non-inferiority claim. Kept when
  the upper end of the interval for the drop (clean − mod, the same images) is
  at most the margin; not kept when its lower end exceeds the margin.
- (c) neutralization raises accuracy under the repeated attack: raised when the
  lower end of the interval for the gain (mod_adv − adv) is above 0. Judged on
  the deployable threat models only (docs/attacks.md); an attack that flips no
  image leaves nothing to raise: not testable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

YES, NO, UNDECIDED, NOT_TESTABLE = "yes", "no", "undecided", "not testable"
NOTHING_FLIPPED = "the attack flips no image: there is no accuracy to win back"

# Random placements a percentile needs before "above the 95th percentile" can be told apart.
MIN_DRAWS_FOR_PERCENTILE = 20
# Decimals of the random draws' scores as the tables write them (tables.draw_scores): the
# blob's score is compared at the same resolution, else a tie (the same images right)
# would count as a win whenever the rounding went down.
SCORE_DECIMALS = 4


@dataclass(frozen=True)
class Verdict:
    answer: str
    reason: str

    def __str__(self) -> str:
        return f"**{self.answer}** ({self.reason})"


def _missing(*values) -> bool:
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)


# SSIM differences smaller than this at both ends of their interval carry no sign: an
# empty RoA (an attack whose change never reaches δ2 of the budget, DeepFool at a small
# ε) has an SSIM of about 3e-6 with any mask, from SSIM's stabilising constants alone,
# and its differences with shuffled or random masks are of order 1e-7 (seen on the
# digits ε page); real masks differ by 1e-3 and more.
SSIM_TOLERANCE = 1e-5


def _identical(low: float, high: float) -> bool:
    return abs(low) <= SSIM_TOLERANCE and abs(high) <= SSIM_TOLERANCE


def clean_accuracy_kept(drop_low: float, drop_high: float, margin: float) -> Verdict:
    """Claim (b), non-inferiority with `margin` (the largest clean-accuracy loss
    still called "kept")."""
    if _missing(drop_low, drop_high):
        return Verdict(NOT_TESTABLE, "no interval for the drop")
    interval = f"drop interval [{drop_low:.3f}, {drop_high:.3f}], margin {margin:g}"
    if drop_high <= margin:
        return Verdict(YES, f"{interval}: the whole interval is within the margin")
    if drop_low > margin:
        return Verdict(NO, f"{interval}: the whole interval is beyond the margin")
    return Verdict(UNDECIDED, f"{interval}: the interval straddles the margin (n too small to decide)")


def attack_accuracy_raised(gain_low: float, gain_high: float, attack_flips: int) -> Verdict:
    """Claim (c) on one threat model: `attack_flips` = images the first attack
    turned wrong (summed over seeds)."""
    if attack_flips == 0:
        return Verdict(NOT_TESTABLE, NOTHING_FLIPPED)
    if _missing(gain_low, gain_high):
        return Verdict(NOT_TESTABLE, "no interval for the gain")
    interval = f"gain interval [{gain_low:+.3f}, {gain_high:+.3f}]"
    if gain_low > 0:
        return Verdict(YES, f"{interval} is above 0")
    if gain_high <= 0:
        return Verdict(NO, f"{interval} is not above 0 anywhere")
    return Verdict(UNDECIDED, f"{interval} includes 0")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 52nd, 100th."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def better_than_random(blob_score: float, random_scores: list[float], attack_flips: int | None = None) -> Verdict:
    """Whether the blob's placement matters: its score_mod_adv above the 95th
    percentile of the same-size random masks' (each draw's score averaged over seeds),
    both at SCORE_DECIMALS (a tie is half a win, as in any mid-rank percentile).
    `attack_flips` as in attack_accuracy_raised: where the attack flips nothing, every
    placement keeps every image and there is nothing to rank."""
    if attack_flips == 0:
        return Verdict(NOT_TESTABLE, NOTHING_FLIPPED)
    draws = [round(v, SCORE_DECIMALS) for v in random_scores if not _missing(v)]
    if _missing(blob_score) or not draws:
        return Verdict(NOT_TESTABLE, "no random draws")
    blob_score = round(blob_score, SCORE_DECIMALS)
    below = sum(v < blob_score for v in draws) + 0.5 * sum(v == blob_score for v in draws)
    percentile = 100 * below / len(draws)
    text = f"blob at the {ordinal(round(percentile))} percentile of {len(draws)} random placements"
    if len(draws) < MIN_DRAWS_FOR_PERCENTILE:
        return Verdict(UNDECIDED, f"{text}; {len(draws)} draws cannot resolve a 95th percentile "
                                  f"(at least {MIN_DRAWS_FOR_PERCENTILE} needed)")
    return Verdict(YES if percentile >= 95 else NO, text)


def low_similarity(diff_low: float, diff_high: float) -> Verdict:
    """Claim (a), "low": the per-image SSIM of RoI and RoA against the SSIM of random
    masks of the same sizes (unrelated regions), paired per image; low unless the
    interval of the difference (true − random) lies above 0, i.e. unless RoI and
    RoA overlap more than unrelated masks of their sizes would."""
    if _missing(diff_low, diff_high):
        return Verdict(NOT_TESTABLE, "no random-mask reference was computed")
    if _identical(diff_low, diff_high):
        return Verdict(NOT_TESTABLE, "the SSIM equals the random masks' on every image (an empty RoA gives that)")
    text = f"true − random-mask SSIM interval [{diff_low:+.4f}, {diff_high:+.4f}]"
    if diff_low > 0:
        return Verdict(NO, f"{text}: RoI and RoA are more alike than unrelated masks of their sizes")
    if diff_high < 0:
        return Verdict(YES, f"{text}: less alike than unrelated masks of their sizes")
    return Verdict(YES, f"{text}: as alike as unrelated masks of their sizes")


def image_specific(diff_low: float, diff_high: float) -> Verdict:
    """Claim (a), "image-specific": the paired per-image difference of the true
    pairing's SSIM and shuffled pairings' (same class), its interval over seeds."""
    if _missing(diff_low, diff_high):
        return Verdict(NOT_TESTABLE, "no paired comparison was computed")
    if _identical(diff_low, diff_high):
        return Verdict(NOT_TESTABLE, "the SSIM equals the shuffled pairings' on every image (an empty RoA gives that)")
    text = f"true − shuffled interval [{diff_low:+.4f}, {diff_high:+.4f}]"
    if diff_low > 0 or diff_high < 0:
        return Verdict(YES, f"{text} excludes 0")
    return Verdict(NO, f"{text} includes 0: an image's RoA matches its own RoI no better than another image's")
