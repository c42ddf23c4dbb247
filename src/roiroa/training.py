"""Training of one binary classifier per class pair."""

from __future__ import annotations

import contextlib
import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .models import NativeSpaceModel

log = logging.getLogger(__name__)


class TrainingDiverged(ArithmeticError):
    """The training loss became NaN or infinite: the model is useless, and no
    output (model.pt, train.json) may be written from it."""


@torch.no_grad()
def predict(model: NativeSpaceModel, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
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


def mixed_precision(device: torch.device, precision: str):
    """(autocast context factory, gradient scaler or None) for a training precision."""
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if precision == "fp32" or device.type != "cuda":
        return contextlib.nullcontext, None
    if precision not in dtypes:
        raise ValueError(f"unknown precision {precision!r} (known: fp32, bf16, fp16)")
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    return (lambda: torch.autocast("cuda", dtype=dtypes[precision])), scaler


def train_model(
    model: NativeSpaceModel,
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
    precision: str = "fp32",
    channels_last: bool = False,
    pair: str = "",
    normalize: bool = True,
) -> dict:
    """Adam on cross-entropy; returns the per-epoch history.

    `labels` are binary (0 = first class of the pair, 1 = second). The whole
    training set lives on the device as one tensor; a batch is one index_select,
    and the running loss and accuracy stay on the device (no host sync per batch,
    only at the four log points of an epoch). `precision` bf16/fp16 autocasts the
    forward pass on CUDA (ignored on the CPU). A loss that becomes NaN or infinite
    raises TrainingDiverged naming `pair` and `seed` (checked at the log points,
    on the running sum, which is not finite once any batch's loss is not).
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels)
    if normalize:  # else the normalization the config fixed (model.normalization)
        model.set_normalization(x)
    x, y = x.to(device), y.to(device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    autocast, scaler = mixed_precision(device, precision)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n_batches = (len(y) + batch_size - 1) // batch_size
    history = {"loss": [], "train_accuracy": [], "eval_accuracy": [], "seconds": []}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(y), generator=generator).to(device)
        # float64 accumulators: the same sums as Python floats, without a sync per batch
        total_loss = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for b in range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            loss = loss.detach()
            total_loss += loss.double() * len(idx)
            correct += (logits.detach().argmax(1) == yb).sum()
            if (b + 1) % max(1, n_batches // 4) == 0 or b + 1 == n_batches:
                log.info("epoch %d/%d batch %d/%d loss %.4f", epoch, epochs, b + 1, n_batches, float(loss))
                if not math.isfinite(float(total_loss)):
                    raise TrainingDiverged(
                        f"training of pair {pair or '?'}, seed {seed} diverged: the loss is "
                        f"{float(loss) if not math.isfinite(float(loss)) else float(total_loss)} by epoch {epoch}, "
                        f"batch {b + 1}/{n_batches} (lr {lr:g}); no model is saved. Lower model.lr "
                        f"(or the dataset's model.lr) and rerun"
                    )
        history["loss"].append(float(total_loss) / len(y))
        history["train_accuracy"].append(int(correct) / len(y))
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
