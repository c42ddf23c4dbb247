"""Baselines of the blob at the chosen θ, on the same evaluation images:

- random_mask: as many pixels as the blob, placed uniformly (several seeded
  draws); a blob that does no better than this carries no spatial information;
- roi_complement: everything outside the class-level RoI (its frequency < θ),
  the region a reader would blank without any attack at all;
- none: no neutralization (score_mod = score_clean, score_mod_adv = score_adv).
"""

from __future__ import annotations

import numpy as np
import torch

from .blob import class_blobs
from .defense import Attack, direction_scores, evaluate_masks, scored_parts
from .h5io import check_labels, open_h5, read_dataset
from .stats import random_mask_like

BASELINES = ("random_mask", "roi_complement", "none")


def baseline_masks(blobs: np.ndarray, roi_representatives: np.ndarray, theta: float, draws: int, seed: int):
    """(name, draw, 2×H×W masks) of every baseline that neutralizes something."""
    for draw in range(draws):
        rng = np.random.default_rng([seed, draw])
        yield "random_mask", draw, np.stack([random_mask_like(b, rng) for b in blobs])
    yield "roi_complement", 0, roi_representatives < theta


def run_baselines(
    model, data_path, maps_path, regions_path, *, theta: float, blob_mode: str, draws: int, seed: int,
    fill, assign: str, order: str, attack: Attack, batch_size: int, device,
) -> list[dict]:
    """Scores per direction of every baseline (and draw) on the evaluation part.
    The blob at θ is computed from regions.h5 as the blob rule computes it: its
    file is one of ten per setting, whose listing made the sweep's plan longer."""
    with open_h5(data_path, "prepared data") as data, open_h5(maps_path, "maps") as maps, \
            open_h5(regions_path, "regions") as regions:
        by_class = class_blobs(regions, theta, blob_mode)
        classes, blobs = list(by_class), torch.from_numpy(np.stack(list(by_class.values())))
        labels, fit_on = check_labels(read_dataset(maps, "label"), maps_path), str(regions.attrs["fit_on"])
        at = scored_parts(regions["calibration"][:], fit_on)["evaluation"]
        roi = np.stack([regions["representatives"][c]["roi"][:] for c in classes])
        seen = {"clean": maps["prob_clean"][:][at], "adv": maps["prob_adv"][:][at]}
        rows = []
        for name, draw, masks in baseline_masks(blobs.numpy(), roi, theta, draws, seed):
            probs = evaluate_masks(
                model, data["test"], maps, at, torch.from_numpy(masks), fill=fill, assign=assign,
                order=order, attack=attack, batch_size=batch_size, device=device,
            )
            rows += _rows(name, draw, masks, classes, labels[at], seen | probs, fit_on)
        none = np.zeros_like(blobs.numpy())
        rows += _rows("none", 0, none, classes, labels[at], seen | {"mod": seen["clean"], "mod_adv": seen["adv"]}, fit_on)
    return rows


def _rows(name, draw, masks, classes, labels, probs, fit_on) -> list[dict]:
    return [
        {"source": source, "target": classes[1 - cls], "part": "evaluation", "fit_on": fit_on,
         "neutralization": name, "draw": draw, "blob_pixels": int(masks[cls].sum()),
         **direction_scores(labels, probs, cls)}
        for cls, source in enumerate(classes)
    ]
