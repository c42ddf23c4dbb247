"""Image-folder datasets: Microsoft's PetImages (cats_vs_dogs) and NIH's malaria cells.

    <data_dir>/PetImages/Cat/*.jpg, <data_dir>/PetImages/Dog/*.jpg
    <data_dir>/cell_images/Parasitized/*.png, <data_dir>/cell_images/Uninfected/*.png

Every file of a class folder is tried (sorted by name, sub-folders ignored).
Unreadable files (not an image, truncated, corrupt), images above PIL's
decompression-bomb limit, images with no known value scale and dangling
symlinks are skipped, each with its reason; images that are not RGB (grey,
CMYK, RGBA, palette) are converted to RGB. 16-bit grey (I;16, and 32-bit
integer I holding 0..65535) is scaled by 1/65535, float (F) is taken as
[0, 1] (other values: skipped), both then stored with 8 bits like the rest. Each image is
resized to `native_size`² (bilinear, antialiased, aspect ratio not kept;
JPEGs are decoded at a reduced scale ≥ native_size first). The report lists
per-class counts, conversions and every skipped file with its reason. There is
no official split: prepare_data draws a seeded stratified one.

Memory: one uint8 buffer of all images plus the float32 result, about
N·native_size²·3·5 bytes (≈ 1.5 GB for 25,000 images at 64 px, an estimate).
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..registry import LoadedData, Split
from .sources import Source, data_dir, register_source

RESIZE = "bilinear (antialiased), aspect ratio not kept; JPEGs decoded at a reduced scale first"


class UnsupportedImage(ValueError):
    """A readable image whose values have no known scale to [0, 1] (the reason says why)."""


def to_8bit(img, path: Path):
    """A 16-bit, 32-bit integer or float grey image as 8-bit grey ('L'), scaled to [0, 255].

    I;16*: 0..65535; I (what 16-bit PNG/TIFF may decode to): 0..65535, else no
    known scale; F: [0, 1], else no known scale. Raises UnsupportedImage.
    """
    from PIL import Image

    values = np.asarray(img)
    if img.mode.startswith("I;16") or img.mode == "I":
        lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise UnsupportedImage(
                f"32-bit integer image with values {lo}..{hi}, outside 0..65535: no known scale to [0, 1]"
            )
        unit = values.astype(np.float64) / 65535
    else:  # "F"
        if not np.isfinite(values).all():
            raise UnsupportedImage("float image with NaN or infinite values")
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if lo < 0 or hi > 1:
            raise UnsupportedImage(f"float image with values {lo:g}..{hi:g}, outside [0, 1]: no known scale")
        unit = values.astype(np.float64)
    return Image.fromarray(np.rint(unit * 255).astype(np.uint8), "L")


def read_image(path: Path, size: int) -> tuple[np.ndarray, str]:
    """One file as a size×size×3 uint8 array, and the image's original mode.

    Raises OSError (incl. PIL.UnidentifiedImageError), SyntaxError or ValueError
    (UnsupportedImage) when the file is not a readable image, and
    PIL.Image.DecompressionBombError above PIL's pixel limit.
    """
    from PIL import Image

    with Image.open(path) as img:  # an image above the bomb limit fails here, before decoding
        mode = img.mode
        img.draft(None, (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale, still ≥ size
        img.load()  # a truncated or corrupt file fails here
        if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit grey: convert("RGB") would clip at 255
            img = to_8bit(img, path)
        if img.mode in ("P", "PA"):  # palette transparency: via RGBA, which PIL expects
            img = img.convert("RGBA")
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8), mode


def read_files(paths: list[Path], root: Path, size: int, out: np.ndarray) -> tuple[int, list[dict], Counter]:
    """Read `paths` into out[0], out[1], ...; unreadable files are skipped.

    Returns how many were read, the skipped files (relative to root) with their
    reasons, and the original modes of the images converted to RGB.
    """
    from PIL.Image import DecompressionBombError

    n, skipped, converted = 0, [], Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PIL's "Possibly corrupt EXIF data" etc.
        for path in paths:
            try:
                out[n], mode = read_image(path, size)
            except (OSError, SyntaxError, ValueError, DecompressionBombError) as err:
                skipped.append({"file": str(path.relative_to(root)), "reason": why_unreadable(path, err)})
                continue
            n += 1
            if mode != "RGB":
                converted[mode] += 1
    return n, skipped, converted


def why_unreadable(path: Path, err: Exception) -> str:
    from PIL import UnidentifiedImageError
    from PIL.Image import DecompressionBombError

    if path.stat().st_size == 0:
        return "empty file"
    if isinstance(err, UnidentifiedImageError):
        return "not an image PIL can identify"
    if isinstance(err, DecompressionBombError):
        return f"too large to decode safely (PIL's decompression-bomb limit): {err}"
    if isinstance(err, UnsupportedImage):
        return str(err)
    return f"unreadable: {type(err).__name__}: {err}"


def dangling_symlinks(folder: Path) -> list[Path]:
    """Links in `folder` whose target does not exist (is_file() is False for them)."""
    return sorted(p for p in folder.iterdir() if p.is_symlink() and not p.exists())


def to_unit_chw(images: np.ndarray, block: int = 4096) -> np.ndarray:
    """N×H×W×3 uint8 → N×3×H×W float32 in [0, 1], a block at a time (bounded temporaries)."""
    out = np.empty((len(images), 3, *images.shape[1:3]), np.float32)
    for start in range(0, len(images), block):
        out[start : start + block] = images[start : start + block].transpose(0, 3, 1, 2) / np.float32(255)
    return out


@dataclass(frozen=True)
class FolderSet(Source):
    """One folder per class under `<data_dir>/<top>`, from one zip file."""

    name: str
    top: str
    folders: tuple[str, ...]  # one per class, in class order
    classes: tuple[str, ...]
    url: str  # the zip file
    page: str  # where the dataset is described
    description: str

    def class_dirs(self, root: Path) -> list[Path]:
        return [root / self.top / folder for folder in self.folders]

    def missing(self, root: Path) -> list[str]:
        out = []
        for d in self.class_dirs(root):
            if not d.is_dir():
                out.append(f"{self.top}/{d.name}/")
            elif not any(p.is_file() for p in d.iterdir()):
                dangling = len(dangling_symlinks(d))
                out.append(
                    f"{self.top}/{d.name}/ (no files: only {dangling} dangling symlinks)"
                    if dangling
                    else f"{self.top}/{d.name}/ (no files: an empty folder)"
                )
        return out

    def files_in_the_way(self, root: Path) -> list[str]:
        """Class folders that already hold files: the download must not unpack over them."""
        return [
            f"{self.top}/{d.name}/ ({n} files)"
            for d in self.class_dirs(root)
            if d.is_dir() and (n := sum(1 for p in d.iterdir() if p.is_file()))
        ]

    def fetch(self, root: Path, mirror: str | None) -> None:
        from torchvision.datasets.utils import download_and_extract_archive

        zip_name = self.url.rsplit("/", 1)[1]
        url = f"{mirror.rstrip('/')}/{zip_name}" if mirror else self.url
        download_and_extract_archive(url, download_root=str(root), filename=zip_name, remove_finished=True)

    def by_hand(self, root: Path) -> list[str]:
        zip_name = self.url.rsplit("/", 1)[1]
        dirs = " and ".join(str(d) for d in self.class_dirs(root))
        return [
            f"  {self.url}  ->  unzip into {root}:  unzip {zip_name} -d {root}",
            f"  (this gives {dirs}; or put {zip_name} in {root} and the download step unpacks and",
            f"  deletes it; the dataset's page: {self.page})",
        ]

    def manifest(self, root: Path, verify: bool) -> dict:
        folders = {}
        for name, d in zip(self.classes, self.class_dirs(root)):
            files = [p for p in d.iterdir() if p.is_file()]
            folders[name] = {
                "folder": str(d.relative_to(root)),
                "files": len(files),
                "bytes": sum(p.stat().st_size for p in files),
            }
        return {"folders": folders, "integrity": "no checksums are published for this dataset"}

    def load(self, options: dict) -> LoadedData:
        root = data_dir(options, self.name)
        size = int(options.get("native_size", 64))
        self.require(root)
        dirs = self.class_dirs(root)
        files = [sorted(p for p in d.iterdir() if p.is_file()) for d in dirs]
        buffer = np.empty((sum(map(len, files)), size, size, 3), np.uint8)
        labels, skipped, converted, counts = [], [], Counter(), {}
        for label, (name, d, paths) in enumerate(zip(self.classes, dirs, files)):
            loaded, skipped_here, converted_here = read_files(paths, root, size, buffer[len(labels) :])
            skipped_here += [
                {"file": str(p.relative_to(root)), "reason": f"dangling symlink (to {os.readlink(p)}, which does not exist)"}
                for p in dangling_symlinks(d)
            ]
            if not loaded:
                raise ValueError(
                    f"{self.name}: class {name!r} has no readable image in {d} ({len(skipped_here)} files, all "
                    f"skipped: " + "; ".join(f"{s['file']}: {s['reason']}" for s in skipped_here[:5])
                    + ("; ..." if len(skipped_here) > 5 else "") + ")"
                )
            labels += [label] * loaded
            skipped += skipped_here
            converted += converted_here
            counts[name] = {"folder": str(d), "files": loaded + len(skipped_here), "loaded": loaded,
                            "skipped": len(skipped_here)}  # fmt: skip
        images = to_unit_chw(buffer[: len(labels)])
        del buffer
        return LoadedData(
            train=Split(images, np.asarray(labels, np.int64)),
            test=None,
            report={
                "source": str(root / self.top),
                "native_size": size,
                "resize": RESIZE,
                "files": counts,
                "converted_to_rgb": dict(sorted(converted.items())),
                "skipped": skipped,
            },
        )


register_source(
    FolderSet(
        name="cats_vs_dogs",
        top="PetImages",
        folders=("Cat", "Dog"),
        classes=("cat", "dog"),
        url="https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip",
        page="https://www.microsoft.com/en-us/download/details.aspx?id=54765",
        description="Microsoft's PetImages (the Kaggle Dogs vs. Cats images), colour photos of any size",
    )
)
register_source(
    FolderSet(
        name="malaria",
        top="cell_images",
        folders=("Parasitized", "Uninfected"),
        classes=("parasitized", "uninfected"),
        url="https://data.lhncbc.nlm.nih.gov/public/Malaria/cell_images.zip",
        page="https://lhncbc.nlm.nih.gov/LHC-research/LHC-projects/image-processing/malaria-datasheet.html",
        description="NIH malaria thin-smear cell images (Parasitized, Uninfected), colour crops of varying size",
    )
)
