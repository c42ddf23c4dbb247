"""Benchmark of the map stage (FGSM + Grad-CAM + clean/adversarial predictions).

Times, on the same model, images and thread count, in one run:
  (a) roiroa    — `run_map_stage`, as the attack_cam rule calls it (HDF5 in and out)
  (b) bare      — the passes the stage cannot avoid, in plain torch: one forward,
                  the backward passes for the CAM and FGSM gradients, one forward
                  on the adversarial images (the limit)
  (c) peers     — ART's FastGradientMethod + pytorch-grad-cam's GradCAM + ART
                  predictions, batched as their docs show
  (d) peers/img — the same peers, one image at a time
and prints images/s and each time relative to (b).

    .venv/bin/python bench/map_stage.py                # CPU, VGG16 at 48×48 on 1×28×28
    .venv/bin/python bench/map_stage.py --out bench/results/map_stage.txt   # what docs/performance.md quotes
    .venv/bin/python bench/map_stage.py --device cuda --n 4096 --batch 256

Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from roiroa.cam import capture_output
from roiroa.h5io import create_h5, write_array
from roiroa.maps import run_map_stage
from roiroa.models import ModelSpec, build_model

EPS = 0.1


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_passes(model, x, y, batch):
    """The unavoidable work, nothing else: no CAM arithmetic, no I/O."""
    for i in range(0, len(x), batch):
        xb = x[i : i + batch].detach().requires_grad_(True)
        yb = y[i : i + batch]
        with capture_output(model.cam_layer) as store:
            logits = model(xb)
        score = logits.gather(1, logits.argmax(1, keepdim=True)).sum()
        torch.autograd.grad(score, store["out"], retain_graph=True)
        (grad,) = torch.autograd.grad(F.cross_entropy(logits, yb, reduction="sum"), xb)
        with torch.no_grad():
            model((xb + EPS * grad.sign()).clamp(0, 1))


def make_peers(model, shape, batch, device):
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import PyTorchClassifier
    from pytorch_grad_cam import GradCAM

    classifier = PyTorchClassifier(
        model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=shape, nb_classes=2,
        clip_values=(0.0, 1.0), device_type="gpu" if device.type == "cuda" else "cpu",
    )
    return classifier, FastGradientMethod(classifier, eps=EPS, batch_size=batch), GradCAM(model, [model.cam_layer])


def peer_passes(peers, x_np, y_np, batch, device):
    """ART attack + predictions and pytorch-grad-cam maps, `batch` images per call."""
    classifier, attack, gradcam = peers
    for i in range(0, len(x_np), batch):
        xb, yb = x_np[i : i + batch], y_np[i : i + batch]
        classifier.predict(xb, batch_size=batch)
        x_adv = attack.generate(xb, y=np.eye(2, dtype=np.float32)[yb])
        classifier.predict(x_adv, batch_size=batch)
        gradcam(input_tensor=torch.from_numpy(xb).to(device), targets=None)


def write_data(path, images, labels):
    with create_h5(path, {"benchmark": True}) as f:
        for split in ("train", "test"):
            group = f.create_group(split)
            write_array(group, "images", images)
            write_array(group, "labels", labels)


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=256, help="images for (a), (b), (c)")
    parser.add_argument("--per-image-n", type=int, default=32, help="images for (d)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=28, help="native image side")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=48, help="VGG16 input side")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="also write what it prints here, with the date, host and command")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else args.device)
    torch.manual_seed(0)
    model = build_model(ModelSpec("vgg16", args.input_size, args.channels)).to(device).eval()
    shape = (args.channels, args.size, args.size)
    images = np.random.default_rng(0).random((args.n, *shape), dtype=np.float32)
    labels = (np.arange(args.n) % 2).astype(np.int64)
    x, y = torch.from_numpy(images).to(device), torch.from_numpy(labels).to(device)
    peers = make_peers(model, shape, args.batch, device)
    peers_one = make_peers(model, shape, 1, device)
    small = slice(0, args.per_image_n)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.h5"
        write_data(data, images, labels)

        def roiroa_path():
            run_map_stage(
                model, data, (0, 1), Path(tmp) / "maps.h5", eps=EPS, cam_method="gradcam",
                target="predicted_class", n_samples=None, seed=0, batch_size=args.batch,
                device=device, params={},
            )

        variants = {
            "(a) roiroa": (roiroa_path, args.n),
            "(b) bare torch": (lambda: bare_passes(model, x, y, args.batch), args.n),
            "(c) ART + pytorch-grad-cam, batched": (lambda: peer_passes(peers, images, labels, args.batch, device), args.n),
            "(d) ART + pytorch-grad-cam, per image": (
                lambda: peer_passes(peers_one, images[small], labels[small], 1, device), args.per_image_n),
        }
        # warm-up at full batch size: first-call allocations, kernel selection
        bare_passes(model, x[: args.batch], y[: args.batch], args.batch)
        peer_passes(peers, images[: args.batch], labels[: args.batch], args.batch, device)
        seconds = {name: [] for name in variants}
        for _ in range(args.repeats):  # interleaved, so drift hits every variant alike
            for name, (fn, _n) in variants.items():
                seconds[name].append(timed(fn, device))

    rate = {name: variants[name][1] / statistics.median(s) for name, s in seconds.items()}
    base = rate["(b) bare torch"]
    lines = [f"# bench/map_stage.py, {time.strftime('%Y-%m-%d')}, {platform.node()}, {platform.machine()}, "
             f"{os.cpu_count()} CPUs, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} at the end",
             "# " + " ".join(["python bench/map_stage.py", *sys.argv[1:]])]
    say = lines.append
    say(f"map stage: VGG16 at {args.input_size}×{args.input_size}, images {args.channels}×{args.size}×{args.size}, "
        f"batch {args.batch}, {args.threads} threads, device {device}"
        f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}")
    say(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"median of {args.repeats} interleaved runs")
    say("")
    say("| variant | images | images/s | time / bare |")
    say("|---|---|---|---|")
    for name, r in rate.items():
        say(f"| {name} | {variants[name][1]} | {r:.1f} | {base / r:.2f}× |")
    a = rate["(a) roiroa"]
    say("")
    say(f"roiroa vs bare: {base / a:.2f}× the bare cost (target ≤ 1.2×)")
    say(f"roiroa vs peers batched: {a / rate['(c) ART + pytorch-grad-cam, batched']:.1f}× faster (target ≥ 2.5×)")
    say(f"roiroa vs peers per image: {a / rate['(d) ART + pytorch-grad-cam, per image']:.1f}× faster (target ≥ 15×)")

    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
