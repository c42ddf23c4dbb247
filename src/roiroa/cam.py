"""Class-activation maps from one layer's activations and gradients.

All methods need the same two tensors (activations A and ∂score/∂A at the
CAM layer), so the map stage gets them from the forward pass it shares with
the attack and calls `cam_from_gradients`.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

CAM_METHODS = ("gradcam", "gradcampp", "hirescam", "layercam")
CAM_TARGETS = ("predicted_class", "true_class")


@contextmanager
def capture_output(layer: torch.nn.Module):
    """Record the output of `layer` on the next forward pass (kept in the graph)."""
    store: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: store.__setitem__("out", out))
    try:
        yield store
    finally:
        handle.remove()


def cam_from_gradients(activations: torch.Tensor, grads: torch.Tensor, method: str) -> torch.Tensor:
    """N×K×h×w activations and gradients → N×h×w map, after ReLU, at layer resolution."""
    if method == "gradcam":
        cam = (grads.mean(dim=(2, 3), keepdim=True) * activations).sum(1)
    elif method == "gradcampp":
        # Chattopadhay et al. (2018), eq. 19, as pytorch-grad-cam implements it
        g2 = grads.pow(2)
        denominator = 2 * g2 + activations.sum(dim=(2, 3), keepdim=True) * g2 * grads + 1e-6
        alpha = torch.where(grads != 0, g2 / denominator, torch.zeros_like(grads))
        weights = (grads.clamp_min(0) * alpha).sum(dim=(2, 3), keepdim=True)
        cam = (weights * activations).sum(1)
    elif method == "hirescam":
        cam = (grads * activations).sum(1)
    elif method == "layercam":
        cam = (grads.clamp_min(0) * activations).sum(1)
    else:
        raise ValueError(f"unknown CAM method {method!r} (known: {', '.join(CAM_METHODS)})")
    return cam.clamp_min(0)


def _min_max(cam: torch.Tensor) -> torch.Tensor:
    """(cam − min)/(max − min) per N×h×w map; a constant map becomes all zeros."""
    cam = cam - cam.amin(dim=(1, 2), keepdim=True)
    span = cam.amax(dim=(1, 2), keepdim=True)
    return torch.where(span > 0, cam / span.clamp_min(1e-30), torch.zeros_like(cam))


def normalize_and_upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """pytorch-grad-cam's scaling of a layer map, in torch: ReLU, min–max per
    map, bilinear resize to `size` (H, W), min–max again (its aggregation step).

    F.interpolate(bilinear, align_corners=False) uses the same half-pixel grid
    as cv2.resize(INTER_LINEAR), without antialiasing, up or down. The package
    divides by (1e-7 + max); we divide by the exact range so the peak is exactly
    1 (δ1 = 1 keeps the peak pixels). Its first 1e-7 only rescales the map,
    which the second min–max undoes, so this adds only ~1e-7 to the float
    rounding between the two (≤ ~1e-6 in tests), unless a layer map's
    max − min is below ~1e-8."""
    cam = _min_max(cam.clamp_min(0))
    up = F.interpolate(cam[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    return _min_max(up.clamp_min(0))


def cam_target(logits: torch.Tensor, labels: torch.Tensor, target: str) -> torch.Tensor:
    if target == "predicted_class":
        return logits.argmax(1)
    if target == "true_class":
        return labels
    raise ValueError(f"unknown CAM target {target!r} (known: {', '.join(CAM_TARGETS)})")


def class_activation_maps(
    model, x: torch.Tensor, labels: torch.Tensor, method: str = "gradcam", target: str = "predicted_class",
    layer: str | None = None,
) -> torch.Tensor:
    """CAMs on their own (no attack): N×H×W in [0, 1] at the images' resolution, from
    the layer named `layer` (cam.layer; None: the architecture's default)."""
    with torch.enable_grad(), capture_output(model.cam_layer_named(layer)) as store:
        logits = model(x.detach())
        activations = store["out"]
        chosen = cam_target(logits, labels, target)
        score = logits.gather(1, chosen[:, None]).sum()
        (grads,) = torch.autograd.grad(score, activations)
    cam = cam_from_gradients(activations.detach(), grads, method)
    return normalize_and_upsample(cam, tuple(x.shape[-2:]))
