"""Segregation, isolation, representatives, blob and SSIM on hand-made arrays."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from roiroa.blob import blob_mask
from roiroa.regions import REGIONS, Representatives, four_regions, roa_mask, roi_mask, ssim, ssim_window, summary


def test_masks_threshold_inclusively():
    cam = np.array([[0.0, 0.49], [0.5, 1.0]])
    assert roi_mask(cam, 0.5).tolist() == [[False, False], [True, True]]
    magnitude = np.array([[0.1, 0.2], [0.3, 0.0]])
    assert roa_mask(magnitude, 0.2).tolist() == [[False, True], [True, False]]


def test_four_regions_by_hand():
    roi = np.array([[1, 1], [0, 0]], bool)
    roa = np.array([[1, 0], [1, 0]], bool)
    regions = four_regions(roi, roa)
    assert regions["uv"].tolist() == [[True, False], [False, False]]
    assert regions["u_vbar"].tolist() == [[False, True], [False, False]]
    assert regions["ubar_v"].tolist() == [[False, False], [True, False]]
    assert regions["ubar_vbar"].tolist() == [[False, False], [False, True]]


def test_four_regions_partition_every_image():
    rng = np.random.default_rng(0)
    roi, roa = rng.random((20, 9, 9)) > 0.5, rng.random((20, 9, 9)) > 0.3
    stacked = np.stack([four_regions(roi, roa)[name] for name in REGIONS])
    # every pixel of every image is in exactly one region
    assert (stacked.sum(axis=0) == 1).all()


def test_representatives_are_per_class_means():
    labels = np.array([0, 0, 1])
    roi = np.array([[[1, 0]], [[1, 1]], [[0, 0]]], bool)
    roa = np.array([[[0, 0]], [[0, 1]], [[1, 1]]], bool)
    reps = Representatives(2, (1, 2))
    # stream in two blocks: the result must not depend on the blocking
    reps.add(labels[:1], None, None, roi[:1], roa[:1])
    reps.add(labels[1:], None, None, roi[1:], roa[1:])
    means = reps.means()
    assert reps.count.tolist() == [2, 1]
    np.testing.assert_allclose(means["roi"], [[[1.0, 0.5]], [[0.0, 0.0]]])
    np.testing.assert_allclose(means["roa"], [[[0.0, 0.5]], [[1.0, 1.0]]])
    np.testing.assert_allclose(means["uv"], [[[0.0, 0.5]], [[0.0, 0.0]]])
    np.testing.assert_allclose(means["u_vbar"], [[[1.0, 0.0]], [[0.0, 0.0]]])
    np.testing.assert_allclose(means["ubar_v"], [[[0.0, 0.0]], [[1.0, 1.0]]])
    np.testing.assert_allclose(means["ubar_vbar"], [[[0.0, 0.5]], [[0.0, 0.0]]])


def test_representatives_of_continuous_maps():
    cam = np.array([[[0.2, 0.4]], [[0.6, 0.8]]])
    reps = Representatives(1, (1, 2), mode="maps")
    reps.add(np.array([0, 0]), cam, 1 - cam, cam > 0.5, cam > 0.5)
    np.testing.assert_allclose(reps.means()["roi"], [[[0.4, 0.6]]])
    np.testing.assert_allclose(reps.means()["roa"], [[[0.6, 0.4]]])


def test_blob_is_ubar_v_at_or_above_theta():
    reps = {"ubar_v": np.array([[0.1, 0.15], [0.2, 0.0]])}
    assert blob_mask(reps, 0.15).tolist() == [[False, True], [True, False]]
    assert not blob_mask(reps, 0.5).any()  # an empty blob is a valid result


def test_blob_roa_minus_roi_mode():
    reps = {"roa": np.array([[0.9, 0.9, 0.1]]), "roi": np.array([[0.0, 0.8, 0.0]])}
    assert blob_mask(reps, 0.5, "roa_minus_roi").tolist() == [[True, False, False]]
    with pytest.raises(ValueError, match="unknown blob mode"):
        blob_mask(reps, 0.5, "nope")


def test_ssim_window_fits_small_images():
    assert ssim_window((28, 28)) == 7
    assert ssim_window((8, 8)) == 7
    assert ssim_window((6, 5)) == 5
    assert ssim_window((4, 4)) == 3
    with pytest.raises(ValueError, match="at least 3"):
        ssim_window((2, 5))


def test_ssim_by_hand():
    a = np.zeros((3, 3))
    assert ssim(a, a) == pytest.approx(1.0)
    # one 3×3 window, no sample-covariance subtleties when one map is constant:
    # SSIM = (2·μa·μb + C1)(C2) / ((μa² + μb² + C1)(σa² + C2)) with σb = 0
    b = np.zeros((3, 3))
    b[1, 1] = 1.0
    c1, c2 = 0.01**2, 0.03**2
    mu_b, var_b = 1 / 9, np.var(b.ravel(), ddof=1)
    expected = (c1 * c2) / ((mu_b**2 + c1) * (var_b + c2))
    assert ssim(a, b) == pytest.approx(expected, rel=1e-9)
    assert ssim(b, a) == pytest.approx(expected, rel=1e-9)
    rng = np.random.default_rng(1)
    x, y = rng.random((8, 8)), rng.random((8, 8))
    assert ssim(x, y) == pytest.approx(structural_similarity(x, y, data_range=1.0, win_size=7))


def test_summary_statistics():
    stats = summary(np.array([1.0, 2.0, 3.0, 10.0]))
    assert stats == {"min": 1.0, "max": 10.0, "mean": 4.0, "median": 2.5, "std": pytest.approx(np.std([1, 2, 3, 10]))}


def _maps_file(path, cam, roa, labels):
    from roiroa.h5io import create_h5

    with create_h5(path, {"what": "test maps"}) as f:
        f["label"], f["index"] = np.asarray(labels, np.int64), np.arange(len(labels))
        f["cam"], f["roa"] = cam.astype(np.float32), roa.astype(np.float32)
    return path


def _image_specific_maps(n_per_class=12, side=9, seed=0):
    """Each image's RoA is its own RoI (a random 3×3 square): the pairing is image-specific."""
    rng = np.random.default_rng(seed)
    cam = np.zeros((2 * n_per_class, side, side))
    for image in cam:
        r, c = rng.integers(0, side - 3, 2)
        image[r:r + 3, c:c + 3] = 1.0
    return cam, cam.copy(), np.repeat([0, 1], n_per_class)


def test_regions_claim_a_fields_by_hand(tmp_path):
    import h5py

    from roiroa.regions import run_regions
    from roiroa.stats import paired_difference, shuffled_partners

    cam, roa, labels = _image_specific_maps()
    maps = _maps_file(tmp_path / "maps.h5", cam, roa, labels)
    kwargs = dict(delta1=0.5, delta2=0.5, representative="masks", classes=("a", "b"), seed=3, params={})
    one = run_regions(maps, tmp_path / "r1.h5", shuffles=1, **kwargs)
    with h5py.File(tmp_path / "r1.h5") as f:
        per_image, null, partners = f["ssim"][:], f["ssim_shuffled"][:], f["shuffled_partner"][:]
        roi, roa_masks = f["roi"][:], f["roa"][:]
    # one shuffle: the null is the single pairing of earlier versions, by hand
    assert np.array_equal(partners[:, 0], shuffled_partners(labels, 3))
    expected = [ssim(roi[i], roa_masks[j]) for i, j in enumerate(partners[:, 0])]
    np.testing.assert_allclose(null, expected)
    ours = labels == 0
    hand = paired_difference(per_image[ours], null[ours])
    assert one[0]["ssim_paired_diff_mean"] == pytest.approx(np.mean(per_image[ours] - null[ours]))
    assert (one[0]["ssim_paired_diff_low"], one[0]["ssim_paired_diff_high"], one[0]["ssim_paired_p"]) == \
        pytest.approx((hand["low"], hand["high"], hand["p"]))
    assert one[0]["ssim_paired_test"].startswith("Wilcoxon") and one[0]["ssim_shuffles"] == 1
    # RoA = RoI: SSIM 1 for every image, above both references, in a paired test
    for d in run_regions(maps, tmp_path / "r5.h5", shuffles=5, **kwargs):
        assert d["ssim_mean_of_samples"] == pytest.approx(1.0) and d["ssim_shuffles"] == 5
        assert d["ssim_paired_diff_low"] > 0 and d["ssim_paired_p"] < 0.01
        assert d["ssim_random_diff_low"] > 0 and d["ssim_random_p"] < 0.01
        assert d["ssim_random_masks_mean"] < 0.5
    with h5py.File(tmp_path / "r5.h5") as f:
        assert f["shuffled_partner"].shape == (len(labels), 5)
        assert np.array_equal(f["shuffled_partner"][:, 0], partners[:, 0])  # pairing 0 is kept
        # five pairings average out: the null moves towards its class mean
        assert f["ssim_shuffled"][:].std() < null.std()


def test_random_mask_reference_is_seeded(tmp_path):
    from roiroa.regions import run_regions

    cam, roa, labels = _image_specific_maps()
    maps = _maps_file(tmp_path / "maps.h5", cam, roa, labels)
    kwargs = dict(delta1=0.5, delta2=0.5, representative="masks", classes=("a", "b"), shuffles=4, params={})
    first = run_regions(maps, tmp_path / "a.h5", seed=0, **kwargs)
    again = run_regions(maps, tmp_path / "b.h5", seed=0, **kwargs)
    other = run_regions(maps, tmp_path / "c.h5", seed=1, **kwargs)
    assert first[0]["ssim_random_masks_mean"] == again[0]["ssim_random_masks_mean"]
    assert first[0]["ssim_random_masks_mean"] != other[0]["ssim_random_masks_mean"]
