"""θ chosen before testing: a stated criterion applied to the calibration part.

The rule that calls this reads only calibration scores (calibration.json of
every θ), never an evaluation image, so the choice cannot peek at the numbers
it is later judged by.
"""

from __future__ import annotations

import math

CRITERION = (
    "largest mean gain in accuracy under the repeated attack (score_mod_adv − score_adv, "
    "mean of both directions) among the θ whose clean-accuracy loss (score_clean − score_mod) "
    "is at most max_clean_drop in both directions; ties go to the larger θ (the smaller blob); "
    "if no θ meets the constraint, the θ with the smallest worst-direction loss"
)


def select_theta(by_theta: dict[float, list[dict]], max_clean_drop: float) -> dict:
    """{θ: calibration scores per direction} → the chosen θ and why."""
    if not by_theta:
        raise ValueError("no θ to choose from")
    candidates = []
    for theta, directions in by_theta.items():
        drops = [d["score_clean"] - d["score_mod"] for d in directions]
        gains = [d["score_mod_adv"] - d["score_adv"] for d in directions]
        worst = max(drops)
        gain = sum(gains) / len(gains)
        candidates.append({"theta": theta, "worst_clean_drop": worst, "mean_gain": gain,
                           "meets_constraint": bool(worst <= max_clean_drop + 1e-12)})
    feasible = [c for c in candidates if c["meets_constraint"]]
    if feasible:
        chosen = max(feasible, key=lambda c: (_finite(c["mean_gain"]), c["theta"]))
    else:
        chosen = min(candidates, key=lambda c: (_finite(c["worst_clean_drop"], math.inf), -c["theta"]))
    return {
        "theta": chosen["theta"],
        "meets_constraint": chosen["meets_constraint"],
        "criterion": CRITERION,
        "max_clean_drop": max_clean_drop,
        "candidates": sorted(candidates, key=lambda c: c["theta"]),
    }


def _finite(value: float, default: float = -math.inf) -> float:
    return default if value is None or math.isnan(value) else value
