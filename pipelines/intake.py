"""Image intake: the one door through which every photo enters restyle.

Uploads, catalogue import and previews all call :func:`load_image`. It

- decides the format by content (magic bytes and Pillow's parsers restricted to JPEG, PNG and
  WebP), never by file name, and names what it found when it refuses ("an SVG drawing");
- enforces a byte limit before reading and a pixel limit from the header, before any pixel is
  decoded (decompression bombs never reach the decoder);
- applies EXIF orientation, converts embedded ICC colour profiles (CMYK, Display P3) to sRGB,
  and normalises CMYK, 16-bit, greyscale, palette and alpha images to 8-bit RGB (or RGBA);
- keeps only the first frame of animated images (or refuses them, on request);
- returns an image with no metadata at all (``img.info == {}``): no EXIF, no GPS, no XMP.

:func:`save_image` writes images without metadata, atomically (temporary file and rename).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
# Below Pillow's own Image.MAX_IMAGE_PIXELS (89.5 MP), so our limit always bites first.
DEFAULT_MAX_PIXELS = 50_000_000
MIN_SIDE = 8  # pixels
MAX_ASPECT = 25  # long side : short side

# Leading bytes of formats people upload by mistake (or on purpose), to name them in the error.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%!PS", "a PostScript/EPS file"),
    (b"\xc5\xd0\xd3\xc6", "a PostScript/EPS file"),
    (b"%PDF", "a PDF document"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an ICO icon"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a program (EXE)"),
)


class ImageRejected(ValueError):
    """The image cannot be used. The message says why, in words a user understands."""


def sniff(data: bytes) -> str | None:
    """Name the kind of file ``data`` starts with, or None when it is not recognised."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc"):
        return "a HEIC photo (export it as JPEG)"
    if head[4:12] in (b"ftypavif", b"ftypavis"):
        return "an AVIF image"
    text = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "an SVG drawing"
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    return None


def _limit_message(width: int, height: int, max_pixels: int) -> str:
    return (
        f"image is {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,}; "
        "resize it and upload again"
    )


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Parse the header of ``data`` (no pixel decoded yet) and check format and size."""
    kind = sniff(data)
    if kind not in ALLOWED_FORMATS:
        found = f"this is {kind}" if kind else "the file is not a recognised image"
        raise ImageRejected(f"only JPEG, PNG and WebP images are accepted: {found}")
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between its limit and twice it; ours is lower anyway.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        count = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageRejected(f"image declares {count}, over the limit of {max_pixels:,}") from None
    except UnidentifiedImageError:
        raise ImageRejected(f"the file starts like a {kind} image but its header is corrupt") from None
    except Exception as e:  # noqa: BLE001 - any parser failure on hostile bytes is a bad image
        if "too large" in str(e).lower():  # Pillow's cap on metadata chunks (text/ICC bombs)
            raise ImageRejected(f"the {kind} carries an oversized metadata chunk (a decompression bomb?): {e}") from None
        raise ImageRejected(f"the {kind} header is corrupt ({type(e).__name__}: {e})") from None
    if img.width <= 0 or img.height <= 0:
        raise ImageRejected(f"image has an empty size ({img.width}x{img.height})")
    if img.width * img.height > max_pixels:
        raise ImageRejected(_limit_message(img.width, img.height, max_pixels))
    _check_shape(img.width, img.height)
    return img


def _check_shape(width: int, height: int) -> None:
    """Refuse slivers (1 x 40,000,000 passes a pixel limit but is no photo, and breaks resizing)."""
    if min(width, height) < MIN_SIDE:
        raise ImageRejected(f"image is {width}x{height}: too small (under {MIN_SIDE} pixels on a side)")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageRejected(f"image is {width}x{height}: too long and thin (over {MAX_ASPECT}:1)")


def _decode(img: Image.Image, animated: str, max_side: int | None) -> Image.Image:
    """Decode the first frame of ``img``; JPEGs are DCT-downscaled when ``max_side`` allows."""
    n_frames = getattr(img, "n_frames", 1)
    if n_frames > 1:
        if animated == "refuse":
            raise ImageRejected(f"animated images are not accepted (this one has {n_frames} frames)")
        img.seek(0)
    if max_side and img.format == "JPEG":
        # Decoding at 1/2, 1/4 or 1/8 scale is several times faster for phone photos; the
        # result is still at least max_side on its long side (draft never goes below it).
        img.draft(img.mode, (max_side, max_side))
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        # Another library may have made Pillow tolerate truncated files; intake never does.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        img.load()
    except ImageRejected:
        raise
    except Exception as e:  # noqa: BLE001 - truncated or corrupt data in any decoder
        raise ImageRejected(f"image data is corrupt or truncated ({e})") from None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    return img


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert through the embedded ICC profile to sRGB; without one (or if it is broken),
    leave the pixels to Pillow's plain conversion."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "CMYK"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(img, src, dst, outputMode="RGB")
    except Exception:  # noqa: BLE001 - a broken profile must not lose the photo
        return img


def _normalise_mode(img: Image.Image, mode: str) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale (PNG): scale 0..65535 to 0..255 rather than clipping at 255.
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr / 257.0 + 0.5, 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    img = _to_srgb(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if mode == "RGBA":
        return img.convert("RGBA")
    if has_alpha:
        # Transparent areas become white, as a product photo on a page would look.
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def load_image(
    source: bytes | str | os.PathLike | Image.Image,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    mode: Literal["RGB", "RGBA"] = "RGB",
    max_side: int | None = None,
    animated: Literal["first_frame", "refuse"] = "first_frame",
) -> Image.Image:
    """Decode ``source`` into an upright 8-bit sRGB image with no metadata.

    Args:
        source: raw bytes, a file path, or an already-open PIL image (checked for size only,
            then normalised the same way).
        max_bytes: refuse files larger than this (checked before reading a path).
        max_pixels: refuse images whose header declares more pixels (checked before decoding).
        mode: "RGB" (transparent areas become white) or "RGBA".
        max_side: if given, the result's long side is at most this many pixels (JPEGs are
            decoded at reduced scale, which is much faster for 12 MP photos).
        animated: "first_frame" keeps frame 0 of an animated PNG/WebP; "refuse" rejects it.

    Returns:
        PIL image of ``mode``, uint8 per channel, size (W, H) after EXIF orientation, ``info == {}``.

    Raises:
        ImageRejected: empty, too large (bytes or pixels), under 8 px on a side or over 25:1, not
            JPEG/PNG/WebP (the message names what it is: SVG, EPS, GIF, HEIC...), corrupt or
            truncated, a metadata bomb, or animated when refused.
    """
    if mode not in ("RGB", "RGBA"):
        raise ValueError(f"mode must be 'RGB' or 'RGBA', got {mode!r}")
    if animated not in ("first_frame", "refuse"):
        raise ValueError(f"animated must be 'first_frame' or 'refuse', got {animated!r}")
    if isinstance(source, Image.Image):
        img = source
        if img.format is not None and img.format not in ALLOWED_FORMATS:
            raise ImageRejected(f"only JPEG, PNG and WebP images are accepted: this is {img.format}")
        if img.width * img.height > max_pixels:
            raise ImageRejected(_limit_message(img.width, img.height, max_pixels))
        _check_shape(img.width, img.height)
        img = _decode(img, animated, None) if getattr(img, "fp", None) is not None else img
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
        else:
            path = Path(source)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise ImageRejected(f"no such file: {path.name}") from None
            except OSError as e:
                raise ImageRejected(f"cannot read {path.name}: {e.strerror}") from None
            except ValueError:  # e.g. a NUL byte in the name
                raise ImageRejected("invalid file name") from None
            if path.is_dir():
                raise ImageRejected(f"{path.name} is a folder, not an image")
            if size > max_bytes:
                raise ImageRejected(f"file is {size:,} bytes, over the limit of {max_bytes:,}")
            with open(path, "rb") as f:
                data = f.read(max_bytes + 1)  # the file may have grown since stat()
        if not data:
            raise ImageRejected("file is empty (0 bytes)")
        if len(data) > max_bytes:
            raise ImageRejected(f"file is {len(data):,} bytes or more, over the limit of {max_bytes:,}")
        img = _decode(_open_checked(data, max_pixels), animated, max_side)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a malformed EXIF block must not lose the photo
        pass
    img = _normalise_mode(img, mode)
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if img is source:
        img = img.copy()
    img.info = {}
    return img


def save_image(img: Image.Image, path: str | os.PathLike, quality: int = 92) -> Path:
    """Write ``img`` with no metadata (no EXIF, GPS, XMP, ICC or text chunks), atomically.

    The format follows the suffix (.jpg/.jpeg, .png, .webp; anything else is PNG). The pixels
    are copied into a fresh image so nothing from ``img.info`` can be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    src = img if img.mode in ("RGB", "RGBA", "L", "LA") else img.convert("RGBA" if "A" in img.getbands() else "RGB")
    if fmt == "JPEG" and src.mode not in ("RGB", "L"):
        src = src.convert("RGB")
    clean = Image.new(src.mode, src.size)
    clean.paste(src)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            clean.save(f, format=fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
