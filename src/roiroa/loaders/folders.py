"""Image-folder datasets: Microsoft's PetImages (cats_vs_dogs) and NIH's malaria cells.

    <data_dir>/PetImages/Cat/*.jpg, <data_dir>/PetImages/Dog/*.jpg
    <data_dir>/cell_images/Parasitized/*.png, <data_dir>/cell_images/Uninfected/*.png

Every file of a class folder is tried (sorted by name, sub-folders ignored).
Unreadable files (not an image, truncated, corrupt) are skipped; images that
are not RGB (grey, CMYK, RGBA, palette) are converted to RGB. Each image is
resized to `native_size`² (bilinear, antialiased, aspect ratio not kept;
JPEGs are decoded at a reduced scale ≥ native_size first). The report lists
per-class counts, conversions and every skipped file with its reason. There is
no official split: prepare_data draws a seeded stratified one.

Memory: one uint8 buffer of all images plus the float32 result, about
N·native_size²·3·5 bytes (≈ 1.5 GB for 25,000 images at 64 px, an estimate).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets import LoadedData, Split
from .sources import Source, data_dir, register_source

RESIZE = "bilinear (antialiased), aspect ratio not kept; JPEGs decoded at a reduced scale first"


def read_image(path: Path, size: int) -> tuple[np.ndarray, str]:
    """One file as a size×size×3 uint8 array, and the image's original mode.

    Raises OSError (incl. PIL.UnidentifiedImageError), SyntaxError or ValueError
    when the file is not a readable image.
    """
    from PIL import Image

    with Image.open(path) as img:
        mode = img.mode
        img.draft(None, (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale, still ≥ size
        img.load()  # a truncated or corrupt file fails here
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
    n, skipped, converted = 0, [], Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PIL's "Possibly corrupt EXIF data" etc.
        for path in paths:
            try:
                out[n], mode = read_image(path, size)
            except (OSError, SyntaxError, ValueError) as err:
                skipped.append({"file": str(path.relative_to(root)), "reason": why_unreadable(path, err)})
                continue
            n += 1
            if mode != "RGB":
                converted[mode] += 1
    return n, skipped, converted


def why_unreadable(path: Path, err: Exception) -> str:
    from PIL import UnidentifiedImageError

    if path.stat().st_size == 0:
        return "empty file"
    if isinstance(err, UnidentifiedImageError):
        return "not an image PIL can identify"
    return f"unreadable: {type(err).__name__}: {err}"


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
        return [
            f"{self.top}/{d.name}/ (no files)" if d.is_dir() else f"{self.top}/{d.name}/"
            for d in self.class_dirs(root)
            if not (d.is_dir() and any(p.is_file() for p in d.iterdir()))
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
            if not loaded:
                raise ValueError(
                    f"{self.name}: class {name!r} has no readable image in {d} ({len(paths)} files, all skipped)"
                )
            labels += [label] * loaded
            skipped += skipped_here
            converted += converted_here
            counts[name] = {"folder": str(d), "files": len(paths), "loaded": loaded, "skipped": len(skipped_here)}
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
