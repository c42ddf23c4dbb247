"""model.pretrained: the weights a model starts its training from.

- null (the default): random initialization, torchvision's for vgg16, as always.
- `imagenet`: torchvision's ImageNet weights of the architecture (vgg16:
  VGG16_Weights.IMAGENET1K_V1; another torchvision architecture: its default
  weights), fetched by torchvision into its cache where there is internet.
- a path: a state dict file (.pt/.pth) of the torchvision architecture, e.g.
  torch.save(torchvision.models.vgg16(weights="IMAGENET1K_V1").state_dict(), path).

For vgg16 and tiny_vgg the file's `features` must fit roiroa's (its own two-layer
head is not torchvision's classifier and starts random); for another torchvision
architecture every weight but the output layer's (2 outputs here, 1000 there).
Every other key whose name and shape match roiroa's model is loaded too. A file
that does not fit is an error listing the keys. With pretrained weights the
input is normalized as in their training, ImageNet's mean and std, unless
model.normalization says otherwise (docs/own_data.md says why).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import torch

from .checkpoints import last_layer_key
from .config import IMAGENET
from .models import LAYER_CFGS, NativeSpaceModel

# torchvision's ImageNet transforms (VGG16_Weights.IMAGENET1K_V1.transforms())
IMAGENET_NORMALIZATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class PretrainedError(ValueError):
    """model.pretrained cannot be loaded; the message names the file or weights and why."""


def input_normalization(settings: dict) -> dict | None:
    """The fixed input normalization of a model: model.normalization, else ImageNet's
    for pretrained weights; None: the training images' statistics."""
    if settings.get("normalization"):
        return settings["normalization"]
    return IMAGENET_NORMALIZATION if settings.get("pretrained") else None


def load_pretrained(model: NativeSpaceModel, settings: dict) -> dict | None:
    """Load model.pretrained into `model` (in place); what train.json records of it."""
    value = settings.get("pretrained")
    if not value:
        return None
    if value == IMAGENET:
        state, record = imagenet_state(model.spec.arch)
    else:
        state, record = file_state(Path(value))
    record["loaded_tensors"] = load_matching(model, state, f"model.pretrained: {value}")
    return record


def imagenet_weights(arch: str):
    """torchvision's ImageNet weights enum member of `arch`."""
    from torchvision.models import VGG16_Weights, get_model_weights

    if arch == "vgg16":
        return VGG16_Weights.IMAGENET1K_V1
    if arch in LAYER_CFGS:
        raise PretrainedError(f"model.pretrained: imagenet: torchvision has no ImageNet weights of {arch}")
    return get_model_weights(arch).DEFAULT


def imagenet_state(arch: str) -> tuple[dict, dict]:
    weights = imagenet_weights(arch)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)
    try:
        state = weights.get_state_dict(progress=False, check_hash=True)
    except OSError as err:  # URLError (offline) is an OSError
        raise PretrainedError(
            f"model.pretrained: imagenet: torchvision could not fetch {weights} from {weights.url} ({err}). "
            f"Without internet, copy that file to {cached} (torchvision's cache; $TORCH_HOME moves it), or "
            f"save the weights where there is internet, torch.save(torchvision.models.{arch}(weights="
            f"\"{weights.name}\").state_dict(), \"{arch}.pth\"), and set model.pretrained: <that file>"
        ) from None
    return state, {"pretrained": IMAGENET, "weights": f"{type(weights).__name__}.{weights.name}", "url": weights.url}


def file_state(path: Path) -> tuple[dict, dict]:
    where = f"model.pretrained: {path}"
    if not path.is_file():
        raise PretrainedError(f"{where} is not a file (relative to {Path.cwd()})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, or one that pickles code
        raise PretrainedError(f"{where} is not a state dict torch.load(weights_only=True) reads: {err}") from None
    if not (isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values())):
        raise PretrainedError(f"{where} holds a {type(state).__name__}, not a state dict (name → tensor)")
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return state, {"pretrained": str(path), "sha256": sha256}


def required_keys(model: NativeSpaceModel, own: dict) -> list[str]:
    """The weights the file must provide: a VGG stack's features (roiroa's head is its
    own), else every weight but the output layer's."""
    if model.spec.arch in LAYER_CFGS:
        return [k for k in own if k.startswith("features.")]
    output = last_layer_key(own).removesuffix("weight")
    return [k for k in own if not k.startswith(output)]


def load_matching(model: NativeSpaceModel, state: dict, where: str) -> int:
    """Copy the file's tensors into the model's network where name and shape match;
    PretrainedError listing the keys when a required one is missing or misshapen."""
    network = model.network()
    own = {k: v for k, v in network.state_dict().items() if k not in ("mean", "std")}
    required = required_keys(model, own)
    missing = [k for k in required if k not in state]
    misshapen = [k for k in required if k in state and state[k].shape != own[k].shape]
    if missing or misshapen:
        unexpected = [k for k in state if k not in own]
        raise PretrainedError(
            f"{where} does not fit model.arch {model.spec.arch}: "
            + "; ".join(part for part in (
                _keys("missing", missing),
                _keys("of another shape", [f"{k} {tuple(state[k].shape)} (here {tuple(own[k].shape)})"
                                           for k in misshapen]),
                _keys("unexpected", unexpected),
            ) if part)
            + ". It must be a state dict of torchvision's architecture, keys as its state_dict() names them"
        )  # fmt: skip
    matching = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    network.load_state_dict(matching, strict=False)
    return len(matching)


def _keys(label: str, keys: list[str]) -> str:
    if not keys:
        return ""
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    return f"{label} {', '.join(keys[:5])}{more}"
