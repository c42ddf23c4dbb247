"""FGSM and the RoA magnitude."""

import math

import pytest
import torch
from torch import nn

from roiroa.attacks import fgsm, perturbation_magnitude


class Margin(nn.Module):
    """logits = (0, w·x − b): class 1 iff w·x > b. FGSM's effect is computable."""

    def __init__(self, w: torch.Tensor, b: float):
        super().__init__()
        self.w, self.b = w, b

    def forward(self, x):
        score = (x * self.w).flatten(1).sum(1) - self.b
        return torch.stack([torch.zeros_like(score), score], dim=1)


def test_fgsm_respects_budget_and_pixel_range():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 5, 2))
    x = torch.rand(16, 3, 5, 5)
    x[:, :, 0] = 0.0  # pixels at the bounds must stay in [0, 1]
    x[:, :, 1] = 1.0
    y = torch.randint(0, 2, (16,))
    for eps in (0.01, 0.1, 0.3):
        x_adv = fgsm(model, x, y, eps)
        assert (x_adv - x).abs().max() <= eps + 1e-6
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_fgsm_flips_a_model_built_to_flip():
    w = torch.ones(1, 1, 4, 4)
    x = torch.full((2, 1, 4, 4), 0.5)
    # w·x = 8; b = 8.5 → class 0 with margin 0.5; FGSM with ε = 0.1 adds 16·0.1 = 1.6
    model = Margin(w, 8.5)
    y = torch.zeros(2, dtype=torch.long)
    assert (model(x).argmax(1) == 0).all()
    x_adv = fgsm(model, x, y, 0.1)
    assert torch.allclose(x_adv, torch.full_like(x, 0.6))
    assert (model(x_adv).argmax(1) == 1).all()
    # and a budget too small to cross the margin does not flip it
    assert (model(fgsm(model, x, y, 0.01)).argmax(1) == 0).all()


def test_perturbation_magnitude_is_l2_over_channels_scaled_to_unit():
    x = torch.zeros(1, 3, 1, 2)
    x_adv = x.clone()
    x_adv[0, :, 0, 0] = 0.1  # all three channels moved by ε: magnitude 1
    x_adv[0, 0, 0, 1] = 0.1  # one channel moved by ε: magnitude 1/√3
    magnitude = perturbation_magnitude(x_adv, x, 0.1)
    assert magnitude.shape == (1, 1, 2)
    assert magnitude[0, 0, 0] == pytest.approx(1.0)
    assert magnitude[0, 0, 1] == pytest.approx(1 / math.sqrt(3))


def test_clipped_pixels_have_smaller_magnitude():
    w = torch.ones(1, 1, 1, 2)
    x = torch.tensor([[[[0.5, 0.95]]]])
    model = Margin(w, 10.0)  # gradient pushes every pixel up
    x_adv = fgsm(model, x, torch.zeros(1, dtype=torch.long), 0.1)
    magnitude = perturbation_magnitude(x_adv, x, 0.1)
    assert magnitude[0, 0].tolist() == pytest.approx([1.0, 0.5])
