"""Neutralization and the repeated attack (the paper's Tables II and III).

`defend_batch` is the science: one batch's S_mod and S_mod-adv under an
attack order (a threat model: roiroa.orders, docs/attacks.md).
`evaluate_masks` streams a pair's images through it for any per-class masks
(the blob, or a baseline's mask) and returns per-image correctness;
`direction_scores` turns that into the scores, the counts behind the
intervals and the paired tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import h5py
import numpy as np
import torch
import torch.nn.functional as F

from .attacks import AttackSettings, loss_gradient, run_attack, starts_from_gradient
from .data import clean_images
from .h5io import blocks, check_labels, check_rows, create_stream, open_h5, provenance, read_dataset
from .orders import ORDERS
from .stats import mcnemar_exact, paired_counts

log = logging.getLogger(__name__)

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
class Neutralizer:
    """The defense: one mask per class (2×H×W), which class's mask an image
    gets (ASSIGNMENTS) and the fill value."""

    masks: torch.Tensor
    assign: str
    fill: torch.Tensor

    def __call__(self, z: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor) -> torch.Tensor:
        return neutralize(z, blob_per_image(self.masks, labels, preds, self.assign), self.fill)

    def deployed(self, model, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """What the deployed defense feeds the model for the input z: z neutralized
        with the mask of the class the model predicts for z itself (predicted_class;
        one forward pass), of the true class (the paper's oracle) or of both.
        Differentiable in z outside the mask (the mask's choice is not)."""
        if self.assign != "predicted_class":
            return self(z, labels, labels)
        with torch.no_grad():
            preds = model(z).argmax(1)
        return self(z, labels, preds)


class DefendedModel(torch.nn.Module):
    """The model behind the deployed defense, z ↦ model(Neutralizer.deployed(z)):
    what the adaptive attacker attacks end to end. Its gradient is the model's at
    the neutralized image, zero on the blanked pixels (the mask's choice is taken
    as fixed: BPDA, Athalye et al. 2018). `labels`: the images' true classes (the
    true_class assignment needs them); `rows` gives the same for a subset (the
    restarts of run_attack)."""

    def __init__(self, model, neutralizer: Neutralizer, labels: torch.Tensor):
        super().__init__()
        self.model, self.neutralizer, self.labels = model, neutralizer, labels
        self.train(model.training)

    def defend(self, z: torch.Tensor) -> torch.Tensor:
        return self.neutralizer.deployed(self.model, z, self.labels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(self.defend(z))

    def rows(self, rows: torch.Tensor) -> "DefendedModel":
        return DefendedModel(self.model, self.neutralizer, self.labels[rows])


@dataclass(frozen=True)
class Attack:
    """The repeated attack: method, budget, settings and the seed of its random
    starts; `adaptive`: the method and settings of the adaptive order's attacker."""

    method: str
    eps: float
    settings: AttackSettings = AttackSettings()
    seed: int = 0
    adaptive: tuple[str, AttackSettings] | None = None

    @classmethod
    def from_record(cls, record: dict) -> "Attack":
        """The attack a result was produced with (its recorded parameters)."""
        adaptive = None
        if "adaptive_attack" in record:
            adaptive = (record["adaptive_attack"], AttackSettings(
                steps=record["adaptive_steps"], step_size=record["adaptive_step_size"], random_start=True,
                restarts=record["adaptive_restarts"], loss=record["adaptive_loss"]))  # fmt: skip
        settings = AttackSettings.from_record(record["attack_settings"])
        return cls(record["attack"], record["eps"], settings, record["seed"], adaptive)

    def generator(self, device) -> torch.Generator:
        """The random starts of one evaluation: created once and passed to every
        batch, so that each batch and restart draws new numbers."""
        return torch.Generator(device=device).manual_seed(self.seed)

    def __call__(self, model, x, y, grad=None, generator=None) -> torch.Tensor:
        return run_attack(model, x, y, self.method, self.eps, self.settings, grad=grad, generator=generator)

    def adaptively(self, defended: DefendedModel, x, y, generator=None) -> torch.Tensor:
        """The adaptive attacker's input: the attack on the defended model, with restarts."""
        if self.adaptive is None:
            raise ValueError("order adaptive needs the adaptive attack's settings (record keys adaptive_*)")
        method, settings = self.adaptive
        return run_attack(defended, x, y, method, self.eps, settings, generator=generator)


def defend_batch(model, x, x_adv, y, pred_clean, pred_adv, defense: Neutralizer, attack: Attack, order: str,
                 generator: torch.Generator | None = None):
    """S_mod and S_mod-adv of one batch, with the model's probabilities on both.

    S_mod gets the mask of each clean image (pred_clean), the attacked branch
    that of the attacked image (pred_adv: the map stage's attack), except the
    adaptive order, whose mask follows every iterate (DefendedModel); its
    S_mod-adv is the defended image of the attacker's input. Adaptive: an image
    whose S_mod is misclassified is already a success (x is in the ball), so
    only the others are attacked, and S_mod-adv of the rest is S_mod."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r} (known: {', '.join(ORDERS)})")
    x_mod = defense(x, y, pred_clean)
    blank = lambda z: defense(z, y, pred_adv)  # noqa: E731
    logits_mod = None
    if order == "attack_then_neutralize":
        x_mod_adv = blank(x_adv)
    elif order == "adaptive":
        with torch.no_grad():
            logits_mod = model(x_mod)
        left = torch.nonzero(logits_mod.argmax(1) == y).flatten()
        x_mod_adv = x_mod.clone()
        if len(left):
            defended = DefendedModel(model, defense, y).rows(left)
            x_mod_adv[left] = defended.defend(attack.adaptively(defended, x[left], y[left], generator))
    else:
        grad = None
        same_masks = defense.assign != "predicted_class" or torch.equal(pred_clean, pred_adv)
        if same_masks and starts_from_gradient(attack.method, attack.settings):
            # the attack starts from x_mod itself: its first forward pass is S_mod's
            # (a quarter of an FGSM evaluation's passes; the same numbers, tested)
            grad, logits_mod = loss_gradient(model, x_mod, y)
        x_mod_adv = attack(model, blank(x), y, grad=grad, generator=generator)
        if order == "neutralize_attack_neutralize":
            x_mod_adv = blank(x_mod_adv)
    with torch.no_grad():
        prob_mod = F.softmax(model(x_mod) if logits_mod is None else logits_mod, 1)
        prob_mod_adv = F.softmax(model(x_mod_adv), 1)
    return x_mod, x_mod_adv, prob_mod, prob_mod_adv


def defense_options(record: dict, batch_size: int, device) -> dict:
    """The keyword arguments of run_baselines (and, with `orders`, of run_defense)
    from a result's record: one `order`, or every order the record lists."""
    orders = {"orders": record["orders"]} if "orders" in record else {"order": record["order"]}
    return dict(fill=record["fill"], assign=record["assign"], **orders,
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
    positions `rows` of maps.h5 under `order`; returns per-image probabilities of
    S_mod and S_mod-adv (N×2). `keep(block, x_mod, x_mod_adv, prob_mod, prob_mod_adv)`
    receives every batch (to store the images). One generator serves every
    batch: the random starts of each batch and restart differ."""
    channels = maps["x_adv"].shape[1]
    defense = Neutralizer(masks.to(device), assign, fill_value(model, fill, channels).to(device))
    generator = attack.generator(device)
    probs = {"mod": np.zeros((len(rows), 2), np.float32), "mod_adv": np.zeros((len(rows), 2), np.float32)}
    for block in blocks(len(rows), batch_size):
        at = rows[block]
        x = torch.from_numpy(clean_images(data, maps, at)).to(device)
        x_adv = torch.from_numpy(maps["x_adv"][at]).to(device)
        y = torch.from_numpy(maps["label"][at].astype(np.int64)).to(device)
        pred_clean = torch.from_numpy(maps["pred_clean"][at].astype(np.int64)).to(device)
        pred_adv = torch.from_numpy(maps["pred_adv"][at].astype(np.int64)).to(device)
        x_mod, x_mod_adv, prob_mod, prob_mod_adv = defend_batch(
            model, x, x_adv, y, pred_clean, pred_adv, defense, attack, order, generator
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
    fill, assign: str, orders: list[str], attack: Attack, batch_size: int, device, params: dict,
) -> dict[str, dict[str, list[dict]]]:
    """Into `dst` (a group of defense.h5, one per θ): S_mod and its probabilities,
    and S_mod-adv and its probabilities under each order (a subgroup per order),
    every image, with the θ's provenance; returns the scores per direction of
    each order and part: {order: {'evaluation': [...], 'calibration': [...]}},
    every row with its `order`."""
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
        seen = {"clean": maps["prob_clean"][:], "adv": maps["prob_adv"][:]}
        x_mod = create_stream(dst, "x_mod", n, image_shape, np.float32)
        by_order = {}
        for i, order in enumerate(orders):
            x_mod_adv = create_stream(dst.create_group(order), "x_mod_adv", n, image_shape, np.float32)

            def keep(block, mod, mod_adv, *_, first=i == 0, x_mod_adv=x_mod_adv, order=order):
                if first:  # S_mod is the same under every order
                    x_mod[block] = mod.cpu().numpy()
                x_mod_adv[block] = mod_adv.cpu().numpy()
                log.info("neutralize/re-attack (%s): %d/%d images", order, block.stop, n)

            probs = evaluate_masks(
                model, data["test"], maps, np.arange(n), blobs, fill=fill, assign=assign, order=order,
                attack=attack, batch_size=batch_size, device=device, keep=keep,
            ) | seen
            if i == 0:
                dst["prob_mod"] = probs["mod"]
            dst[order]["prob_mod_adv"] = probs["mod_adv"]
            by_order[order] = {
                part: [
                    {"source": name, "target": classes[1 - cls], "part": part, "fit_on": fit_on, "order": order,
                     "blob_pixels": int(blobs[cls].sum()), "blob_fraction": float(blobs[cls].float().mean()),
                     **direction_scores(labels[at], {s: p[at] for s, p in probs.items()}, cls)}
                    for cls, name in enumerate(classes)
                ]
                for part, at in scored_parts(calibration, fit_on).items()
            }
    return by_order
