"""Your own model (issue 19): a torchvision architecture by name with its CAM
layer, and a checkpoint used instead of training, each checked against the
config with errors that name the key."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM

from roiroa.cam import class_activation_maps
from roiroa.checkpoints import CheckpointError, import_checkpoint
from roiroa.config import ConfigError, validate_config
from roiroa.models import ModelSpec, build_model, default_cam_layer, load_model, save_model


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)  # at 128 px layer4's map is 4×4 (at 32 px one pixel: a constant CAM)
    return build_model(ModelSpec(arch="resnet18", input_size=128)).eval()


def test_resnet18_cam_layer_defaults_to_layer4_and_matches_pytorch_grad_cam(resnet):
    assert default_cam_layer(resnet.network(), "resnet18") == "layer4"
    assert resnet.cam_layer is resnet.net.layer4
    torch.manual_seed(1)
    x = torch.rand(4, 3, 20, 20)
    ours = class_activation_maps(resnet, x, torch.zeros(4, dtype=torch.long)).numpy()
    with GradCAM(model=resnet, target_layers=[resnet.cam_layer]) as peer:
        theirs = peer(x, targets=None)  # the predicted class, as ours
    assert ours.shape == theirs.shape == (4, 20, 20) and ours.max() == 1.0
    assert np.abs(ours - theirs).max() < 1e-5


def test_a_named_cam_layer_is_used_and_an_unknown_one_lists_candidates():
    model = build_model(ModelSpec(arch="resnet18", input_size=32))
    assert model.cam_layer_named("layer3.1") is model.net.layer3[1]
    assert model.cam_layer_named("default") is model.cam_layer is model.net.layer4
    vgg = build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=4))
    assert vgg.cam_layer is vgg.features[4]  # the last ReLU of the conv stack, as before
    with pytest.raises(ValueError, match=r"cam.layer: 'layer9' is not a layer of resnet18 \(candidates: "
                                         r"conv1, bn1, relu, maxpool, layer1, layer1.0, .*layer4.1, avgpool, fc\)"):
        model.cam_layer_named("layer9")


def test_cam_layer_is_checked_at_the_start_and_model_cam_layer_says_where_it_went():
    config = {"datasets": {"digits": {"pairs": [[0, 1]]}}, "model": {"arch": "tiny_vgg", "input_size": 16},
              "cam": {"layer": "head.9"}}
    with pytest.raises(ConfigError, match=r"config key cam.layer: 'head.9' is not a layer of tiny_vgg "
                                          r"\(candidates: .*features.4.*\) \(model.arch of dataset digits\)"):
        validate_config(config)
    config["cam"]["layer"] = "features.1"
    validate_config(config)
    moved = {"datasets": {"digits": {"pairs": [[0, 1]], "model": {"cam_layer": "layer2"}}}}
    with pytest.raises(ConfigError, match=r"config key datasets.digits.model.cam_layer: the CAM layer is now "
                                          r"cam.layer .*`cam: \{layer: layer2\}`"):
        validate_config(moved)


def test_an_input_size_too_small_for_the_arch_is_named_before_training():
    from roiroa.models import check_input

    model = build_model(ModelSpec(arch="squeezenet1_0", input_size=16))
    with pytest.raises(ValueError, match=r"model.arch squeezenet1_0 does not run on a 16×16 input "
                                         r"\(model.input_size\): .*Output size is too small"):
        check_input(model, "model.arch squeezenet1_0")
    check_input(build_model(ModelSpec(arch="squeezenet1_0", input_size=64)), "model.arch squeezenet1_0")


def test_unknown_arch_is_named_at_the_start():
    config = {"datasets": {"digits": {"pairs": [[0, 1]]}}, "model": {"arch": "resnet17"}}
    with pytest.raises(ConfigError, match=r"config key model.arch: unknown architecture 'resnet17' \(known: vgg16, "
                                          r"tiny_vgg, or a torchvision classification model: .*resnet18"):
        validate_config(config)


def test_a_state_dict_checkpoint_is_imported_and_checked(tmp_path, resnet):
    path = tmp_path / "mine.pt"
    torch.save(resnet.net.state_dict(), path)
    spec = ModelSpec(arch="resnet18", input_size=128)
    model = import_checkpoint(path, spec)
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():  # no normalization given: the network takes the pixels as they are
        assert torch.allclose(model(x), resnet.net(x.expand(-1, 3, -1, -1)), atol=1e-5)
    model = import_checkpoint(path, spec, {"mean": [0.5] * 3, "std": [0.25] * 3})
    with torch.no_grad():
        assert torch.allclose(model(x), resnet.net((x.expand(-1, 3, -1, -1) - 0.5) / 0.25), atol=1e-5)


def test_checkpoint_mismatches_are_named(tmp_path):
    torch.manual_seed(0)
    three = torch.nn.Linear(4, 3)
    spec = ModelSpec(arch="tiny_vgg", input_size=16, hidden=8)
    theirs = build_model(spec).state_dict()
    path = tmp_path / "m.pt"
    torch.save({**theirs, "head.4.weight": torch.zeros(3, 8), "head.4.bias": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match=rf"model.checkpoint: {path} has 3 outputs \(head.4.weight is "
                                              r"\(3, 8\)\): a pair model has 2"):
        import_checkpoint(path, spec)
    torch.save(theirs, path)
    with pytest.raises(CheckpointError, match=rf"model.checkpoint: {path}: head.1.weight is \(8, 512\) where "
                                              r"model.arch tiny_vgg at model.input_size 32 has \(8, 2048\): the "
                                              r"checkpoint was made for another input size"):
        import_checkpoint(path, ModelSpec(arch="tiny_vgg", input_size=32, hidden=8))
    with pytest.raises(CheckpointError, match=r"is not a state dict of model.arch resnet18: missing "):
        import_checkpoint(path, ModelSpec(arch="resnet18", input_size=32))
    scripted = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(three), scripted)
    with pytest.raises(CheckpointError, match="is a TorchScript module: Grad-CAM reads a layer's activations"):
        import_checkpoint(scripted, spec)
    with pytest.raises(CheckpointError, match=rf"model.checkpoint: {tmp_path / 'none.pt'} does not exist"):
        import_checkpoint(tmp_path / "none.pt", spec)


def test_a_roiroa_model_is_a_checkpoint_too(tmp_path):
    spec = ModelSpec(arch="tiny_vgg", input_size=16, hidden=8)
    model = build_model(spec)
    model.set_fixed_normalization([0.1] * 3, [0.3] * 3)
    save_model(model, tmp_path / "model.pt")
    again = import_checkpoint(tmp_path / "model.pt", spec)
    assert torch.equal(again.std, model.std)  # its own normalization kept
    assert isinstance(load_model(tmp_path / "model.pt"), type(model))


def test_a_model_pt_written_with_a_cam_layer_in_its_spec_still_loads(tmp_path):
    """model.pt files from before cam.layer carry spec["cam_layer"]: no retraining is needed."""
    model = build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=8))
    save_model(model, tmp_path / "model.pt")
    checkpoint = torch.load(tmp_path / "model.pt", weights_only=True)
    checkpoint["spec"]["cam_layer"] = "features.1"
    torch.save(checkpoint, tmp_path / "model.pt")
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "model.pt")(x), model.eval()(x))
    assert isinstance(import_checkpoint(tmp_path / "model.pt", ModelSpec(arch="tiny_vgg", input_size=16, hidden=8)),
                      type(model))
