"""Cut-outs on synthetic product photos: shadows, white on white, holes, busy backgrounds."""

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from catalog.cutout import cut_out, dominant_color, product_view


def photo(draw_fn, size=300, bg=(255, 255, 255)):
    im = Image.new("RGB", (size, size), bg)
    draw_fn(ImageDraw.Draw(im), im)
    return im


def test_dark_product_with_soft_shadow():
    def draw(d, im):
        sh = Image.new("L", im.size, 0)
        ImageDraw.Draw(sh).ellipse([60, 225, 240, 255], fill=90)
        sh = sh.filter(ImageFilter.GaussianBlur(8))
        im.paste((120, 120, 120), mask=sh)
        ImageDraw.Draw(im).rectangle([90, 80, 210, 235], fill=(60, 40, 30))

    c = cut_out(photo(draw))
    a = c.alpha
    assert a[150, 150] == 255 and a[20, 20] == 0
    assert a[248, 70] < 60 and a[248, 230] < 60  # shadow beside the product is background
    assert not c.flagged and c.confidence > 0.7
    assert c.image.mode == "RGBA" and c.image.size == (300, 300)


def test_hole_in_a_chair_back_stays_background():
    def draw(d, im):
        d.rectangle([80, 60, 220, 240], fill=(150, 30, 30))
        d.rectangle([110, 90, 135, 160], fill=(255, 255, 255))  # gaps between the back's slats
        d.rectangle([165, 90, 190, 160], fill=(255, 255, 255))

    a = cut_out(photo(draw)).alpha
    assert a[125, 122] == 0 and a[125, 177] == 0 and a[70, 90] == 255 and a[125, 150] == 255


def test_white_product_on_white_keeps_its_body():
    def draw(d, im):
        d.rectangle([70, 70, 230, 230], fill=(238, 236, 232), outline=(190, 190, 190), width=3)

    c = cut_out(photo(draw))
    assert c.alpha[150, 150] == 255  # an off-white body is not taken for backdrop
    assert c.alpha[20, 20] == 0


def test_busy_background_is_flagged():
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    c = cut_out(im)
    assert c.flagged and c.confidence < 0.5 and c.reasons


def test_rgba_input_alpha_is_trusted_and_helpers():
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).ellipse([20, 20, 80, 80], fill=(10, 120, 200, 255))
    c = cut_out(rgba)
    assert c.confidence == 1.0 and c.alpha[50, 50] == 255
    view = product_view(c.image)
    assert view.mode == "RGB" and view.size[0] < 100
    r, g, b = dominant_color(c.image)
    assert abs(r - 10) < 10 and abs(g - 120) < 10 and abs(b - 200) < 10
