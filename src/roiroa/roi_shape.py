"""How much of the RoI's shape comes from the CAM map rather than from the data
(issue 23 §3, the CAM-layer readings of docs/results/readings.md).

At 48×48 input VGG16's last conv block gives a 3×3 map, upsampled to the image and
thresholded at δ1, so the RoI may be a coarse shape of the map more than a shape of
the object. Three numbers per seed and pair tell the two apart, from each reading's
regions.h5 (the RoI masks and the class representatives) and data.h5 (the images):

- `distinct RoI masks`: how many different binary RoIs the class's images have
  (a coarse map allows fewer; a RoI made by the data is nearly one per image);
- `r(RoI of the two classes)`: Pearson correlation of the two classes' representative
  RoIs, beside `r(images of the two classes)`, that of their mean images. A RoI made
  by the data differs between classes about as much as the images do; a RoI made by
  the map is the same shape for both (r near 1, well above the images' r);
- `r(RoI, class image)`: correlation of a class's representative RoI with its mean
  image (does the RoI follow where the object is?).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from skimage.transform import resize

from .data import read_rows
from .publish import of_config


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pixel-wise Pearson correlation; NaN where either array is constant."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def distinct_masks(masks: np.ndarray) -> int:
    """How many different binary masks there are among `masks` (n, H, W)."""
    return len({np.packbits(m).tobytes() for m in masks.astype(bool)})


def shape_statistics(roi: np.ndarray, labels: np.ndarray, representatives: list[np.ndarray],
                     class_images: list[np.ndarray]) -> dict:
    """The numbers of the module docstring for one seed of a pair: `roi` the images'
    RoI masks (n, H, W), `labels` their class (0 or 1), `representatives` and
    `class_images` each class's representative RoI and mean image (H, W)."""
    row = {"r(RoI of the two classes)": pearson(*representatives),
           "r(images of the two classes)": pearson(*class_images)}
    for cls in (0, 1):
        ours = labels == cls
        row[f"distinct RoI masks, class {cls}"] = distinct_masks(roi[ours])
        row[f"images, class {cls}"] = int(ours.sum())
        row[f"r(RoI, class image), class {cls}"] = pearson(representatives[cls], class_images[cls])
    return row


def _class_images(data: Path, index: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    """Each class's mean test image (channels averaged), at the RoI's size (the
    model-input space's RoIs are larger than the native images)."""
    with h5py.File(data, "r") as f:
        images = read_rows(f["test"], np.sort(index))[0]  # read in increasing row order
    images = images[np.argsort(np.argsort(index))].mean(axis=1)
    means = [images[labels == cls].mean(axis=0) for cls in (0, 1)]
    return [m if m.shape == shape else resize(m, shape, order=1, anti_aliasing=False) for m in means]


def _read(regions: Path, data: Path) -> tuple:
    """A regions.h5's RoI masks, labels, class names and representative RoIs, with
    each class's mean image (_class_images)."""
    with h5py.File(regions, "r") as f:
        roi, labels, index = f["roi"][:], f["label"][:], f["index"][:]
        classes = [str(c) for c in f.attrs["classes"]]
        representatives = [f[f"representatives/{c}/roi"][:] for c in classes]
    return roi, labels, classes, representatives, _class_images(data, index, labels, roi.shape[1:])


def regions_files(results: Path, dataset: str, config: dict) -> list[Path]:
    """The regions.h5 of every seed and pair of `dataset` that `config` runs."""
    belongs = of_config(config, dataset)
    return [p for p in sorted((results / dataset).glob("**/regions.h5"))
            if belongs(p.relative_to(results).parts)]


def shape_frame(results: Path, dataset: str, config: dict) -> pd.DataFrame:
    """One row per regions.h5 of the config (pair, seed): shape_statistics."""
    rows = []
    for path in regions_files(results, dataset, config):
        roi, labels, classes, representatives, images = _read(path, results / dataset / "data.h5")
        seed = next(p.split("~", 1)[1] for p in path.parts if p.startswith("seed~"))
        rows.append({"pair": f"{classes[0]} vs {classes[1]}", "seed": int(seed),
                     **shape_statistics(roi, labels, representatives, images)})
    return pd.DataFrame(rows)


SHAPE_COLUMNS = ["r(RoI of the two classes)", "r(images of the two classes)",
                 "r(RoI, class image), class 0", "r(RoI, class image), class 1",
                 "distinct RoI masks, class 0", "distinct RoI masks, class 1"]


def study_shapes(results: Path, dataset: str, configs: dict[str, dict]) -> pd.DataFrame:
    """Per reading (name → its config) and pair, the mean over seeds of each number,
    with the seeds it has and the images per class."""
    rows = []
    for name, config in configs.items():
        frame = shape_frame(results, dataset, config)
        for pair, group in frame.groupby("pair", sort=False):
            rows.append({"reading": name, "pair": pair, "seeds": len(group),
                         "images": f"{group['images, class 0'].iloc[0]} / {group['images, class 1'].iloc[0]}",
                         **group[SHAPE_COLUMNS].mean().to_dict()})
    return pd.DataFrame(rows)


def answer(shapes: pd.DataFrame, base: str = "default") -> str:
    """Generated sentences per pair: the numbers of each reading, and whether a map
    other than the base's makes the classes' RoIs less alike or follow the images more."""
    lines = []
    for pair, group in shapes.groupby("pair", sort=False):
        follow = ["r(RoI, class image), class 0", "r(RoI, class image), class 1"]
        alike = "; ".join(f"**{r['reading']}** {r['r(RoI of the two classes)']:.2f}" for _, r in group.iterrows())
        follows = "; ".join(f"{r['reading']} {r[follow[0]]:.2f} / {r[follow[1]]:.2f}" for _, r in group.iterrows())
        lines.append(f"- {pair}: the two classes' mean images correlate at r = "
                     f"{group['r(images of the two classes)'].iloc[0]:.2f}, their representative RoIs at r = "
                     f"{alike}. Each class's RoI against its mean image (first / second class): {follows}.")
        baseline, others = group[group["reading"] == base], group[group["reading"] != base]
        if len(baseline) and len(others):
            ours = baseline["r(RoI of the two classes)"].iloc[0]
            least = others.loc[others["r(RoI of the two classes)"].idxmin()]
            follows_images = others[follow].mean(axis=1)
            most = others.loc[follows_images.idxmax()]
            theirs = least["r(RoI of the two classes)"]
            lines.append(
                f"  Of the other maps, the classes' RoIs are least alike under **{least['reading']}** "
                f"(r {theirs:.2f} against {ours:.2f} for {base}); "
                + ("so a different map makes the classes' RoIs less alike. " if theirs < ours
                   else f"no other map makes them less alike than {base}'s. ")
                + f"Following the images most: **{most['reading']}** (mean r {follows_images.max():.2f} against "
                f"{baseline[follow].mean(axis=1).iloc[0]:.2f} for {base}).")
    return "\n".join(lines)


def figure(results: Path, dataset: str, configs: dict[str, dict], path: Path) -> Path | None:
    """Each reading's representative RoIs of the first pair's two classes (its lowest
    seed) beside the classes' mean images: one row per reading."""
    from .figures import figure as new_figure, save

    found = {name: files[0] for name, config in configs.items() if (files := regions_files(results, dataset, config))}
    if not found:
        return None
    fig = new_figure(7, 1.7 * len(found) + 0.4)
    for row, (name, regions) in enumerate(found.items()):
        _, _, classes, representatives, images = _read(regions, results / dataset / "data.h5")
        panels = [(images[0], f"class {classes[0]}: mean image"), (representatives[0], "representative RoI"),
                  (images[1], f"class {classes[1]}: mean image"), (representatives[1], "representative RoI")]
        for col, (values, title) in enumerate(panels):
            ax = fig.add_subplot(len(found), 4, 4 * row + col + 1)
            ax.imshow(values, cmap="gray" if "image" in title else "viridis", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(title, fontsize=7)
            if col == 0:
                ax.set_ylabel(name, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(fig, path)
    return path
