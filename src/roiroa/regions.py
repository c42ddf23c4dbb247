"""Segregation and isolation: RoI/RoA masks, the four regions, representatives, SSIM.

Pure numpy on N×H×W maps. The regions stage streams maps.h5 block by block
and accumulates the class representatives, so memory does not grow with N.
"""

from __future__ import annotations

import h5py
import numpy as np
from skimage.metrics import structural_similarity

from .h5io import blocks, create_h5, create_stream

# The four disjoint regions of the paper's eq. (1); U = in RoI, V = in RoA.
REGIONS = ("uv", "u_vbar", "ubar_v", "ubar_vbar")
REGION_LABELS = {"uv": "UV", "u_vbar": "UV̄", "ubar_v": "ŪV", "ubar_vbar": "ŪV̄"}
REPRESENTATIVE_MODES = ("masks", "maps")


def roi_mask(cam: np.ndarray, delta1: float) -> np.ndarray:
    """Region of Importance: pixels whose CAM value is ≥ δ1."""
    return cam >= delta1


def roa_mask(magnitude: np.ndarray, delta2: float) -> np.ndarray:
    """Region of Attack: pixels whose adversarial change is ≥ δ2."""
    return magnitude >= delta2


def four_regions(roi: np.ndarray, roa: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "uv": roi & roa,
        "u_vbar": roi & ~roa,
        "ubar_v": ~roi & roa,
        "ubar_vbar": ~roi & ~roa,
    }


def ssim_window(shape: tuple[int, ...]) -> int:
    """skimage's default window is 7; small images need the largest odd size that fits."""
    side = min(shape[-2:])
    if side < 3:
        raise ValueError(f"SSIM needs images of at least 3×3 pixels, got {shape[-2:]}")
    return min(7, side if side % 2 else side - 1)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two H×W maps in [0, 1] (skimage, data_range=1)."""
    return float(
        structural_similarity(
            a.astype(np.float64), b.astype(np.float64), data_range=1.0, win_size=ssim_window(a.shape)
        )
    )


def ssim_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([ssim(x, y) for x, y in zip(a, b)], dtype=np.float64)


def summary(values: np.ndarray) -> dict[str, float]:
    """min, max, mean, median and std, as in the authors' per-image SSIM files."""
    if len(values) == 0:
        return {k: float("nan") for k in ("min", "max", "mean", "median", "std")}
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "std": float(values.std()),
    }


class Representatives:
    """Running pixel-wise means over the images of each class (streamed)."""

    def __init__(self, n_classes: int, shape: tuple[int, int], mode: str = "masks"):
        if mode not in REPRESENTATIVE_MODES:
            raise ValueError(f"unknown representative mode {mode!r} (known: {REPRESENTATIVE_MODES})")
        self.mode = mode
        self.count = np.zeros(n_classes, np.int64)
        self.sums = {
            name: np.zeros((n_classes, *shape), np.float64) for name in ("roi", "roa", *REGIONS)
        }

    def add(self, labels: np.ndarray, cam: np.ndarray, magnitude: np.ndarray, roi: np.ndarray, roa: np.ndarray):
        maps = {"roi": roi, "roa": roa, **four_regions(roi, roa)}
        if self.mode == "maps":  # continuous RoI/RoA representatives
            maps["roi"], maps["roa"] = cam, magnitude
        for cls in range(len(self.count)):
            chosen = labels == cls
            self.count[cls] += int(chosen.sum())
            for name, values in maps.items():
                self.sums[name][cls] += values[chosen].sum(axis=0)

    def means(self) -> dict[str, np.ndarray]:
        denom = np.maximum(self.count, 1)[:, None, None]
        return {name: (total / denom).astype(np.float32) for name, total in self.sums.items()}


def run_regions(
    maps_path, out, *, delta1: float, delta2: float, representative: str, classes: tuple[str, str], params: dict
) -> list[dict]:
    """regions.h5 from maps.h5; returns the SSIM summary of each direction."""
    with h5py.File(maps_path, "r") as src, create_h5(out, params, [str(maps_path)]) as dst:
        labels = src["label"][:]
        n, hw = len(labels), src["cam"].shape[1:]
        dst["label"], dst["index"] = labels, src["index"][:]
        dst.attrs["classes"] = list(classes)
        roi_out = create_stream(dst, "roi", n, hw, np.bool_)
        roa_out = create_stream(dst, "roa", n, hw, np.bool_)
        ssim_out = create_stream(dst, "ssim", n, (), np.float64)
        reps = Representatives(2, hw, representative)
        for block in blocks(n):
            cam, magnitude = src["cam"][block], src["roa"][block]
            roi, roa = roi_mask(cam, delta1), roa_mask(magnitude, delta2)
            roi_out[block], roa_out[block] = roi, roa
            ssim_out[block] = ssim_per_image(roi, roa)
            reps.add(labels[block], cam, magnitude, roi, roa)
        per_image = dst["ssim"][:]
        directions = []
        for cls, means in enumerate(_split_by_class(reps.means())):
            group = dst.create_group(f"representatives/{classes[cls]}")
            for name, values in means.items():
                group[name] = values
            rep_ssim = ssim(means["roi"], means["roa"])
            group.attrs["ssim"] = rep_ssim
            directions.append(
                {
                    "source": classes[cls],
                    "target": classes[1 - cls],
                    "n_images": int(reps.count[cls]),
                    "ssim_mean_of_samples": summary(per_image[labels == cls])["mean"],
                    "ssim_samples": summary(per_image[labels == cls]),
                    "ssim_representatives": rep_ssim,
                    "roi_fraction": float(means["roi"].mean()) if representative == "masks" else None,
                    "roa_fraction": float(means["roa"].mean()) if representative == "masks" else None,
                }
            )
    return directions


def _split_by_class(means: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    n_classes = len(next(iter(means.values())))
    return [{name: values[cls] for name, values in means.items()} for cls in range(n_classes)]
