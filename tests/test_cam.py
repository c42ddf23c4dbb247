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


def test_the_map_stage_reads_the_named_cam_layer(model, images):
    """cam.layer: the shared forward pass reads the layer it names, as the separate CAM does."""
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    first = map_batch(model, images, labels, 0.1, "gradcam", "predicted_class", layer="features.1")
    torch.testing.assert_close(first.cam, class_activation_maps(model, images, labels, layer="features.1"))
    default = map_batch(model, images, labels, 0.1, "gradcam", "predicted_class", layer="default")
    torch.testing.assert_close(default.cam, class_activation_maps(model, images, labels))
    assert not torch.allclose(first.cam, default.cam)


def test_vgg16_block4_layer_gives_6x6_maps_where_the_last_block_gives_3x3():
    """At input 48 (the paper's), VGG16's last conv block (the default, features.29) is
    3×3 and block 4's last ReLU (features.22) is 6×6; the CAM at 48×48 is the
    named layer's map upsampled, as pytorch-grad-cam computes it on that layer."""
    torch.manual_seed(0)
    vgg = build_model(ModelSpec(arch="vgg16", input_size=48, hidden=16), initialize=False).eval()
    x = torch.rand(2, 3, 48, 48)
    sides = {}
    for name in ("default", "features.22"):
        from roiroa.cam import capture_output

        with torch.no_grad(), capture_output(vgg.cam_layer_named(name)) as store:
            vgg(x)
        sides[name] = tuple(store["out"].shape[-2:])
    assert sides == {"default": (3, 3), "features.22": (6, 6)}
    assert vgg.cam_layer is vgg.features[29] and vgg.cam_layer_named("features.22") is vgg.features[22]
    ours = class_activation_maps(vgg, x, torch.zeros(2, dtype=torch.long), layer="features.22").numpy()
    with GradCAM(model=vgg, target_layers=[vgg.features[22]]) as peer:
        theirs = peer(x, targets=None)
    assert ours.shape == (2, 48, 48) and ours.max() == 1.0 and np.abs(ours - theirs).max() < 1e-5
