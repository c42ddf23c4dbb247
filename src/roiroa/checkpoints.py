"""A model of yours instead of training (config `model.checkpoint`).

The file is a state dict of the configured architecture (what
`torch.save(model.state_dict(), path)` writes; for vgg16 and tiny_vgg the keys
of roiroa's own model, `features.*` and `head.*`; for a torchvision
architecture torchvision's keys, with 2 outputs), or a model.pt that roiroa
wrote. Output 0 is the first class of the pair. Its input side is
`model.input_size` and its normalization `model.normalization` (none: the
network takes [0, 1] pixels). Every mismatch is an error naming the key and
the file, raised before the map stage.

TorchScript files are refused: Grad-CAM reads a layer's activations through a
forward hook, which TorchScript modules do not run.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from .models import ModelSpec, NativeSpaceModel, build_model, check_input, saved_spec


class CheckpointError(ValueError):
    """The checkpoint does not fit the config; the message names the key and file."""


def is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())


def last_layer_key(state: dict) -> str:
    """The weight of the model's output layer (the last 2-D weight)."""
    return [k for k, v in state.items() if k.endswith("weight") and v.ndim == 2][-1]


def import_checkpoint(path: str | Path, spec: ModelSpec, normalization: dict | None = None) -> NativeSpaceModel:
    """The model in `path`, checked against the config (spec: arch, input_size)."""
    path = Path(path)
    where = f"model.checkpoint: {path}"
    if not path.is_file():
        raise CheckpointError(f"{where} does not exist")
    if is_torchscript(path):
        raise CheckpointError(
            f"{where} is a TorchScript module: Grad-CAM reads a layer's activations through a forward hook, "
            f"which TorchScript does not run. Save the weights instead, torch.save(model.state_dict(), path), "
            f"of a model.arch roiroa can build (vgg16, tiny_vgg, or a torchvision architecture by name)"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, or one that pickles code
        raise CheckpointError(f"{where} is not a state dict torch.load(weights_only=True) reads: {err}") from None
    if isinstance(loaded, dict) and "spec" in loaded and "state_dict" in loaded:  # a model.pt of roiroa
        own = saved_spec(loaded["spec"])
        if own.arch != spec.arch or own.input_size != spec.input_size:
            raise CheckpointError(
                f"{where} is a roiroa {own.arch} model for input_size {own.input_size}; the config says "
                f"model.arch {spec.arch}, model.input_size {spec.input_size}"
            )
        spec = saved_spec(loaded["spec"])
        state = loaded["state_dict"]
    elif isinstance(loaded, dict) and loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        state = loaded
    else:
        raise CheckpointError(f"{where} holds a {type(loaded).__name__}, not a state dict (name → tensor)")
    model = build_model(spec, initialize=False)
    target = model.network()
    expected = {k: v for k, v in target.state_dict().items() if k not in ("mean", "std")}
    check_keys(where, spec, state, expected)
    target.load_state_dict(state, strict=False)
    if normalization:
        model.set_fixed_normalization(normalization["mean"], normalization["std"])
    elif not {"mean", "std"} <= set(state):  # a roiroa model brings its own; else [0, 1] pixels go in
        model.set_fixed_normalization([0.0] * 3, [1.0] * 3)
    model.eval()
    check_input(model, where)
    return model


def check_keys(where: str, spec: ModelSpec, state: dict, expected: dict) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected) - {"mean", "std"})
    if missing or unexpected:
        raise CheckpointError(
            f"{where} is not a state dict of model.arch {spec.arch}: "
            + (f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}" if missing else "")
            + ("; " if missing and unexpected else "")
            + (f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}" if unexpected else "")
        )
    output = last_layer_key(expected)
    if state[output].shape[0] != expected[output].shape[0]:
        raise CheckpointError(
            f"{where} has {state[output].shape[0]} outputs ({output} is {tuple(state[output].shape)}): a pair "
            f"model has 2 (output 0 = the pair's first class). Save a two-class model"
        )
    wrong = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in expected.items() if state[k].shape != v.shape]
    if wrong:
        key, got, want = wrong[0]
        raise CheckpointError(
            f"{where}: {key} is {got} where model.arch {spec.arch} at model.input_size {spec.input_size} "
            f"has {want}: the checkpoint was made for another input size (set model.input_size to its own) "
            f"or another architecture"
        )
