"""The map stage: attack, CAM and predictions for every test image of a pair.

One forward pass serves the maps: the CAM needs ∂score/∂A at the CAM layer
(a backward through the head only), FGSM and the gradient RoA need ∂loss/∂x
(one full backward). The iterative attacks (PGD, DeepFool) run their own
passes from the clean image. A last forward on the adversarial images gives
their predictions.

Where the attack acts (attack.space): on the images as data.h5 holds them
(native), or on the model's input (model_input: the model's own channel copy and
resize, `to_input_space`, applied first), as the authors' artefacts indicate
(their CAMs are 3×3 at 48×48×3). Every map, region, blob and neutralized image
downstream then lives in that space; maps.h5 keeps the clean images of that
space (roiroa.data.CLEAN) for the stages that neutralize them (roiroa.data.clean_images).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .attacks import ROA_SCALE, AttackSettings, gradient_magnitude, perturbation_magnitude, run_attack
from .cam import cam_from_gradients, cam_target, capture_output, normalize_and_upsample
from .data import CLEAN, read_rows
from .h5io import create_h5, create_stream, open_h5, read_dataset

log = logging.getLogger(__name__)

SPACES = ("native", "model_input")


def in_space(model, images: torch.Tensor, space: str) -> torch.Tensor:
    """`images` (from data.h5) in the space the attack acts in (attack.space)."""
    if space == "native":
        return images
    if space == "model_input":
        with torch.no_grad():
            return model.to_input_space(images).contiguous()
    raise ValueError(f"attack.space: unknown space {space!r} (known: {', '.join(SPACES)})")


@dataclass
class MapBatch:
    prob_clean: torch.Tensor  # N×2
    prob_adv: torch.Tensor  # N×2
    x_adv: torch.Tensor  # N×C×H×W
    roa: torch.Tensor  # N×H×W, perturbation magnitude in [0, 1]
    grad_magnitude: torch.Tensor  # N×H×W, |∂loss/∂x| normalized per image, in [0, 1]
    cam: torch.Tensor  # N×H×W, in [0, 1]


def map_batch(
    model, x: torch.Tensor, y: torch.Tensor, eps: float, cam_method: str, target: str,
    attack: str = "fgsm", settings: AttackSettings = AttackSettings(), generator: torch.Generator | None = None,
    layer: str | None = None,
) -> MapBatch:
    """`layer`: the module Grad-CAM reads (cam.layer; None: the architecture's default)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad(), capture_output(model.cam_layer_named(layer)) as store:
        logits = model(x)
        activations = store["out"]
        score = logits.gather(1, cam_target(logits, y, target)[:, None]).sum()
        (cam_grads,) = torch.autograd.grad(score, activations, retain_graph=True)
        loss = F.cross_entropy(logits, y, reduction="sum")
        (input_grads,) = torch.autograd.grad(loss, x)
    x = x.detach()
    cam = normalize_and_upsample(cam_from_gradients(activations.detach(), cam_grads, cam_method), tuple(x.shape[-2:]))
    x_adv = run_attack(model, x, y, attack, eps, settings, grad=input_grads, generator=generator)
    with torch.no_grad():
        prob_adv = F.softmax(model(x_adv), dim=1)
    return MapBatch(
        prob_clean=F.softmax(logits.detach(), dim=1),
        prob_adv=prob_adv,
        x_adv=x_adv,
        roa=perturbation_magnitude(x_adv, x, eps, attack),
        grad_magnitude=gradient_magnitude(input_grads),
        cam=cam,
    )


def sample_rows(labels: np.ndarray, classes: tuple[int, int], n_samples: int | None, seed: int) -> np.ndarray:
    """Rows of each class of the pair; at most `n_samples` per class, drawn with `seed`."""
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in classes:
        rows = np.flatnonzero(labels == cls)
        if len(rows) == 0:
            raise ValueError(f"class index {cls} has no test images")
        if n_samples is not None and n_samples < len(rows):
            rows = rng.choice(rows, n_samples, replace=False)
        chosen.append(rows)
    return np.sort(np.concatenate(chosen))


def _write_maps(model, test, rows, binary, image_shape, out, started, *, eps, attack, settings, cam_method,
                layer, target, space, seed, batch_size, device, params, inputs) -> None:
    n, hw = len(rows), tuple(image_shape[-2:])
    with create_h5(out, params | {"roa_scale": ROA_SCALE}, inputs) as f:
        f["index"] = rows
        f["label"] = binary
        kept = {CLEAN: create_stream(f, CLEAN, n, tuple(image_shape), np.float32)} if space != "native" else {}
        streams = kept | {
            "prob_clean": create_stream(f, "prob_clean", n, (2,), np.float32),
            "prob_adv": create_stream(f, "prob_adv", n, (2,), np.float32),
            "pred_clean": create_stream(f, "pred_clean", n, (), np.int8),
            "pred_adv": create_stream(f, "pred_adv", n, (), np.int8),
            "x_adv": create_stream(f, "x_adv", n, tuple(image_shape), np.float32),
            "roa": create_stream(f, "roa", n, hw, np.float32),
            "grad_magnitude": create_stream(f, "grad_magnitude", n, hw, np.float32),
            "cam": create_stream(f, "cam", n, hw, np.float32),
        }
        # the random starts of PGD: one seeded generator for the whole stage
        generator = torch.Generator(device=device).manual_seed(seed)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            images, _ = read_rows(test, rows[start:stop])
            x = in_space(model, torch.from_numpy(images).to(device, non_blocking=True), space)
            y = torch.from_numpy(binary[start:stop]).to(device, non_blocking=True)
            batch = map_batch(model, x, y, eps, cam_method, target, attack, settings, generator, layer)
            if kept:
                streams[CLEAN][start:stop] = x.cpu().numpy()
            streams["pred_clean"][start:stop] = batch.prob_clean.argmax(1).cpu().numpy()
            streams["pred_adv"][start:stop] = batch.prob_adv.argmax(1).cpu().numpy()
            for name in ("prob_clean", "prob_adv", "x_adv", "roa", "grad_magnitude", "cam"):
                streams[name][start:stop] = getattr(batch, name).cpu().numpy()
            rate = stop / (time.perf_counter() - started)
            log.info("map stage: %d/%d images (%.1f images/s)", stop, n, rate)


def run_map_stage(
    model,
    data_path: str | Path,
    classes: tuple[int, int],
    out: str | Path,
    *,
    eps: float,
    attack: str = "fgsm",
    settings: AttackSettings = AttackSettings(),
    cam_method: str,
    target: str,
    n_samples: int | None,
    layer: str | None = None,
    space: str = "native",
    seed: int,
    batch_size: int,
    device: torch.device,
    params: dict,
) -> dict:
    """Stream the pair's test images, in `space` (attack.space), through `map_batch` into maps.h5."""
    started = time.perf_counter()
    with open_h5(data_path, "prepared data") as data:
        all_labels = read_dataset(data, "test/labels")
        native_shape = data["test"]["images"].shape[1:]
        image_shape = in_space(model, torch.zeros(1, *native_shape, device=device), space).shape[1:]
        rows = sample_rows(all_labels, classes, n_samples, seed)
        n = len(rows)
        binary = (all_labels[rows] == classes[1]).astype(np.int64)
        _write_maps(model, data["test"], rows, binary, image_shape, out, started, eps=eps, attack=attack,
                    settings=settings, cam_method=cam_method, layer=layer, target=target, space=space, seed=seed,
                    batch_size=batch_size, device=device, params=params, inputs=[str(data_path)])
    return {"images": n, "seconds": round(time.perf_counter() - started, 2)}
