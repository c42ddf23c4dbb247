"""Where the RoI's shape comes from (roiroa.roi_shape): numbers that tell a RoI made
by a coarse map (alike for both classes) from one made by the data (following each
class's image), on arrays built to be one or the other and on a real run's files."""

import numpy as np
import pandas as pd
import pytest
import yaml

from roiroa import roi_shape


def _classes():
    """Two 12×12 'images': a vertical bar (class 0) and a horizontal bar (class 1),
    20 noisy copies of each."""
    bar = np.zeros((12, 12))
    bar[2:10, 5:7] = 1
    rng = np.random.default_rng(0)
    images = np.stack([bar] * 20 + [bar.T] * 20) + rng.normal(0, 0.05, (40, 12, 12))
    return images, np.repeat([0, 1], 20)


def _statistics(roi, labels, images):
    representatives = [roi[labels == c].mean(axis=0) for c in (0, 1)]
    class_images = [images[labels == c].mean(axis=0) for c in (0, 1)]
    return roi_shape.shape_statistics(roi, labels, representatives, class_images)


def test_a_roi_made_by_the_map_is_alike_for_both_classes_and_a_roi_made_by_the_data_is_not():
    images, labels = _classes()
    # the map's RoI: one coarse quadrant, whatever the image, two shapes in all
    coarse = np.zeros((40, 12, 12), bool)
    coarse[:, :6, :6] = True
    coarse[::2, :6, :8] = True
    made_by_map = _statistics(coarse, labels, images)
    made_by_data = _statistics(images > 0.5, labels, images)
    assert made_by_map["r(RoI of the two classes)"] == pytest.approx(1.0)
    assert made_by_data["r(RoI of the two classes)"] < made_by_map["r(RoI of the two classes)"] - 0.5
    assert made_by_data["r(RoI of the two classes)"] == pytest.approx(made_by_data["r(images of the two classes)"],
                                                                      abs=0.1)
    assert made_by_data["r(RoI, class image), class 0"] > 0.9 > made_by_map["r(RoI, class image), class 0"]
    assert made_by_map["distinct RoI masks, class 0"] == 2 and made_by_map["images, class 1"] == 20


def test_the_answer_says_whether_another_map_makes_the_classes_rois_less_alike():
    def row(reading, alike, follows):
        return {"reading": reading, "pair": "0 vs 1", "r(RoI of the two classes)": alike,
                "r(images of the two classes)": 0.3, "r(RoI, class image), class 0": follows,
                "r(RoI, class image), class 1": follows}

    finer = roi_shape.answer(pd.DataFrame([row("default", 0.8, 0.2), row("block4", 0.4, 0.6)]))
    assert "least alike under **block4** (r 0.40 against 0.80 for default); so a different map makes" in finer
    assert "Following the images most: **block4** (mean r 0.60 against 0.20" in finer
    same = roi_shape.answer(pd.DataFrame([row("default", 0.8, 0.2), row("block4", 0.9, 0.1)]))
    assert "no other map makes them less alike than default's" in same


def test_pearson_of_a_constant_map_is_undefined_and_distinct_masks_counts_shapes():
    assert np.isnan(roi_shape.pearson(np.ones((4, 4)), np.eye(4)))
    masks = np.zeros((5, 3, 3), bool)
    masks[1, 0, 0] = masks[2, 0, 0] = masks[3, 2, 2] = True
    assert roi_shape.distinct_masks(masks) == 3


def test_the_shapes_of_a_real_run_are_read_from_its_own_regions_only(tiny_run):
    results = tiny_run / "results"
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    frame = roi_shape.shape_frame(results, "digits", config)
    assert len(frame) == len(config["seeds"])  # one regions.h5 per seed of the one pair
    assert frame["images, class 0"].iloc[0] > 0 and -1 <= frame["r(RoI of the two classes)"].iloc[0] <= 1
    other = {**config, "regions": {**config["regions"], "delta1": [0.9]}}  # a setting that did not run
    assert roi_shape.regions_files(results, "digits", other) == []
    shapes = roi_shape.study_shapes(results, "digits", {"default": config})
    assert "**default**" in roi_shape.answer(shapes)
