"""Training of one binary classifier per class pair."""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
import torch.nn.functional as F

from .models import BinaryClassifier

log = logging.getLogger(__name__)


@torch.no_grad()
def predict(model: BinaryClassifier, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Class probabilities, batched; images may live on the CPU."""
    device = next(model.parameters()).device
    model.eval()
    out = [
        F.softmax(model(images[i : i + batch_size].to(device)), dim=1).cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0, 2)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probs.argmax(1) == labels).float().mean()) if len(labels) else float("nan")


def train_model(
    model: BinaryClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    eval_images: np.ndarray | None = None,
    eval_labels: np.ndarray | None = None,
) -> dict:
    """Adam on cross-entropy; returns the per-epoch history.

    `labels` are binary (0 = first class of the pair, 1 = second).
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)
    model.set_normalization(x)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n_batches = (len(y) + batch_size - 1) // batch_size
    history = {"loss": [], "train_accuracy": [], "eval_accuracy": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        total_loss, correct = 0.0, 0
        for b in range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx].to(device), y[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            total_loss += float(loss) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            if (b + 1) % max(1, n_batches // 4) == 0 or b + 1 == n_batches:
                log.info("epoch %d/%d batch %d/%d loss %.4f", epoch, epochs, b + 1, n_batches, float(loss))
        history["loss"].append(total_loss / len(y))
        history["train_accuracy"].append(correct / len(y))
        if eval_images is not None:
            probs = predict(model, torch.from_numpy(eval_images))
            history["eval_accuracy"].append(accuracy(probs, torch.from_numpy(eval_labels)))
        history["seconds"].append(round(time.perf_counter() - start, 2))
        log.info(
            "epoch %d/%d done: loss %.4f train acc %.4f%s (%.1f s)",
            epoch, epochs, history["loss"][-1], history["train_accuracy"][-1],
            f" test acc {history['eval_accuracy'][-1]:.4f}" if history["eval_accuracy"] else "",
            history["seconds"][-1],
        )
    model.eval()
    return history
