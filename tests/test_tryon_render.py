"""Makeup rendering, tone and shade logic on synthetic inputs (no face detector needed)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.tryon import render as R
from pipelines.tryon.color import delta_e, hex_to_lab, hex_to_rgb, srgb_to_lab
from pipelines.tryon.shades import rank_products
from pipelines.tryon.tone import estimate_light, estimate_tone, monk_level, tone_from_monk, MONK_LAB
from pipelines.tryon.types import Light, SkinTone


def textured_patch(seed=0, h=80, w=120, base=(0.75, 0.45, 0.45)):
    """A lip-like patch: a colour with shading gradient and fine texture, in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    shade = 0.85 + 0.15 * np.sin(xx / w * np.pi) - 0.1 * (yy / h)
    tex = 1 + 0.06 * rng.standard_normal((h, w))
    img = np.clip(np.array(base, np.float32)[None, None] * (shade * tex)[..., None], 0, 1).astype(np.float32)
    mask = ((yy - h / 2) / (h * 0.35)) ** 2 + ((xx - w / 2) / (w * 0.4)) ** 2 < 1
    return img, mask


@pytest.mark.parametrize("hexc,min_corr", [("#C41E3A", 0.9), ("#3B1F2B", 0.8), ("#F2D4C8", 0.9), ("#8B3A62", 0.9),
                                            # At the ends of the gamut the mean can only be met by clipping texture.
                                            ("#FFFFFF", 0.4), ("#1A0F0F", 0.4)])
def test_full_opacity_hits_the_shade_and_keeps_texture(hexc, min_corr):
    img, mask = textured_patch()
    reg = R.Region.from_mask(mask, kind="lipstick")
    st = R.render_product(img, reg, hex_to_lab(hexc), "lipstick", "satin", 1.0)
    assert st["delta_e"] < 1.0, st
    assert st["texture_corr"] > min_corr, st  # a flat fill would be ~0
    got = srgb_to_lab(img[mask]).mean(0)
    assert float(delta_e(got, hex_to_lab(hexc))) < 1.0


def test_flat_fill_would_fail_the_texture_measure():
    img, mask = textured_patch()
    flat = img.copy()
    flat[mask] = np.array(hex_to_rgb("#C41E3A"), np.float32) / 255
    a, b = srgb_to_lab(img[mask])[:, 0], srgb_to_lab(flat[mask])[:, 0]
    assert np.std(b) < 1e-3  # correlation undefined/zero: the renderer must not do this


def test_protected_pixels_and_outside_are_untouched():
    img, mask = textured_patch()
    protect = np.zeros_like(mask)
    protect[35:45, 40:80] = True  # "teeth"
    orig = img.copy()
    reg = R.Region.from_mask(mask & ~protect, kind="lipstick", protect=protect)
    R.render_product(img, reg, hex_to_lab("#C41E3A"), "lipstick", "gloss", 1.0)
    assert np.array_equal(img[protect], orig[protect])
    far = np.ones_like(mask)
    far[5:-5, 5:-5] = False
    assert np.array_equal(img[far & ~mask], orig[far & ~mask])


def test_opacity_zero_is_identity_and_opacity_scales():
    img, mask = textured_patch()
    orig = img.copy()
    reg = R.Region.from_mask(mask, kind="lipstick")
    R.render_product(img, reg, hex_to_lab("#C41E3A"), "lipstick", "satin", 0.0)
    assert np.array_equal(img, orig)
    half = orig.copy()
    full = orig.copy()
    R.render_product(half, reg, hex_to_lab("#2040C0"), "lipstick", "satin", 0.5)
    R.render_product(full, reg, hex_to_lab("#2040C0"), "lipstick", "satin", 1.0)
    d_half = np.abs(half - orig)[mask].mean()
    d_full = np.abs(full - orig)[mask].mean()
    assert 0.3 * d_full < d_half < 0.8 * d_full


@pytest.mark.parametrize("finish", ["matte", "satin", "gloss", "shimmer"])
def test_finishes_differ_and_are_seeded(finish):
    img, mask = textured_patch()
    reg = R.Region.from_mask(mask, kind="lipstick")
    a, b = img.copy(), img.copy()
    R.render_product(a, reg, hex_to_lab("#A0304A"), "lipstick", finish, 1.0, rng=np.random.default_rng(3))
    R.render_product(b, reg, hex_to_lab("#A0304A"), "lipstick", finish, 1.0, rng=np.random.default_rng(3))
    assert np.array_equal(a, b)
    sat = img.copy()
    R.render_product(sat, reg, hex_to_lab("#A0304A"), "lipstick", "satin", 1.0)
    if finish != "satin":
        assert np.abs(a - sat)[mask].max() > 0.01


def test_bad_inputs_raise_specific_errors():
    img, mask = textured_patch()
    reg = R.Region.from_mask(mask)
    with pytest.raises(ValueError, match="unknown makeup type"):
        R.render_product(img, reg, hex_to_lab("#A0304A"), "mascara")
    with pytest.raises(ValueError, match="opacity"):
        R.render_product(img, reg, hex_to_lab("#A0304A"), "lipstick", opacity=1.5)
    with pytest.raises(ValueError, match="unknown finish"):
        R.render_product(img, reg, hex_to_lab("#A0304A"), "lipstick", finish="velvet", opacity=1.0)
    with pytest.raises(ValueError, match="not a hex colour"):
        hex_to_lab("#GG0000")


def test_shade_seen_in_dim_light_is_darker():
    shade = hex_to_lab("#C41E3A")
    dim = R.shade_in_light(shade, Light(exposure=2.0))
    assert dim[0] < shade[0] - 10
    assert np.allclose(R.shade_in_light(shade, None), shade)


def _scene(skin_rgb, seed=0):
    """A synthetic photo: textured skin block on a multi-coloured background with a white card."""
    rng = np.random.default_rng(seed)
    img = np.zeros((120, 160, 3), np.float32)
    cols = rng.uniform(0.1, 0.9, (4, 3))
    for i in range(4):
        img[:, i * 40:(i + 1) * 40] = cols[i]
    img[5:25, 5:35] = 0.92  # a white card
    skin = np.zeros((120, 160), bool)
    skin[40:100, 50:110] = True
    img[skin] = np.array(skin_rgb, np.float32) * (1 + 0.05 * rng.standard_normal((skin.sum(), 1)))
    return np.clip(img, 0, 1), skin


@pytest.mark.parametrize("skin_hex", ["#E8C4A8", "#A0704E", "#4A3024"])
def test_tone_is_stable_under_exposure_and_white_balance(skin_hex):
    from pipelines.tryon.color import linear_to_srgb, srgb_to_linear

    base, skin = _scene(np.array(hex_to_rgb(skin_hex)) / 255)
    levels = []
    for g in [(1, 1, 1), (1.15, 1.15, 1.15), (0.85, 0.85, 0.85), (1.15, 1, 1 / 1.15), (1 / 1.15, 1, 1.15)]:
        img = (linear_to_srgb(srgb_to_linear(base) * np.array(g, np.float32)) * 255 + 0.5).astype(np.uint8)
        light = estimate_light(img, skin)
        levels.append(estimate_tone(img, skin, light).monk)
    assert max(levels) - min(levels) <= 1, levels


def test_darker_skin_gets_a_higher_monk_level():
    out = []
    for hx in ["#F0D5C0", "#C89878", "#8A5A40", "#3E2A20"]:
        img, skin = _scene(np.array(hex_to_rgb(hx)) / 255)
        u8 = (img * 255 + 0.5).astype(np.uint8)
        out.append(estimate_tone(u8, skin, estimate_light(u8, skin)).monk)
    assert out == sorted(out) and out[0] < out[-1], out


def test_monk_levels_and_user_override():
    for i, lab in enumerate(MONK_LAB):
        assert monk_level(lab)[0] == i + 1
    t = tone_from_monk(9)
    assert t.monk == 9 and t.user_corrected and t.confidence == 1.0
    with pytest.raises(ValueError, match="Monk level"):
        tone_from_monk(11)


def test_foundation_ranking_follows_the_tone():
    class P:
        def __init__(self, hx):
            self.shade_hex, self.id = hx, hx

    ps = [P(h) for h in ["#F5E0D0", "#E0B898", "#B07850", "#7A4E32", "#4A2E1E", "#BAD"]]
    ps.append(P("#zzzzzz"))  # malformed: skipped, never crashes
    light = SkinTone(monk=2, confidence=1, ita=60, undertone="neutral", swatch_hex="#F3E7DB", lab=tuple(MONK_LAB[1]))
    dark = SkinTone(monk=9, confidence=1, ita=-70, undertone="neutral", swatch_hex="#3A312A", lab=tuple(MONK_LAB[8]))
    assert rank_products(ps, light, "foundation")[0].shade_hex == "#F5E0D0"
    assert rank_products(ps, dark, "foundation")[0].shade_hex == "#4A2E1E"
    assert all(p.shade_hex != "#zzzzzz" for p in rank_products(ps, dark, "foundation"))


def test_pale_pastels_are_not_suggested_first_for_deep_skin():
    class P:
        def __init__(self, hx):
            self.shade_hex, self.id = hx, hx

    ps = [P("#E8A0A0"), P("#F2C4C4"), P("#7A1F3D"), P("#A0283C")]
    deep = SkinTone(monk=9, confidence=1, ita=-70, undertone="neutral", swatch_hex="#3A312A", lab=tuple(MONK_LAB[8]))
    top = rank_products(ps, deep, "lipstick")[:2]
    assert {p.shade_hex for p in top} == {"#7A1F3D", "#A0283C"}
