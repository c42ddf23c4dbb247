"""Untargeted attacks on a binary classifier and the per-pixel magnitude of
their change (the RoA signal).

FGSM, L∞ PGD and APGD-CE spend a per-pixel budget ε. The L2 attacks (PGD-L2,
APGD-CE-L2 and DeepFool) get the L2 radius `l2_budget(eps, x)`, the length of an L∞-ε
change that moves every value by ε, so one ε names comparable budgets for all.
DeepFool is a minimal-perturbation attack: it looks for the smallest change
that flips the prediction and fails where that is longer than the budget, so
its success rate says how often that change fits in ε, not how strong an
attacker with budget ε is (APGD-CE, its L2 form and PGD measure that).
Every attack returns images in [0, 1]; gradients are taken w.r.t. the input
only (torch.autograd.grad), so nothing accumulates in the model's parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

ATTACKS = ("fgsm", "pgd_linf", "pgd_l2", "deepfool", "apgd_ce", "apgd_ce_l2")
L2_ATTACKS = ("pgd_l2", "deepfool", "apgd_ce_l2")
LINF_ATTACKS = ("fgsm", "pgd_linf", "apgd_ce")
# attacks that search for the smallest flipping change (not the strongest within ε)
MINIMAL_PERTURBATION = ("deepfool",)
# attacks that start from a random point of the ball (and so can be restarted)
RANDOM_START = ("pgd_linf", "pgd_l2", "apgd_ce", "apgd_ce_l2")
LOSSES = ("ce", "margin")
# The RoA magnitude of every attack (perturbation_magnitude), as recorded in maps.h5.
ROA_SCALE = "per-pixel change, L2 over channels, divided by eps*sqrt(C) and clipped to 1 (every attack)"

# ART's DeepFool guards its divisions with the same constant; keeping it makes
# the two agree to float precision.
_DEEPFOOL_TOL = 1e-7

Projection = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class AttackSettings:
    steps: int = 10  # PGD iterations
    step_size: float = 0.25  # PGD step, as a fraction of the budget (ε or the L2 radius)
    random_start: bool = True  # PGD: start uniformly inside the budget ball
    overshoot: float = 0.02  # DeepFool
    max_iter: int = 50  # DeepFool
    restarts: int = 1  # random starts (RANDOM_START attacks); the worst case per image is kept
    loss: str = "ce"  # what PGD and APGD ascend: cross-entropy, or the logit margin (LOSSES)

    @classmethod
    def from_record(cls, settings: dict) -> "AttackSettings":
        """The settings of a recorded `attack_settings` (descriptive keys such as
        `minimal_perturbation` are labels for the tables, not settings)."""
        return cls(**{k: v for k, v in settings.items() if k in cls.__dataclass_fields__})


def per_image_loss(logits: torch.Tensor, y: torch.Tensor, loss: str = "ce") -> torch.Tensor:
    """What an untargeted attack ascends, per image: cross-entropy at y, or the
    logit margin max_{j≠y} z_j − z_y (positive iff the image is misclassified)."""
    if loss == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    if loss == "margin":
        true = logits.gather(1, y[:, None])[:, 0]
        return logits.scatter(1, y[:, None], -torch.inf).amax(1) - true
    raise ValueError(f"unknown attack loss {loss!r} (known: {', '.join(LOSSES)})")


def loss_gradient(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str = "ce"
) -> tuple[torch.Tensor, torch.Tensor]:
    """∇x of the summed per-image loss at the true labels (cross-entropy: the
    untargeted FGSM direction), and the logits of the forward pass that produced it."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        (grad,) = torch.autograd.grad(per_image_loss(logits, y, loss).sum(), x)
    return grad, logits.detach()


def fgsm_step(x: torch.Tensor, grad: torch.Tensor, eps: float) -> torch.Tensor:
    """x + ε·sign(∇), clipped to the valid pixel range [0, 1]."""
    return (x.detach() + eps * grad.sign()).clamp_(0.0, 1.0)


def fgsm(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Untargeted FGSM. For a binary model this is the source→target attack."""
    return fgsm_step(x, loss_gradient(model, x, y)[0], eps)


def l2_budget(eps: float, x: torch.Tensor) -> float:
    """The L2 radius of the L2 attacks for a per-pixel budget ε: ε·√(C·H·W),
    the L2 length of a change that moves every value of an image by ε (the
    largest L∞-ε change). An L2 attack may concentrate this on few pixels."""
    return eps * math.sqrt(math.prod(x.shape[1:]))


def _norms(v: torch.Tensor) -> torch.Tensor:
    """Per-image L2 norm, shaped N×1×…×1 to broadcast against v."""
    return torch.linalg.vector_norm(v.flatten(1), dim=1).view(-1, *([1] * (v.dim() - 1)))


def _unit(v: torch.Tensor) -> torch.Tensor:
    """v/‖v‖₂ per image; a zero image stays zero (as in ART)."""
    norm = _norms(v)
    return torch.where(norm > 0, v / norm.clamp_min(1e-30), torch.zeros_like(v))


def _into_ball(delta: torch.Tensor, radius: float, l2: bool) -> torch.Tensor:
    """Project a change onto the L∞ ball (clamp) or rescale it into the L2 ball."""
    if not l2:
        return delta.clamp(-radius, radius)
    norm = _norms(delta)
    return delta * torch.where(norm > radius, radius / norm.clamp_min(1e-30), torch.ones_like(norm))


def _random_start(x: torch.Tensor, radius: float, l2: bool, generator: torch.Generator | None) -> torch.Tensor:
    """A change drawn uniformly from the L∞ or L2 ball of `radius` (seeded by `generator`).

    L2: a Gaussian direction times radius·U^(1/d), uniform in the d-ball; ART
    draws the same distribution through the χ² CDF of the Gaussian's norm."""
    device = generator.device if generator is not None else x.device
    if not l2:
        u = torch.rand(x.shape, generator=generator, device=device, dtype=x.dtype)
        return ((2 * u - 1) * radius).to(x.device)
    direction = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
    u = torch.rand((len(x),), generator=generator, device=device, dtype=x.dtype)
    scale = radius * u.pow(1.0 / math.prod(x.shape[1:]))
    return (_unit(direction) * scale.view(-1, *([1] * (x.dim() - 1)))).to(x.device)


def _pgd(model, x, y, eps, settings, l2, grad, project, generator) -> torch.Tensor:
    """Madry et al.'s PGD. Each step: move along sign(∇) (L∞) or ∇/‖∇‖₂ (L2),
    clip to [0, 1], project the change onto the ball, then apply `project`.

    Clip-then-project is ART's order. For L∞ it equals projecting onto the
    intersection of ball and box; for L2 the rescaling keeps the iterate in the
    box (it shrinks the change towards x ∈ [0, 1]), so the result is feasible."""
    radius = l2_budget(eps, x) if l2 else eps
    alpha = settings.step_size * radius
    x_adv = x
    if settings.random_start:
        x_adv = _apply(project, (x + _random_start(x, radius, l2, generator)).clamp(0.0, 1.0))
    for step in range(settings.steps):
        reuse = step == 0 and grad is not None and not settings.random_start
        g = grad if reuse else loss_gradient(model, x_adv, y, settings.loss)[0]
        x_adv = (x_adv + alpha * (_unit(g) if l2 else g.sign())).clamp(0.0, 1.0)
        x_adv = _apply(project, x + _into_ball(x_adv - x, radius, l2))
    return x_adv


def apgd_checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step: ⌈p_j·steps⌉ with p_0 = 0,
    p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06) (Croce & Hein 2020);
    p_j·steps is rounded to 9 decimals first, so that float noise (0.57·100 =
    57.000000000000014) does not move a checkpoint."""
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({math.ceil(round(q * steps, 9)) for q in p})


def _apgd(model, x, y, eps, settings, l2, project, generator) -> torch.Tensor:
    """APGD (Croce & Hein 2020, Algorithm 1), L∞ or L2: PGD with momentum 0.75
    and a per-image step that starts at twice the radius (ε, or l2_budget) and
    is halved at a checkpoint when fewer than 75% of the steps since the last
    one raised the loss, or when neither the step nor the best loss changed
    since then; a halving restarts from the best point. A step moves along
    sign(∇) (L∞) or ∇/‖∇‖₂ (L2, as AutoAttack's APGD-L2 and ART's norm=2).
    Returns each image's highest-loss iterate (for CE on two classes and for
    the margin, adversarial whenever any iterate was)."""
    shape = (-1, *([1] * (x.dim() - 1)))
    radius = l2_budget(eps, x) if l2 else eps

    def feasible(z):  # clip to [0, 1], project the change onto the ball (as _pgd), then `project`
        return _apply(project, x + _into_ball(z.clamp(0.0, 1.0) - x, radius, l2))

    def loss_and_grad(z):
        z = z.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = per_image_loss(model(z), y, settings.loss)
            (g,) = torch.autograd.grad(loss.sum(), z)
        return loss.detach(), g

    start = x + _random_start(x, radius, l2, generator) if settings.random_start else x
    x_cur = feasible(start)
    loss, grad = loss_and_grad(x_cur)
    x_best, loss_best, grad_best = x_cur.clone(), loss.clone(), grad.clone()
    eta = torch.full((len(x),), 2.0 * radius, device=x.device, dtype=x.dtype)
    checkpoints = set(apgd_checkpoints(settings.steps)) - {0}
    last_check, increases = 0, torch.zeros(len(x), device=x.device)
    # condition 2 needs a previous checkpoint: none "was not halved" before the first
    halved_last, best_at_check = torch.ones(len(x), dtype=torch.bool, device=x.device), loss_best.clone()
    x_prev = x_cur
    for k in range(settings.steps):
        z = feasible(x_cur + eta.view(shape) * (_unit(grad) if l2 else grad.sign()))
        if k > 0:  # momentum: 0.75 of the projected step, 0.25 of the last move
            z = feasible(x_cur + 0.75 * (z - x_cur) + 0.25 * (x_cur - x_prev))
        x_prev, x_cur = x_cur, z
        new_loss, grad = loss_and_grad(x_cur)
        increases += (new_loss > loss).float()
        loss = new_loss
        better = loss > loss_best
        x_best[better], loss_best[better], grad_best[better] = x_cur[better], loss[better], grad[better]
        if k + 1 in checkpoints:
            halve = (increases < 0.75 * (k + 1 - last_check)) | (~halved_last & (loss_best <= best_at_check))
            eta = torch.where(halve, eta / 2, eta)
            # a halving goes on from the best point (its loss and gradient)
            at = halve.view(shape)
            x_cur, x_prev = torch.where(at, x_best, x_cur), torch.where(at, x_best, x_prev)
            grad, loss = torch.where(at, grad_best, grad), torch.where(halve, loss_best, loss)
            last_check, increases = k + 1, torch.zeros_like(increases)
            halved_last, best_at_check = halve, loss_best.clone()
    return x_best


def _deepfool(model, x, y, eps, settings, project) -> torch.Tensor:
    """DeepFool for a 2-class model (Moosavi-Dezfooli et al. 2016), in ART's form.

    With f = z_other − z_true, each iteration steps by |f|/(‖∇f‖² + tol)·∇f
    (onto the linearized boundary) and clips to [0, 1], until the prediction
    leaves y or `max_iter` is reached; the total change is then scaled by
    1 + overshoot and clipped. Images misclassified at the start are left
    unchanged. A result further than l2_budget(eps, x) from x counts as a
    failure within budget and the image is returned unchanged; one that did not
    flip within max_iter keeps its (unsuccessful, within-budget) change, as ART does."""
    x_cur = x.clone()
    active = torch.arange(len(x), device=x.device)
    other = 1 - y
    for it in range(settings.max_iter + 1):
        xa = x_cur[active].requires_grad_(True)
        with torch.enable_grad():
            logits = model(xa)
            f = logits.gather(1, other[active, None]) - logits.gather(1, y[active, None])
            (w,) = torch.autograd.grad(f.sum(), xa)
        still = logits.argmax(1) == y[active]  # same tie rule as ART's argmax
        active, f, w = active[still], f[still].detach(), w[still]
        if it == settings.max_iter or len(active) == 0:
            break
        scale = f.abs().flatten() / (_norms(w).flatten() ** 2 + _DEEPFOOL_TOL)
        step = scale.view(-1, *([1] * (x.dim() - 1))) * w
        moved = x_cur.clone()
        moved[active] = (x_cur[active] + step).clamp(0.0, 1.0)
        # `project` sees the whole batch (per-image masks line up); only the active rows change
        keep = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        keep[active] = True
        x_cur = torch.where(keep.view(-1, *([1] * (x.dim() - 1))), _apply(project, moved), x_cur)
    x_adv = _apply(project, (x + (1 + settings.overshoot) * (x_cur - x)).clamp(0.0, 1.0))
    over = _norms(x_adv - x) > l2_budget(eps, x)
    return torch.where(over, x, x_adv)


def starts_from_gradient(method: str, settings: AttackSettings) -> bool:
    """Whether the attack's first step uses ∂(cross-entropy)/∂x at x itself (FGSM;
    PGD without a random start), the gradient a caller may pass as `grad`."""
    return method == "fgsm" or (
        method in ("pgd_linf", "pgd_l2") and not settings.random_start and settings.loss == "ce"
    )


def _apply(project: Projection | None, x: torch.Tensor) -> torch.Tensor:
    return x if project is None else project(x.detach())


def run_attack(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    method: str,
    eps: float,
    settings: AttackSettings = AttackSettings(),
    *,
    grad: torch.Tensor | None = None,
    project: Projection | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Untargeted `method` on the true labels y; adversarial images in [0, 1].

    grad: ∂loss/∂x at x from the caller's forward pass (summed cross-entropy,
      as `loss_gradient`); saves FGSM's backward and PGD's first one when it
      starts at x. project: applied (outside autograd) to every iterate, e.g. to
      re-apply a defence's masking so the attacker adapts to it. generator:
      the random starts; one generator serves every batch and restart, so each
      draws new numbers. settings.restarts > 1 (random-start attacks): the
      attack runs again from a new random start on the images no run has
      misclassified yet, and each image keeps its lowest-margin result."""
    if model.training:
        raise ValueError("attacks need the model in eval mode (dropout would randomize the gradients)")
    if method not in ATTACKS:
        raise ValueError(f"unknown attack {method!r} (known: {', '.join(ATTACKS)})")
    x = x.detach()
    if method == "fgsm":
        return _apply(project, fgsm_step(x, loss_gradient(model, x, y)[0] if grad is None else grad, eps))
    if method == "deepfool":
        return _deepfool(model, x, y, eps, settings, project).detach()
    best = _one_start(model, x, y, method, eps, settings, grad, project, generator)
    if settings.restarts <= 1 or not settings.random_start:
        return best
    margin = _margin(model, best, y)
    for _ in range(settings.restarts - 1):
        left = torch.nonzero(margin <= 0).flatten()  # not misclassified by any start so far
        if len(left) == 0:
            break
        # a model or projection that depends on the images' rows (a defense's
        # per-image masks) exposes `.rows(rows)` for a subset of the batch
        sub_model, sub_project = _rows_of(model, left), _rows_of(project, left)
        again = _one_start(sub_model, x[left], y[left], method, eps, settings, None, sub_project, generator)
        again_margin = _margin(sub_model, again, y[left])
        worse = again_margin > margin[left]
        best[left[worse]], margin[left[worse]] = again[worse], again_margin[worse]
    return best


def _one_start(model, x, y, method, eps, settings, grad, project, generator) -> torch.Tensor:
    if method in ("apgd_ce", "apgd_ce_l2"):
        return _apgd(model, x, y, eps, settings, method == "apgd_ce_l2", project, generator).detach()
    return _pgd(model, x, y, eps, settings, method == "pgd_l2", grad, project, generator).detach()


def _margin(model, x_adv, y) -> torch.Tensor:
    """max_{j≠y} z_j − z_y of each image: > 0 where the attack succeeded."""
    with torch.no_grad():
        return per_image_loss(model(x_adv), y, "margin")


def _rows_of(thing, rows: torch.Tensor):
    """`thing` (a model or a projection) for the images at `rows` of the batch."""
    return thing.rows(rows) if hasattr(thing, "rows") else thing


def _per_image_max_scaled(m: torch.Tensor) -> torch.Tensor:
    """N×H×W divided by each image's max; an all-zero image stays zero."""
    peak = m.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, m / peak.clamp_min(1e-30), torch.zeros_like(m)).clamp_(0.0, 1.0)


def perturbation_magnitude(x_adv: torch.Tensor, x: torch.Tensor, eps: float, method: str = "fgsm") -> torch.Tensor:
    """Per-pixel size of the change (L2 over channels) divided by ε·√C, clipped
    to 1: N×H×W in [0, 1], on one scale for every attack (ROA_SCALE).

    1 means the pixel moved as far as a full-ε change of every channel; δ2 (the
    RoA threshold) is the share of ε a pixel must have moved by, whichever
    attack moved it. An L2 attack's radius ε·√(C·H·W) spread evenly would give
    every pixel 1; it concentrates its change, so few pixels reach 1 (and those
    beyond it are clipped: they are in the RoA at every δ2). Values within 1e-5
    of 1 are snapped to 1: float rounding of x ± ε − x would otherwise drop
    full-ε pixels from the RoA at δ2 = 1. `method` only checks the name: the
    same change has the same magnitude under every attack."""
    if method not in ATTACKS:
        raise ValueError(f"unknown attack {method!r} (known: {', '.join(ATTACKS)})")
    change = torch.linalg.vector_norm(x_adv - x, dim=1)
    magnitude = change / (eps * math.sqrt(x.shape[1]))
    magnitude = torch.where((magnitude - 1).abs() <= 1e-5, torch.ones_like(magnitude), magnitude)
    return magnitude.clamp_(0.0, 1.0)


def gradient_magnitude(grad: torch.Tensor) -> torch.Tensor:
    """|∂loss/∂x| per pixel (L2 over channels), divided by each image's max: N×H×W in [0, 1]."""
    return _per_image_max_scaled(torch.linalg.vector_norm(grad, dim=1))
