"""The paper's Figures 6–10 and the score sweeps, as matplotlib figures.

Each plotting function takes arrays (images C×H×W, maps and masks H×W, all in
native pixel space) and returns a Figure, rendered with the Agg backend; `save`
writes it as PNG. The readers at the end fetch one direction's arrays from the
stage outputs, so the rule scripts stay thin.

Colours are the same in every figure: blue = RoI (important), red = RoA
(attacked), purple = both, orange = the blob.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .h5io import atomic_path
from .regions import REGIONS, four_regions

ROI_COLOR, ROA_COLOR, BOTH_COLOR, NEITHER_COLOR, BLOB_COLOR = "#1f77b4", "#d62728", "#9467bd", "#e8e8e8", "#ff7f0e"
REGION_COLORS = {"uv": BOTH_COLOR, "u_vbar": ROI_COLOR, "ubar_v": ROA_COLOR, "ubar_vbar": NEITHER_COLOR}
# U = in the RoI (important), V = in the RoA (attacked); mathtext draws the bars.
REGION_TEX = {"uv": r"$UV$", "u_vbar": r"$U\bar{V}$", "ubar_v": r"$\bar{U}V$", "ubar_vbar": r"$\bar{U}\bar{V}$"}
REGION_MEANING = {
    "uv": "important, attacked",
    "u_vbar": "important, not attacked",
    "ubar_v": "attacked, not important",
    "ubar_vbar": "neither",
}
# The parameters a config can sweep, as named in scores.json.
SWEPT = ("attack", "eps", "cam", "delta1", "delta2", "theta", "fill")
SYMBOLS = {"eps": "ε", "theta": "θ", "delta1": "δ1", "delta2": "δ2"}
SWEEP_LABELS = {"theta": "θ (blob threshold on class-level ŪV)", "delta1": "δ1 (RoI threshold on the CAM)",
                "delta2": "δ2 (RoA threshold on the perturbation magnitude)"}
PANEL = 2.6  # inches per image panel


def new_figure(n_panels: int, height: float = PANEL + 0.9) -> tuple[Figure, list]:
    fig = Figure(figsize=(PANEL * n_panels + 0.6, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, list(axes)


def save(fig: Figure, path: str | Path, dpi: int = 110) -> None:
    """Write `fig` as PNG, atomically (no software tag: same figure, same bytes)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})


def show_image(ax, image: np.ndarray, title: str = "") -> None:
    """A C×H×W image in [0, 1]: grey for one channel, RGB for three."""
    pixels = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    ax.imshow(np.clip(pixels, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def overlay(ax, mask: np.ndarray, color: str, alpha: float = 0.6) -> None:
    """Paint the True pixels of `mask` in `color` over what the axes show."""
    rgba = np.zeros((*mask.shape, 4))
    rgba[mask.astype(bool)] = to_rgba(color, alpha)
    ax.imshow(rgba, interpolation="nearest")


def heatmap(fig, ax, values: np.ndarray, cmap: str, label: str, title: str, vmin=0.0, vmax=1.0):
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.85).set_label(label, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return image


def prediction(prob: np.ndarray, classes) -> str:
    """'predicted 1 (p = 0.73)' from a model's two class probabilities."""
    k = int(np.argmax(prob))
    return f"predicted {classes[k]} (p = {prob[k]:.2f})"


def legend(ax, entries: dict[str, str]) -> None:
    """Colour patches under the axes: {label: colour}."""
    handles = [Patch(facecolor=color, edgecolor="black", linewidth=0.5, label=label)
               for label, color in entries.items()]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=8, frameon=False)


# ---- Figures 6 and 7: RoI and RoA of one image ---------------------------------


def roi_individual(image, cam, roi, *, delta1: float, cam_method: str, title: str) -> Figure:
    """Figure 6: the image, its CAM, and the RoI (CAM ≥ δ1) over the image."""
    fig, (a, b, c) = new_figure(3)
    show_image(a, image, "clean image")
    heatmap(fig, b, cam, "viridis", f"CAM value ({cam_method}, scaled to [0, 1])", "class activation map")
    show_image(c, image, f"RoI: CAM ≥ δ1 = {delta1:g}  ({int(roi.sum())} px)")
    overlay(c, roi, ROI_COLOR)
    legend(c, {"RoI (important)": ROI_COLOR})
    fig.suptitle(title, fontsize=10)
    return fig


def roa_individual(image, x_adv, magnitude, roa, *, delta2: float, eps: float, title: str,
                   clean_label: str = "", adv_label: str = "") -> Figure:
    """Figure 7: clean and adversarial image, the perturbation magnitude, the RoA."""
    fig, (a, b, c, d) = new_figure(4)
    show_image(a, image, f"clean image\n{clean_label}".strip())
    show_image(b, x_adv, f"adversarial image (ε = {eps:g})\n{adv_label}".strip())
    heatmap(fig, c, magnitude, "magma", "‖x_adv − x‖₂ over channels / (ε·√C)", "perturbation magnitude")
    show_image(d, image, f"RoA: magnitude ≥ δ2 = {delta2:g}  ({int(roa.sum())} px)")
    overlay(d, roa, ROA_COLOR)
    legend(d, {"RoA (attacked)": ROA_COLOR})
    fig.suptitle(title, fontsize=10)
    return fig


# ---- Figures 8 and 9: class representatives -------------------------------------


def representatives(roi_rep, roa_rep, *, mode: str, title: str) -> Figure:
    """Figures 8 and 9: the class-level RoI and RoA (pixel-wise means over the class)."""
    if mode == "masks":
        roi_label, roa_label = "share of class images with pixel in RoI", "share of class images with pixel in RoA"
    else:
        roi_label, roa_label = "mean CAM value over the class", "mean perturbation magnitude over the class"
    fig, (a, b) = new_figure(2, height=PANEL + 0.6)
    heatmap(fig, a, roi_rep, "Blues", roi_label, "representative RoI")
    heatmap(fig, b, roa_rep, "Reds", roa_label, "representative RoA")
    fig.suptitle(title, fontsize=10)
    return fig


# ---- the four regions -----------------------------------------------------------


def regions_individual(roi, roa, *, title: str) -> Figure:
    """The four regions of one image as one categorical map, with pixel counts."""
    regions = four_regions(roi.astype(bool), roa.astype(bool))
    codes = np.select([regions[name] for name in REGIONS], range(len(REGIONS)))
    counts = [int((codes == i).sum()) for i in range(4)]
    fig = Figure(figsize=(PANEL + 3.2, PANEL + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    cmap = ListedColormap([REGION_COLORS[name] for name in REGIONS])
    image = ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, ticks=range(4))
    bar.ax.set_yticklabels(
        [f"{REGION_TEX[n]}: {REGION_MEANING[n]} ({c} px)" for n, c in zip(REGIONS, counts)], fontsize=8
    )
    ax.set_axis_off()
    ax.set_title("U = in RoI, V = in RoA, bar = not", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def regions_representatives(reps: dict[str, np.ndarray], *, title: str) -> Figure:
    """The class-level frequency of each of the four regions, on one colour scale."""
    fig, axes = new_figure(4, height=PANEL + 0.6)
    for ax, name in zip(axes, REGIONS):
        image = ax.imshow(reps[name], cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{REGION_TEX[name]}: {REGION_MEANING[name]}", fontsize=9)
        ax.set_axis_off()
    bar = fig.colorbar(image, ax=axes, shrink=0.85)
    bar.set_label("share of class images with pixel in region", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


# ---- Figure 10: the blob ---------------------------------------------------------


def outline(ax, mask: np.ndarray, color: str = "black") -> None:
    """Draw the outline of a mask along pixel edges."""
    if mask.any():
        fine = np.kron(mask.astype(float), np.ones((16, 16)))
        h, w = mask.shape
        ax.contour(fine, levels=[0.5], colors=color, linewidths=1.2, origin="upper",
                   extent=(-0.5, w - 0.5, -0.5, h - 0.5))


def blob(ubar_v_rep, mask, image, *, theta: float, mode: str, title: str, image_label: str) -> Figure:
    """Figure 10: the class-level ŪV (blob outlined), the blob, and the blob on one image."""
    rule = "class-level ŪV ≥ θ" if mode == "ubar_v" else "class-level RoA ≥ θ and RoI < θ"
    fig, (a, b, c) = new_figure(3)
    heatmap(fig, a, ubar_v_rep, "Reds", "share of class images with pixel in ŪV", "class-level ŪV, blob outlined")
    outline(a, mask)
    b.imshow(np.zeros(mask.shape), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    overlay(b, mask, BLOB_COLOR, alpha=1.0)
    b.set_title(f"blob: {int(mask.sum())} of {mask.size} px", fontsize=9)
    b.set_axis_off()
    legend(b, {"blob (set to the fill value)": BLOB_COLOR, "left unchanged": "white"})
    show_image(c, image, f"blob over {image_label}")
    overlay(c, mask, BLOB_COLOR, alpha=0.6)
    empty = "  (empty: neutralization changes nothing)" if not mask.any() else ""
    fig.suptitle(f"{title}\nblob = {rule}, θ = {theta:g}{empty}", fontsize=10)
    return fig


# ---- the sweeps ------------------------------------------------------------------


def score_sweep(groups: dict[str, dict[str, np.ndarray]], param: str, *, title: str) -> Figure:
    """score_mod and score_mod_adv against a swept parameter, one panel per setting
    of the other parameters; score_clean and score_adv (which the parameter does not
    change) as dashed reference lines. groups: {panel title: {column: values}}."""
    n = len(groups)
    cols, rows = min(n, 4), -(-n // 4)
    fig = Figure(figsize=(max(4.4 * cols, 6.5), 0.6 + 3.6 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax, (name, data) in zip(axes, groups.items()):
        order = np.argsort(data[param])
        x = np.asarray(data[param])[order]
        ax.axhline(np.nanmean(data["score_clean"]), color=ROI_COLOR, ls="--", lw=1, label="score_clean (no blob)")
        ax.axhline(np.nanmean(data["score_adv"]), color=ROA_COLOR, ls="--", lw=1, label="score_adv (no blob)")
        ax.plot(x, np.asarray(data["score_mod"])[order], "o-", color=ROI_COLOR, label="score_mod (blob neutralized)")
        ax.plot(x, np.asarray(data["score_mod_adv"])[order], "s-", color=ROA_COLOR,
                label="score_mod_adv (neutralized, then attacked)")
        ax.set_xticks(np.unique(x))
        ax.set_xlabel(SWEEP_LABELS.get(param, param))
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(name if n > 1 else "", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[::cols]:
        ax.set_ylabel("accuracy on the source\nclass's test images")
    axes[n - 1].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    return fig


# ---- readers: one direction's arrays from the stage outputs ----------------------


@dataclass
class Example:
    """The first test image of a source class (lowest row of data.h5's test split)."""

    index: int
    image: np.ndarray
    x_adv: np.ndarray
    cam: np.ndarray
    magnitude: np.ndarray
    roi: np.ndarray
    roa: np.ndarray
    prob_clean: np.ndarray
    prob_adv: np.ndarray


def class_index(classes, source: str, target: str) -> int:
    """The binary label of `source`; an error unless source→target is a direction of the pair."""
    classes = [str(c) for c in classes]
    if source not in classes or {source, target} != set(classes):
        raise ValueError(f"{source}→{target} is not a direction of the pair {'-'.join(classes)}")
    return classes.index(source)


def read_example(data_path, maps_path, regions_path, source: str, target: str) -> Example:
    with h5py.File(regions_path, "r") as regions, h5py.File(maps_path, "r") as maps:
        cls = class_index(regions.attrs["classes"], source, target)
        row = int(np.flatnonzero(maps["label"][:] == cls)[0])  # rows are in test-split order
        index = int(maps["index"][row])
        with h5py.File(data_path, "r") as data:
            image = data["test"]["images"][index]
        return Example(
            index=index, image=image, x_adv=maps["x_adv"][row], cam=maps["cam"][row], magnitude=maps["roa"][row],
            roi=regions["roi"][row], roa=regions["roa"][row],
            prob_clean=maps["prob_clean"][row], prob_adv=maps["prob_adv"][row],
        )


def read_representatives(regions_path, source: str, target: str) -> tuple[dict[str, np.ndarray], float, int]:
    """The class representatives, their SSIM, and how many images they average."""
    with h5py.File(regions_path, "r") as f:
        cls = class_index(f.attrs["classes"], source, target)
        group = f["representatives"][source]
        return {k: v[:] for k, v in group.items()}, float(group.attrs["ssim"]), int((f["label"][:] == cls).sum())


def read_blob(blob_path, source: str, target: str) -> np.ndarray:
    with h5py.File(blob_path, "r") as f:
        class_index(f.attrs["classes"], source, target)
        return f["blob"][source][:]


def sweep_groups(rows: list[dict], param: str, source: str) -> dict[str, dict[str, np.ndarray]]:
    """Rows of one direction (tables.load_rows of scores.json) grouped by the other
    swept parameters: {"δ1=0.5, δ2=0.3": {param: [...], "score_mod": [...], ...}}."""
    rows = [r for r in rows if str(r["source"]) == source]
    if not rows:
        raise ValueError(f"no scores for source class {source}")
    varying = [k for k in SWEPT if k != param and len({str(r[k]) for r in rows}) > 1]
    groups: dict[str, dict[str, list]] = {}
    for row in rows:
        name = ", ".join(f"{SYMBOLS.get(k, k)} = {row[k]}" for k in varying) or "one setting"
        data = groups.setdefault(name, {})
        for column in (param, "score_clean", "score_adv", "score_mod", "score_mod_adv"):
            data.setdefault(column, []).append(float(row[column]))
    return {name: {k: np.array(v) for k, v in data.items()} for name, data in sorted(groups.items())}


def fixed_settings(rows: list[dict], param: str) -> str:
    """The parameters shared by all rows (for a sweep plot's title)."""
    fixed = [k for k in SWEPT if k != param and len({str(r[k]) for r in rows}) == 1]
    return ", ".join(f"{SYMBOLS.get(k, k)} = {rows[0][k]}" for k in fixed)
