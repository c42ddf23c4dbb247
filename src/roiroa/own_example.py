"""Example class folders to try a folder dataset with (`make own-example`).

Writes scikit-learn's handwritten digits 0 and 1 (real 8×8 grey scans, 178 and
182 images) as PNG files, one sub-folder per class: <folder>/zero/, <folder>/one/.
config/own_data.yaml then runs on them as on any folder of your own images.

    python -m roiroa.own_example data/own
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

CLASSES = {0: "zero", 1: "one"}


def write_example(folder: Path) -> dict[str, int]:
    """The PNG files of digits 0 and 1 under `folder`; images per class folder."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    written = {}
    for label, name in CLASSES.items():
        target = folder / name
        target.mkdir(parents=True, exist_ok=True)
        images = digits.images[digits.target == label]
        for i, image in enumerate(images):  # 17 grey levels, 0..16 → 0..255
            Image.fromarray(np.rint(image * 255 / 16).astype(np.uint8), "L").save(target / f"{i:04d}.png")
        written[name] = len(images)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where the class folders go (data/own)")
    args = parser.parse_args(argv)
    for name, n in write_example(args.folder).items():
        print(f"{args.folder / name}: {n} PNG files")


if __name__ == "__main__":
    main()
