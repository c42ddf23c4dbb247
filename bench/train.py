"""Training throughput: roiroa's `train_model` against a bare torch loop on the
same model, data, threads and device, interleaved, median of repeats.

    .venv/bin/python bench/train.py                       # VGG16 at 48×48, 1×28×28 images, CPU
    python bench/train.py --n 12000 --device cuda --precision fp32 bf16 fp16 --channels-last both

Prints one row per variant: images/s of each and the ratio roiroa / bare
(time per image; 1.00 = no overhead). `--json` writes the rows too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from roiroa.models import ModelSpec, build_model  # noqa: E402
from roiroa.training import mixed_precision, train_model  # noqa: E402


def bare_train(model, images, labels, *, epochs, batch_size, lr, seed, device, precision="fp32", channels_last=False):
    """The plainest loop that trains the same model the same way (Adam, shuffled batches)."""
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    model.set_normalization(x)
    x, y = x.to(device), y.to(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    autocast, scaler = mixed_precision(device, precision)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator).to(device)
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = F.cross_entropy(model(x[idx]), y[idx])
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
    model.eval()


def timed(fn, spec, images, labels, device, **kwargs) -> float:
    torch.manual_seed(0)
    model = build_model(spec)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(model, images, labels, device=device, **kwargs)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=512, help="training images (1 epoch)")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--arch", default="vgg16")
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--channels-last", choices=["off", "on", "both"], default="off")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    images = rng.random((args.n, args.channels, args.size, args.size), dtype=np.float32)
    labels = rng.integers(0, 2, args.n).astype(np.int64)
    spec = ModelSpec(arch=args.arch, input_size=args.input_size, in_channels=args.channels)
    layouts = {"off": [False], "on": [True], "both": [False, True]}[args.channels_last]
    common = dict(epochs=1, batch_size=args.batch, lr=1e-4, seed=0)
    # warm-up (allocator, cuDNN/oneDNN kernel choice) outside the timings
    timed(bare_train, spec, images[: 4 * args.batch], labels[: 4 * args.batch], device, **common)
    rows = []
    for precision in args.precision:
        for channels_last in layouts:
            options = dict(common, precision=precision, channels_last=channels_last)
            ours, bare = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                ours.append(timed(train_model, spec, images, labels, device, **options))
                bare.append(timed(bare_train, spec, images, labels, device, **options))
            row = {
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} threads",
                "precision": precision, "channels_last": channels_last, "images": args.n,
                "roiroa images/s": round(args.n / statistics.median(ours), 1),
                "bare images/s": round(args.n / statistics.median(bare), 1),
                "roiroa / bare": round(statistics.median(ours) / statistics.median(bare), 3),
            }
            rows.append(row)
            print(" | ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
