"""Rule train: data.h5 → model.pt and train.json for one class pair."""

import logging
import platform
from pathlib import Path

import torch

from roiroa import __version__
from roiroa.checkpoints import import_checkpoint
from roiroa.data import read_classes, read_pair
from roiroa.models import ModelSpec, build_model, check_input, save_model
from roiroa.pretrained import input_normalization, load_pretrained
from roiroa.runtime import host_description, job_environment, start_torch_job, write_json
from roiroa.training import accuracy, predict, train_model

params = snakemake.params
device = start_torch_job(snakemake.log[0], snakemake.threads, params.device, params.seed, outputs=snakemake.output)
settings = params.model
# the training state after each epoch: a killed job's rerun continues from it
progress = Path(snakemake.output.model).with_name("train.progress.pt")
classes = tuple(params.classes)
names = [read_classes(snakemake.input.data)[c] for c in classes]
images, labels = read_pair(snakemake.input.data, "train", classes)
test_images, test_labels = read_pair(snakemake.input.data, "test", classes)
logging.info("pair %s: %d training and %d test images", names, len(labels), len(test_labels))

spec = ModelSpec(
    arch=settings["arch"],
    input_size=settings["input_size"],
    in_channels=images.shape[1],
    hidden=settings["hidden"],
    dropout=settings["dropout"],
)
pretrained = None  # what train.json records of model.pretrained
if settings.get("checkpoint"):  # a model of yours: checked against the config, not trained
    model = import_checkpoint(settings["checkpoint"], spec, settings.get("normalization"))
    model.to(device)
    test_accuracy = accuracy(predict(model, torch.from_numpy(test_images)), torch.from_numpy(test_labels))
    history = {"loss": [], "train_accuracy": [], "eval_accuracy": [test_accuracy], "seconds": []}
    logging.info("checkpoint %s: test accuracy %.4f", settings["checkpoint"], test_accuracy)
else:
    model = build_model(spec)
    # too small an input_size for the arch fails here, before training (cam.layer is checked at plan time)
    check_input(model, f"model.arch {spec.arch}")
    pretrained = load_pretrained(model, settings)
    fixed = input_normalization(settings)  # else the training images' statistics
    if fixed:
        model.set_fixed_normalization(fixed["mean"], fixed["std"])
    history = train_model(
        model,
        images,
        labels,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        lr=settings["lr"],
        seed=params.seed,
        device=device,
        eval_images=test_images,
        eval_labels=test_labels,
        precision=settings["precision"],
        channels_last=settings["channels_last"],
        normalize=not fixed,
        pair=snakemake.wildcards.pair,
        progress_path=progress,
    )
save_model(model, snakemake.output.model, extra={"classes": names})
write_json(
    snakemake.output.summary,
    {
        "dataset": snakemake.wildcards.dataset,
        "classes": names,
        "seed": params.seed,
        "model": settings,
        "n_train": len(labels),
        "n_test": len(test_labels),
        "checkpoint": settings.get("checkpoint"),
        "pretrained": pretrained,
        "train_accuracy": history["train_accuracy"][-1] if history["train_accuracy"] else None,
        "test_accuracy": history["eval_accuracy"][-1],
        "history": history,
        "device": str(device),
        "host": host_description(),
        "environment": job_environment(),
        "versions": {"roiroa": __version__, "torch": torch.__version__, "python": platform.python_version()},
    },
)
progress.unlink(missing_ok=True)  # the outputs are complete
