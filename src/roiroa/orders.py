"""The re-attack's orders (threat models, docs/attacks.md) and what a record of
each holds. Torch-free: rules/common.smk imports it at plan time."""

from __future__ import annotations

# neutralize_then_attack:       the attack re-run on S_mod, never neutralized again (the
#                               paper's order: the attacker may write into the blob)
# attack_then_neutralize:       the blob blanked out of S_adv (post-hoc defense; the attacker
#                               ignores it)
# neutralize_attack_neutralize: the attack on S_mod, then the blob blanked again
# adaptive:                     the attacker knows the defense: PGD or APGD (adaptive_method) with
#                               restarts on the defended model (roiroa.defense.DefendedModel: every
#                               iterate neutralized as deployed, with the mask of the iterate's
#                               predicted class under assign: predicted_class); worst case over
#                               restarts and x itself
ORDERS = ("neutralize_then_attack", "attack_then_neutralize", "neutralize_attack_neutralize", "adaptive")
PAPER_ORDER = "neutralize_then_attack"
# the adaptive attacker's settings in a record (rules/common.smk `record`)
ADAPTIVE_KEYS = ("adaptive_attack", "adaptive_steps", "adaptive_step_size", "adaptive_restarts", "adaptive_loss")
# Each order's name in the folder levels that name orders (orders~ of neutralize_reattack,
# select~ of select_theta, scored~ of baselines; rules/common.smk): short, as a path is long.
ORDER_CODES = {"neutralize_then_attack": "paper", "attack_then_neutralize": "posthoc",
               "neutralize_attack_neutralize": "twice", "adaptive": "adaptive"}  # fmt: skip


def orders_segment(orders, adaptive: dict | None = None) -> str:
    """Orders as one folder name: their codes in ORDERS' order joined by '+'
    (paper+posthoc), the adaptive order with the settings of its attacker, which
    change its numbers: adaptive-{loss}-{restarts}x{steps}-{step size}
    (`adaptive`: ADAPTIVE_KEYS; its method follows from the attack~ level)."""
    unknown = [o for o in orders if o not in ORDER_CODES]
    if unknown:
        raise ValueError(f"unknown orders {unknown}: expected some of {list(ORDER_CODES)}")
    codes = []
    for order in (o for o in ORDERS if o in orders):
        code = ORDER_CODES[order]
        if order == "adaptive" and adaptive is not None:
            a = adaptive
            code += f"-{a['adaptive_loss']}-{a['adaptive_restarts']}x{a['adaptive_steps']}-{a['adaptive_step_size']:.10g}"
        codes.append(code)
    return "+".join(codes)


def adaptive_method(method: str) -> str:
    """The adaptive attacker's method: the attack itself where it is iterative
    with a random start (PGD, APGD), else PGD of the attack's norm (FGSM → L∞,
    DeepFool → L2)."""
    if method in ("pgd_linf", "pgd_l2", "apgd_ce", "apgd_ce_l2"):
        return method
    return "pgd_l2" if method == "deepfool" else "pgd_linf"


def order_record(record: dict, order: str) -> dict:
    """The record of one order's rows: `orders` replaced by `order`; the adaptive
    attacker's settings only where they act (order adaptive)."""
    out = {k: v for k, v in record.items() if k != "orders"} | {"order": order}
    if order != "adaptive":
        out = {k: v for k, v in out.items() if k not in ADAPTIVE_KEYS}
    return out


# roiroa.equal_size: orders that cost little per mask. The post-hoc order reuses the
# map stage's S_adv (forward passes only); the paper's order re-runs the attack per mask
# and draw, which is one gradient step only for FGSM.
EQUAL_SIZE_ORDERS = ("attack_then_neutralize",)
ONE_STEP = ("fgsm",)


def equal_size_orders(method: str) -> tuple[list[str], dict[str, str]]:
    """The orders the equal-size comparison runs under `method`, and each order left
    out with the reason (its record says so)."""
    if method in ONE_STEP:
        return [PAPER_ORDER, *EQUAL_SIZE_ORDERS], {}
    return list(EQUAL_SIZE_ORDERS), {PAPER_ORDER: "re-running an iterative attack on every mask and random "
                                                  "draw would cost a whole attack each; the post-hoc order reuses "
                                                  "the map stage's S_adv"}
