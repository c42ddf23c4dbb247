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
    activations, grads = grabber.activations[0].numpy(), grabber.gradients[0].numpy()
    cam = peer.get_cam_image(images, model.cam_layer, None, activations, grads, False)
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


@pytest.mark.parametrize("method", CAM_METHODS)
@pytest.mark.parametrize("target", ["predicted_class", "true_class"])
@pytest.mark.parametrize("shape", [(8, 8), (13, 11), (3, 5)])  # layer map is 4×4: ×2, non-integer, down
def test_final_cams_equal_pytorch_grad_cam(model, method, target, shape):
    """The input-resolution maps themselves, not only their correlation."""
    torch.manual_seed(2)
    x = torch.rand(6, 1, *shape)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    ours = class_activation_maps(model, x, labels, method, target).numpy()
    peer_targets = None if target == "predicted_class" else [ClassifierOutputTarget(int(t)) for t in labels]
    with PEERS[method](model=model, target_layers=[model.cam_layer]) as peer:
        theirs = peer(x, targets=peer_targets)
    assert ours.shape == theirs.shape == (6, *shape)
    assert np.abs(ours - theirs).max() < 1e-5
    # ours reaches exactly 1 (the package stops at 1/(1 + 1e-7)), so δ1 = 1 keeps the peak
    peaks = ours.max(axis=(1, 2))
    assert (peaks == 1.0).any() and ((peaks == 1.0) | (peaks == 0.0)).all()  # 0: a map that is all ReLU'd away


def test_bilinear_resize_equals_cv2():
    cv2 = pytest.importorskip("cv2")
    torch.manual_seed(3)
    cam = torch.rand(1, 4, 6)
    for h, w in [(8, 12), (13, 11), (3, 5), (2, 3), (4, 6)]:
        ours = torch.nn.functional.interpolate(cam[:, None], size=(h, w), mode="bilinear", align_corners=False)
        theirs = cv2.resize(cam[0].numpy(), (w, h))  # cv2 takes (width, height); INTER_LINEAR by default
        np.testing.assert_allclose(ours[0, 0].numpy(), theirs, atol=1e-6)


def test_normalize_keeps_all_zero_and_constant_maps_zero():
    cam = torch.zeros(3, 3, 3)
    cam[1, 0, 0] = 4.0
    cam[2] = 2.5  # constant: min–max has nothing to scale
    out = normalize_and_upsample(cam, (6, 6))
    assert out.shape == (3, 6, 6)
    assert out[0].abs().max() == 0 and out[2].abs().max() == 0
    assert out[1].max() == 1.0 and out[1].min() == 0.0


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
