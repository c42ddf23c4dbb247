"""Blobs at equal size: do the attacks' blobs differ in *where* they are, apart
from *how many* pixels they hold?

Blobs of different attacks (or RoA sources) differ in size, so their
score_mod_adv mixes place with size. Here every setting's class-level ŪV
representative (regions.h5) gives, for each pixel count k, the class's k pixels
of highest ŪV (ties in a seeded random order: baselines.ranked_pixels), scored
on the evaluation part beside the same seeded random masks of k pixels as the
baselines draw (inside the support), under the orders of
orders.equal_size_orders. The rows are those of baselines.json (one per order,
direction and mask set; random masks: one summary row with the blob against
the draws), each with its k (`equal_size_pixels`).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from .baselines import evaluate_mask_sets, evaluation_support, mask_rows, random_mask_rows, random_masks, ranked_pixels
from .defense import scored_parts
from .h5io import check_labels, open_h5, read_dataset

log = logging.getLogger(__name__)


def top_pixels(ubar_v: np.ndarray, k: int, seed: int) -> np.ndarray:
    """2×H×W: each class's k pixels of highest ŪV representative (2×H×W), ties in
    a random order seeded by (seed, k); anywhere in the image, as the blob is."""
    rng = np.random.default_rng([seed, 2, k])
    everywhere = np.ones(ubar_v.shape[1:], bool)
    return np.stack([ranked_pixels(u, everywhere, k, rng, highest=True) for u in ubar_v])


def kth_highest(ubar_v: np.ndarray, k: int) -> float:
    """The k-th highest ŪV of a class (H×W): the equal-size blob holds every pixel
    above it (the θ it corresponds to; ties at it are drawn)."""
    values = np.sort(ubar_v.ravel())[::-1]
    return float(values[min(k, len(values)) - 1])


def run_equal_size(
    model, data_path, maps_path, regions_path, *, pixels: list[int], draws: int, seed: int,
    fill, assign: str, orders, attack, batch_size: int, device,
) -> list[dict]:
    """Rows per k, order, mask set (equal_size_blob, random_mask) and direction on the
    evaluation part."""
    with open_h5(data_path, "prepared data") as data, open_h5(maps_path, "maps") as maps, \
            open_h5(regions_path, "regions") as regions:
        classes = [str(c) for c in regions.attrs["classes"]]
        ubar_v = np.stack([regions["representatives"][c]["ubar_v"][:] for c in classes])
        labels, fit_on = check_labels(read_dataset(maps, "label"), maps_path), str(regions.attrs["fit_on"])
        at = scored_parts(regions["calibration"][:], fit_on)["evaluation"]
        support = evaluation_support(model, data["test"], maps, at, fill)
        seen = {"clean": maps["prob_clean"][:][at], "adv": maps["prob_adv"][:][at]}
        rows = []
        for k in pixels:
            if k > ubar_v[0].size:
                log.warning("k=%d is more than the image's %d pixels: every pixel is taken", k, ubar_v[0].size)
            blobs = top_pixels(ubar_v, k, seed)
            mask_sets = torch.from_numpy(np.concatenate([blobs[None], random_masks(support, [k, k], draws, seed)]))
            probs = evaluate_mask_sets(model, data["test"], maps, at, mask_sets, orders, fill=fill, assign=assign,
                                       attack=attack, batch_size=batch_size, device=device)  # fmt: skip
            found = {"equal_size_pixels": k}
            for order in orders:
                sets = [seen | {s: p[i] for s, p in probs[order].items()} for i in range(len(mask_sets))]
                common = dict(order=order, fit_on=fit_on, labels=labels[at], classes=classes)
                blob_rows = mask_rows("equal_size_blob", sets[0], blobs, **common)
                for cls, row in enumerate(blob_rows):
                    row["kth_highest_ubar_v"] = kth_highest(ubar_v[cls], k)
                rows += [row | found for row in blob_rows + random_mask_rows(sets[0], sets[1:], blobs, support, **common)]
    return rows
