"""Neutralization, blob assignment, the attack orders and the scores."""

import math

import h5py
import numpy as np
import pytest
import torch

from roiroa.attacks import LOSSES, AttackSettings, fgsm
from roiroa.defense import (
    Attack,
    Neutralizer,
    blob_per_image,
    defend_batch,
    direction_scores,
    evaluate_masks,
    fill_value,
    neutralize,
)
from roiroa.orders import order_record
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


def one_mask_per_class(*pixels_of_class):
    """2×1×W class masks: class c blanks the pixels pixels_of_class[c]."""
    width = 1 + max(max(p) for p in pixels_of_class)
    masks = torch.zeros(2, 1, width, dtype=torch.bool)
    for cls, pixels in enumerate(pixels_of_class):
        masks[cls, 0, list(pixels)] = True
    return masks


def test_orders():
    model = Margin(torch.ones(1, 1, 1, 4), 10.0).eval()
    x = torch.full((1, 1, 1, 4), 0.5)
    y = torch.zeros(1, dtype=torch.long)
    defense = Neutralizer(one_mask_per_class([0], [3]), "true_class", torch.tensor([0.0]))
    x_adv = fgsm(model, x, y, 0.1)

    def run(order):
        return defend_batch(model, x, x_adv, y, y, y, defense, FGSM, order)

    x_mod, paper, *_ = run("neutralize_then_attack")
    assert x_mod[0, 0, 0].tolist() == [0.0, 0.5, 0.5, 0.5]
    assert paper[0, 0, 0].tolist() == pytest.approx([0.1, 0.6, 0.6, 0.6])  # the attack may use the blob
    assert run("attack_then_neutralize")[1][0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 0.6, 0.6])
    assert run("neutralize_attack_neutralize")[1][0, 0, 0].tolist() == pytest.approx([0.0, 0.6, 0.6, 0.6])
    with pytest.raises(ValueError, match="unknown order"):
        run("attack_twice")


def adaptive_attack(steps=10, restarts=1, loss="ce", method="fgsm"):
    return Attack(method, 0.1, seed=3, adaptive=(
        "pgd_linf", AttackSettings(steps=steps, step_size=0.25, random_start=True, restarts=restarts, loss=loss)))


def test_adaptive_order_runs_pgd_that_never_moves_the_blob():
    """The adaptive attacker re-applies the neutralization after every PGD step:
    blob pixels stay at the fill value, and the rest moves further than one FGSM step."""
    model = Margin(torch.tensor([[[[1.0, 1.0, -1.0, 1.0]]]]), 10.0).eval()
    x = torch.full((1, 1, 1, 4), 0.5)
    y = torch.zeros(1, dtype=torch.long)
    defense = Neutralizer(one_mask_per_class([0], [3]), "true_class", torch.tensor([0.0]))
    for loss in LOSSES:
        attack = adaptive_attack(loss=loss)
        _, adaptive, *_ = defend_batch(model, x, x, y, y, y, defense, attack, "adaptive", attack.generator("cpu"))
        assert adaptive[0, 0, 0, 0] == 0.0
        # from any random start, 10 steps of ε/4 reach the corner of the ε-ball the gradient points to
        assert adaptive[0, 0, 0, 1:].tolist() == pytest.approx([0.6, 0.4, 0.6])
        again = defend_batch(model, x, x, y, y, y, defense, attack, "adaptive", attack.generator("cpu"))[1]
        assert torch.equal(adaptive, again)  # seeded random start


def test_adaptive_order_counts_a_misclassified_s_mod_as_a_success():
    """x itself is in the attacker's ball: where the defense already gets S_mod
    wrong, S_mod-adv is S_mod and no attack runs on it."""
    model = Margin(torch.ones(1, 1, 1, 2), 0.7).eval()  # class 1 iff x0 + x1 > 0.7
    x = torch.tensor([[[[0.5, 0.5]]], [[[0.1, 0.1]]]])
    y = torch.tensor([1, 0])
    defense = Neutralizer(one_mask_per_class([0], [0]), "true_class", torch.tensor([0.0]))
    passes = []
    model.register_forward_hook(lambda _, inputs, __: passes.append(len(inputs[0])))
    x_mod, x_mod_adv, prob_mod, prob_mod_adv = defend_batch(model, x, x, y, y, y, defense, adaptive_attack(),
                                                            "adaptive")
    assert prob_mod.argmax(1).tolist() == [0, 0]  # image 0: S_mod = (0, 0.5) is wrong
    assert torch.equal(x_mod_adv[0], x_mod[0])
    assert set(passes[1:-1]) == {1}  # the attack's passes see image 1 only


def test_deployed_defense_blanks_the_blob_of_the_predicted_class():
    model = Margin(torch.ones(1, 1, 1, 2), 1.0).eval()  # class 1 iff x0 + x1 > 1
    defense = Neutralizer(one_mask_per_class([0], [1]), "predicted_class", torch.tensor([0.0]))
    z = torch.tensor([[[[0.2, 0.3]]], [[[0.7, 0.8]]]])
    labels = torch.tensor([1, 0])  # the truth does not matter to the deployed defense
    torch.testing.assert_close(defense.deployed(model, z, labels)[:, 0, 0], torch.tensor([[0.0, 0.3], [0.7, 0.0]]))
    oracle = Neutralizer(defense.masks, "true_class", defense.fill)
    torch.testing.assert_close(oracle.deployed(model, z, labels)[:, 0, 0], torch.tensor([[0.2, 0.0], [0.0, 0.8]]))


def test_adaptive_attacker_gets_the_mask_of_each_iterate_prediction():
    """assign: predicted_class, as deployed: the defense predicts the class of the
    image it is given and blanks that class's blob. The adaptive attacker's
    iterates are neutralized with the mask of their own prediction (class 1 for
    every image of the ball here), not with that of the map stage's
    adversarial image (pred_adv, class 0 here)."""
    model = Margin(torch.ones(1, 1, 1, 2), 0.0).eval()  # class 1 iff x0 + x1 > 0: never fooled
    x = torch.full((1, 1, 1, 2), 0.5)
    y = torch.ones(1, dtype=torch.long)
    defense = Neutralizer(one_mask_per_class([0], [1]), "predicted_class", torch.tensor([0.0]))
    attack = adaptive_attack()
    _, x_mod_adv, *_ = defend_batch(model, x, x, y, y, 1 - y, defense, attack, "adaptive", attack.generator("cpu"))
    assert x_mod_adv[0, 0, 0, 1] == 0.0  # class 1's blob blanked
    assert x_mod_adv[0, 0, 0, 0] == pytest.approx(0.4)  # the attacker lowered the rest to x − ε


def test_adaptive_restarts_draw_new_noise_per_batch_and_restart(tmp_path):
    """One generator per evaluation: two batches of the same images get different
    random starts (the old code reseeded per batch: the same noise in every
    batch), and so do the restarts within a batch."""
    n = 4
    images = np.full((n, 1, 1, 3), 0.5, np.float32)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["test/images"], f["test/labels"] = images, np.zeros(n, np.int64)
    with h5py.File(tmp_path / "maps.h5", "w") as f:
        f["index"], f["x_adv"], f["label"] = np.arange(n), images, np.zeros(n, np.int8)
        f["pred_clean"] = f["pred_adv"] = np.zeros(n, np.int8)
    model = Margin(torch.ones(1, 1, 1, 3), 100.0).eval()  # never fooled: every restart runs
    masks = torch.zeros(2, 1, 3, dtype=torch.bool)
    kept = {}

    def evaluate(restarts):
        with h5py.File(tmp_path / "data.h5") as data, h5py.File(tmp_path / "maps.h5") as maps:
            evaluate_masks(model, data["test"], maps, np.arange(n), masks, fill=0, assign="true_class",
                           order="adaptive", attack=adaptive_attack(steps=0, restarts=restarts), batch_size=2,
                           device="cpu", keep=lambda block, _, x_mod_adv, *__: kept.update({block.start: x_mod_adv}))
        return kept[0], kept[2]

    first, second = evaluate(restarts=1)
    assert not torch.equal(first, second)
    # the worst of 5 starts (the highest margin, w·x − b here) is at least the first start's,
    # and higher in some image: the restarts drew new starts
    worst, _ = evaluate(restarts=5)
    assert (worst.sum((1, 2, 3)) >= first.sum((1, 2, 3))).all() and not torch.equal(worst, first)


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
    masks = torch.rand(2, 8, 8) > 0.7
    defense = Neutralizer(masks, "predicted_class", torch.tensor([0.0]))
    passes = []
    model.register_forward_hook(lambda *_: passes.append(1))
    x_mod, x_mod_adv, prob_mod, prob_mod_adv = defend_batch(model, x, x, y, y, y, defense, attack, order,
                                                            torch.Generator().manual_seed(5))
    attack_passes = 1 if attack.method == "fgsm" else attack.settings.steps
    reuse = attack.method == "fgsm" or not attack.settings.random_start
    assert len(passes) == attack_passes + (1 if reuse else 2)  # + S_mod-adv's pass (+ S_mod's)
    blanked = neutralize(x, masks[y], defense.fill)
    expected_adv = attack(model, blanked, y, generator=torch.Generator().manual_seed(5))
    if order == "neutralize_attack_neutralize":
        expected_adv = neutralize(expected_adv, masks[y], defense.fill)
    with torch.no_grad():
        assert torch.equal(prob_mod, torch.softmax(model(blanked), 1))
        assert torch.equal(prob_mod_adv, torch.softmax(model(expected_adv), 1))
    assert torch.equal(x_mod_adv, expected_adv)
    passes.clear()
    _, _, prob_other, _ = defend_batch(model, x, x, y, y, 1 - y, defense, attack, order)
    assert len(passes) == attack_passes + 2
    with torch.no_grad():
        assert torch.equal(prob_other, torch.softmax(model(blanked), 1))


def test_every_order_gets_its_own_record():
    record = {"theta": 0.15, "orders": ["neutralize_then_attack", "adaptive"], "adaptive_restarts": 5,
              "adaptive_attack": "pgd_linf", "adaptive_steps": 10, "adaptive_step_size": 0.25, "adaptive_loss": "ce"}
    paper = order_record(record, "neutralize_then_attack")
    assert paper == {"theta": 0.15, "order": "neutralize_then_attack"}
    assert order_record(record, "adaptive") == {k: v for k, v in record.items() if k != "orders"} | {"order": "adaptive"}


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


# ---- baselines (roiroa.baselines) ----


def test_ranked_pixels_by_hand():
    from roiroa.baselines import ranked_pixels

    importance = np.array([[0.5, 0.1], [0.1, 0.9]])
    support = np.array([[True, True], [True, False]])
    rng = np.random.default_rng(0)
    # k = 1: one of the two tied lowest (0.1) support pixels, the seed decides which
    one = ranked_pixels(importance, support, 1, rng)
    assert one.sum() == 1 and one[importance == 0.1].sum() == 1
    picks = {tuple(ranked_pixels(importance, support, 1, np.random.default_rng(s)).ravel()) for s in range(20)}
    assert len(picks) == 2  # ties are broken at random, not by position
    assert ranked_pixels(importance, support, 3, rng).tolist() == [[True, True], [True, False]]
    # past the support's size, the rest comes from outside it
    assert ranked_pixels(importance, support, 4, rng).all()


def test_random_masks_stay_where_neutralization_changes_something():
    """Digit-like images (ink in the middle 3×3, background 0) and fill 0: the
    old random mask, placed anywhere, mostly blanks background and changes
    nothing; the new one is drawn inside the support and changes every pixel it takes."""
    from roiroa.baselines import baseline_masks, neutralizable
    from roiroa.stats import random_mask_like

    images = np.zeros((4, 1, 9, 9), np.float32)
    images[:, :, 3:6, 3:6] = 0.5
    support = np.zeros((2, 9, 9), bool)
    neutralizable(images, np.array([0, 0, 1, 1]), np.array([0.0]), support)
    assert support.sum(axis=(1, 2)).tolist() == [9, 9]
    blobs = np.zeros((2, 9, 9), bool)
    blobs[:, 0, :4] = True  # 4 pixels each
    masks = baseline_masks(blobs, np.zeros((2, 9, 9)), support, draws=20, seed=0)["random_mask"]
    assert masks.shape == (20, 2, 9, 9) and (masks.sum(axis=(2, 3)) == 4).all()
    changed = lambda mask: int((images[0, 0][mask] != 0).sum())  # noqa: E731
    assert all(changed(m) == 4 for m in masks[:, 0])
    old = [random_mask_like(blobs[0], np.random.default_rng([0, d])) for d in range(20)]
    assert np.mean([changed(m) for m in old]) < 1  # 9 of 81 pixels are ink: most draws change nothing


def test_roi_complement_is_size_matched():
    """The old complement took every pixel whose class-level RoI frequency is
    below θ (here 8 of 9 pixels against a blob of 2); the new one takes the
    blob's number of least important pixels of the support."""
    from roiroa.baselines import baseline_masks

    roi = np.array([[0.0, 0.05, 0.1], [0.02, 0.9, 0.12], [0.03, 0.04, 0.11]])[None].repeat(2, 0)
    blobs = np.zeros((2, 3, 3), bool)
    blobs[:, 0, :2] = True
    support = np.ones((2, 3, 3), bool)
    support[:, 0, 0] = False  # background: blanking it changes nothing
    theta = 0.15
    assert (roi[0] < theta).sum() == 8
    complement = baseline_masks(blobs, roi, support, draws=1, seed=0)["roi_complement"][0]
    assert complement[0].sum() == 2 and complement[0][[1, 2], [0, 0]].all()  # RoI 0.02 and 0.03


def test_blob_against_draws_paired_where_the_old_rule_says_no():
    """100 images; the draws are right on the first 68 (every draw), the blob on
    the first 75. Old rule: blob's lower Wilson bound (0.657) against the draws'
    score (0.68): 'no better'. Paired per image: 7 images gained, none lost."""
    from roiroa.baselines import against_draws
    from roiroa.stats import wilson_interval

    blob = np.arange(100) < 75
    draws = np.stack([np.arange(100) < 68] * 10)
    out = against_draws("mod_adv", blob, draws)
    assert wilson_interval(75, 100)[0] < 0.68  # the old rule's 'no'
    assert out["blob_score_mod_adv"] == 0.75 and out["random_score_mod_adv_mean"] == pytest.approx(0.68)
    assert out["draws_score_mod_adv"] == [0.68] * 10 and out["percentile_mod_adv"] == 100.0
    # differences: seven 1s, 93 0s → mean 0.07, sd √(0.07·0.93·100/99), t(0.975, 99) = 1.984217
    half = 1.984217 * np.sqrt(0.07 * 0.93 * 100 / 99) / 10
    assert (out["paired_mod_adv_diff_mean"], out["paired_mod_adv_diff_low"], out["paired_mod_adv_diff_high"]) == \
        pytest.approx((0.07, 0.07 - half, 0.07 + half), abs=1e-5)
    # signed ranks all tied (seven equal differences): scipy's normal approximation with the tie
    # correction, W+ = 28 against mean 14 and variance 7·8·15/24 − (7³ − 7)/48 = 28
    assert out["paired_mod_adv_diff_low"] > 0
    assert out["paired_mod_adv_p"] == pytest.approx(math.erfc(14 / math.sqrt(28) / math.sqrt(2)))


def test_each_mask_set_gets_its_own_numbers(tmp_path, caplog):
    """evaluate_mask_sets evaluates several mask sets under several orders: the
    probabilities of each set are those of defend_batch with that set alone, and
    it logs its progress after each set (a published job's 22 sets take minutes)."""
    import logging

    import h5py

    from roiroa.baselines import evaluate_mask_sets

    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="tiny_vgg", input_size=16, in_channels=1, hidden=8)).eval()
    n = 6
    x, y = torch.rand(n, 1, 8, 8), torch.tensor([0, 1, 0, 1, 0, 1])
    x_adv = FGSM(model, x, y)
    with torch.no_grad():
        pred_clean, pred_adv = model(x).argmax(1), model(x_adv).argmax(1)
    with h5py.File(tmp_path / "d.h5", "w") as data, h5py.File(tmp_path / "m.h5", "w") as maps:
        data["test/images"], data["test/labels"] = x.numpy(), y.numpy()
        maps["index"], maps["label"], maps["x_adv"] = np.arange(n), y.numpy(), x_adv.numpy()
        maps["pred_clean"], maps["pred_adv"] = pred_clean.numpy(), pred_adv.numpy()
    sets = torch.rand(5, 2, 8, 8) > 0.7
    orders = ["neutralize_then_attack", "attack_then_neutralize"]
    with h5py.File(tmp_path / "d.h5") as data, h5py.File(tmp_path / "m.h5") as maps:
        rows = np.array([0, 2, 3, 5])
        with caplog.at_level(logging.INFO, logger="roiroa.baselines"):
            out = evaluate_mask_sets(model, data["test"], maps, rows, sets, orders, fill=0,
                                     assign="predicted_class", attack=FGSM, batch_size=3, device="cpu")  # two batches
    progress = [r.getMessage() for r in caplog.records if r.name == "roiroa.baselines"]
    assert [m.split(" of ")[0] for m in progress] == [f"mask set {i}/5" for i in range(1, 6)], progress
    assert progress[0].startswith("mask set 1/5 of 4 images (neutralize_then_attack, attack_then_neutralize)")
    fill = torch.tensor([0.0])
    for order in orders:
        for i, masks in enumerate(sets):
            defense = Neutralizer(masks, "predicted_class", fill)
            _, _, prob_mod, prob_mod_adv = defend_batch(model, x[rows], x_adv[rows], y[rows], pred_clean[rows],
                                                        pred_adv[rows], defense, FGSM, order)
            np.testing.assert_allclose(out[order]["mod"][i], prob_mod.numpy(), atol=1e-6)
            np.testing.assert_allclose(out[order]["mod_adv"][i], prob_mod_adv.numpy(), atol=1e-6)


def test_the_adaptive_attacker_of_each_attack_and_its_recorded_settings():
    from roiroa.config import adaptive_settings

    config = {"attack": {"steps": 40, "step_size": 0.1},
              "neutralize": {"adaptive_steps": 7, "adaptive_restarts": 5, "adaptive_loss": "margin"}}
    expected = {"fgsm": "pgd_linf", "pgd_linf": "pgd_linf", "apgd_ce": "apgd_ce", "pgd_l2": "pgd_l2",
                "apgd_ce_l2": "apgd_ce_l2", "deepfool": "pgd_l2"}
    for method, adaptive in expected.items():
        record = {"attack": method, "eps": 0.1, "attack_settings": {}, "seed": 0} | adaptive_settings(config, method)
        assert record["adaptive_attack"] == adaptive
        name, settings = Attack.from_record(record).adaptive
        assert name == adaptive
        assert settings == AttackSettings(steps=7, step_size=0.1, random_start=True, restarts=5, loss="margin")
