"""model.pretrained: a torchvision state dict file starts the training of roiroa's
model (its features), a file that does not fit is a clear error, and ImageNet's
weights offline say where torchvision looks and what to do instead."""

from __future__ import annotations

import hashlib
import socket

import numpy as np
import pytest
import torch

from conftest import ROOT
from roiroa.config import ConfigError, validate_config
from roiroa.models import ModelSpec, build_model
from roiroa.pretrained import (IMAGENET_NORMALIZATION, PretrainedError, imagenet_state, input_normalization,
                               load_pretrained)
from roiroa.training import train_model


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """torchvision's VGG16 state dict (random weights: the format of the ImageNet file), saved."""
    from torchvision.models import vgg16

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "vgg16.pth"
    torch.save(vgg16(weights=None).state_dict(), path)
    return path


def test_a_vgg16_file_gives_the_features_their_initial_weights(vgg16_file):
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="vgg16", input_size=32))
    record = load_pretrained(model, {"pretrained": str(vgg16_file)})
    saved = torch.load(vgg16_file, weights_only=True)
    features = {k: v for k, v in model.state_dict().items() if k.startswith("features.")}
    assert features and all(torch.equal(v, saved[k]) for k, v in features.items())
    assert record == {"pretrained": str(vgg16_file), "sha256": hashlib.sha256(vgg16_file.read_bytes()).hexdigest(),
                      "loaded_tensors": len(features)}  # torchvision's classifier is not roiroa's head
    # one training step moves them from there
    images = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    train_model(model, images, np.array([0, 1, 0, 1]), epochs=1, batch_size=4, lr=1e-4, seed=0,
                device=torch.device("cpu"))
    first = model.state_dict()["features.0.weight"]
    assert 0 < (first - saved["features.0.weight"]).abs().max() < 1e-3


def test_a_file_that_does_not_fit_lists_its_keys(vgg16_file, tmp_path):
    saved = torch.load(vgg16_file, weights_only=True)
    wrapped = tmp_path / "data_parallel.pt"  # nn.DataParallel's "module." prefix
    torch.save({f"module.{k}": v for k, v in saved.items()}, wrapped)
    model = build_model(ModelSpec(arch="vgg16", input_size=32))
    with pytest.raises(PretrainedError, match=rf"model.pretrained: {wrapped} does not fit model.arch vgg16: missing "
                       r"features.0.weight, .* and 21 more; unexpected module.features.0.weight, .*"):
        load_pretrained(model, {"pretrained": str(wrapped)})
    tiny = build_model(ModelSpec(arch="tiny_vgg", input_size=16))
    shapes = r"of another shape features.0.weight \(64, 3, 3, 3\) \(here \(16, 3, 3, 3\)\)"
    with pytest.raises(PretrainedError, match=shapes):
        load_pretrained(tiny, {"pretrained": str(vgg16_file)})
    not_weights = tmp_path / "list.pt"
    torch.save([1, 2], not_weights)
    with pytest.raises(PretrainedError, match=r"holds a list, not a state dict"):
        load_pretrained(tiny, {"pretrained": str(not_weights)})


def offline() -> bool:
    try:
        socket.create_connection(("download.pytorch.org", 443), timeout=3).close()
    except OSError:
        return True
    return False


def test_imagenet_offline_names_the_cache_file_and_the_file_alternative(tmp_path, monkeypatch):
    if not offline():
        pytest.skip("download.pytorch.org is reachable: this would download VGG16's 528 MB")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache
    cached = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    with pytest.raises(PretrainedError, match=rf"copy that file to {cached} .* set model.pretrained: <that file>"):
        imagenet_state("vgg16")


def test_pretrained_weights_take_imagenet_s_normalization():
    assert input_normalization({}) is None  # the training images' statistics, as before
    assert input_normalization({"pretrained": "imagenet"}) == IMAGENET_NORMALIZATION
    own = {"mean": [0.5] * 3, "std": [0.2] * 3}
    assert input_normalization({"pretrained": "w.pt", "normalization": own}) == own


@pytest.mark.parametrize("model,message", [
    ({"pretrained": "missing.pt"}, r"model.pretrained: missing.pt is not a file"),
    ({"arch": "tiny_vgg", "input_size": 16, "pretrained": "imagenet"}, r"no ImageNet weights of tiny_vgg"),
    ({"pretrained": "imagenet", "checkpoint": str(ROOT / "config/schema.yaml")},
     r"set one of model.pretrained and model.checkpoint"),
])
def test_the_config_check_names_the_key(model, message):
    config = {"datasets": {"digits": {"pairs": [[0, 1]]}}, "model": model}
    with pytest.raises(ConfigError, match=message):
        validate_config(config)
