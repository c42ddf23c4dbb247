"""The blob: where a class is vulnerable but not important, at class level."""

from __future__ import annotations

import numpy as np

from .h5io import create_h5, open_h5

BLOB_MODES = ("ubar_v", "roa_minus_roi")


def blob_mask(representatives: dict[str, np.ndarray], theta: float, mode: str = "ubar_v") -> np.ndarray:
    """H×W boolean blob of one class.

    ubar_v:        the class-level mean of the ŪV masks is ≥ θ (the paper).
    roa_minus_roi: the class-level RoA is ≥ θ where the class-level RoI is < θ.
    An empty blob is a valid answer.
    """
    if mode == "ubar_v":
        return representatives["ubar_v"] >= theta
    if mode == "roa_minus_roi":
        return (representatives["roa"] >= theta) & (representatives["roi"] < theta)
    raise ValueError(f"unknown blob mode {mode!r} (known: {', '.join(BLOB_MODES)})")


def class_blobs(regions, theta: float, mode: str) -> dict[str, np.ndarray]:
    """The blob of every class of an open regions.h5, in binary label order."""
    order = [str(c) for c in regions.attrs["classes"]]
    return {name: blob_mask({key: ds[:] for key, ds in regions["representatives"][name].items()}, theta, mode)
            for name in order}  # fmt: skip


def run_blob(regions_path, out, *, theta: float, mode: str, params: dict) -> list[dict]:
    """blob.h5 (one mask per source class) from regions.h5; returns blob sizes."""
    sizes = []
    with open_h5(regions_path, "regions") as src, create_h5(out, params, [str(regions_path)]) as dst:
        blobs = class_blobs(src, theta, mode)
        for name, mask in blobs.items():
            dst[f"blob/{name}"] = mask
            sizes.append({"source": name, "blob_pixels": int(mask.sum()), "blob_fraction": float(mask.mean())})
        dst.attrs["classes"] = list(blobs)
    return sizes

