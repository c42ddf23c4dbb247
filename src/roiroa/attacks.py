"""FGSM and the per-pixel magnitude of an adversarial change (the RoA signal)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ATTACKS = ("fgsm",)


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


def perturbation_magnitude(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    """L2 over channels of the change, divided by ε·√C: N×H×W in [0, 1]."""
    channels = x.shape[1]
    return torch.linalg.vector_norm(x_adv - x, dim=1) / (eps * math.sqrt(channels))
