"""Baselines of the blob at the chosen θ, on the same evaluation images, under
each order of `baselines.orders`:

- random_mask: `draws` seeded masks of the blob's size, drawn inside the
  class's support (SUPPORT: where neutralization can change something). The
  blob's percentile among the draws and a paired per-image comparison (blob
  vs the share of draws under which the image is right) say whether the
  blob's place matters; a blob that does no better carries no spatial
  information;
- roi_complement: the k least important pixels of the support by the
  class-level RoI, k = the blob's size (ties in a seeded random order): what
  a reader would blank without any attack at all, at the blob's size;
- none: no neutralization (score_mod = score_clean, score_mod_adv = score_adv).

The blob itself is evaluated again beside the draws (same images, same
batches), so that the paired comparisons and percentiles compare like with
like; its rows stay in evaluation.json (the tables' `blob` rows).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from .blob import class_blobs
from .data import clean_images
from .defense import Attack, direction_scores, evaluate_masks, fill_value, scored_parts
from .h5io import blocks, check_labels, open_h5, read_dataset
from .stats import PAIRED_TEST, paired_difference, percentile_among

log = logging.getLogger(__name__)

BASELINES = ("random_mask", "roi_complement", "none")
SUPPORT = ("pixels where at least one clean evaluation image of the source class differs from the fill value "
           "in some channel (elsewhere neutralization changes nothing); a blob larger than that takes the rest "
           "at random")
MASK_RULES = {
    "random_mask": "as many pixels as the blob, uniformly inside the support (" + SUPPORT + ")",
    "roi_complement": "the blob's number of least important support pixels by the class-level RoI "
                      "(ties in a seeded random order)",
    "none": "nothing neutralized",
    # roiroa.equal_size: the blobs of attacks compared at one size
    "equal_size_blob": "the k pixels of highest class-level ŪV representative, anywhere in the image "
                       "(as the blob, which is not held to the support; ties in a seeded random order)",
}


def neutralizable(images: np.ndarray, labels: np.ndarray, fill: np.ndarray, support: np.ndarray) -> None:
    """Add to `support` (2×H×W, per class) the pixels where an image (N×C×H×W)
    of the class differs from the fill value (per channel) in some channel."""
    differs = (images != fill.reshape(1, -1, 1, 1)).any(axis=1)
    for cls in range(len(support)):
        support[cls] |= differs[labels == cls].any(axis=0)


def ranked_pixels(score: np.ndarray, support: np.ndarray, k: int, rng: np.random.Generator,
                  highest: bool = False) -> np.ndarray:
    """H×W mask of the k support pixels of lowest score (`highest`: of highest
    score), ties in a random order from `rng`; past the support's size, the rest
    by the same rule outside it. With a constant score: k support pixels
    uniformly at random (the same pixels either way: only the tie order decides)."""
    tie = rng.permutation(score.size)
    key = -score.ravel() if highest else score.ravel()
    order = np.lexsort((tie, key, ~support.ravel()))  # last key first: support, score, tie
    mask = np.zeros(score.size, bool)
    mask[order[:k]] = True
    return mask.reshape(score.shape)


def random_masks(support: np.ndarray, sizes: list[int], draws: int, seed: int) -> np.ndarray:
    """draws×2×H×W: `draws` seeded random masks, class c's of sizes[c] pixels inside
    its support (2×H×W). Draw d of a seed is the same generator at every size, so
    a smaller draw is part of the larger one."""
    flat = np.zeros(support.shape[1:])
    return np.stack([
        np.stack([ranked_pixels(flat, support[c], k, rng) for c, k in enumerate(sizes)])
        for rng in (np.random.default_rng([seed, 0, draw]) for draw in range(draws))
    ])  # fmt: skip


def baseline_masks(blobs: np.ndarray, roi: np.ndarray, support: np.ndarray, draws: int, seed: int):
    """{name: M×2×H×W masks} of every baseline that neutralizes something:
    `draws` random masks and one RoI complement, each class's the size of its blob."""
    sizes = [int(b.sum()) for b in blobs]
    rng = np.random.default_rng([seed, 1])
    complement = np.stack([ranked_pixels(roi[c], support[c], k, rng) for c, k in enumerate(sizes)])
    return {"random_mask": random_masks(support, sizes, draws, seed), "roi_complement": complement[None]}


def evaluate_mask_sets(
    model, data, maps, rows: np.ndarray, mask_sets: torch.Tensor, orders, *,
    fill, assign: str, attack: Attack, batch_size: int, device,
) -> dict[str, dict[str, np.ndarray]]:
    """Probabilities of S_mod and S_mod-adv ({order: {'mod'|'mod_adv': M×N×2}})
    for each of M per-class mask sets (M×2×H×W) at positions `rows` of maps.h5,
    each through the re-attack's own streaming evaluation (defense.evaluate_masks).
    Tiling several mask sets into one batch was measured to save no CPU time
    (it helps a GPU only), so each set is its own evaluation."""
    m = len(mask_sets)
    out = {o: {s: np.zeros((m, len(rows), 2), np.float32) for s in ("mod", "mod_adv")} for o in orders}
    start = time.monotonic()
    for i in range(m):
        for order in orders:
            probs = evaluate_masks(model, data, maps, rows, mask_sets[i], fill=fill, assign=assign, order=order,
                                   attack=attack, batch_size=batch_size, device=device)  # fmt: skip
            out[order]["mod"][i], out[order]["mod_adv"][i] = probs["mod"], probs["mod_adv"]
        # a published run's job evaluates 22 sets of 1,000 images: say how far it is
        log.info("mask set %d/%d of %d images (%s): %.0f s", i + 1, m, len(rows), ", ".join(orders),
                 time.monotonic() - start)
    return out


def run_baselines(
    model, data_path, maps_path, regions_path, *, theta: float, blob_mode: str, draws: int, seed: int,
    fill, assign: str, orders, attack: Attack, batch_size: int, device,
) -> list[dict]:
    """Rows per order, baseline and direction on the evaluation part (random
    masks: one summary row over the draws). The blob at θ is computed from
    regions.h5 as the blob rule computes it: its file is one of ten per
    setting, whose listing made the sweep's plan longer."""
    with open_h5(data_path, "prepared data") as data, open_h5(maps_path, "maps") as maps, \
            open_h5(regions_path, "regions") as regions:
        by_class = class_blobs(regions, theta, blob_mode)
        classes, blobs = list(by_class), np.stack(list(by_class.values()))
        labels, fit_on = check_labels(read_dataset(maps, "label"), maps_path), str(regions.attrs["fit_on"])
        at = scored_parts(regions["calibration"][:], fit_on)["evaluation"]
        roi = np.stack([regions["representatives"][c]["roi"][:] for c in classes])
        support = evaluation_support(model, data["test"], maps, at, fill)
        masks = baseline_masks(blobs, roi, support, draws, seed)
        mask_sets = torch.from_numpy(np.concatenate([blobs[None], masks["random_mask"], masks["roi_complement"]]))
        probs = evaluate_mask_sets(model, data["test"], maps, at, mask_sets, orders, fill=fill, assign=assign,
                                   attack=attack, batch_size=batch_size, device=device)  # fmt: skip
        seen = {"clean": maps["prob_clean"][:][at], "adv": maps["prob_adv"][:][at]}
    rows = []
    for order in orders:
        pick = lambda i: seen | {s: p[i] for s, p in probs[order].items()}  # noqa: E731  (mask set i)
        common = dict(order=order, fit_on=fit_on, labels=labels[at], classes=classes)
        rows += random_mask_rows(pick(0), [pick(i) for i in range(1, 1 + draws)], blobs, support, **common)
        rows += mask_rows("roi_complement", pick(1 + draws), masks["roi_complement"][0], **common)
        rows += mask_rows("none", seen | {"mod": seen["clean"], "mod_adv": seen["adv"]}, np.zeros_like(blobs), **common)
    return rows


def evaluation_support(model, data, maps, rows: np.ndarray, fill) -> np.ndarray:
    """2×H×W: where neutralization can change an evaluation image of each class (SUPPORT)."""
    labels = maps["label"][:]
    fill = fill_value(model, fill, maps["x_adv"].shape[1]).cpu().numpy()
    support = np.zeros((2, *maps["x_adv"].shape[2:]), bool)
    for block in blocks(len(rows)):
        at = rows[block]
        neutralizable(clean_images(data, maps, at), labels[at], fill, support)
    return support


def mask_rows(name, probs, masks, *, order, fit_on, labels, classes) -> list[dict]:
    """One row per direction of one mask set (MASK_RULES[name]): its size and scores."""
    return [
        {"source": source, "target": classes[1 - cls], "part": "evaluation", "fit_on": fit_on, "order": order,
         "neutralization": name, "mask_rule": MASK_RULES[name], "blob_pixels": int(masks[cls].sum()),
         **direction_scores(labels, probs, cls)}
        for cls, source in enumerate(classes)
    ]


def random_mask_rows(blob_probs, draw_probs, blobs, support, *, order, fit_on, labels, classes) -> list[dict]:
    """One row per direction over every draw: the scores averaged over the draws
    (as the tables average them), each draw's score_mod and score_mod_adv, and
    the blob against them (against_draws)."""
    rows = []
    for cls, source in enumerate(classes):
        ours = labels == cls
        per_draw = [direction_scores(labels, p, cls) for p in draw_probs]
        numeric = [k for k, v in per_draw[0].items() if isinstance(v, (int, float)) and not k.endswith("_mcnemar_p")]
        row = {"source": source, "target": classes[1 - cls], "part": "evaluation", "fit_on": fit_on, "order": order,
               "neutralization": "random_mask", "mask_rule": MASK_RULES["random_mask"],
               "blob_pixels": int(blobs[cls].sum()),
               **{k: float(np.mean([d[k] for d in per_draw])) for k in numeric},
               "random_draws": len(draw_probs), "random_support_pixels": int(support[cls].sum()),
               "paired_test": PAIRED_TEST}
        for s in ("mod", "mod_adv"):
            right = lambda p: p[s][ours].argmax(1) == cls  # noqa: E731
            row |= against_draws(s, right(blob_probs), np.stack([right(p) for p in draw_probs]))
        rows.append(row)
    return rows


def against_draws(name: str, blob_right: np.ndarray, draws_right: np.ndarray) -> dict:
    """The blob against D random draws on the same N images (blob_right: N
    bools; draws_right: D×N): each draw's score, their mean, the blob's score
    and its mid-rank percentile among the draws, and a paired per-image
    comparison: blob right (0/1) minus the share of draws under which the image
    is right (mean, 95% t-interval, Wilcoxon p). Fields named after `name`
    (mod or mod_adv)."""
    scores = [float(d.mean()) for d in draws_right]
    blob = float(np.mean(blob_right))
    paired = paired_difference(np.asarray(blob_right, float), np.mean(draws_right, axis=0))
    return {f"draws_score_{name}": scores, f"random_score_{name}_mean": float(np.mean(scores)),
            f"blob_score_{name}": blob, f"percentile_{name}": percentile_among(blob, scores),
            f"paired_{name}_diff_mean": paired["mean"], f"paired_{name}_diff_low": paired["low"],
            f"paired_{name}_diff_high": paired["high"], f"paired_{name}_p": paired["p"]}
