"""Folder datasets declared in the config: your own images, no code (docs/own_data.md).

    datasets:
      own:
        folder: data/own        # one sub-folder of images per class
        classes: auto           # the sub-folder names, sorted; or a list of them
        pairs: [[cats, dogs]]

Class names are the folder names in lower case, every run of other characters
than a-z, 0-9 and _ replaced by one `_` ("Big Cats" is `big_cats`). Every file
of a class folder is tried (any format PIL reads, sorted by name, sub-folders
ignored); unreadable ones are skipped with their reason, as in
roiroa.loaders.folders, whose decoding helpers this module shares.

- `channels: auto` keeps grey images grey (1 channel) and colour ones colour
  (3); a folder that mixes both is converted to colour and the report counts
  the conversions. 1 or 3 force it.
- `native_size: auto` keeps the images' own size, which must then be one size
  for all (an error names the sizes found); a number resizes every image to
  that side (bilinear, aspect ratio not kept).
- `test_folder` (optional) holds the same class sub-folders: the official test
  split. Without it prepare_data draws a seeded stratified split.

There is no download step: the images are yours. The checks that need only
the folder names run when the workflow starts (roiroa.config); the rest
(readable images, sizes) when data.h5 is prepared, before any training.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from ..registry import DatasetSpec, LoadedData, Split, register
from .folders import UnsupportedImage, dangling_symlinks, to_8bit, why_unreadable

# Modes PIL opens grey images in (16-bit and float ones are scaled by to_8bit).
GREY_MODES = {"1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"}


def class_name(folder: str) -> str:
    """A folder name as a class name (lower case, [a-z0-9_])."""
    return re.sub(r"[^a-z0-9_]+", "_", folder.lower()).strip("_")


def class_folders(name: str, options: dict) -> dict[str, Path]:
    """{class name: its folder} in class order; ValueError naming the key and path."""
    root = Path(options["folder"]).expanduser()
    if not root.is_dir():
        raise ValueError(f"datasets.{name}.folder: {root} is not a folder (relative to {Path.cwd()})")
    listed = options.get("classes", "auto")
    if listed == "auto":
        folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        where = f"datasets.{name}.folder: {root}"
    else:
        folders = [str(f) for f in listed]
        missing = [f for f in folders if not (root / f).is_dir()]
        if missing:
            raise ValueError(f"datasets.{name}.classes: no folder {', '.join(str(root / f) for f in missing)} "
                             f"(the class sub-folders there: {', '.join(sorted(p.name for p in root.iterdir() if p.is_dir())) or 'none'})")  # fmt: skip
        where = f"datasets.{name}.classes"
    if len(folders) < 2:
        raise ValueError(f"{where} has {len(folders)} class folder(s) ({', '.join(folders) or 'none'}); a pair "
                         f"needs two: put one sub-folder of images per class in {root}")  # fmt: skip
    names = [class_name(f) for f in folders]
    clash = {n for n in names if names.count(n) > 1 or not n}
    if clash:
        raise ValueError(f"{where}: the folders {', '.join(f for f, n in zip(folders, names) if n in clash)} "
                         f"give the class names {sorted(clash)} (lower case, [a-z0-9_]), which must be "
                         f"distinct and not empty: rename the folders")  # fmt: skip
    return {n: root / f for n, f in zip(names, folders)}


def declare(name: str, options: dict) -> DatasetSpec:
    """Register the folder dataset `name` the config declares (options: its section)."""
    classes = tuple(class_folders(name, options))
    return register(DatasetSpec(name, classes, lambda opts: load(name, opts),
                                f"your images in {options['folder']} (declared in the config)"))  # fmt: skip


def image_folders(name: str, options: dict) -> list[str]:
    """The class folders (and test class folders) whose contents prepare_data reads: the
    rule's inputs, so that adding or removing an image prepares the data again."""
    folders = class_folders(name, options)
    test = [Path(options["test_folder"]).expanduser() / d.name for d in folders.values()] if options.get(
        "test_folder") else []  # fmt: skip
    return [str(d) for d in [*folders.values(), *test]]


def file_counts(name: str, options: dict) -> list[int]:
    """Files per class folder (an upper bound of the images: unreadable ones are skipped later)."""
    return [sum(1 for p in d.iterdir() if p.is_file()) for d in class_folders(name, options).values()]


def survey(paths: list[Path], root: Path) -> tuple[list[tuple[Path, tuple[int, int], str]], list[dict]]:
    """Each file's size and mode from its header (no decoding), and the files PIL cannot open."""
    from PIL import Image
    from PIL.Image import DecompressionBombError

    found, skipped = [], []
    for path in paths:
        try:
            with Image.open(path) as img:
                found.append((path, img.size, img.mode))
        except (OSError, SyntaxError, ValueError, DecompressionBombError) as err:
            skipped.append({"file": str(path.relative_to(root)), "reason": why_unreadable(path, err)})
    return found, skipped


def decode(path: Path, channels: int, size: tuple[int, int] | None) -> np.ndarray:
    """One image as H×W×channels uint8, resized to `size` (W, H) when given."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()  # a truncated or corrupt file fails here
        if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit grey: convert() would clip at 255
            img = to_8bit(img, path)
        if img.mode in ("P", "PA"):  # palette transparency: via RGBA, which PIL expects
            img = img.convert("RGBA")
        target = "L" if channels == 1 else "RGB"
        img = img if img.mode == target else img.convert(target)
        if size and img.size != size:
            img = img.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(img, dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def image_format(name: str, root: Path, files: list, options: dict) -> tuple[int, tuple[int, int] | None, tuple]:
    """(channels, resize to (W, H) or None, H×W stored) from the surveyed files and the options."""
    channels = options.get("channels", "auto")
    if channels == "auto":
        channels = 1 if all(mode in GREY_MODES for _, _, mode in files) else 3
    sizes = Counter(size for _, size, _ in files)
    if options.get("native_size", "auto") != "auto":
        side = int(options["native_size"])
        return int(channels), (side, side), (side, side)
    if len(sizes) > 1:
        examples = {s: next(str(p) for p, ps, _ in files if ps == s) for s in sizes}
        raise ValueError(
            f"datasets.{name}.native_size: auto needs one image size, but {root} holds "
            + ", ".join(f"{n} image(s) of {w}×{h} (e.g. {examples[(w, h)]})" for (w, h), n in sizes.most_common())
            + f". Set datasets.{name}.native_size to the side every image should be resized to"
        )
    width, height = next(iter(sizes), (1, 1))
    return int(channels), None, (height, width)


def read_split(name: str, root: Path, folders: dict[str, Path], options: dict, label: str) -> tuple[Split, dict]:
    """Every class folder of one split: the images and what the report says about them."""
    from PIL.Image import DecompressionBombError

    surveyed, skipped = {}, {}
    for cls, d in folders.items():
        if not d.is_dir():
            raise ValueError(f"datasets.{name}.{label}: no class folder {d} (class {cls!r})")
        surveyed[cls], skipped[cls] = survey(sorted(p for p in d.iterdir() if p.is_file()), root)
        skipped[cls] += [
            {"file": str(p.relative_to(root)), "reason": f"dangling symlink (to {os.readlink(p)}, which does not exist)"}
            for p in dangling_symlinks(d)
        ]
    files = [f for found in surveyed.values() for f in found]
    channels, resize, shape = image_format(name, root, files, options)
    buffer = np.empty((len(files), *shape, channels), np.uint8)
    labels, counts, converted = [], {}, Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PIL's "Possibly corrupt EXIF data" etc.
        for label_index, (cls, found) in enumerate(surveyed.items()):
            loaded = 0
            for path, _, mode in found:
                try:
                    buffer[len(labels) + loaded] = decode(path, channels, resize)
                except (OSError, SyntaxError, ValueError, UnsupportedImage, DecompressionBombError) as err:
                    skipped[cls].append({"file": str(path.relative_to(root)), "reason": why_unreadable(path, err)})
                    continue
                loaded += 1
                if (mode in GREY_MODES) != (channels == 1):
                    converted[mode] += 1
            if not loaded:
                reasons = [f"{s['file']}: {s['reason']}" for s in skipped[cls]]
                raise ValueError(
                    f"datasets.{name}.{label}: class {cls!r} has no readable image in {folders[cls]} "
                    f"({len(reasons)} file(s), all skipped" + (": " + "; ".join(reasons[:5]) if reasons else "")
                    + ("; ..." if len(reasons) > 5 else "") + ")"
                )
            labels += [label_index] * loaded
            counts[cls] = {"folder": str(folders[cls]), "files": loaded + len(skipped[cls]), "loaded": loaded,
                           "skipped": len(skipped[cls])}  # fmt: skip
    n = len(labels)
    images = np.empty((n, channels, *shape), np.float32)
    for start in range(0, n, 4096):  # bounded temporaries
        images[start : start + 4096] = buffer[start : min(n, start + 4096)].transpose(0, 3, 1, 2) / np.float32(255)
    report = {
        "source": str(root),
        "files": counts,
        "channels": channels,
        "native_size": "auto" if resize is None else resize[0],
        "image_size": list(shape),
        f"converted_to_{'grey' if channels == 1 else 'rgb'}": dict(sorted(converted.items())),
        "skipped": [s for cls in folders for s in skipped[cls]],
    }
    return Split(images, np.asarray(labels, np.int64)), report


def load(name: str, options: dict) -> LoadedData:
    """The loader of a declared folder dataset (options: its config section, loader keys)."""
    folders = class_folders(name, options)
    train, report = read_split(name, Path(options["folder"]).expanduser(), folders, options, "folder")
    test = None
    if options.get("test_folder"):
        test_root = Path(options["test_folder"]).expanduser()
        if not test_root.is_dir():
            raise ValueError(f"datasets.{name}.test_folder: {test_root} is not a folder")
        test_folders = {cls: test_root / d.name for cls, d in folders.items()}
        test_options = {**options, "channels": report["channels"]}  # the training images decide
        if options.get("native_size", "auto") == "auto":
            test_options["native_size"] = "auto"
        test, test_report = read_split(name, test_root, test_folders, test_options, "test_folder")
        if test.images.shape[1:] != train.images.shape[1:]:
            raise ValueError(
                f"datasets.{name}.test_folder: its images are {list(test.images.shape[1:])} (C, H, W), those of "
                f"{options['folder']} {list(train.images.shape[1:])}; set datasets.{name}.native_size to resize both"
            )
        report["test"] = {k: test_report[k] for k in ("source", "files", "skipped")}
    return LoadedData(train=train, test=test, report=report)
