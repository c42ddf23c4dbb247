"""Neutralization, blob assignment, the attack orders and the scores."""

import numpy as np
import pytest
import torch

from roiroa.attacks import AttackSettings, fgsm
from roiroa.defense import Attack, blob_per_image, defend_batch, direction_scores, fill_value, neutralize
from roiroa.models import ModelSpec, build_model
from test_attacks import Margin

FGSM = Attack("fgsm", 0.1)


def test_neutralize_sets_every_channel_of_blob_pixels():
    x = torch.rand(2, 3, 2, 2)
    mask = torch.tensor([[[True, False], [False, False]], [[False, False], [False, True]]])
    out = neutralize(x, mask, torch.tensor([0.0]))
    assert (out[0, :, 0, 0] == 0).all() and (out[1, :, 1, 1] == 0).all()
    assert torch.equal(out[0, :, 1, 1], x[0, :, 1, 1])
    per_channel = neutralize(x, mask, torch.tensor([0.1, 0.2, 0.3]))
    assert per_channel[0, :, 0, 0].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_fill_mean_on_one_channel_images():
    """`fill: mean` used to crash on grey data: the model stores a 3-channel mean."""
    model = build_model(ModelSpec(arch="tiny_vgg", input_size=16, in_channels=1, hidden=8))
    model.set_normalization(torch.full((4, 1, 8, 8), 0.25))
    fill = fill_value(model, "mean", channels=1)
    assert fill.tolist() == pytest.approx([0.25])
    x = torch.rand(2, 1, 8, 8)
    out = neutralize(x, torch.ones(2, 8, 8, dtype=torch.bool), fill)
    assert out.shape == x.shape and torch.allclose(out, torch.full_like(x, 0.25))
    assert fill_value(model, 0.5, channels=1).tolist() == [0.5]


def test_blob_assignment():
    blobs = torch.tensor([[[True, False]], [[False, True]]])
    labels, preds = torch.tensor([0, 1]), torch.tensor([1, 1])
    assert blob_per_image(blobs, labels, preds, "true_class").tolist() == [[[True, False]], [[False, True]]]
    assert blob_per_image(blobs, labels, preds, "predicted_class").tolist() == [[[False, True]], [[False, True]]]
    assert blob_per_image(blobs, labels, preds, "union").tolist() == [[[True, True]], [[True, True]]]


def test_orders():
    model = Margin(torch.ones(1, 1, 1, 4), 10.0).eval()
    x = torch.full((1, 1, 1, 4), 0.5)
    y = torch.zeros(1, dtype=torch.long)
    mask = torch.tensor([[[True, False, False, False]]])
    fill = torch.tensor([0.0])
    x_adv = fgsm(model, x, y, 0.1)
    x_mod, paper, *_ = defend_batch(model, x, x_adv, y, mask, mask, fill, FGSM, "neutralize_then_attack")
    assert x_mod[0, 0, 0].tolist() == [0.0, 0.5, 0.5, 0.5]
    assert paper[0, 0, 0].tolist() == pytest.approx([0.1, 0.6, 0.6, 0.6])  # the attack may use the blob
    _, post_hoc, *_ = defend_batch(model, x, x_adv, y, mask, mask, fill, FGSM, "attack_then_neutralize")
    assert post_hoc[0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 0.6, 0.6])
    _, aware, *_ = defend_batch(model, x, x_adv, y, mask, mask, fill, FGSM, "neutralize_attack_neutralize")
    assert aware[0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 0.6, 0.6])
    with pytest.raises(ValueError, match="unknown order"):
        defend_batch(model, x, x_adv, y, mask, mask, fill, FGSM, "attack_twice")


def test_adaptive_order_runs_pgd_that_never_moves_the_blob():
    """The adaptive attacker re-applies the neutralization after every PGD step:
    blob pixels stay at the fill value, and the rest moves further than one FGSM step."""
    model = Margin(torch.tensor([[[[1.0, 1.0, -1.0, 1.0]]]]), 10.0).eval()
    x = torch.full((1, 1, 1, 4), 0.5)
    y = torch.zeros(1, dtype=torch.long)
    mask = torch.tensor([[[True, False, False, False]]])
    attack = Attack("fgsm", 0.1, AttackSettings(steps=10, step_size=0.25, random_start=True), seed=3)
    _, adaptive, *_ = defend_batch(model, x, x, y, mask, mask, torch.tensor([0.0]), attack, "adaptive")
    assert adaptive[0, 0, 0, 0] == 0.0
    # from any random start, 10 steps of ε/4 reach the corner of the ε-ball the gradient points to
    assert adaptive[0, 0, 0, 1:].tolist() == pytest.approx([0.6, 0.4, 0.6])
    again = defend_batch(model, x, x, y, mask, mask, torch.tensor([0.0]), attack, "adaptive")[1]
    assert torch.equal(adaptive, again)  # seeded random start


def test_predicted_class_assignment_uses_the_attacked_image_in_the_attacked_branch():
    model = Margin(torch.ones(1, 1, 1, 2), 10.0).eval()
    x = torch.full((1, 1, 1, 2), 0.5)
    y = torch.zeros(1, dtype=torch.long)
    clean_mask = torch.tensor([[[True, False]]])  # the blob of the clean prediction
    adv_mask = torch.tensor([[[False, True]]])  # the blob of the prediction on the adversarial image
    _, x_mod_adv, *_ = defend_batch(model, x, x, y, clean_mask, adv_mask, torch.tensor([0.0]), FGSM,
                                    "attack_then_neutralize")
    x_mod = defend_batch(model, x, x, y, clean_mask, adv_mask, torch.tensor([0.0]), FGSM, "attack_then_neutralize")[0]
    assert x_mod[0, 0, 0].tolist() == [0.0, 0.5] and x_mod_adv[0, 0, 0].tolist() == [0.5, 0.0]


@pytest.mark.parametrize("attack", [FGSM, Attack("pgd_linf", 0.1, AttackSettings(steps=2, random_start=False)),
                                    Attack("pgd_linf", 0.1, AttackSettings(steps=2), seed=1)])
@pytest.mark.parametrize("order", ["neutralize_then_attack", "neutralize_attack_neutralize"])
def test_the_attack_that_starts_at_s_mod_gives_its_probabilities(attack, order):
    """FGSM (and PGD without a random start) begins with a forward pass at S_mod
    itself; defend_batch takes S_mod's probabilities from it instead of a pass of
    its own: the same numbers, one pass fewer. Masks that differ between the two
    branches (predicted-class assignment) and a random start need their own pass."""
    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="tiny_vgg", input_size=16, in_channels=1, hidden=8)).eval()
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 0, 1, 0, 1])
    masks = torch.rand(6, 8, 8) > 0.7
    fill = torch.tensor([0.0])
    passes = []
    model.register_forward_hook(lambda *_: passes.append(1))
    x_mod, x_mod_adv, prob_mod, prob_mod_adv = defend_batch(model, x, x, y, masks, masks, fill, attack, order)
    attack_passes = 1 if attack.method == "fgsm" else attack.settings.steps
    reuse = attack.method == "fgsm" or not attack.settings.random_start
    assert len(passes) == attack_passes + (1 if reuse else 2)  # + S_mod-adv's pass (+ S_mod's)
    expected_adv = attack(model, neutralize(x, masks, fill), y)
    if order == "neutralize_attack_neutralize":
        expected_adv = neutralize(expected_adv, masks, fill)
    with torch.no_grad():
        assert torch.equal(prob_mod, torch.softmax(model(neutralize(x, masks, fill)), 1))
        assert torch.equal(prob_mod_adv, torch.softmax(model(expected_adv), 1))
    assert torch.equal(x_mod_adv, expected_adv)
    passes.clear()
    other = masks.roll(1, 0)
    _, _, prob_other, _ = defend_batch(model, x, x, y, masks, other, fill, attack, order)
    assert len(passes) == attack_passes + 2
    with torch.no_grad():
        assert torch.equal(prob_other, torch.softmax(model(neutralize(x, masks, fill)), 1))


def test_direction_scores_counts_rates_and_paired_tests():
    labels = np.array([0, 0, 0, 0, 1])
    one_hot = lambda classes: np.eye(2)[classes]  # noqa: E731
    probs = {
        "clean": one_hot([0, 0, 0, 1, 1]),
        "adv": one_hot([1, 1, 0, 1, 0]),
        "mod": one_hot([0, 0, 1, 1, 1]),
        "mod_adv": one_hot([0, 1, 0, 0, 1]),
    }
    zero = direction_scores(labels, probs, 0)
    assert zero["n_images"] == 4 and zero["correct_clean"] == 3 and zero["score_clean"] == 0.75
    assert zero["score_adv"] == 0.25 and zero["score_mod"] == 0.5 and zero["score_mod_adv"] == 0.75
    # of the 3 correct clean images the attack flips 2; of the 2 correct after neutralization it flips 1
    assert (zero["asr_adv_flipped"], zero["asr_adv_of"], zero["asr_adv"]) == (2, 3, pytest.approx(2 / 3))
    assert (zero["asr_mod_flipped"], zero["asr_mod_of"], zero["asr_mod"]) == (1, 2, 0.5)
    assert (zero["clean_vs_mod_only_first"], zero["clean_vs_mod_only_second"]) == (1, 0)
    assert (zero["adv_vs_mod_adv_only_first"], zero["adv_vs_mod_adv_only_second"]) == (0, 2)
    assert zero["clean_vs_mod_mcnemar_p"] == 1.0
    one = direction_scores(labels, probs, 1)
    assert one["n_images"] == 1 and one["score_adv"] == 0.0 and one["score_mod_adv"] == 1.0
