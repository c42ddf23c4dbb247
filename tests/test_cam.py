"""CAMs agree with pytorch-grad-cam; the shared-forward map stage equals the separate parts."""

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from pytorch_grad_cam.activations_and_gradients import ActivationsAndGradients
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from roiroa.attacks import fgsm, perturbation_magnitude
from roiroa.cam import CAM_METHODS, cam_from_gradients, class_activation_maps, normalize_and_upsample
from roiroa.maps import map_batch
from roiroa.models import ModelSpec, build_model

PEERS = {"gradcam": GradCAM, "gradcampp": GradCAMPlusPlus, "hirescam": HiResCAM, "layercam": LayerCAM}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model(ModelSpec(arch="tiny_vgg", input_size=16, in_channels=1, hidden=16)).eval()
    # random weights give near-zero CAMs; sharpen the head so the maps have structure
    with torch.no_grad():
        for p in m.head.parameters():
            p.mul_(5)
    return m


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.rand(6, 1, 8, 8)


def peer_layer_cams(model, images, method, targets):
    """The package's own layer-resolution CAM (after its ReLU), before its scaling."""
    peer = PEERS[method](model=model, target_layers=[model.cam_layer])
    grabber = ActivationsAndGradients(model, [model.cam_layer], None)
    outputs = grabber(images)
    model.zero_grad()
    sum(ClassifierOutputTarget(int(t))(o) for t, o in zip(targets, outputs)).backward()
    cam = peer.get_cam_image(images, model.cam_layer, None, grabber.activations[0].numpy(), grabber.gradients[0].numpy(), False)
    grabber.release()
    return np.maximum(cam, 0)


@pytest.mark.parametrize("method", CAM_METHODS)
def test_layer_cam_equals_pytorch_grad_cam(model, images, method):
    from roiroa.cam import capture_output

    with capture_output(model.cam_layer) as store:
        logits = model(images)
    activations = store["out"]
    targets = logits.argmax(1)
    (grads,) = torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), activations)
    ours = cam_from_gradients(activations.detach(), grads, method).numpy()
    theirs = peer_layer_cams(model, images, method, targets)
    assert ours.max() > 0
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * ours.max())


def test_upsampled_gradcam_matches_the_package_output(model, images):
    ours = class_activation_maps(model, images, torch.zeros(6, dtype=torch.long)).numpy()
    theirs = GradCAM(model=model, target_layers=[model.cam_layer])(images, targets=None)
    # the package scales min–max, ours divides by the max: compare after the same scaling
    lo = ours.min(axis=(1, 2), keepdims=True)
    scaled = (ours - lo) / (ours.max(axis=(1, 2), keepdims=True) - lo)
    for a, b in zip(scaled, theirs):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99


def test_normalize_keeps_all_zero_maps_zero():
    cam = torch.zeros(2, 3, 3)
    cam[1, 0, 0] = 4.0
    out = normalize_and_upsample(cam, (6, 6))
    assert out.shape == (2, 6, 6)
    assert out[0].abs().max() == 0
    assert out[1].max() <= 1 and out[1].max() > 0.5


@pytest.mark.parametrize("target", ["predicted_class", "true_class"])
def test_shared_forward_equals_separate_attack_and_cam(model, images, target):
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    batch = map_batch(model, images, labels, 0.1, "gradcam", target)
    torch.testing.assert_close(batch.cam, class_activation_maps(model, images, labels, "gradcam", target))
    x_adv = fgsm(model, images, labels, 0.1)
    torch.testing.assert_close(batch.x_adv, x_adv)
    torch.testing.assert_close(batch.roa, perturbation_magnitude(x_adv, images, 0.1))
    with torch.no_grad():
        torch.testing.assert_close(batch.prob_adv, torch.softmax(model(x_adv), 1))
        torch.testing.assert_close(batch.prob_clean, torch.softmax(model(images), 1))
