"""Peak memory of the streaming stages for N and 10×N images.

Each stage (attack_cam, regions, blob, neutralize_reattack) runs in a fresh
process on synthetic images, calling the same library functions as its rule;
the process reports its own peak RSS. Streaming means the 10×N run peaks at
about the same RSS as the N run.

    .venv/bin/python bench/memory.py               # N = 2000 images of 3×32×32
    .venv/bin/python bench/memory.py --n 500 --size 64
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STAGES = ("attack_cam", "regions", "blob", "neutralize_reattack")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def synthetic_data(path: Path, n: int, size: int, seed: int = 0) -> None:
    """Smooth random images in [0,1] (so gzip behaves as on real images), two classes."""
    from scipy.ndimage import gaussian_filter

    from roiroa.h5io import create_h5, create_stream

    rng = np.random.default_rng(seed)
    with create_h5(path, {"benchmark": "memory", "n": n}) as f:
        for split in ("train", "test"):
            group = f.create_group(split)
            images = create_stream(group, "images", n, (3, size, size), np.float32)
            for start in range(0, n, 1000):  # written in blocks: the parent stays small too
                block = rng.random((min(1000, n - start), 3, size, size), dtype=np.float32)
                images[start : start + len(block)] = gaussian_filter(block, sigma=(0, 0, 2, 2)).clip(0, 1)
            group["labels"] = (np.arange(n) % 2).astype(np.int64)


def run_stage(stage: str, work: Path) -> dict:
    """Child process: one stage, as its rule script calls it."""
    import torch

    from roiroa.blob import run_blob
    from roiroa.defense import Attack, run_defense
    from roiroa.h5io import create_h5
    from roiroa.maps import run_map_stage
    from roiroa.models import load_model
    from roiroa.regions import run_regions

    torch.set_num_threads(2)
    device = torch.device("cpu")
    baseline = peak_rss_mb()
    start = time.perf_counter()
    if stage == "attack_cam":
        run_map_stage(load_model(work / "model.pt"), work / "data.h5", (0, 1), work / "maps.h5", eps=0.1,
                      cam_method="gradcam", target="predicted_class", n_samples=None, seed=0, batch_size=256,
                      device=device, params={})
    elif stage == "regions":
        run_regions(work / "maps.h5", work / "regions.h5", delta1=0.5, delta2=0.5, representative="masks",
                    classes=("a", "b"), params={})
    elif stage == "blob":
        run_blob(work / "regions.h5", work / "blob.h5", theta=0.15, mode="ubar_v", params={})
    elif stage == "neutralize_reattack":
        with create_h5(work / "defense.h5", {}) as defense:
            run_defense(load_model(work / "model.pt"), work / "data.h5", work / "maps.h5", work / "regions.h5",
                        work / "blob.h5", defense.create_group("theta~0.15"), fill=0, assign="true_class",
                        orders=["neutralize_then_attack"], attack=Attack("fgsm", 0.1), batch_size=256, device=device,
                        params={})  # fmt: skip
    return {"stage": stage, "after_imports_mb": baseline, "peak_mb": peak_rss_mb(),
            "seconds": time.perf_counter() - start}


def measure(n: int, size: int) -> list[dict]:
    import torch

    from roiroa.models import ModelSpec, build_model, save_model

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synthetic_data(work / "data.h5", n, size)
        torch.manual_seed(0)
        save_model(build_model(ModelSpec("tiny_vgg", 32, 3, hidden=32)), work / "model.pt")
        results = []
        for stage in STAGES:
            out = subprocess.run([sys.executable, __file__, "--child", stage, "--work", str(work)],
                                 capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_stage(args.child, args.work)))
        return
    small, large = measure(args.n, args.size), measure(10 * args.n, args.size)
    mb = 3 * args.size * args.size * 4 / 2**20
    print(f"peak RSS per stage, images 3×{args.size}×{args.size} float32 "
          f"({args.n * mb:.0f} MiB vs {10 * args.n * mb:.0f} MiB per image array), tiny_vgg model, CPU\n")
    print(f"| stage | peak RSS, N={args.n} | peak RSS, N={10 * args.n} | ratio | time N / 10N |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for s, b in zip(small, large):
        ratio = b["peak_mb"] / s["peak_mb"]
        worst = max(worst, ratio)
        print(f"| {s['stage']} | {s['peak_mb']:.0f} MiB | {b['peak_mb']:.0f} MiB | {ratio:.2f} | "
              f"{s['seconds']:.1f} s / {b['seconds']:.1f} s |")
    print(f"\nlargest ratio {worst:.2f} (target < 1.2)")


if __name__ == "__main__":
    main()
