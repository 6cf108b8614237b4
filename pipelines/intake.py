"""Image intake: the one door through which every photo enters restyle.

Uploads, catalogue import and previews all call :func:`load_image`. It decides the format by
content (never by file name), enforces byte and pixel limits before decoding, applies EXIF
orientation and normalises the mode. :func:`save_image` writes images without metadata.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_PIXELS = 50_000_000


class ImageRejected(ValueError):
    """The image cannot be used. The message says why, in words a user understands."""


def load_image(
    source: bytes | str | os.PathLike | Image.Image,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    mode: str = "RGB",
) -> Image.Image:
    """Decode ``source`` into an upright image of ``mode`` ("RGB" or "RGBA").

    Raises:
        ImageRejected: empty, too large (bytes or pixels), not JPEG/PNG/WebP, or corrupt.
    """
    if isinstance(source, Image.Image):
        img = source
        if img.width * img.height > max_pixels:
            raise ImageRejected(f"image has {img.width}x{img.height} pixels, over the limit of {max_pixels:,}")
    else:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            path = Path(source)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise ImageRejected(f"no such file: {path}") from None
            if size > max_bytes:
                raise ImageRejected(f"file is {size:,} bytes, over the limit of {max_bytes:,}")
            data = path.read_bytes()
        if not data:
            raise ImageRejected("file is empty (0 bytes)")
        if len(data) > max_bytes:
            raise ImageRejected(f"file is {len(data):,} bytes, over the limit of {max_bytes:,}")
        try:
            img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except UnidentifiedImageError:
            raise ImageRejected("not a JPEG, PNG or WebP image") from None
        # Header only so far: refuse bombs before any pixel is decoded.
        if img.width * img.height > max_pixels:
            raise ImageRejected(f"image has {img.width}x{img.height} pixels, over the limit of {max_pixels:,}")
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise ImageRejected(f"image data is corrupt or truncated ({e})") from None
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    if mode == "RGBA":
        img = img.convert("RGBA")
    elif img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.split()[-1])
    else:
        img = img.convert("RGB")
    img.info = {}
    return img


def save_image(img: Image.Image, path: str | os.PathLike, quality: int = 92) -> Path:
    """Write ``img`` with no metadata (no EXIF, no GPS), atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = Image.new(img.mode, img.size)
    clean.paste(img)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "JPEG" and clean.mode != "RGB":
        clean = clean.convert("RGB")
    clean.save(tmp, format=fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
    os.replace(tmp, path)
    return path
