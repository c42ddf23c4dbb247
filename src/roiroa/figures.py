"""The paper's Figures 6–10 and the score sweeps, as matplotlib figures.

Each plotting function takes arrays (images C×H×W, maps and masks H×W, all in
native pixel space) and returns a Figure, rendered with the Agg backend; `save`
writes it as PNG. The readers at the end fetch one direction's arrays from the
stage outputs, so the rule scripts stay thin.

Colours are the same in every figure: blue = RoI (important), red = RoA
(attacked), purple = both, orange = the blob.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap, to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from .data import clean_images
from .h5io import atomic_path, open_h5, read_attr, read_dataset, read_group
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
# The parameters a config can sweep, as named in scores.json; every run has rows of
# each re-attack order (neutralize.orders): a panel each, never averaged together.
SWEPT = ("attack", "eps", "cam", "delta1", "roa_source", "delta2", "theta", "fill", "order")
SYMBOLS = {"eps": "ε", "theta": "θ", "delta1": "δ1", "delta2": "δ2", "roa_source": "RoA from"}
SWEEP_LABELS = {"theta": "θ (blob threshold on class-level ŪV)", "delta1": "δ1 (RoI threshold on the CAM)",
                "delta2": "δ2 (RoA threshold on the perturbation magnitude)"}
PANEL = 2.6  # inches per image panel
TITLE_SIZE, PANEL_TITLE_SIZE, LABEL_SIZE = 10, 9, 8  # points
# Widths (inches) a text may take before it is wrapped: a figure title the
# figure less a margin, a panel title its panel, a colour bar label the bar.
FIGURE_MARGIN = 0.25
PANEL_TEXT = PANEL - 0.2
HEATMAP_TEXT = PANEL - 0.4  # over an image with a colour bar beside it
COLORBAR_TEXT = 2.4


class _NameWrapper(textwrap.TextWrapper):
    """Breaks at spaces, and inside long names after '_' or '→'
    ("cats_vs_dogs cat→dog"), rather than in the middle of a word."""

    wordsep_re = re.compile(r"(\s+|(?<=[_→])(?=\w))")


def wrap_lines(text: str, width: int) -> str:
    """Wrap every line of `text` to `width` characters. A line that does not fit
    breaks first after its first ': ' (titles read "<direction>: <what>"), then
    at spaces (or after '_' and '→' in names); only a word longer than `width`
    is cut."""
    wrapper = _NameWrapper(width)
    text = re.sub(r" ([=≥]) ", "\x01\\1\x01", text)  # "p = 0.97" stays on one line
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        head, sep, tail = line.partition(": ")
        parts = [head + ":", tail] if sep and len(head) < width else [line]
        for part in parts:
            out.extend(wrapper.wrap(part) or [""])
    return "\n".join(out).replace("\x01", " ")


def fit_text(fig: Figure, text: str, max_width: float, fontsize: float) -> str:
    """`text`, wrapped (wrap_lines) until it is at most `max_width` inches wide
    at `fontsize` points, measured with the figure's renderer."""
    renderer = fig.canvas.get_renderer()
    probe = Text(0, 0, text, fontsize=fontsize, figure=fig)

    def width(candidate: str) -> float:
        probe.set_text(candidate)
        return probe.get_window_extent(renderer).width / fig.dpi

    measured = width(text)
    if measured <= max_width:
        return text
    longest = max(len(line) for line in text.split("\n"))
    chars = min(longest - 1, int(longest * max_width / measured) + 2)
    while chars > 8:
        candidate = wrap_lines(text, chars)
        if width(candidate) <= max_width:
            return candidate
        chars -= 1
    return wrap_lines(text, 8)


def figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def suptitle(fig: Figure, title: str) -> Figure:
    """The figure title, wrapped to the figure's width; then the figure grows
    until everything it draws lies on the canvas (grow_to_fit)."""
    width = fig.get_figwidth() - 2 * FIGURE_MARGIN
    wrapped = fit_text(fig, title, width, TITLE_SIZE)
    # each line the wrapping adds makes the figure taller, not the panels smaller
    added = wrapped.count("\n") - title.count("\n")
    fig.set_figheight(fig.get_figheight() + added * 1.2 * TITLE_SIZE / 72)
    fig.suptitle(wrapped, fontsize=TITLE_SIZE)
    return grow_to_fit(fig)


def grow_to_fit(fig: Figure, rounds: int = 4) -> Figure:
    """Enlarge `fig` by what its drawn content (wrapped titles, legends under the
    panels) overflows the canvas, so the panels keep their size and nothing is
    cut off at the edges."""
    for _ in range(rounds):
        fig.canvas.draw()
        box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
        width, height = fig.get_size_inches()
        grow_x = max(0.0, -box.x0) + max(0.0, box.x1 - width)
        grow_y = max(0.0, -box.y0) + max(0.0, box.y1 - height)
        if grow_x < 0.01 and grow_y < 0.01:
            break
        fig.set_size_inches(width + grow_x + 0.05 * (grow_x > 0), height + grow_y + 0.05 * (grow_y > 0))
    return fig


def panel_title(ax, title: str, max_width: float = PANEL_TEXT, fontsize: float = PANEL_TITLE_SIZE) -> None:
    ax.set_title(fit_text(ax.figure, title, max_width, fontsize), fontsize=fontsize)


def new_figure(n_panels: int, height: float = PANEL + 0.9) -> tuple[Figure, list]:
    fig = figure(PANEL * n_panels + 0.6, height)
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
    panel_title(ax, title)
    ax.set_axis_off()


def overlay(ax, mask: np.ndarray, color: str, alpha: float = 0.6) -> None:
    """Paint the True pixels of `mask` in `color` over what the axes show."""
    rgba = np.zeros((*mask.shape, 4))
    rgba[mask.astype(bool)] = to_rgba(color, alpha)
    ax.imshow(rgba, interpolation="nearest")


def colorbar(fig, image, ax, label: str, **kwargs):
    """A colour bar with its label wrapped to the bar's length."""
    bar = fig.colorbar(image, ax=ax, shrink=0.85, **kwargs)
    bar.set_label(fit_text(fig, label, COLORBAR_TEXT, LABEL_SIZE), fontsize=LABEL_SIZE)
    bar.ax.tick_params(labelsize=LABEL_SIZE)
    return bar


def heatmap(fig, ax, values: np.ndarray, cmap: str, label: str, title: str, vmin=0.0, vmax=1.0):
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    colorbar(fig, image, ax, label)
    panel_title(ax, title, HEATMAP_TEXT)
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
    return suptitle(fig, title)


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
    return suptitle(fig, title)


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
    return suptitle(fig, title)


# ---- the four regions -----------------------------------------------------------


def regions_individual(roi, roa, *, title: str) -> Figure:
    """The four regions of one image as one categorical map, with pixel counts."""
    regions = four_regions(roi.astype(bool), roa.astype(bool))
    codes = np.select([regions[name] for name in REGIONS], range(len(REGIONS)))
    counts = [int((codes == i).sum()) for i in range(4)]
    fig = figure(PANEL + 3.2, PANEL + 0.6)
    ax = fig.subplots()
    cmap = ListedColormap([REGION_COLORS[name] for name in REGIONS])
    image = ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, ticks=range(4))
    bar.ax.set_yticklabels(
        [f"{REGION_TEX[n]}: {REGION_MEANING[n]} ({c} px)" for n, c in zip(REGIONS, counts)], fontsize=LABEL_SIZE
    )
    ax.set_axis_off()
    ax.set_title("U = in RoI, V = in RoA, bar = not", fontsize=LABEL_SIZE)
    return suptitle(fig, title)


def regions_representatives(reps: dict[str, np.ndarray], *, title: str) -> Figure:
    """The class-level frequency of each of the four regions, on one colour scale."""
    fig, axes = new_figure(4, height=PANEL + 0.6)
    for ax, name in zip(axes, REGIONS):
        image = ax.imshow(reps[name], cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        panel_title(ax, f"{REGION_TEX[name]}: {REGION_MEANING[name]}")
        ax.set_axis_off()
    colorbar(fig, image, axes, "share of class images with pixel in region")
    return suptitle(fig, title)


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
    panel_title(b, f"blob: {int(mask.sum())} of {mask.size} px")
    b.set_xticks([])  # a frame, no ticks: the white pixels are part of the image
    b.set_yticks([])
    legend(b, {"blob (set to the fill value)": BLOB_COLOR, "left unchanged": "white"})
    show_image(c, image, f"blob over {image_label}")
    overlay(c, mask, BLOB_COLOR, alpha=0.6)
    empty = "  (empty: neutralization changes nothing)" if not mask.any() else ""
    return suptitle(fig, f"{title}\nblob = {rule}, θ = {theta:g}{empty}")


# ---- the sweeps ------------------------------------------------------------------


def by_value(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct values of `x` (sorted) with the mean, minimum and maximum of
    the `y` values at each (several seeds give several rows per value)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    xs = np.unique(x)
    stats = []
    for value in xs:
        at = y[x == value]
        at = at[~np.isnan(at)]
        stats.append((at.mean(), at.min(), at.max()) if at.size else (np.nan,) * 3)
    mean, low, high = np.array(stats, dtype=float).reshape(-1, 3).T
    return xs, mean, low, high


def seeds_of(data: dict[str, np.ndarray], param: str) -> int:
    """How many seeds the rows of one sweep panel average."""
    if "seed" in data:
        return len(np.unique(data["seed"]))
    _, counts = np.unique(np.asarray(data[param]), return_counts=True)
    return int(counts.max()) if counts.size else 1


def score_sweep(groups: dict[str, dict[str, np.ndarray]], param: str, *, title: str) -> Figure:
    """score_mod and score_mod_adv against a swept parameter, one panel per setting
    of the other parameters; score_clean and score_adv (which the parameter does not
    change) as dashed reference lines. groups: {panel title: {column: values}}, as
    sweep_groups builds them. Several rows per parameter value (one per seed) are
    averaged: the line is the mean over seeds, the shaded band spans their minimum
    to maximum (for the reference lines too)."""
    n = len(groups)
    cols, rows = min(n, 4), -(-n // 4)
    fig = figure(max(4.4 * cols, 6.5), 1.3 + 3.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    n_seeds = max(seeds_of(data, param) for data in groups.values())
    for ax, (name, data) in zip(axes, groups.items()):
        x = np.asarray(data[param], dtype=float)
        for column, color, label in (("score_clean", ROI_COLOR, "score_clean (no blob)"),
                                     ("score_adv", ROA_COLOR, "score_adv (no blob)")):
            values = np.asarray(data[column], dtype=float)
            ax.axhline(np.nanmean(values), color=color, ls="--", lw=1, label=label)
            if n_seeds > 1 and np.nanmax(values) > np.nanmin(values):
                ax.axhspan(np.nanmin(values), np.nanmax(values), color=color, alpha=0.08, lw=0)
        for column, marker, color, label in (
                ("score_mod", "o-", ROI_COLOR, "score_mod (blob neutralized)"),
                ("score_mod_adv", "s-", ROA_COLOR, "score_mod_adv (neutralized, then attacked)")):
            xs, mean, low, high = by_value(x, data[column])
            ax.plot(xs, mean, marker, color=color, label=label)
            if n_seeds > 1:
                ax.fill_between(xs, low, high, color=color, alpha=0.2, lw=0)
        ax.set_xticks(np.unique(x))
        ax.tick_params(labelsize=LABEL_SIZE)
        ax.set_xlabel(fit_text(fig, SWEEP_LABELS.get(param, param), 4.0, 10))
        ax.set_ylim(-0.03, 1.03)
        if n > 1:
            panel_title(ax, name, 4.0)
        ax.grid(alpha=0.3)
    for ax in axes[::cols]:
        ax.set_ylabel("accuracy on the source\nclass's test images")
    band = (f"lines: mean of {n_seeds} seeds, shaded: their minimum to maximum" if n_seeds > 1 else None)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=LABEL_SIZE,
               title=band, title_fontsize=LABEL_SIZE, frameon=False)
    return suptitle(fig, title)


# ---- attacks side by side ------------------------------------------------------------


def roa_comparison(image, roi, roas: dict[str, tuple[np.ndarray, np.ndarray]], *, title: str) -> Figure:
    """One image's RoI beside the RoA of each attack (or of the loss gradient).

    roas: {label: (magnitude H×W in [0, 1], RoA mask H×W)}, drawn in that order,
    one column each: the continuous magnitude on top (one colour scale), the
    RoA in red over the image with the RoI outlined in blue below. The first
    column holds the image and its RoI."""
    n = len(roas)
    roi = np.asarray(roi, dtype=bool)
    fig = figure(0.9 + 2.3 * (n + 1), 6.0)
    axes = fig.subplots(2, n + 1, squeeze=False)
    show_image(axes[0, 0], image, "clean image")
    show_image(axes[1, 0], image, f"RoI: {int(roi.sum())} px")
    overlay(axes[1, 0], roi, ROI_COLOR)
    shown = None
    for column, (label, (magnitude, mask)) in enumerate(roas.items(), 1):
        top, bottom = axes[0, column], axes[1, column]
        mask = np.asarray(mask, dtype=bool)
        shown = top.imshow(magnitude, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        panel_title(top, label, 2.2)
        top.set_axis_off()
        show_image(bottom, image, f"RoA: {int(mask.sum())} px,\n{int((mask & roi).sum())} of them in the RoI")
        overlay(bottom, mask, ROA_COLOR)
        outline(bottom, roi, ROI_COLOR)
    if shown is not None:
        colorbar(fig, shown, list(axes[0, 1:]), "magnitude, scaled to [0, 1]")
    handles = [Patch(facecolor=ROI_COLOR, alpha=0.6, label="RoI (important)"),
               Patch(facecolor=ROA_COLOR, alpha=0.6, label="RoA (attacked)"),
               Line2D([], [], color=ROI_COLOR, lw=1.2, label="RoI outline")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=LABEL_SIZE, frameon=False)
    return suptitle(fig, title)


LINESTYLES = ("-", "--", ":", "-.")


def accuracy_vs_eps(curves: dict[str, dict], *, title: str, band: str = "shaded: interval") -> Figure:
    """Accuracy against the attack budget ε, one line per curve with its interval
    shaded. curves: {label: {"eps": [...], "mean": [...], "low": [...], "high": [...]}}
    ("low"/"high" may be left out: no band). Labels "<attack> <variant>" ("FGSM
    clean", "FGSM neutralized", "PGD-L∞ clean") share a colour per attack and a
    line style per variant."""
    fig = figure(8.0, 4.6)
    ax = fig.subplots()
    groups, variants = {}, {}
    for label in curves:
        group, _, variant = label.rpartition(" ") if " " in label else (label, "", "")
        groups.setdefault(group, len(groups))
        variants.setdefault(variant, len(variants))
    for label, curve in curves.items():
        group, _, variant = label.rpartition(" ") if " " in label else (label, "", "")
        color = f"C{groups[group] % 10}"
        style = LINESTYLES[variants[variant] % len(LINESTYLES)]
        eps = np.asarray(curve["eps"], dtype=float)
        order = np.argsort(eps)
        ax.plot(eps[order], np.asarray(curve["mean"], dtype=float)[order], marker="o", ms=4, ls=style,
                color=color, label=label)
        if curve.get("low") is not None and curve.get("high") is not None:
            ax.fill_between(eps[order], np.asarray(curve["low"], dtype=float)[order],
                            np.asarray(curve["high"], dtype=float)[order], color=color, alpha=0.15, lw=0)
    values = np.unique(np.concatenate([np.zeros(0)] + [np.asarray(c["eps"], dtype=float) for c in curves.values()]))
    positive = values[values > 0]
    if positive.size > 1 and positive.max() / positive.min() >= 10:
        # budgets a factor apart (0.01, 0.03, 0.1, 0.3): logarithmic, with 0 on a linear stretch
        ax.set_xscale("symlog", linthresh=positive.min(), linscale=0.5)
    if 0 < values.size <= 12:
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
    ax.tick_params(labelsize=LABEL_SIZE)
    ax.set_xlabel("ε (attack budget)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=max(1, min(3, len(curves))), fontsize=LABEL_SIZE, title=band,
               title_fontsize=LABEL_SIZE, frameon=False)
    return suptitle(fig, title)


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
    """The first test image of `source` with its maps and regions; a damaged input is
    named (roiroa.h5io's checked readers)."""
    with open_h5(regions_path, "regions") as regions, open_h5(maps_path, "maps") as maps:
        cls = class_index(read_attr(regions, "classes"), source, target)
        row = int(np.flatnonzero(read_dataset(maps, "label") == cls)[0])  # rows are in test-split order
        index = int(read_dataset(maps, "index", row))
        with open_h5(data_path, "prepared data") as data:  # the clean image in the maps' space
            image = clean_images(data["test"], maps, np.array([row]))[0]
        return Example(
            index=index, image=image, x_adv=read_dataset(maps, "x_adv", row), cam=read_dataset(maps, "cam", row),
            magnitude=read_dataset(maps, "roa", row),
            roi=read_dataset(regions, "roi", row), roa=read_dataset(regions, "roa", row),
            prob_clean=read_dataset(maps, "prob_clean", row), prob_adv=read_dataset(maps, "prob_adv", row),
        )


def read_representatives(regions_path, source: str, target: str) -> tuple[dict[str, np.ndarray], float, int]:
    """The class representatives, their SSIM, and how many images they average."""
    with open_h5(regions_path, "regions") as f:
        cls = class_index(read_attr(f, "classes"), source, target)
        group = read_group(f, f"representatives/{source}")
        # the images the representatives were fitted on: the calibration part, or all (fit_on: test)
        fitted = read_dataset(f, "label") == cls
        if "calibration" in f:
            fitted &= read_dataset(f, "calibration")
        maps = {k: read_dataset(group, k) for k in group}
        return maps, float(read_attr(group, "ssim")), int(fitted.sum())


def sweep_groups(rows: list[dict], param: str, source: str) -> dict[str, dict[str, np.ndarray]]:
    """Rows of one direction (tables.load_rows of scores.json) grouped by the other
    swept parameters: {"δ1=0.5, δ2=0.3": {param: [...], "score_mod": [...], ...}}."""
    rows = [r for r in rows if str(r["source"]) == source]
    if not rows:
        raise ValueError(f"no scores for source class {source}")
    varying = [k for k in swept_keys(rows) if k != param and len({str(r[k]) for r in rows}) > 1]
    columns = [param, "score_clean", "score_adv", "score_mod", "score_mod_adv"]
    if all("seed" in r for r in rows):
        columns.append("seed")  # several seeds: several rows per value, averaged by score_sweep
    groups: dict[str, dict[str, list]] = {}
    for row in rows:
        name = ", ".join(f"{SYMBOLS.get(k, k)} = {row[k]}" for k in varying) or "one setting"
        data = groups.setdefault(name, {})
        for column in columns:
            data.setdefault(column, []).append(float(row[column]))
    return {name: {k: np.array(v) for k, v in data.items()} for name, data in sorted(groups.items())}


def swept_keys(rows: list[dict]) -> list[str]:
    """The sweepable parameters the rows carry (older scores.json lack roa_source)."""
    return [k for k in SWEPT if all(k in r for r in rows)]


def fixed_settings(rows: list[dict], param: str) -> str:
    """The parameters shared by all rows (for a sweep plot's title)."""
    fixed = [k for k in swept_keys(rows) if k != param and len({str(r[k]) for r in rows}) == 1]
    return ", ".join(f"{SYMBOLS.get(k, k)} = {rows[0][k]}" for k in fixed)
