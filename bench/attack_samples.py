"""Hostile and awkward image files, made on the spot (nothing downloaded, nothing copied).

Shared by tests/test_intake.py and ``python -m bench.bench_load`` so the test suite and the
timing table exercise exactly the same bytes.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import ExifTags, Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 10_000, height: int = 6_000) -> bytes:
    """A real decompression bomb: a valid greyscale PNG of ``width x height`` zero pixels.

    The default, 60 MP, is above restyle's 50 MP limit but below Pillow's own 89.5 MP, so only
    restyle's header check stands between it and a 60 MB decode. It compresses about 1000:1.
    """
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def png_header_bomb(side: int = 100_000) -> bytes:
    """A PNG header declaring ``side x side`` pixels (10 gigapixels) with almost no data."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def png_text_bomb(megabytes: int = 32) -> bytes:
    """An 8x8 PNG whose zTXt metadata chunk inflates to ``megabytes`` MB (about 32 kB on disk)."""
    comp = zlib.compressobj(9)
    text = b"".join(comp.compress(b"\0" * (1 << 20)) for _ in range(megabytes)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\0" + b"\x80" * 8 for _ in range(8)))
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"zTXt", b"Comment\0\0" + text)
            + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def jpeg_bytes(img: Image.Image, **save_kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, **save_kw)
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    """A valid 640x480 JPEG cut off after 40% of its bytes."""
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))
    data = jpeg_bytes(img)
    return data[: int(len(data) * 0.4)]


def random_bytes(n: int = 100_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).bytes(n)


def eps_file() -> bytes:
    """An EPS (PostScript) program: Pillow would hand this to Ghostscript if allowed."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n"
        b"newpath 0 0 moveto 100 100 lineto stroke\n(%pipe%id) (w) file\nshowpage\n%%EOF\n"
    )


def svg_file() -> bytes:
    """An SVG with a script and an external entity: never to be parsed by the app."""
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b"<script>alert(1)</script><text>&x;</text></svg>\n"
    )


# Marker colours for the orientation test: a red block in the stored image's top-left corner.
MARK = (255, 0, 0)
PHONE_SIZE = (4032, 3024)  # a 12 MP phone sensor, stored landscape


def phone_photo_exif6(size: tuple[int, int] = PHONE_SIZE) -> bytes:
    """A 12 MP JPEG stored sideways with EXIF Orientation 6 and a GPS position, as phones write.

    Stored: landscape, grey, red block in the stored top-left. Displayed correctly (rotated 90
    degrees clockwise) it is portrait with the red block at the top-right.
    """
    w, h = size
    arr = np.full((h, w, 3), 128, np.uint8)
    arr[: h // 8, : w // 8] = MARK
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (51.0, 30.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (0.0, 7.0, 39.0)
    return jpeg_bytes(img, exif=exif.tobytes())


def cmyk_jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    """A CMYK JPEG (as print workflows export): pure red ink = C0 M100 Y100 K0."""
    img = Image.new("CMYK", size, (0, 255, 255, 0))
    return jpeg_bytes(img)


def png16_grey(size: tuple[int, int] = (256, 64)) -> bytes:
    """A 16-bit greyscale PNG whose columns run 0..65535 left to right."""
    w, h = size
    ramp = np.linspace(0, 65535, w).round().astype(np.uint16)
    img = Image.fromarray(np.tile(ramp, (h, 1)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def png16_rgb(value: int = 40_000, size: tuple[int, int] = (32, 16)) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one, OpenCV can)."""
    import cv2

    arr = np.full((size[1], size[0], 3), value, np.uint16)
    ok, enc = cv2.imencode(".png", arr)
    assert ok  # noqa: S101 - sample generator, not app code
    return enc.tobytes()


def animated_png(colours=((255, 0, 0), (0, 255, 0), (0, 0, 255)), fmt: str = "PNG") -> bytes:
    """A 3-frame animated PNG (APNG) or WebP; frame 0 is red."""
    frames = [Image.new("RGB", (64, 48), c) for c in colours]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()
