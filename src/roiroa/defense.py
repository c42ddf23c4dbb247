"""Neutralization and the repeated attack (the paper's Tables II and III)."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import torch
import torch.nn.functional as F

from .attacks import fgsm_step, loss_gradient
from .data import read_rows
from .h5io import create_h5, create_stream

log = logging.getLogger(__name__)

ORDERS = ("neutralize_then_attack", "attack_then_neutralize", "neutralize_attack_neutralize")
ASSIGNMENTS = ("true_class", "predicted_class", "union")
SETS = ("clean", "adv", "mod", "mod_adv")


def neutralize(x: torch.Tensor, mask: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Set the masked pixels (N×H×W) of every channel to `fill` (scalar or per channel)."""
    fill = fill.to(x).reshape(1, -1, 1, 1)
    return torch.where(mask[:, None], fill, x)


def blob_per_image(blobs: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor, assign: str) -> torch.Tensor:
    """Which class blob (2×H×W) each image gets: its true class's (the paper's
    oracle), its predicted class's (deployable), or the union of both."""
    if assign == "true_class":
        return blobs[labels]
    if assign == "predicted_class":
        return blobs[preds]
    if assign == "union":
        return (blobs[0] | blobs[1]).expand(len(labels), -1, -1)
    raise ValueError(f"unknown blob assignment {assign!r} (known: {', '.join(ASSIGNMENTS)})")


def defend_batch(model, x, x_adv, y, mask, fill, eps: float, order: str):
    """S_mod and S_mod-adv for one batch, with the model's logits on both.

    neutralize_then_attack:       FGSM re-run on S_mod (the paper's order)
    attack_then_neutralize:       the blob is blanked out of S_adv (a post-hoc filter)
    neutralize_attack_neutralize: FGSM on S_mod, then the blob is blanked again, so the
                                  attacker gains nothing inside it (it knows the blob)
    """
    x_mod = neutralize(x, mask, fill)
    if order == "attack_then_neutralize":
        with torch.no_grad():
            logits_mod = model(x_mod)
        x_mod_adv = neutralize(x_adv, mask, fill)
    elif order in ("neutralize_then_attack", "neutralize_attack_neutralize"):
        grad, logits_mod = loss_gradient(model, x_mod, y)
        x_mod_adv = fgsm_step(x_mod, grad, eps)
        if order == "neutralize_attack_neutralize":
            x_mod_adv = neutralize(x_mod_adv, mask, fill)
    else:
        raise ValueError(f"unknown order {order!r} (known: {', '.join(ORDERS)})")
    with torch.no_grad():
        logits_mod_adv = model(x_mod_adv)
    return x_mod, x_mod_adv, F.softmax(logits_mod, 1), F.softmax(logits_mod_adv, 1)


class ScoreBoard:
    """Accuracy and mean true-class probability per source class and image set."""

    def __init__(self):
        self.n = np.zeros(2, np.int64)
        self.correct = {s: np.zeros(2, np.int64) for s in SETS}
        self.prob = {s: np.zeros(2, np.float64) for s in SETS}

    def add(self, labels: np.ndarray, probs: dict[str, np.ndarray]):
        for cls in (0, 1):
            chosen = labels == cls
            self.n[cls] += int(chosen.sum())
            for s in SETS:
                p = probs[s][chosen]
                self.correct[s][cls] += int((p.argmax(1) == cls).sum())
                self.prob[s][cls] += float(p[:, cls].sum())

    def direction(self, cls: int) -> dict:
        n = max(int(self.n[cls]), 1)
        out = {"n_images": int(self.n[cls])}
        for s in SETS:
            out[f"score_{s}"] = self.correct[s][cls] / n if self.n[cls] else float("nan")
            out[f"prob_{s}"] = self.prob[s][cls] / n if self.n[cls] else float("nan")
        return out


def run_defense(
    model, data_path, maps_path, blob_path, out, *,
    eps: float, fill, assign: str, order: str, batch_size: int, device: torch.device, params: dict,
) -> list[dict]:
    """defense.h5 (S_mod, S_mod-adv and predictions); returns the scores per direction."""
    fill_value = model.mean[0, :, 0, 0] if fill == "mean" else torch.tensor([float(fill)])
    inputs = [str(p) for p in (data_path, maps_path, blob_path)]
    with h5py.File(data_path, "r") as data, h5py.File(maps_path, "r") as maps, \
            h5py.File(blob_path, "r") as blob_file, create_h5(out, params, inputs) as dst:
        classes = [str(c) for c in blob_file.attrs["classes"]]
        blobs = torch.from_numpy(np.stack([blob_file["blob"][c][:] for c in classes])).to(device)
        labels, rows, n = maps["label"][:], maps["index"][:], len(maps["label"])
        dst["label"], dst["index"] = labels, rows
        image_shape = maps["x_adv"].shape[1:]
        streams = {
            "x_mod": create_stream(dst, "x_mod", n, image_shape, np.float32),
            "x_mod_adv": create_stream(dst, "x_mod_adv", n, image_shape, np.float32),
            "prob_mod": create_stream(dst, "prob_mod", n, (2,), np.float32),
            "prob_mod_adv": create_stream(dst, "prob_mod_adv", n, (2,), np.float32),
        }
        board = ScoreBoard()

        for start in range(0, n, batch_size):
            block = slice(start, min(start + batch_size, n))
            x = torch.from_numpy(read_rows(data["test"], rows[block])[0]).to(device)
            x_adv = torch.from_numpy(maps["x_adv"][block]).to(device)
            y = torch.from_numpy(labels[block]).to(device)
            preds = torch.from_numpy(maps["pred_clean"][block].astype(np.int64)).to(device)
            mask = blob_per_image(blobs, y, preds, assign)
            x_mod, x_mod_adv, prob_mod, prob_mod_adv = defend_batch(model, x, x_adv, y, mask, fill_value, eps, order)
            result = {"x_mod": x_mod, "x_mod_adv": x_mod_adv, "prob_mod": prob_mod, "prob_mod_adv": prob_mod_adv}
            for name, value in result.items():
                streams[name][block] = value.cpu().numpy()
            board.add(labels[block], {
                "clean": maps["prob_clean"][block], "adv": maps["prob_adv"][block],
                "mod": result["prob_mod"].cpu().numpy(), "mod_adv": result["prob_mod_adv"].cpu().numpy(),
            })
            log.info("neutralize/re-attack: %d/%d images", block.stop, n)
        directions = []
        for cls, name in enumerate(classes):
            blob = blobs[cls]
            directions.append({
                "source": name, "target": classes[1 - cls],
                "blob_pixels": int(blob.sum()), "blob_fraction": float(blob.float().mean()),
                **board.direction(cls),
            })
    return directions
