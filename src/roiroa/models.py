"""Binary classifiers that take images in native pixel space.

Channel copy, resize to the model's input size and normalization happen inside
`forward`, so gradients (FGSM, CAM) flow back to native pixels and every map
has the image's own shape. The copy and resize (`to_input_space`) leave an
image already at input_size with 3 channels as it is, so the same model serves
the reading that attacks the model's input (attack.space: model_input).
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# Convolutional stacks: "vgg16" is the paper's model (configuration D of
# Simonyan & Zisserman, torchvision's cfgs["D"]); the small one is for tests
# and quick looks.
LAYER_CFGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "tiny_vgg": [16, "M", 32, "M"],
}
ARCHS = tuple(LAYER_CFGS)
# cam.layer's value (and path segment layer~default) for the architecture's own CAM layer
DEFAULT_CAM_LAYER = "default"


@dataclass(frozen=True)
class ModelSpec:
    arch: str = "vgg16"  # vgg16, tiny_vgg, or a torchvision classification architecture
    input_size: int = 48
    in_channels: int = 1
    hidden: int = 256  # width of the classifier head's hidden layer (vgg16, tiny_vgg)
    dropout: float = 0.5


def saved_spec(spec: dict) -> ModelSpec:
    """The ModelSpec of a saved model.pt. Those written before the CAM layer became
    a map-stage setting (cam.layer) carry a `cam_layer` key: it is dropped, as
    the layer is no longer part of the model."""
    return ModelSpec(**{k: v for k, v in spec.items() if k != "cam_layer"})


def vgg_layers(cfg: list) -> nn.Sequential:
    """torchvision's `make_layers` (no batch norm): the same modules in the same
    order, hence the same state_dict keys and the same default initialization."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def feature_size(arch: str, input_size: int) -> int:
    """Length of the conv stack's flattened output: its 3×3 convolutions (padding 1)
    keep the side, each 2×2 max-pool halves it, rounding down. Computed, not
    measured with a forward pass: on the meta device (load_model) that pass
    imports torch._dynamo, 1.1 s of every job that loads a model."""
    cfg = LAYER_CFGS[arch]
    side = input_size // 2 ** cfg.count("M")
    if side < 1:
        raise ValueError(f"input_size {input_size} is too small for {arch}: its {cfg.count('M')} max-pools need "
                         f"at least {2 ** cfg.count('M')}")  # fmt: skip
    return [v for v in cfg if v != "M"][-1] * side * side


def _features(arch: str, initialize: bool) -> nn.Sequential:
    if arch not in LAYER_CFGS:
        raise ValueError(f"unknown model arch {arch!r} (known: {', '.join(ARCHS)})")
    if arch == "vgg16" and initialize:
        # A fresh VGG16 takes torchvision's initialization and random draws, so that
        # every model trains as it always has. Imported only here: importing
        # torchvision costs every job that merely loads a checkpoint 1.2 s
        # (torchvision.ops imports torch._dynamo).
        from torchvision.models import vgg16

        return vgg16(weights=None).features
    return vgg_layers(LAYER_CFGS[arch])


class NativeSpaceModel(nn.Module):
    """What every model shares: native pixels in, the channel copy, resize and
    normalization inside `forward`, and the layers Grad-CAM may read, by name."""

    spec: ModelSpec

    def network(self) -> nn.Module:
        """The module whose named_modules() the CAM layer names refer to."""
        raise NotImplementedError

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of images already in model space."""
        raise NotImplementedError

    def cam_layer_named(self, name: str | None) -> nn.Module:
        """The layer Grad-CAM reads: `name` (cam.layer), or the architecture's default
        (None or DEFAULT_CAM_LAYER)."""
        if name in (None, DEFAULT_CAM_LAYER):
            name = default_cam_layer(self.network(), self.spec.arch)
        return find_layer(self.network(), name, self.spec.arch)

    @property
    def cam_layer(self) -> nn.Module:
        """The architecture's default CAM layer (default_cam_layer)."""
        return self.cam_layer_named(None)

    def to_input_space(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels (values in [0, 1]) as the network's input sees them before normalization:
        grey copied to 3 channels, resized to input_size². An image already there is
        returned as it is (no copy, no resampling), so model(x) and
        model(to_input_space(x)) are the same function value."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        size = self.spec.input_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify((self.to_input_space(x) - self.mean) / self.std)

    def set_normalization(self, images: torch.Tensor) -> None:
        """Per-channel mean/std of training images (native space), as buffers."""
        x = images if images.shape[1] == 3 else images.expand(-1, 3, -1, -1)
        self.mean.copy_(x.mean(dim=(0, 2, 3)).view(1, 3, 1, 1))
        self.std.copy_(x.std(dim=(0, 2, 3)).clamp_min(1e-3).view(1, 3, 1, 1))

    def set_fixed_normalization(self, mean, std) -> None:
        """A normalization given in the config (three means, three stds)."""
        self.mean.copy_(torch.tensor(mean, dtype=self.mean.dtype).view(1, 3, 1, 1))
        self.std.copy_(torch.tensor(std, dtype=self.std.dtype).view(1, 3, 1, 1))


def no_inplace_relus(module: nn.Module) -> None:
    """In-place ReLUs would overwrite the activations CAM hooks read."""
    for m in module.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False


class BinaryClassifier(NativeSpaceModel):
    """vgg16 (the paper's) or tiny_vgg: a VGG conv stack and a two-layer head."""

    def __init__(self, spec: ModelSpec, initialize: bool = True):
        super().__init__()
        self.spec = spec
        self.features = _features(spec.arch, initialize)
        no_inplace_relus(self.features)
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.5))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(feature_size(spec.arch, spec.input_size), spec.hidden),
            nn.ReLU(),
            nn.Dropout(spec.dropout),
            nn.Linear(spec.hidden, 2),
        )

    def network(self) -> nn.Module:
        return self

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class TorchvisionClassifier(NativeSpaceModel):
    """A torchvision classification architecture by name, with 2 outputs, no pretrained weights."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        from torchvision.models import get_model

        self.spec = spec
        self.net = get_model(spec.arch, weights=None, num_classes=2)
        no_inplace_relus(self.net)
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.5))

    def network(self) -> nn.Module:
        return self.net

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def torchvision_archs() -> list[str]:
    """torchvision's classification architectures (imports torchvision: about a second)."""
    import torchvision.models

    return torchvision.models.list_models(module=torchvision.models)


def default_cam_layer(network: nn.Module, arch: str) -> str:
    """The layer Grad-CAM reads unless cam.layer names one: the last ReLU of a
    VGG conv stack, ResNet's layer4, RegNet's trunk_output, or the `features` block
    (DenseNet, MobileNet, EfficientNet, ConvNeXt...): each the last spatial feature map."""
    features = getattr(network, "features", None)
    if isinstance(features, nn.Sequential) and arch in ARCHS + tuple(f"vgg{n}" for n in (11, 13, 16, 19)):
        last = [i for i, m in enumerate(features) if isinstance(m, nn.ReLU)][-1]
        return f"features.{last}"
    for name in ("layer4", "trunk_output", "features"):
        if hasattr(network, name):
            return name
    raise ValueError(f"cam.layer: arch {arch} has no default CAM layer; name one "
                     f"(candidates: {', '.join(layer_candidates(network))})")  # fmt: skip


def layer_candidates(network: nn.Module) -> list[str]:
    """Module names a CAM layer may be given by (at most two levels deep)."""
    return [name for name, _ in network.named_modules() if name and name.count(".") <= 1]


def find_layer(network: nn.Module, name: str, arch: str) -> nn.Module:
    try:
        return network.get_submodule(name)
    except AttributeError:
        raise ValueError(f"cam.layer: {name!r} is not a layer of {arch} "
                         f"(candidates: {', '.join(layer_candidates(network))})") from None  # fmt: skip


def build_model(spec: ModelSpec, initialize: bool = True) -> NativeSpaceModel:
    """A new model; `initialize=False` (for weights about to be replaced) skips
    torchvision's VGG16 initialization."""
    if spec.arch in LAYER_CFGS:
        return BinaryClassifier(spec, initialize)
    if spec.arch not in torchvision_archs():
        raise ValueError(f"model.arch: unknown architecture {spec.arch!r} (known: {', '.join(ARCHS)}, or a "
                         f"torchvision classification model: {', '.join(torchvision_archs())})")  # fmt: skip
    return TorchvisionClassifier(spec)


def check_input(model: NativeSpaceModel, where: str) -> None:
    """One image of input_size² must give 2 logits: a ValueError naming `where` (the config
    key) otherwise, before any training (an architecture whose pooling leaves no pixel
    at that size fails here, not in the first batch)."""
    size = model.spec.input_size
    try:
        with torch.no_grad():
            out = model.eval().classify(torch.zeros(1, 3, size, size, device=model.mean.device))
    except RuntimeError as err:
        raise ValueError(f"{where} does not run on a {size}×{size} input (model.input_size): {err}") from None
    if tuple(out.shape) != (1, 2):
        raise ValueError(f"{where} gives outputs of shape {tuple(out.shape)[1:]}; a pair model gives 2")


def save_model(model: NativeSpaceModel, path: str | Path, extra: dict | None = None) -> None:
    """Write the checkpoint atomically (save_torch)."""
    save_torch({"spec": asdict(model.spec), "state_dict": model.state_dict(), **(extra or {})}, path)


def save_torch(payload: dict, path: str | Path) -> None:
    """torch.save `payload` to `path` atomically. It is serialized in memory first:
    torch.save straight to a full disk fails with only "unexpected pos ..."; a plain
    write gives ENOSPC, which atomic_path reports as DiskFullError naming `path`."""
    from .h5io import atomic_path

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(buffer.getbuffer())
        f.flush()
        os.fsync(f.fileno())


def load_model(path: str | Path, device: str | torch.device = "cpu") -> NativeSpaceModel:
    from .runtime import read_checkpoint  # names a missing, cut or foreign file

    checkpoint = read_checkpoint(path, device)
    # Built on the meta device, then given the checkpoint's tensors: the random
    # initialization of every weight (about a second for VGG16, paid by every
    # torch job) is skipped; strict loading still requires every weight.
    with torch.device("meta"):
        model = build_model(saved_spec(checkpoint["spec"]), initialize=False)
    model.load_state_dict(checkpoint["state_dict"], assign=True)
    return model.to(device).eval()
