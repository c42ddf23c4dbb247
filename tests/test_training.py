"""roiroa's training loop trains exactly what a bare torch loop trains (the
baseline of bench/train.py), and its options are honoured."""

import contextlib
import logging
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from roiroa.environment import float_path
from roiroa.models import ModelSpec, build_model
from roiroa.training import mixed_precision, train_model

sys.path.insert(0, str(ROOT / "bench"))
from train import bare_train  # noqa: E402

SPEC = ModelSpec(arch="tiny_vgg", input_size=16, in_channels=1, hidden=16)


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 8, 8), dtype=np.float32), rng.integers(0, 2, n).astype(np.int64)


def trained(fn, **kwargs):
    torch.manual_seed(0)
    model = build_model(SPEC)
    out = fn(model, *data(), epochs=2, batch_size=32, lr=1e-3, seed=3, device=torch.device("cpu"), **kwargs)
    return model, out


def test_train_model_equals_the_bare_loop_bit_for_bit():
    ours, history = trained(train_model)
    bare, _ = trained(bare_train)
    for (name, a), (_, b) in zip(ours.state_dict().items(), bare.state_dict().items()):
        assert torch.equal(a, b), name
    assert len(history["loss"]) == 2 and 0 <= history["train_accuracy"][-1] <= 1


def test_precision_is_fp32_on_the_cpu_and_channels_last_trains_the_same():
    autocast, scaler = mixed_precision(torch.device("cpu"), "bf16")
    assert scaler is None and autocast is contextlib.nullcontext
    ours, _ = trained(train_model, channels_last=True)
    reference, _ = trained(train_model)
    for (name, a), (_, b) in zip(ours.state_dict().items(), reference.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def test_load_model_gives_the_saved_weights_without_initializing_them(tmp_path):
    """load_model builds on the meta device (no random init: a second per torch job
    for VGG16); the loaded model is the saved one and draws no random numbers."""
    from roiroa.models import load_model, save_model

    model = build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=8)).eval()
    save_model(model, tmp_path / "model.pt")
    rng = torch.random.get_rng_state()
    loaded = load_model(tmp_path / "model.pt")
    assert torch.equal(torch.random.get_rng_state(), rng)
    x = torch.rand(3, 1, 12, 12)
    assert torch.equal(loaded(x), model(x)) and not loaded.training
    assert {t.device.type for t in [*loaded.parameters(), *loaded.buffers()]} == {"cpu"}


def test_vgg16_layers_are_torchvision_s_and_a_fresh_model_its_initialization():
    """Checkpoints load into roiroa's own VGG16 stack (same modules, keys and shapes),
    and a new VGG16 starts from torchvision's weights: trained numbers do not move."""
    from torchvision.models import vgg16

    from roiroa.models import LAYER_CFGS, vgg_layers

    reference = vgg16(weights=None).features
    ours = vgg_layers(LAYER_CFGS["vgg16"])
    assert repr(ours) == repr(reference)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    torch.manual_seed(5)
    fresh = build_model(ModelSpec(arch="vgg16", input_size=32)).features.state_dict()
    torch.manual_seed(5)
    for name, weight in vgg16(weights=None).features.state_dict().items():
        assert torch.equal(fresh[name], weight), name


def test_loading_a_checkpoint_imports_neither_torchvision_nor_dynamo(tmp_path):
    """Every job that loads a model (attack_cam, neutralize_reattack, baselines) would
    pay 1.2 s for torchvision's import, or 1.1 s for torch._dynamo's, for nothing."""
    import subprocess

    from roiroa.models import save_model

    save_model(build_model(ModelSpec(arch="vgg16", input_size=32)), tmp_path / "model.pt")
    code = (
        "import sys; from roiroa.models import load_model; import roiroa.defense, roiroa.maps; "
        f"load_model({str(tmp_path / 'model.pt')!r}); "
        "print(sorted({'torchvision', 'torch._dynamo'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_feature_size_is_what_the_conv_stack_outputs():
    from roiroa.models import LAYER_CFGS, feature_size, vgg_layers

    for arch, sizes in {"vgg16": (32, 48, 50, 63, 64), "tiny_vgg": (4, 8, 11, 16)}.items():
        layers = vgg_layers(LAYER_CFGS[arch])
        for size in sizes:
            assert feature_size(arch, size) == layers(torch.zeros(1, 3, size, size)).numel(), (arch, size)


def test_a_loss_that_becomes_nan_stops_training_naming_the_pair_and_seed():
    """lr = inf (what `model.lr: .inf` did before the config check) makes the
    weights NaN after one step: training stops instead of saving a model that
    tables would publish as if normal (issue 20)."""
    import pytest

    from roiroa.training import TrainingDiverged

    model = build_model(SPEC)
    with pytest.raises(TrainingDiverged, match=r"training of pair 0-1, seed 3 diverged: the loss is nan by "
                                               r"epoch 1, batch 2/3 \(lr inf\); no model is saved"):
        train_model(model, *data(), epochs=2, batch_size=32, lr=float("inf"), seed=3,
                    device=torch.device("cpu"), pair="0-1")


def trained_for(epochs, progress=None, lr=1e-3):
    """A fresh process's training: the same seeding and initial weights, then
    `epochs` epochs, continuing `progress` when it matches."""
    torch.manual_seed(0)
    model = build_model(SPEC)
    history = train_model(model, *data(), epochs=epochs, batch_size=32, lr=lr, seed=3,
                          device=torch.device("cpu"), progress_path=progress)
    return model, history


def assert_same_weights(a, b):
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_a_resumed_training_ends_with_the_uninterrupted_weights(tmp_path):
    """Killed after epoch 2 of 3 (its progress file is what is left), the rerun
    continues with epoch 3 and ends bit for bit where one run of 3 epochs ends:
    weights, Adam's moments, the batch order and dropout's draws all continue
    (SPEC's classifier has dropout 0.5, so a restarted global generator would show)."""
    assert SPEC.dropout > 0
    whole, whole_history = trained_for(3)
    progress = tmp_path / "train.progress.pt"
    trained_for(2, progress)
    assert progress.exists()
    resumed, history = trained_for(3, progress)
    assert_same_weights(resumed, whole)
    assert history["resumed_after_epochs"] == [2]
    for key in ("loss", "train_accuracy"):
        assert history[key] == whole_history[key], key
    assert len(history["seconds"]) == 3 and history["seconds"] == sorted(history["seconds"])


@pytest.mark.parametrize("field, other", [
    ("cpu", "Another CPU"),
    # the same model name, another stepping: two "AMD EPYC" virtual machines (issue 24)
    ("cpu_id", "AuthenticAMD family 25 model 1 stepping 2, flags 00000000"),
])
def test_a_progress_file_from_another_kind_of_cpu_trains_from_the_start(tmp_path, caplog, field, other):
    """A progress file carried from another machine (here: one whose record names
    another CPU) is not continued: its model could be replayed on neither CPU."""
    fresh, _ = trained_for(2)
    progress = tmp_path / "train.progress.pt"
    trained_for(1, progress)
    state = torch.load(progress, weights_only=False)
    assert state["machine"][field] == float_path("cpu")[field]
    state["machine"] = state["machine"] | {field: other}
    torch.save(state, progress)
    with caplog.at_level(logging.WARNING):
        model, history = trained_for(2, progress)
    assert_same_weights(model, fresh)
    assert "resumed_after_epochs" not in history
    assert f"another kind of machine ({field}: ['{other}'" in caplog.text


def test_a_progress_file_of_other_settings_or_a_cut_one_trains_from_the_start(tmp_path):
    fresh, _ = trained_for(2, lr=1e-2)
    other = tmp_path / "other.pt"
    trained_for(1, other, lr=1e-3)  # another lr: another training
    model, history = trained_for(2, other, lr=1e-2)
    assert_same_weights(model, fresh)
    assert "resumed_after_epochs" not in history
    cut = tmp_path / "cut.pt"
    trained_for(1, cut, lr=1e-2)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    model, history = trained_for(2, cut, lr=1e-2)
    assert_same_weights(model, fresh)
    assert "resumed_after_epochs" not in history
    longer = tmp_path / "longer.pt"
    trained_for(3, longer, lr=1e-2)  # past the 2 epochs asked for: not a prefix of them
    model, history = trained_for(2, longer, lr=1e-2)
    assert_same_weights(model, fresh)


def test_a_training_killed_by_sigkill_continues_from_its_last_epoch(tmp_path):
    """A real process, killed with SIGKILL (which nothing can catch) once it has
    finished an epoch; the rerun continues after the last epoch on disk and ends
    with the weights of an uninterrupted run."""
    import signal
    import subprocess
    import time

    progress = tmp_path / "train.progress.pt"
    code = f"""
import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})
from test_training import trained_for
trained_for(400, {str(progress)!r})
"""
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 300
    while not progress.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the training ended before it was killed"
    done = torch.load(progress, weights_only=False)["epoch"]
    assert 1 <= done < 400
    resumed, history = trained_for(done + 2, progress)
    whole, _ = trained_for(done + 2)
    assert_same_weights(resumed, whole)
    assert history["resumed_after_epochs"] == [done]
