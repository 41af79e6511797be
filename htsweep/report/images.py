"""Figures as images a self-contained page can embed: a PNG file shrunk to the report's
resolution, reduced to a 256-colour palette and written as a ``data:`` URI (base64), so the
page needs no file beside it and no network.

Matplotlib records the resolution it drew at in the PNG (``pHYs``: 150 dpi for htsweep's
figures); the image is resampled (Lanczos) by ``dpi / drawn dpi``, never enlarged.  Figures are
line art on white: 256 colours without dithering keep them visually unchanged at about a third
of the size of full-colour PNGs.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

DEFAULT_DPI = 80
PALETTE_COLOURS = 256
_FALLBACK_DPI = 100.0  # a PNG that does not say its resolution: matplotlib's default


def shrink_png(path: Path, dpi: float = DEFAULT_DPI) -> bytes:
    """The PNG at ``path`` resampled to ``dpi`` (at most its own resolution) with a
    :data:`PALETTE_COLOURS` palette, as PNG bytes (deterministic: no metadata)."""
    if dpi <= 0:
        raise ValueError(f"dpi must be > 0, got {dpi}")
    with Image.open(path) as im:
        drawn = float(im.info.get("dpi", (_FALLBACK_DPI,))[0] or _FALLBACK_DPI)
        scale = min(1.0, dpi / drawn)
        rgb = im.convert("RGB")
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    small = rgb.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def embed(path: Path, dpi: float = DEFAULT_DPI) -> str:
    """The PNG at ``path`` shrunk (:func:`shrink_png`) as a ``data:`` URI."""
    return data_uri(shrink_png(path, dpi))
