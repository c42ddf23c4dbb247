"""Neutralization and the repeated attack (the paper's Tables II and III).

`defend_batch` is the science: one batch's S_mod and S_mod-adv under an
attack order. `evaluate_masks` streams a pair's images through it for any
per-class masks (the blob, or a baseline's mask) and returns per-image
correctness; `direction_scores` turns that into the scores, the counts
behind the intervals and the paired tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import h5py
import numpy as np
import torch
import torch.nn.functional as F

from .attacks import AttackSettings, L2_ATTACKS, loss_gradient, run_attack, starts_from_gradient
from .data import read_rows
from .h5io import blocks, check_labels, check_rows, create_stream, open_h5, provenance, read_dataset
from .stats import mcnemar_exact, paired_counts

log = logging.getLogger(__name__)

# neutralize_then_attack:       the attack re-run on S_mod (the paper's order)
# attack_then_neutralize:       the blob blanked out of S_adv (a post-hoc filter)
# neutralize_attack_neutralize: the attack on S_mod, then the blob blanked again
# adaptive:                     PGD (L∞, or L2 for the L2 attacks) on S_mod that re-applies the
#                               neutralization after every step: the attacker knows the blob
ORDERS = ("neutralize_then_attack", "attack_then_neutralize", "neutralize_attack_neutralize", "adaptive")
ASSIGNMENTS = ("true_class", "predicted_class", "union")
SETS = ("clean", "adv", "mod", "mod_adv")


def neutralize(x: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Set the masked pixels (N×H×W) of every channel to `fill` (scalar or per channel)."""
    fill = fill.to(x).reshape(1, -1, 1, 1)
    return torch.where(mask[:, None], fill, x)


def blob_per_image(blobs: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor, assign: str) -> torch.Tensor:
    """Which class mask (2×H×W) each image gets: its true class's (the paper's
    oracle), the class the model predicts for the image being defended
    (deployable), or the union of both."""
    if assign == "true_class":
        return blobs[labels]
    if assign == "predicted_class":
        return blobs[preds]
    if assign == "union":
        return (blobs[0] | blobs[1]).expand(len(labels), -1, -1)
    raise ValueError(f"unknown blob assignment {assign!r} (known: {', '.join(ASSIGNMENTS)})")


@dataclass(frozen=True)
class Attack:
    """The repeated attack: method, budget, settings and the seed of its random start."""

    method: str
    eps: float
    settings: AttackSettings = AttackSettings()
    seed: int = 0

    @classmethod
    def from_record(cls, record: dict) -> "Attack":
        """The attack a result was produced with (its recorded parameters)."""
        return cls(record["attack"], record["eps"], AttackSettings(**record["attack_settings"]), record["seed"])

    def __call__(self, model, x, y, project=None, adaptive: bool = False, grad=None) -> torch.Tensor:
        method = self.method
        if adaptive and method not in ("pgd_linf", "pgd_l2"):
            method = "pgd_l2" if method in L2_ATTACKS else "pgd_linf"
        generator = torch.Generator(device=x.device).manual_seed(self.seed)
        return run_attack(model, x, y, method, self.eps, self.settings, grad=grad, project=project,
                          generator=generator)  # fmt: skip


def defend_batch(model, x, x_adv, y, mask_clean, mask_adv, fill, attack: Attack, order: str):
    """S_mod and S_mod-adv of one batch, with the model's probabilities on both.

    mask_clean is the mask of each clean image, mask_adv the mask chosen for the
    attacked branch (they differ only when the mask follows a prediction)."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r} (known: {', '.join(ORDERS)})")
    x_mod = neutralize(x, mask_clean, fill)
    blank = lambda z: neutralize(z, mask_adv, fill)  # noqa: E731
    logits_mod = None
    if order == "attack_then_neutralize":
        x_mod_adv = blank(x_adv)
    elif order == "adaptive":
        x_mod_adv = attack(model, blank(x), y, project=blank, adaptive=True)
    else:
        grad = None
        if starts_from_gradient(attack.method, attack.settings) and torch.equal(mask_clean, mask_adv):
            # the attack starts from x_mod itself: its first forward pass is S_mod's
            # (a quarter of an FGSM evaluation's passes; the same numbers, tested)
            grad, logits_mod = loss_gradient(model, x_mod, y)
        x_mod_adv = attack(model, blank(x), y, grad=grad)
        if order == "neutralize_attack_neutralize":
            x_mod_adv = blank(x_mod_adv)
    with torch.no_grad():
        prob_mod = F.softmax(model(x_mod) if logits_mod is None else logits_mod, 1)
        prob_mod_adv = F.softmax(model(x_mod_adv), 1)
    return x_mod, x_mod_adv, prob_mod, prob_mod_adv


def defense_options(record: dict, batch_size: int, device) -> dict:
    """The keyword arguments of run_defense and run_baselines, from a result's record."""
    return dict(fill=record["fill"], assign=record["assign"], order=record["order"],
                attack=Attack.from_record(record), batch_size=batch_size, device=device)


def fill_value(model, fill, channels: int) -> torch.Tensor:
    """The neutralization value per channel: a number, or `mean` (the training
    images' mean, which the model stores per channel; grey data uses channel 0)."""
    if fill == "mean":
        return model.mean[0, :channels, 0, 0].detach()
    return torch.tensor([float(fill)])


def evaluate_masks(
    model, data: h5py.Group, maps: h5py.File, rows: np.ndarray, masks: torch.Tensor, *,
    fill, assign: str, order: str, attack: Attack, batch_size: int, device, keep=None,
) -> dict[str, np.ndarray]:
    """Neutralize with `masks` (2×H×W, one per class) and re-attack the images at
    positions `rows` of maps.h5; returns per-image probabilities of S_mod and
    S_mod-adv (N×2). `keep(block, x_mod, x_mod_adv, prob_mod, prob_mod_adv)`
    receives every batch (to store the images)."""
    channels = maps["x_adv"].shape[1]
    fill = fill_value(model, fill, channels).to(device)
    masks = masks.to(device)
    index = maps["index"][:]
    probs = {"mod": np.zeros((len(rows), 2), np.float32), "mod_adv": np.zeros((len(rows), 2), np.float32)}
    for block in blocks(len(rows), batch_size):
        at = rows[block]
        x = torch.from_numpy(read_rows(data, index[at])[0]).to(device)
        x_adv = torch.from_numpy(maps["x_adv"][at]).to(device)
        y = torch.from_numpy(maps["label"][at].astype(np.int64)).to(device)
        pred_clean = torch.from_numpy(maps["pred_clean"][at].astype(np.int64)).to(device)
        pred_adv = torch.from_numpy(maps["pred_adv"][at].astype(np.int64)).to(device)
        mask_clean = blob_per_image(masks, y, pred_clean, assign)
        mask_adv = blob_per_image(masks, y, pred_adv, assign)
        x_mod, x_mod_adv, prob_mod, prob_mod_adv = defend_batch(
            model, x, x_adv, y, mask_clean, mask_adv, fill, attack, order
        )
        probs["mod"][block], probs["mod_adv"][block] = prob_mod.cpu().numpy(), prob_mod_adv.cpu().numpy()
        if keep is not None:
            keep(block, x_mod, x_mod_adv, prob_mod, prob_mod_adv)
    return probs


def direction_scores(labels: np.ndarray, probs: dict[str, np.ndarray], cls: int) -> dict:
    """Scores of one source class: accuracy and mean true-class probability per
    image set, the counts behind them, attack success rates, and the paired
    comparisons clean vs mod and adv vs mod_adv (exact McNemar).

    asr_adv: share of the correctly classified clean images the attack flips.
    asr_mod: share of the images still correct after neutralization that the
    repeated attack flips (vulnerability, separated from the damage that
    neutralization does to clean accuracy)."""
    ours = labels == cls
    n = int(ours.sum())
    correct = {s: probs[s][ours].argmax(1) == cls for s in SETS}
    out = {"n_images": n}
    for s in SETS:
        out[f"correct_{s}"] = int(correct[s].sum())
        out[f"score_{s}"] = correct[s].mean() if n else float("nan")
        out[f"prob_{s}"] = float(probs[s][ours][:, cls].mean()) if n else float("nan")
    for name, base, attacked in (("asr_adv", "clean", "adv"), ("asr_mod", "mod", "mod_adv")):
        flipped = int((correct[base] & ~correct[attacked]).sum())
        out[f"{name}_flipped"], out[f"{name}_of"] = flipped, out[f"correct_{base}"]
        out[name] = flipped / out[f"correct_{base}"] if out[f"correct_{base}"] else float("nan")
    for name, first, second in (("clean_vs_mod", "clean", "mod"), ("adv_vs_mod_adv", "adv", "mod_adv")):
        counts = paired_counts(correct[first], correct[second])
        out[f"{name}_only_first"], out[f"{name}_only_second"] = counts["only_first"], counts["only_second"]
        out[f"{name}_mcnemar_p"] = mcnemar_exact(counts["only_first"], counts["only_second"])
    return {k: float(v) if isinstance(v, np.floating) else v for k, v in out.items()}


def scored_parts(calibration: np.ndarray, fit_on: str) -> dict[str, np.ndarray]:
    """Positions scored for the tables ('evaluation') and for choosing θ
    ('calibration'). In-sample (fit_on=test, the paper's way) both are every image."""
    everything = np.arange(len(calibration))
    if fit_on == "test":
        return {"evaluation": everything, "calibration": everything}
    return {"evaluation": np.flatnonzero(~calibration), "calibration": np.flatnonzero(calibration)}


def read_blobs(blob_path) -> tuple[list[str], torch.Tensor]:
    with open_h5(blob_path, "blob") as f:
        classes = [str(c) for c in f.attrs["classes"]]
        return classes, torch.from_numpy(np.stack([f["blob"][c][:] for c in classes]))


def run_defense(
    model, data_path, maps_path, regions_path, blob_path, dst: h5py.Group, *,
    fill, assign: str, order: str, attack: Attack, batch_size: int, device, params: dict,
) -> dict[str, list[dict]]:
    """Into `dst` (a group of defense.h5, one per θ): S_mod, S_mod-adv and their
    probabilities, every image, with the θ's provenance; returns the scores per
    direction of each part: {'evaluation': [...], 'calibration': [...]}."""
    classes, blobs = read_blobs(blob_path)
    dst.attrs.update(provenance(params, [str(p) for p in (data_path, maps_path, regions_path, blob_path)]))
    with open_h5(data_path, "prepared data") as data, open_h5(maps_path, "maps") as maps, \
            open_h5(regions_path, "regions") as regions:
        labels, calibration = check_labels(read_dataset(maps, "label"), maps_path), read_dataset(regions, "calibration")
        check_rows(maps, ["index", "x_adv", "prob_clean", "prob_adv", "pred_clean", "pred_adv"], len(labels))
        check_rows(regions, ["calibration"], len(labels))
        fit_on = str(regions.attrs["fit_on"])
        n, image_shape = len(labels), maps["x_adv"].shape[1:]
        dst["label"], dst["index"], dst["calibration"] = labels, maps["index"][:], calibration
        streams = {name: create_stream(dst, name, n, image_shape, np.float32) for name in ("x_mod", "x_mod_adv")}

        def keep(block, x_mod, x_mod_adv, *_):
            streams["x_mod"][block], streams["x_mod_adv"][block] = x_mod.cpu().numpy(), x_mod_adv.cpu().numpy()
            log.info("neutralize/re-attack: %d/%d images", block.stop, n)

        probs = evaluate_masks(
            model, data["test"], maps, np.arange(n), blobs, fill=fill, assign=assign, order=order,
            attack=attack, batch_size=batch_size, device=device, keep=keep,
        )
        probs |= {"clean": maps["prob_clean"][:], "adv": maps["prob_adv"][:]}
        dst["prob_mod"], dst["prob_mod_adv"] = probs["mod"], probs["mod_adv"]
        parts = {}
        for part, at in scored_parts(calibration, fit_on).items():
            part_probs = {s: p[at] for s, p in probs.items()}
            parts[part] = [
                {"source": name, "target": classes[1 - cls], "part": part, "fit_on": fit_on,
                 "blob_pixels": int(blobs[cls].sum()), "blob_fraction": float(blobs[cls].float().mean()),
                 **direction_scores(labels[at], part_probs, cls)}
                for cls, name in enumerate(classes)
            ]
    return parts
