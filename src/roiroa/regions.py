"""Segregation and isolation: RoI/RoA masks, the four regions, representatives, SSIM.

Pure numpy on N×H×W maps. The regions stage streams maps.h5 block by block
and accumulates the class representatives, so memory does not grow with N.
"""

from __future__ import annotations

import h5py
import numpy as np
from skimage.metrics import structural_similarity

from .h5io import blocks, check_labels, check_rows, create_h5, create_stream, open_h5, read_dataset
from .stats import PAIRED_TEST, calibration_split, paired_difference, random_mask_like, shuffled_partners

# The four disjoint regions of the paper's eq. (1); U = in RoI, V = in RoA.
REGIONS = ("uv", "u_vbar", "ubar_v", "ubar_vbar")
REGION_LABELS = {"uv": "UV", "u_vbar": "UV̄", "ubar_v": "ŪV", "ubar_vbar": "ŪV̄"}
REPRESENTATIVE_MODES = ("masks", "maps")
# Where the RoA comes from (dataset of maps.h5): the attack's per-pixel change
# (the paper's) or the loss gradient at the clean image.
ROA_SOURCES = {"perturbation": "roa", "gradient": "grad_magnitude"}
# Which images the class representatives (and so the blob) are fitted on:
# the calibration part only (held out from Tables II/III), or every test image
# (the paper's in-sample way).
FIT_ON = ("calibration", "test")


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
    maps_path, out, *, delta1: float, delta2: float, representative: str, classes: tuple[str, str],
    roa_source: str = "perturbation", fit_on: str = "test", calibration_fraction: float = 0.5,
    seed: int = 0, shuffles: int = 1, params: dict,
) -> list[dict]:
    """regions.h5 from maps.h5; returns the SSIM summary of each direction.

    Also stores which images form the calibration part (`calibration`; with
    fit_on=test every image is both fitted on and scored), fits the class
    representatives on the fitted images only, and computes claim (a)'s two
    references per image: the null of Table I (SSIM of its RoI with the RoA of
    a random other image of its class, averaged over `shuffles` pairings) and
    the SSIM of random masks of its RoI's and RoA's sizes (`shuffles` draws)."""
    if roa_source not in ROA_SOURCES:
        raise ValueError(f"unknown RoA source {roa_source!r} (known: {', '.join(ROA_SOURCES)})")
    if fit_on not in FIT_ON:
        raise ValueError(f"unknown blob.fit_on {fit_on!r} (known: {', '.join(FIT_ON)})")
    with open_h5(maps_path, "maps") as src, create_h5(out, params, [str(maps_path)]) as dst:
        labels = check_labels(read_dataset(src, "label"), maps_path)
        check_rows(src, ["index", "cam", ROA_SOURCES[roa_source]], len(labels))
        n, hw = len(labels), src["cam"].shape[1:]
        magnitudes = src[ROA_SOURCES[roa_source]]
        calibration = calibration_split(labels, calibration_fraction, seed) if fit_on == "calibration" \
            else np.ones(n, bool)
        dst["label"], dst["index"], dst["calibration"] = labels, src["index"][:], calibration
        dst.attrs["classes"] = list(classes)
        dst.attrs["fit_on"] = fit_on
        roi_out = create_stream(dst, "roi", n, hw, np.bool_)
        roa_out = create_stream(dst, "roa", n, hw, np.bool_)
        ssim_out = create_stream(dst, "ssim", n, (), np.float64)
        reps = Representatives(2, hw, representative)
        for block in blocks(n):
            cam, magnitude = src["cam"][block], magnitudes[block]
            roi, roa = roi_mask(cam, delta1), roa_mask(magnitude, delta2)
            roi_out[block], roa_out[block] = roi, roa
            ssim_out[block] = ssim_per_image(roi, roa)
            fit = calibration[block]
            reps.add(labels[block][fit], cam[fit], magnitude[fit], roi[fit], roa[fit])
        shuffled = _shuffled_ssim(dst, labels, seed, shuffles)
        random_masks = _random_mask_ssim(dst, seed, shuffles)
        per_image = dst["ssim"][:]
        directions = []
        for cls, means in enumerate(_split_by_class(reps.means())):
            group = dst.create_group(f"representatives/{classes[cls]}")
            for name, values in means.items():
                group[name] = values
            rep_ssim = ssim(means["roi"], means["roa"])
            group.attrs["ssim"] = rep_ssim
            ours = labels == cls
            directions.append(
                {
                    "source": classes[cls],
                    "target": classes[1 - cls],
                    "n_images": int(ours.sum()),
                    "n_fitted": int(reps.count[cls]),
                    "fit_on": fit_on,
                    "ssim_mean_of_samples": summary(per_image[ours])["mean"],
                    "ssim_samples": summary(per_image[ours]),
                    "ssim_shuffled_mean": summary(shuffled[ours])["mean"],
                    "ssim_shuffled": summary(shuffled[ours]),
                    "ssim_shuffles": shuffles,
                    **_paired_fields("ssim_paired", per_image[ours], shuffled[ours]),
                    "ssim_random_masks_mean": summary(random_masks[ours])["mean"],
                    "ssim_random_masks": summary(random_masks[ours]),
                    **_paired_fields("ssim_random", per_image[ours], random_masks[ours]),
                    "ssim_representatives": rep_ssim,
                    "roi_fraction": float(means["roi"].mean()) if representative == "masks" else None,
                    "roa_fraction": float(means["roa"].mean()) if representative == "masks" else None,
                }
            )
    return directions


def _shuffled_ssim(dst: h5py.File, labels: np.ndarray, seed: int, shuffles: int) -> np.ndarray:
    """Each image's null: the mean over `shuffles` pairings of the SSIM of its
    RoI with the RoA of a random other image of its class (stored as
    `ssim_shuffled`, partners as `shuffled_partner`, N×shuffles), streamed.
    Pairing 0 is the single pairing of earlier versions (seed `seed`)."""
    partners = np.stack([shuffled_partners(labels, seed if s == 0 else [seed, 0, s]) for s in range(shuffles)], 1)
    dst["shuffled_partner"] = partners
    out = create_stream(dst, "ssim_shuffled", len(labels), (), np.float64)
    roi, roa = dst["roi"], dst["roa"]
    for block in blocks(len(labels)):
        total = np.zeros(block.stop - block.start)
        for wanted in partners[block].T:
            unique, where = np.unique(wanted, return_inverse=True)  # h5py reads increasing indices
            total += ssim_per_image(roi[block], roa[unique][where])
        out[block] = total / shuffles
    return out[:]


def _random_mask_ssim(dst: h5py.File, seed: int, draws: int) -> np.ndarray:
    """The reference for a "low" SSIM: per image, the mean over `draws` of the
    SSIM of two masks placed uniformly over the image with as many pixels as
    its RoI and its RoA (stored as `ssim_random_masks`). One generator consumed
    image by image, so the draws do not depend on the blocking."""
    rng = np.random.default_rng([seed, 1])
    n = len(dst["roi"])
    out = create_stream(dst, "ssim_random_masks", n, (), np.float64)
    for block in blocks(n):
        pairs = [(random_mask_like(roi, rng), random_mask_like(roa, rng))
                 for roi, roa in zip(dst["roi"][block], dst["roa"][block]) for _ in range(draws)]  # fmt: skip
        values = np.array([ssim(a, b) for a, b in pairs]).reshape(-1, draws)
        out[block] = values.mean(axis=1)
    return out[:]


def _paired_fields(prefix: str, first: np.ndarray, second: np.ndarray) -> dict:
    """A paired per-image comparison as ssim.json fields: {prefix}_diff_mean,
    _diff_low, _diff_high (first − second and its 95% t-interval), {prefix}_p
    and {prefix}_test (roiroa.stats.paired_difference)."""
    out = paired_difference(first, second)
    return {f"{prefix}_diff_mean": out["mean"], f"{prefix}_diff_low": out["low"],
            f"{prefix}_diff_high": out["high"], f"{prefix}_p": out["p"], f"{prefix}_test": PAIRED_TEST}


def _split_by_class(means: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    n_classes = len(next(iter(means.values())))
    return [{name: values[cls] for name, values in means.items()} for cls in range(n_classes)]
