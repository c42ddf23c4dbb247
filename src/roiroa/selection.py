"""θ chosen before testing: a stated criterion applied to the calibration part.

The rule that calls this reads only calibration scores (calibration.json of
every θ), never an evaluation image, so the choice cannot peek at the numbers
it is later judged by. The gain is measured under one order (threat model),
`blob.selection_order`: by default `adaptive`, the attacker who knows the
blob, so that θ is the one a defender would deploy against that attacker (the
paper's order lets the attack write into the blob and is not a deployable
threat model); clean accuracy does not depend on the order.
"""

from __future__ import annotations

import math

def criterion(order: str) -> str:
    """The selection rule in words, naming the order whose gains rank θ."""
    return (
        f"largest mean gain in accuracy under the repeated attack of order {order} (score_mod_adv − "
        "score_adv, mean of both directions) among the θ whose clean-accuracy loss (score_clean − "
        "score_mod) is at most max_clean_drop in both directions; ties go to the larger θ (the smaller "
        "blob); if no θ meets the constraint, the θ with the smallest worst-direction loss"
    )


def calibration_by_theta(entries: list[dict], order: str) -> dict[float, list[dict]]:
    """calibration.json's entries (one per θ and order) → {θ: scores per direction} of `order`."""
    chosen = {e["params"]["theta"]: e["directions"] for e in entries if e["params"].get("order") == order}
    if entries and not chosen:
        found = sorted({str(e["params"].get("order")) for e in entries})
        raise ValueError(f"blob.selection_order {order!r}: calibration.json has rows of orders {found} only; "
                         "add it to neutralize.orders")
    return chosen


def select_theta(by_theta: dict[float, list[dict]], max_clean_drop: float, order: str) -> dict:
    """{θ: calibration scores per direction under `order`} → the chosen θ and why."""
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
        "criterion": criterion(order),
        "selection_order": order,
        "max_clean_drop": max_clean_drop,
        "candidates": sorted(candidates, key=lambda c: c["theta"]),
    }


def _finite(value: float, default: float = -math.inf) -> float:
    return default if value is None or math.isnan(value) else value
