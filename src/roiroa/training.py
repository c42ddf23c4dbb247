"""Training of one binary classifier per class pair."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .environment import float_path
from .models import NativeSpaceModel, save_torch

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
    progress_path: str | Path | None = None,
) -> dict:
    """Adam on cross-entropy; returns the per-epoch history.

    `labels` are binary (0 = first class of the pair, 1 = second). The whole
    training set lives on the device as one tensor; a batch is one index_select,
    and the running loss and accuracy stay on the device (no host sync per batch,
    only at the four log points of an epoch). `precision` bf16/fp16 autocasts the
    forward pass on CUDA (ignored on the CPU). A loss that becomes NaN or infinite
    raises TrainingDiverged naming `pair` and `seed` (checked at the log points,
    on the running sum, which is not finite once any batch's loss is not).

    `progress_path`: after every epoch the whole training state (weights, Adam's
    moments, both generators, the history) is written there, and a training that
    finds a matching file continues after its last finished epoch, to the same
    weights as an uninterrupted run (a killed job loses at most one epoch). Only on
    the same kind of machine (`environment.float_path`): a model trained partly on
    one CPU and partly on another could not be replayed on either, so a progress
    file from another machine is started over. The history's `resumed_after_epochs`
    says where it continued; the caller removes the file once its outputs are written.
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
    fingerprint = machine = progress = None
    if progress_path:  # a hash of the initial weights and the data: only when progress is kept
        machine = float_path(str(device))
        fingerprint = progress_fingerprint(model, x, y, seed=seed, lr=lr, batch_size=batch_size,
                                           precision=precision, channels_last=channels_last)
        progress = read_progress(progress_path, fingerprint, epochs, machine)
    done = progress["epoch"] if progress else 0  # epochs finished by an earlier, killed run
    if progress:
        model.load_state_dict(progress["model"])
        optimizer.load_state_dict(progress["optimizer"])
        generator.set_state(progress["generator"])
        restore_global_rng(progress["global_rng"])
        history = progress["history"]
        history.setdefault("resumed_after_epochs", []).append(done)
        log.info("resuming from %s after epoch %d (of %d)", progress_path, done, epochs)
    # seconds count the training, not the pause: a resumed run continues the clock
    start = time.perf_counter() - (history["seconds"][-1] if history["seconds"] else 0.0)
    for epoch in range(done + 1, epochs + 1):
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
        if progress_path:
            write_progress(progress_path, fingerprint, machine, epoch, model, optimizer, generator, history)
        log.info(
            "epoch %d/%d done: loss %.4f train acc %.4f%s (%.1f s)",
            epoch, epochs, history["loss"][-1], history["train_accuracy"][-1],
            f" test acc {history['eval_accuracy'][-1]:.4f}" if history["eval_accuracy"] else "",
            history["seconds"][-1],
        )
    model.eval()
    return history


def progress_fingerprint(model, x: torch.Tensor, y: torch.Tensor, **settings) -> str:
    """What a progress file must match to be continued: the initial weights (arch,
    seed, normalization), the training data and the settings that change a step.
    The number of epochs is left out: a longer training continues a shorter one."""
    digest = hashlib.sha256(repr(sorted(settings.items())).encode())
    for tensor in [*model.state_dict().values(), x, y]:
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def global_rng_state() -> dict:
    """torch's global generators (dropout draws from them)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"cpu": torch.random.get_rng_state(), "cuda": cuda}


def restore_global_rng(state: dict) -> None:
    torch.random.set_rng_state(state["cpu"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def write_progress(path, fingerprint, machine, epoch, model, optimizer, generator, history) -> None:
    """The training state after `epoch`, renamed into place when complete (a kill
    while writing leaves the previous epoch's file)."""
    save_torch(
        {
            "fingerprint": fingerprint, "machine": machine, "epoch": epoch, "model": model.state_dict(),
            "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
            "global_rng": global_rng_state(), "history": history,
        },
        path,
    )


def read_progress(path, fingerprint: str, epochs: int, machine: dict) -> dict | None:
    """The progress file at `path` when it continues this training, else None
    (a file of other data or settings, of more than `epochs` epochs, from another
    kind of machine (`machine`: float_path), or an unreadable one, is started over)."""
    if not Path(path).exists():
        return None
    try:
        progress = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a cut file: only the epochs since the last write are lost
        log.warning("progress file %s is unreadable (%s): training from the start", path, error)
        return None
    if progress.get("fingerprint") != fingerprint:
        log.warning("progress file %s belongs to other data or settings: training from the start", path)
        return None
    if progress["epoch"] > epochs:
        log.warning("progress file %s is past epoch %d: training from the start", path, epochs)
        return None
    written_on = progress.get("machine") or {}  # none: a file of a version that did not record it
    if written_on != machine:
        differ = sorted(k for k in machine if written_on.get(k) != machine[k])
        log.warning("progress file %s was written on another kind of machine (%s: %s, here %s): a model "
                    "trained partly on each could not be replayed on either, training from the start", path,
                    ", ".join(differ), [written_on.get(k) for k in differ], [machine[k] for k in differ])  # fmt: skip
        return None
    return progress
