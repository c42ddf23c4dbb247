"""Decoding one image file into 8-bit pixels: every folder loader's one home for it.

What a file can be and what is done with it (docs/bad_inputs.md lists each case):
- grey, CMYK, palette: converted to the channels asked for;
- transparency (RGBA, LA, a palette with a transparent colour): composited onto
  the stated `background` grey level, so a transparent pixel does not keep
  whatever colour it hides (noted: "composited");
- 16-bit grey (I;16, or 32-bit integer I holding 0..65535): scaled by 1/65535;
  one whose maximum is below 4096 (12-bit data in a 16-bit file, say) comes out
  near black, which is noted ("low_16bit"), not guessed at;
- float (F) in [0, 1]: taken as is; other values: no known scale (UnsupportedImage);
- above PIL's decompression-bomb limit: DecompressionBombError (skipped by the
  caller); between half of it and it, PIL only warns: noted ("bomb_warning").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Below this maximum a 16-bit image uses at most 12 bits of its range.
LOW_16BIT = 4096


class UnsupportedImage(ValueError):
    """A readable image whose values have no known scale to [0, 1] (the reason says why)."""


@dataclass
class Decoded:
    """One decoded image: H×W×channels uint8 pixels, the file's own mode, and
    notes for the data report ({"composited": ..., "low_16bit": ..., "bomb_warning": ...})."""

    pixels: np.ndarray
    mode: str
    notes: dict = field(default_factory=dict)


def to_8bit(img, path: Path, notes: dict | None = None):
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
        if notes is not None and 0 < hi < LOW_16BIT:
            notes["low_16bit"] = (
                f"16-bit image with maximum {hi} (< {LOW_16BIT}: 12 bits or fewer used), scaled by 1/65535 "
                f"to at most {hi / 65535 * 255:.1f}/255; rescale the files if they hold fewer bits"
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


def has_transparency(img) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def composite(img, background: float, notes: dict):
    """An image with an alpha channel (or a transparent palette colour) flattened onto
    the grey level `background` (0 black … 1 white); noted only where a pixel is not opaque."""
    from PIL import Image

    rgba = img.convert("RGBA")
    if rgba.getextrema()[3][0] == 255:
        return rgba.convert("RGB")  # every pixel opaque: nothing hidden
    grey = int(round(background * 255))
    base = Image.new("RGBA", rgba.size, (grey, grey, grey, 255))
    notes["composited"] = f"transparent pixels composited onto background {background:g}"
    return Image.alpha_composite(base, rgba).convert("RGB")


def decode(path: Path, channels: int = 3, size: tuple[int, int] | None = None, background: float = 0.0,
           draft: bool = True) -> Decoded:
    """One file as H×W×channels uint8 (channels 1 or 3), resized to `size` (W, H) when given.

    Raises OSError (incl. PIL.UnidentifiedImageError), SyntaxError or ValueError
    (UnsupportedImage) when the file is not a readable image, and
    PIL.Image.DecompressionBombError above PIL's pixel limit.
    """
    from PIL import Image

    notes: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        with Image.open(path) as img:  # an image above the bomb limit fails here, before decoding
            mode = img.mode
            if draft and size:
                img.draft(None, size)  # JPEG: decode at 1/2, 1/4 or 1/8 scale, still ≥ size
            img.load()  # a truncated or corrupt file fails here
            if img.mode.startswith("I") or img.mode == "F":  # 16/32-bit grey: convert() would clip at 255
                img = to_8bit(img, path, notes)
            if has_transparency(img):
                img = composite(img, background, notes)
            target = "L" if channels == 1 else "RGB"
            img = img if img.mode == target else img.convert(target)
            if size and img.size != tuple(size):
                img = img.resize(tuple(size), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.uint8)
    bombs = [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    if bombs:
        notes["bomb_warning"] = str(bombs[0].message)
    for other in caught:  # anything else goes on as it would have
        if other not in bombs:
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
    return Decoded(pixels[..., None] if pixels.ndim == 2 else pixels, mode, notes)


def why_unreadable(path: Path, err: Exception) -> str:
    """A skipped file's reason, for the data report."""
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
