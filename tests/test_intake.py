"""Image intake under attack: each test feeds load_image a real hostile or awkward file made here."""

from __future__ import annotations

import functools
import io
import time

import numpy as np
import psutil
import pytest
from PIL import ExifTags, Image, PngImagePlugin

from bench import attack_samples as A

_phone = functools.lru_cache(maxsize=1)(A.phone_photo_exif6)  # 12 MP: encode once per session
from pipelines.intake import ImageRejected, load_image, save_image, sniff


def _reject(data, **kw) -> str:
    with pytest.raises(ImageRejected) as e:
        load_image(data, **kw)
    return str(e.value)


# --- refused -------------------------------------------------------------------------------


def test_decompression_bomb_png_is_refused_before_decoding():
    bomb = A.png_bomb()  # 60 MP of zeros in ~60 kB: above our limit, below Pillow's own
    assert len(bomb) < 100_000
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    msg = _reject(bomb)
    elapsed = time.perf_counter() - t0
    assert "10000x6000" in msg and "50,000,000" in msg
    # Decoding would allocate 60 MB; refusing from the header allocates next to nothing.
    assert proc.memory_info().rss - rss0 < 20 * 1024 * 1024
    assert elapsed < 1.0  # the acceptance limit for a bad image (typically ~10 ms)


def test_header_bomb_beyond_pillows_limit_is_refused():
    msg = _reject(A.png_header_bomb())  # declares 10 gigapixels
    assert "10,000,000,000 pixels" in msg


def test_png_metadata_bomb_is_refused():
    data = A.png_text_bomb()  # zTXt inflating to 32 MB; Pillow caps a text chunk at 1 MB
    assert len(data) < 100_000
    msg = _reject(data)
    assert "oversized metadata chunk" in msg


@pytest.mark.parametrize("size, expect", [((1, 4000), "too small"), ((4000, 100), "too long and thin")])
def test_slivers_are_refused(size, expect):
    buf = io.BytesIO()
    Image.new("RGB", size).save(buf, "PNG")
    assert expect in _reject(buf.getvalue())
    with pytest.raises(ImageRejected, match=expect):
        load_image(Image.new("RGB", size))


def test_pixel_limit_is_a_setting():
    img = Image.new("RGB", (100, 100))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    assert load_image(buf.getvalue(), max_pixels=10_000).size == (100, 100)
    assert "9,999" in _reject(buf.getvalue(), max_pixels=9_999)


def test_truncated_jpeg_is_refused():
    assert "truncated" in _reject(A.truncated_jpeg())


def test_truncated_jpeg_is_refused_even_if_pillow_was_made_tolerant(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert "truncated" in _reject(A.truncated_jpeg())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for whoever set it


def test_zero_bytes_is_refused(tmp_path):
    assert "empty" in _reject(b"")
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    assert "empty" in _reject(p)


def test_random_bytes_are_refused():
    assert "not a recognised image" in _reject(A.random_bytes())


@pytest.mark.parametrize(
    "maker, named",
    [(A.eps_file, "EPS"), (A.svg_file, "SVG")],
)
def test_eps_and_svg_renamed_png_are_refused_by_content(tmp_path, maker, named):
    p = tmp_path / "holiday.png"
    p.write_bytes(maker())
    msg = _reject(p)
    assert named in msg and "JPEG, PNG and WebP" in msg


@pytest.mark.parametrize(
    "data, named",
    [
        (b"GIF89a" + b"\x00" * 20, "GIF"),
        (b"BM" + b"\x00" * 40, "BMP"),
        (b"II*\x00" + b"\x00" * 20, "TIFF"),
        (b"%PDF-1.7\n", "PDF"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20, "HEIC"),
    ],
)
def test_other_formats_are_named_in_the_refusal(data, named):
    assert named in _reject(data)


def test_byte_limit_is_checked_before_reading(tmp_path):
    p = tmp_path / "big.jpg"
    p.write_bytes(b"\xff\xd8\xff" + b"\x00" * 5000)
    assert "over the limit of 1,000" in _reject(p, max_bytes=1000)
    assert "over the limit of 1,000" in _reject(p.read_bytes(), max_bytes=1000)


def test_missing_file_and_folder_are_refused(tmp_path):
    assert "no such file" in _reject(tmp_path / "nope.jpg")
    assert "folder" in _reject(tmp_path)
    assert "invalid file name" in _reject(str(tmp_path / "a\x00.jpg"))


def test_png_with_corrupt_header_is_refused():
    data = bytearray(A.png16_grey())
    data[20:24] = b"\xff\xff\xff\xff"  # IHDR height, now with a wrong CRC
    assert "corrupt" in _reject(bytes(data))


def test_animated_images_keep_first_frame_or_are_refused():
    for fmt in ("PNG", "WEBP"):
        data = A.animated_png(fmt=fmt)
        assert Image.open(io.BytesIO(data)).n_frames == 3
        img = load_image(data)
        r, g, b = img.getpixel((10, 10))
        assert r > 240 and g < 15 and b < 15, (fmt, (r, g, b))  # frame 0 is red
        assert "3 frames" in _reject(data, animated="refuse")


# --- accepted and normalised ---------------------------------------------------------------


def test_phone_photo_with_exif_orientation_6_comes_out_upright_without_metadata(tmp_path):
    data = _phone()
    raw = Image.open(io.BytesIO(data))
    assert raw.size == (4032, 3024) and raw.getexif()[ExifTags.Base.Orientation] == 6
    assert raw.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the test file really carries GPS

    img = load_image(data)
    assert img.size == (3024, 4032) and img.mode == "RGB"
    # Stored top-left red block -> displayed top-right after rotating 90 degrees clockwise.
    assert img.getpixel((3024 - 20, 20))[0] > 240 and img.getpixel((20, 20))[0] < 140
    assert img.info == {} and not img.getexif()

    out = save_image(img, tmp_path / "out.jpg")
    back = Image.open(out)
    assert back.size == (3024, 4032) and not back.getexif()
    assert not any(k in back.info for k in ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp")), back.info
    assert b"PhoneMaker" not in out.read_bytes() and b"GPS" not in out.read_bytes()


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_save_image_writes_no_metadata_even_if_the_image_carries_some(tmp_path, suffix):
    src = Image.open(io.BytesIO(A.phone_photo_exif6(size=(64, 48))))
    src.load()
    assert src.info.get("exif")  # the in-memory image still carries EXIF with GPS
    out = save_image(src, tmp_path / f"out{suffix}")
    back = Image.open(out)
    assert back.size == (64, 48) and not back.getexif()
    assert b"PhoneMaker" not in out.read_bytes() and b"GPS" not in out.read_bytes()


def test_max_side_decodes_large_jpeg_small_and_upright():
    img = load_image(_phone(), max_side=1024)
    assert img.size == (768, 1024)
    assert img.getpixel((768 - 10, 10))[0] > 240


def test_cmyk_jpeg_becomes_rgb():
    img = load_image(A.cmyk_jpeg())
    assert img.mode == "RGB"
    r, g, b = img.getpixel((100, 100))
    assert r > 230 and g < 25 and b < 25, (r, g, b)


def test_16_bit_greyscale_png_is_scaled_not_clipped():
    img = load_image(A.png16_grey())
    row = np.asarray(img)[0, :, 0]
    assert img.mode == "RGB" and row[0] == 0 and row[-1] == 255
    assert abs(int(row[128]) - 128) <= 2  # mid-grey stays mid-grey (clipping would give 255)
    assert np.all(np.diff(row.astype(int)) >= 0)


def test_16_bit_rgb_png():
    img = load_image(A.png16_rgb(40_000))
    assert img.getpixel((0, 0)) == (156, 156, 156)  # 40000 / 257


def test_greyscale_palette_and_alpha_are_normalised():
    def png(img, **kw):
        buf = io.BytesIO()
        img.save(buf, "PNG", **kw)
        return buf.getvalue()

    assert load_image(png(Image.new("L", (8, 8), 77))).getpixel((0, 0)) == (77, 77, 77)
    assert load_image(png(Image.new("1", (8, 8), 1))).getpixel((0, 0)) == (255, 255, 255)

    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    assert load_image(png(pal)).getpixel((0, 0)) == (10, 200, 30)
    assert load_image(png(pal, transparency=1)).getpixel((0, 0)) == (255, 255, 255)

    rgba = Image.new("RGBA", (8, 8), (200, 0, 0, 0))
    rgba.putpixel((1, 1), (0, 0, 200, 255))
    flat = load_image(png(rgba))
    assert flat.mode == "RGB" and flat.getpixel((0, 0)) == (255, 255, 255) and flat.getpixel((1, 1)) == (0, 0, 200)
    kept = load_image(png(rgba), mode="RGBA")
    assert kept.mode == "RGBA" and kept.getpixel((0, 0))[3] == 0

    la = Image.new("LA", (8, 8), (50, 255))
    assert load_image(png(la)).getpixel((0, 0)) == (50, 50, 50)


def test_png_text_chunks_and_icc_are_not_kept():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location")
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "PNG", pnginfo=info)
    img = load_image(buf.getvalue())
    assert img.info == {}


def test_embedded_icc_profile_is_converted_to_srgb():
    from PIL import ImageCms

    lab_like = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 240)).save(buf, "PNG", icc_profile=lab_like)
    img = load_image(buf.getvalue())
    assert img.info == {}
    assert all(abs(a - b) <= 2 for a, b in zip(img.getpixel((0, 0)), (10, 120, 240)))


def test_pil_image_input_is_checked_and_copied():
    src = Image.new("RGB", (10, 10), (5, 6, 7))
    src.info["exif"] = b"junk"
    out = load_image(src)
    assert out is not src and out.info == {} and src.info["exif"] == b"junk"
    with pytest.raises(ImageRejected):
        load_image(src, max_pixels=50)


def test_sniff_names_formats_by_content():
    assert sniff(A.cmyk_jpeg()) == "JPEG"
    assert sniff(A.png16_grey()) == "PNG"
    assert sniff(A.animated_png(fmt="WEBP")) == "WEBP"
    assert sniff(b"\x00\x01") is None


def test_save_image_is_atomic_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "a" / "b.png"
    save_image(Image.new("RGB", (4, 4)), target)
    assert target.exists() and [p.name for p in target.parent.iterdir()] == ["b.png"]


def test_real_12mp_phone_photo(shared_data):
    path = shared_data / "rooms_large" / "bedroom_4032x3024.jpg"
    if not path.exists():
        pytest.skip("no 12 MP photo in the shared data")
    small = load_image(path, max_side=1024, max_bytes=50 * 1024 * 1024)  # as the app loads photos
    assert max(small.size) == 1024 and small.info == {} and small.mode == "RGB"
