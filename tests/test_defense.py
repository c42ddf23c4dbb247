"""Neutralization, blob assignment, the three attack orders and the scores."""

import numpy as np
import pytest
import torch

from roiroa.attacks import fgsm
from roiroa.defense import ScoreBoard, blob_per_image, defend_batch, neutralize
from test_attacks import Margin


def test_neutralize_sets_every_channel_of_blob_pixels():
    x = torch.rand(2, 3, 2, 2)
    mask = torch.tensor([[[True, False], [False, False]], [[False, False], [False, True]]])
    out = neutralize(x, mask, torch.tensor([0.0]))
    assert (out[0, :, 0, 0] == 0).all() and (out[1, :, 1, 1] == 0).all()
    assert torch.equal(out[0, :, 1, 1], x[0, :, 1, 1])
    per_channel = neutralize(x, mask, torch.tensor([0.1, 0.2, 0.3]))
    assert per_channel[0, :, 0, 0].tolist() == pytest.approx([0.1, 0.2, 0.3])


def test_blob_assignment():
    blobs = torch.tensor([[[True, False]], [[False, True]]])
    labels, preds = torch.tensor([0, 1]), torch.tensor([1, 1])
    assert blob_per_image(blobs, labels, preds, "true_class").tolist() == [[[True, False]], [[False, True]]]
    assert blob_per_image(blobs, labels, preds, "predicted_class").tolist() == [[[False, True]], [[False, True]]]
    assert blob_per_image(blobs, labels, preds, "union").tolist() == [[[True, True]], [[True, True]]]


def test_orders():
    model = Margin(torch.ones(1, 1, 1, 4), 10.0)
    x = torch.full((1, 1, 1, 4), 0.5)
    y = torch.zeros(1, dtype=torch.long)
    mask = torch.tensor([[[True, False, False, False]]])
    fill = torch.tensor([0.0])
    x_adv = fgsm(model, x, y, 0.1)
    x_mod, paper, *_ = defend_batch(model, x, x_adv, y, mask, fill, 0.1, "neutralize_then_attack")
    assert x_mod[0, 0, 0].tolist() == [0.0, 0.5, 0.5, 0.5]
    assert paper[0, 0, 0].tolist() == pytest.approx([0.1, 0.6, 0.6, 0.6])  # the attack may use the blob
    _, post_hoc, *_ = defend_batch(model, x, x_adv, y, mask, fill, 0.1, "attack_then_neutralize")
    assert post_hoc[0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 0.6, 0.6])
    _, aware, *_ = defend_batch(model, x, x_adv, y, mask, fill, 0.1, "neutralize_attack_neutralize")
    assert aware[0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 0.6, 0.6])
    with pytest.raises(ValueError, match="unknown order"):
        defend_batch(model, x, x_adv, y, mask, fill, 0.1, "attack_twice")


def test_scoreboard_counts_per_source_class():
    board = ScoreBoard()
    labels = np.array([0, 0, 1])
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    board.add(labels, {"clean": p, "adv": p[:, ::-1], "mod": p, "mod_adv": p})
    zero, one = board.direction(0), board.direction(1)
    assert zero["n_images"] == 2 and zero["score_clean"] == 0.5 and zero["score_adv"] == 0.5
    assert one["score_clean"] == 1.0 and one["score_adv"] == 0.0
    assert zero["prob_clean"] == pytest.approx(0.55) and one["prob_adv"] == pytest.approx(0.3)
