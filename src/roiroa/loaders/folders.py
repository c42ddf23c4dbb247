"""Image-folder datasets: Microsoft's PetImages (cats_vs_dogs) and NIH's malaria cells.

    <data_dir>/PetImages/Cat/*.jpg, <data_dir>/PetImages/Dog/*.jpg
    <data_dir>/cell_images/Parasitized/*.png, <data_dir>/cell_images/Uninfected/*.png

Every file of a class folder is tried (sorted by name, sub-folders ignored).
Unreadable files (not an image, truncated, corrupt), images above PIL's
decompression-bomb limit, images with no known value scale and dangling
symlinks are skipped, each with its reason; images that are not RGB (grey,
CMYK, RGBA, palette) are converted to RGB, transparency composited onto the
`background` option (roiroa.loaders.images says what each kind of file
becomes). Each image is
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
from .images import UnsupportedImage, decode, to_8bit, why_unreadable  # noqa: F401  (re-exported for other loaders)
from .sources import Source, data_dir, register_source

RESIZE = "bilinear (antialiased), aspect ratio not kept; JPEGs decoded at a reduced scale first"


def read_image(path: Path, size: int, background: float = 0.0) -> tuple[np.ndarray, str, dict]:
    """One file as a size×size×3 uint8 array, the image's original mode and its
    notes for the report (roiroa.loaders.images.decode: what each kind of file becomes)."""
    decoded = decode(path, 3, (size, size), background)
    return decoded.pixels, decoded.mode, decoded.notes


def read_files(paths: list[Path], root: Path, size: int, out: np.ndarray, background: float = 0.0
               ) -> tuple[int, list[dict], Counter, dict]:
    """Read `paths` into out[0], out[1], ...; unreadable files are skipped.

    Returns how many were read, the skipped files (relative to root) with their
    reasons, the original modes of the images converted to RGB, and the files
    with a note (images.decode), by note.
    """
    from PIL.Image import DecompressionBombError

    n, skipped, converted, noted = 0, [], Counter(), {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PIL's "Possibly corrupt EXIF data" etc.
        for path in paths:
            try:
                out[n], mode, notes = read_image(path, size, background)
            except (OSError, SyntaxError, ValueError, DecompressionBombError) as err:
                skipped.append({"file": str(path.relative_to(root)), "reason": why_unreadable(path, err)})
                continue
            n += 1
            if mode != "RGB":
                converted[mode] += 1
            for note, text in notes.items():
                noted.setdefault(note, []).append({"file": str(path.relative_to(root)), "note": text})
    return n, skipped, converted, noted


def image_notes(noted: dict, background: float) -> dict:
    """The data report's entries for images that were read but are worth a look:
    transparency composited onto `background`, 16-bit images using 12 bits or
    fewer, and PIL's decompression-bomb warnings (images.decode)."""
    return {
        "composited_onto_background": {"background": background, "images": len(noted.get("composited", []))},
        "low_16bit": noted.get("low_16bit", []),
        "decompression_bomb_warnings": noted.get("bomb_warning", []),
    }


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
        background = float(options.get("background", 0.0))
        labels, skipped, converted, counts, noted = [], [], Counter(), {}, {}
        for label, (name, d, paths) in enumerate(zip(self.classes, dirs, files)):
            loaded, skipped_here, converted_here, noted_here = read_files(
                paths, root, size, buffer[len(labels) :], background
            )
            for note, entries in noted_here.items():
                noted.setdefault(note, []).extend(entries)
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
                **image_notes(noted, background),
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
