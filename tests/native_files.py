"""Tiny datasets written in each loader's native format, for tests.

IDX (gzip) as torchvision downloads MNIST/Fashion-MNIST, CIFAR-10's python
pickle batches, and PetImages/NIH-style image folders with the awkward files
the public sets contain (truncated JPEG, grey, CMYK, RGBA, palette, non-image).
"""

from __future__ import annotations

import gzip
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
IDX_TYPE_UINT8 = 0x08


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    """An IDX file (big-endian header, uint8 data), gzip-compressed like the official ones."""
    header = struct.pack(">BBBB", 0, 0, IDX_TYPE_UINT8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, np.uint8).tobytes()
    path = path.with_name(path.name + ".gz") if gz else path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def labels_per_class(n_per_class: int, n_classes: int = 10) -> np.ndarray:
    return np.tile(np.arange(n_classes), n_per_class).astype(np.uint8)


def write_idx_set(data_dir: Path, folder: str, train_per_class=3, test_per_class=2, gz=True, seed=0) -> dict:
    """The four MNIST-style files under <data_dir>/<folder>/raw; returns what was written."""
    rng = np.random.default_rng(seed)
    raw = data_dir / folder / "raw"
    written = {}
    for prefix, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = labels_per_class(per_class)
        images = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, gz)
        written[prefix] = (images, labels)
    return written


def write_cifar10(data_dir: Path, per_batch_per_class=1, test_per_class=2, names=CIFAR_NAMES, seed=0) -> dict:
    """data_batch_1..5, test_batch and batches.meta under <data_dir>/cifar-10-batches-py."""
    rng = np.random.default_rng(seed)
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    written = {"train": [], "test": None}
    for name, per_class in [(f"data_batch_{i}", per_batch_per_class) for i in range(1, 6)] + [
        ("test_batch", test_per_class)
    ]:
        labels = labels_per_class(per_class).tolist()
        data = rng.integers(0, 256, (len(labels), 3 * 32 * 32), dtype=np.uint8)  # rows: 1024 R, 1024 G, 1024 B
        batch = {"batch_label": name, "labels": labels, "data": data, "filenames": [f"{i}.png" for i in labels]}
        (folder / name).write_bytes(pickle.dumps(batch))
        if name == "test_batch":
            written["test"] = (data, labels)
        else:
            written["train"].append((data, labels))
    meta = {"num_cases_per_batch": 10, "label_names": list(names), "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return written


def noise_image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    if mode == "P":
        return rgb.quantize(16)
    return rgb.convert(mode)


def write_big_png(path: Path, side: int = 20000) -> Path:
    """A valid 1-bit PNG of side×side pixels (all black), ~50 KB on disk: above PIL's
    decompression-bomb limit (2 × Image.MAX_IMAGE_PIXELS) for side 20000."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor, row = zlib.compressobj(9), b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def gradient(size: tuple[int, int]) -> np.ndarray:
    """0..1 left to right (float64), size = (width, height)."""
    return np.tile(np.linspace(0, 1, size[0]), (size[1], 1))


def write_folder(folder: Path, good: int, extras: tuple[str, ...] = (), seed: int = 0) -> None:
    """`good` RGB images (JPEG and PNG, varied sizes) plus extras by kind:
    truncated, grey, cmyk, rgba, palette, not_image, empty, bomb (20000² PNG),
    grey16 (16-bit PNG, I;16), float (float TIFF in [0, 1], F), float_range
    (float TIFF in 0..1000), int32_range (32-bit TIFF with negative values),
    dangling (a symlink to a missing file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(good):
        size = (40 + 7 * i, 30 + 5 * i)
        noise_image("RGB", size, seed + i).save(folder / f"{i}.{'jpg' if i % 2 == 0 else 'png'}")
    for kind in extras:
        if kind == "truncated":
            whole = folder / "truncated.jpg"
            noise_image("RGB", (80, 60), seed + 99).save(whole, quality=95)
            whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        elif kind == "grey":
            noise_image("L", (50, 40), seed + 1).save(folder / "grey.jpg")
        elif kind == "cmyk":
            noise_image("CMYK", (50, 40), seed + 2).save(folder / "cmyk.jpg")
        elif kind == "rgba":
            noise_image("RGBA", (30, 30), seed + 3).save(folder / "rgba.png")
        elif kind == "palette":
            noise_image("P", (30, 30), seed + 4).save(folder / "palette.png")
        elif kind == "not_image":
            (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 not an image")
        elif kind == "empty":
            (folder / "666.jpg").write_bytes(b"")
        elif kind == "bomb":
            write_big_png(folder / "huge.png")
        elif kind == "grey16":  # a left-to-right ramp 0..65535
            Image.fromarray(np.rint(gradient((64, 48)) * 65535).astype(np.uint16)).save(folder / "grey16.png")
        elif kind == "float":  # the same ramp as float 0..1
            Image.fromarray(gradient((64, 48)).astype(np.float32), "F").save(folder / "float.tif")
        elif kind == "float_range":
            Image.fromarray((gradient((20, 20)) * 1000).astype(np.float32), "F").save(folder / "float1000.tif")
        elif kind == "int32_range":
            Image.fromarray((gradient((20, 20)) * 1e5 - 5e4).astype(np.int32), "I").save(folder / "int32.tif")
        elif kind == "dangling":
            (folder / "gone.jpg").symlink_to(folder / "moved_away.jpg")
        else:
            raise ValueError(kind)
