"""Tiny datasets written in each loader's native format, for tests.

IDX (gzip) as torchvision downloads MNIST/Fashion-MNIST, CIFAR-10's python
pickle batches, and PetImages/NIH-style image folders with the awkward files
the public sets contain (truncated JPEG, grey, CMYK, RGBA, palette, non-image).
"""

from __future__ import annotations

import gzip
import pickle
import struct
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


def write_folder(folder: Path, good: int, extras: tuple[str, ...] = (), seed: int = 0) -> None:
    """`good` RGB images (JPEG and PNG, varied sizes) plus extras by kind:
    truncated, grey, cmyk, rgba, palette, not_image, empty."""
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
        else:
            raise ValueError(kind)
