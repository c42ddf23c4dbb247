"""Decoding awkward image files (issue 20): transparency, 12-bit data in 16-bit
files, PIL's decompression-bomb warning; each counted in data_report.json."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from native_files import write_folder
from roiroa.datasets import get_dataset
from roiroa.loaders.images import decode

HIDDEN = (200, 30, 60)  # the colour a transparent pixel hides


def transparent_rgba(path, size=8):
    """Left half opaque green, right half fully transparent over a hidden colour."""
    pixels = np.zeros((size, size, 4), np.uint8)
    pixels[:, : size // 2] = (0, 255, 0, 255)
    pixels[:, size // 2 :] = (*HIDDEN, 0)
    Image.fromarray(pixels, "RGBA").save(path)
    return path


def transparent_palette(path, size=8):
    """A palette PNG whose colour 1 (the hidden colour) is marked transparent."""
    img = Image.new("P", (size, size), 0)
    img.putpalette([0, 0, 255, *HIDDEN] + [0] * 762)
    img.paste(1, (size // 2, 0, size, size))
    img.save(path, transparency=1)
    return path


@pytest.mark.parametrize("write", [transparent_rgba, transparent_palette], ids=["RGBA", "palette"])
@pytest.mark.parametrize("background", [0.0, 1.0])
def test_transparent_pixels_take_the_stated_background(tmp_path, write, background):
    decoded = decode(write(tmp_path / "x.png"), 3, None, background)
    right = decoded.pixels[:, 4:]
    assert (right == round(background * 255)).all(), right[0, 0]  # not the hidden colour
    assert decoded.notes["composited"] == f"transparent pixels composited onto background {background:g}"


def test_an_opaque_rgba_image_is_not_noted(tmp_path):
    path = tmp_path / "opaque.png"
    Image.new("RGBA", (4, 4), (1, 2, 3, 255)).save(path)
    decoded = decode(path)
    assert decoded.notes == {} and (decoded.pixels == (1, 2, 3)).all()


def test_a_16bit_image_using_12_bits_is_reported(tmp_path):
    path = tmp_path / "twelve.png"
    Image.fromarray(np.linspace(0, 4095, 64, dtype=np.uint16).reshape(8, 8)).save(path)
    decoded = decode(path)
    assert decoded.mode.startswith("I")
    assert decoded.pixels.max() == 16  # 4095 / 65535 of 255: near black, as the issue found
    assert decoded.notes["low_16bit"].startswith("16-bit image with maximum 4095 (< 4096: 12 bits or fewer used)")
    full = tmp_path / "full.png"
    Image.fromarray(np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)).save(full)
    assert "low_16bit" not in decode(full).notes


def test_a_decompression_bomb_warning_is_recorded(tmp_path, monkeypatch):
    """PIL warns (does not refuse) between its limit and twice it; a 40×40 image
    with the limit lowered to 1,000 pixels is such an image."""
    path = tmp_path / "large.png"
    Image.new("RGB", (40, 40)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    decoded = decode(path)
    assert decoded.notes["bomb_warning"].startswith("Image size (1600 pixels) exceeds limit of 1000 pixels")


def test_the_folder_loader_reports_each_note(tmp_path, monkeypatch):
    cats, dogs = tmp_path / "PetImages" / "Cat", tmp_path / "PetImages" / "Dog"
    write_folder(cats, good=2)
    write_folder(dogs, good=2, seed=10)
    transparent_rgba(cats / "rgba.png")
    transparent_palette(dogs / "palette.png")
    Image.fromarray(np.full((8, 8), 4000, np.uint16)).save(cats / "twelve.png")
    loaded = get_dataset("cats_vs_dogs").load({"data_dir": str(tmp_path), "native_size": 8, "background": 1})
    report = loaded.report
    assert report["composited_onto_background"] == {"background": 1.0, "images": 2}
    assert [entry["file"] for entry in report["low_16bit"]] == ["PetImages/Cat/twelve.png"]
    assert report["decompression_bomb_warnings"] == []
    # the limit at 40 pixels: the 8×8 files (64) warn, the larger ones (over 80) are refused
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)
    report = get_dataset("cats_vs_dogs").load({"data_dir": str(tmp_path), "native_size": 8}).report
    warned = {entry["file"]: entry["note"] for entry in report["decompression_bomb_warnings"]}
    assert sorted(warned) == ["PetImages/Cat/rgba.png", "PetImages/Cat/twelve.png", "PetImages/Dog/palette.png"]
    assert all(note.startswith("Image size (64 pixels) exceeds limit of 40 pixels") for note in warned.values())
    assert report["composited_onto_background"]["background"] == 0.0  # the default
