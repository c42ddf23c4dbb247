"""Untargeted attacks on a binary classifier and the per-pixel magnitude of
their change (the RoA signal).

FGSM and L∞ PGD spend a per-pixel budget ε. The L2 attacks (PGD-L2 and
DeepFool) get the L2 radius `l2_budget(eps, x)`, the length of an L∞-ε change
that moves every value by ε, so one ε names comparable budgets for all four.
Every attack returns images in [0, 1]; gradients are taken w.r.t. the input
only (torch.autograd.grad), so nothing accumulates in the model's parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

ATTACKS = ("fgsm", "pgd_linf", "pgd_l2", "deepfool")
L2_ATTACKS = ("pgd_l2", "deepfool")
LINF_ATTACKS = ("fgsm", "pgd_linf")

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


def loss_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """∇x of the summed cross-entropy at the true labels (the untargeted FGSM
    direction), and the logits of the forward pass that produced it."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x)
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
        g = grad if reuse else loss_gradient(model, x_adv, y)[0]
        x_adv = (x_adv + alpha * (_unit(g) if l2 else g.sign())).clamp(0.0, 1.0)
        x_adv = _apply(project, x + _into_ball(x_adv - x, radius, l2))
    return x_adv


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
    """Whether the attack's first step uses ∂loss/∂x at x itself (FGSM; PGD
    without a random start), the gradient a caller may pass as `grad`."""
    return method == "fgsm" or (method in ("pgd_linf", "pgd_l2") and not settings.random_start)


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
      seeds PGD's random start."""
    if model.training:
        raise ValueError("attacks need the model in eval mode (dropout would randomize the gradients)")
    x = x.detach()
    if method == "fgsm":
        return _apply(project, fgsm_step(x, loss_gradient(model, x, y)[0] if grad is None else grad, eps))
    if method in ("pgd_linf", "pgd_l2"):
        return _pgd(model, x, y, eps, settings, method == "pgd_l2", grad, project, generator).detach()
    if method == "deepfool":
        return _deepfool(model, x, y, eps, settings, project).detach()
    raise ValueError(f"unknown attack {method!r} (known: {', '.join(ATTACKS)})")


def _per_image_max_scaled(m: torch.Tensor) -> torch.Tensor:
    """N×H×W divided by each image's max; an all-zero image stays zero."""
    peak = m.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, m / peak.clamp_min(1e-30), torch.zeros_like(m)).clamp_(0.0, 1.0)


def perturbation_magnitude(x_adv: torch.Tensor, x: torch.Tensor, eps: float, method: str = "fgsm") -> torch.Tensor:
    """Per-pixel size of the change (L2 over channels): N×H×W in [0, 1].

    L∞ attacks (fgsm, pgd_linf): divided by ε·√C, so 1 means every channel
      moved by the full ε. δ2 (the RoA threshold) is then the fraction of the
      per-pixel budget a pixel must have used; δ2 = 1 keeps exactly the full-ε
      pixels (values within 1e-5 of 1 are snapped to 1, float rounding of
      x ± ε − x would otherwise drop some).
    L2 attacks (pgd_l2, deepfool): divided by the image's largest change, so
      δ2 is a fraction of that image's peak change (an unchanged image is all 0).
    """
    change = torch.linalg.vector_norm(x_adv - x, dim=1)
    if method in L2_ATTACKS:
        return _per_image_max_scaled(change)
    if method not in LINF_ATTACKS:
        raise ValueError(f"unknown attack {method!r} (known: {', '.join(ATTACKS)})")
    magnitude = change / (eps * math.sqrt(x.shape[1]))
    magnitude = torch.where((magnitude - 1).abs() <= 1e-5, torch.ones_like(magnitude), magnitude)
    return magnitude.clamp_(0.0, 1.0)


def gradient_magnitude(grad: torch.Tensor) -> torch.Tensor:
    """|∂loss/∂x| per pixel (L2 over channels), divided by each image's max: N×H×W in [0, 1]."""
    return _per_image_max_scaled(torch.linalg.vector_norm(grad, dim=1))
