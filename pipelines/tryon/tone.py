"""Lighting estimate and skin tone: Monk level, ITA angle, undertone, with a confidence.

Why lighting first: a camera sees skin colour x light. Lighter skin in shadow and darker skin
in sun can give the same pixels, so the raw ITA angle confuses them. The light is estimated
from references that share the face's light where possible:

* white balance: shades-of-grey (Minkowski p=6) over the non-skin pixels of the scene, a
  robust variant of grey-world (Finlayson & Trezzi 2004);
* exposure: the sclera (the white of the eyes, in the same light as the face) when enough of
  it is visible, else the scene's bright non-skin pixels (white patch).

Both are ratios, so a global exposure or white-balance change of the photo cancels out.

Exposure estimates can be wrong (no white in the scene, sclera hidden), so the skin colour is
also predicted from its *chromaticity* alone (log R/G and log B/G of white-balanced linear RGB,
which do not change with exposure): a quadratic regression fitted on the 6,812 real foundation
shades of The Pudding's data set (R^2 0.71 for L*, 0.88 for a*, 0.86 for b*), since a
foundation shade is made to match a skin colour. The tone is the mean of the two estimates
(weight ``CHROMA_WEIGHT``): each alone mistakes some faces (see the resolution notes).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.tryon.color import hue_degrees, ita_degrees, lab_to_srgb, linear_to_srgb, rgb_to_hex, srgb_to_lab, srgb_to_linear
from pipelines.tryon.types import Light, SkinTone

# Monk Skin Tone Scale (Google, CC BY 4.0), levels 1..10.
MONK_HEX = ("#F6EDE4", "#F3E7DB", "#F7EAD0", "#EADABA", "#D7BD96", "#A07E56", "#825C43", "#604134", "#3A312A", "#292420")
MONK_LAB = np.stack([srgb_to_lab(np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)], np.float32) / 255) for h in MONK_HEX])

# Calibration constants (see bench/eval_tryon.py, which prints the figures they come from).
SCLERA_TARGET_Y = 0.42  # linear luminance of a sclera in a well-exposed portrait
SCENE_TARGET_Y = 0.80  # linear luminance of the scene's bright (98th percentile) non-skin pixels
EXPOSURE_RANGE = (0.6, 2.0)
GAIN_RANGE = (0.67, 1.5)
# Undertone from the skin's hue angle h_ab (degrees): redder is cool, yellower is warm. The Pudding's
# shades labelled cool / neutral / warm have median hues 58 / 61 / 64.5 degrees (heavy overlap).
COOL_BELOW, WARM_ABOVE = 56.0, 63.0
# Skin Lab from chromaticity: rows L*, a*, b*; columns x1, x2, x1^2, x2^2, x1*x2, 1 with
# x1 = log(R/G), x2 = log(B/G) of linear RGB. Fitted by fit_chroma_model() on
# shared/data/shades/foundation_pudding/allShades.csv (bench/eval_tryon.py --part chroma refits it).
CHROMA_COEF = np.array([
    [-85.666, -11.8006, 6.6291, -18.8124, -32.0622, 105.2539],
    [32.6426, 9.0956, -14.6639, -3.4423, -15.4279, -0.1336],
    [1.0178, -47.4786, -2.3768, -10.7935, 5.6347, 4.0882],
])
CHROMA_WEIGHT = 0.6
# ITA groups.
LIGHT_ABOVE, DARK_BELOW = 41.0, 10.0
_W = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 luminance of linear RGB


def _small(a: np.ndarray, max_side: int = 384) -> tuple[np.ndarray, float]:
    h, w = a.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return a, 1.0
    interp = cv2.INTER_AREA if a.dtype != bool else cv2.INTER_NEAREST
    out = cv2.resize(a.astype(np.uint8) if a.dtype == bool else a, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)
    return (out.astype(bool) if a.dtype == bool else out), s


def is_greyscale(rgb: np.ndarray, tol: float = 3.0) -> bool:
    """True when the colour channels barely differ (mean |R-G| + |G-B| under ``tol`` levels)."""
    a, _ = _small(rgb, 128)
    a = a.astype(np.float32)
    return float(np.mean(np.abs(a[..., 0] - a[..., 1]) + np.abs(a[..., 1] - a[..., 2]))) < tol


def sclera_pixels(rgb: np.ndarray, eyes: np.ndarray, irises: list[tuple[float, float, float]]) -> np.ndarray:
    """(N, 3) uint8 sclera pixels: eye pixels outside the iris discs, brighter than the eye's
    median (lashes, shadow and iris edge are darker)."""
    m = eyes.copy()
    if not m.any():
        return np.zeros((0, 3), np.uint8)
    yy, xx = np.nonzero(m)
    keep = np.ones(len(yy), bool)
    for cx, cy, r in irises:
        keep &= (xx - cx) ** 2 + (yy - cy) ** 2 > (1.15 * r) ** 2
    px = rgb[yy[keep], xx[keep]]
    if len(px) < 8:
        return np.zeros((0, 3), np.uint8)
    y = px.astype(np.float32) @ _W
    return px[y >= np.median(y)]


def estimate_light(rgb: np.ndarray, skin: np.ndarray, sclera: np.ndarray | None = None, skin_px: np.ndarray | None = None) -> Light:
    """Estimate white balance and exposure of a photo.

    Args:
        rgb: (H, W, 3) uint8 photo.
        skin: (H, W) bool skin mask (excluded from the white-balance statistics).
        sclera: (N, 3) uint8 sclera pixels, or None.
        skin_px: (M, 3) uint8 face-skin pixels: a sclera darker than the skin is no sclera
            (sunglasses, closed or shaded eyes) and is not used.
    """
    small, _ = _small(rgb)
    sk, _ = _small(skin)
    lin = srgb_to_linear(small.astype(np.float32) / 255.0).reshape(-1, 3)
    ok = (~sk.reshape(-1)) & (lin.max(1) < 0.97) & (lin.min(1) > 0.003)
    sources = []
    gains = np.ones(3, np.float32)
    if ok.sum() > 200:
        p = 6.0
        illum = np.power(np.mean(np.power(lin[ok], p), axis=0), 1.0 / p)
        if np.all(illum > 1e-4):
            gains = np.clip(illum[1] / illum, *GAIN_RANGE).astype(np.float32)
            sources.append("white balance: scene (shades of grey)")
    exposure, exp_src = 1.0, "none"
    if sclera is not None and len(sclera) >= 12:
        sl = srgb_to_linear(sclera.astype(np.float32) / 255.0) * gains
        y = float(np.percentile(sl @ _W, 75))
        sk_y = float(np.median((srgb_to_linear(skin_px.astype(np.float32) / 255.0) * gains) @ _W)) if skin_px is not None and len(skin_px) else 0.0
        sat = float(np.median(np.ptp(sl, axis=1) / np.maximum(sl.max(1), 1e-4)))
        if y > 0.01 and y > 0.8 * sk_y and sat < 0.6:
            exposure, exp_src = SCLERA_TARGET_Y / y, "sclera"
    if exp_src == "none":
        yl = (lin * gains) @ _W
        cand = yl[~sk.reshape(-1)]
        if len(cand) > 200:
            y = float(np.percentile(cand, 98))
            if y > 0.01:
                exposure, exp_src = SCENE_TARGET_Y / y, "scene white patch"
    exposure = float(np.clip(exposure, *EXPOSURE_RANGE))
    sources.append(f"exposure: {exp_src}")
    return Light(gains=gains, exposure=exposure, source="; ".join(sources))


def correct(rgb01: np.ndarray, light: Light) -> np.ndarray:
    """sRGB float [0, 1] pixels as they would look under neutral, well-exposed light."""
    return linear_to_srgb(srgb_to_linear(rgb01) * light.total)


def skin_colour(rgb: np.ndarray, skin: np.ndarray, light: Light) -> tuple[np.ndarray, np.ndarray] | None:
    """(corrected Lab, raw Lab) of the skin, None if < 30 pixels.

    Pixels between the 50th and 90th lightness percentile are used (lit skin: no shadow, no
    specular highlight). The corrected colour averages the exposure-corrected measurement and
    the chromaticity prediction (see the module docstring).
    """
    px = rgb[skin]
    if len(px) < 30:
        return None
    raw01 = px.astype(np.float32) / 255.0
    lab_raw = srgb_to_lab(raw01)
    lo, hi = np.percentile(lab_raw[:, 0], [50, 90])
    sel = (lab_raw[:, 0] >= lo) & (lab_raw[:, 0] <= hi)
    if sel.sum() < 5:
        sel[:] = True
    raw = lab_raw[sel].mean(0)
    measured = srgb_to_lab(correct(raw01[sel], light)).mean(0)
    lin_wb = srgb_to_linear(raw01[sel]).mean(0) * np.asarray(light.gains, np.float32)
    predicted = chroma_lab(lin_wb)
    lab = CHROMA_WEIGHT * predicted + (1 - CHROMA_WEIGHT) * measured
    lab[0] = float(np.clip(lab[0], 0, 100))
    return lab.astype(np.float32), raw


def _chroma_features(lin_rgb: np.ndarray) -> np.ndarray:
    m = np.asarray(lin_rgb, np.float64) + 1e-4
    x1, x2 = np.log(m[..., 0] / m[..., 1]), np.log(m[..., 2] / m[..., 1])
    return np.stack([x1, x2, x1 ** 2, x2 ** 2, x1 * x2, np.ones_like(x1)], axis=-1)


def chroma_lab(lin_rgb: np.ndarray) -> np.ndarray:
    """Skin Lab predicted from the chromaticity of a white-balanced linear RGB colour (3,)."""
    return (_chroma_features(lin_rgb) @ CHROMA_COEF.T).astype(np.float32)


def fit_chroma_model(hexes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of :data:`CHROMA_COEF` on skin-matching shades; returns (coef, R^2 per
    channel). Malformed hex codes are skipped."""
    from pipelines.tryon.color import hex_to_rgb

    rgb = []
    for h in hexes:
        try:
            rgb.append(hex_to_rgb(h))
        except ValueError:
            continue
    rgb = np.array(rgb, np.float32) / 255.0
    A = _chroma_features(srgb_to_linear(rgb))
    lab = srgb_to_lab(rgb).astype(np.float64)
    coef, *_ = np.linalg.lstsq(A, lab, rcond=None)
    pred = A @ coef
    r2 = 1 - np.var(lab - pred, axis=0) / np.var(lab, axis=0)
    return coef.T, r2


def monk_level(lab: np.ndarray, sigma: float = 3.0) -> tuple[int, float]:
    """Monk level (1..10) of a skin Lab colour, and a margin in [0, 1] (0: the two nearest
    swatches are equally near, 1: the second is far).

    The Monk swatches are far from evenly spaced: levels 1-3 differ by ~2 L* and a few b*,
    levels 5-6 by 23 L*. Taking the nearest swatch makes near-ties jump (1 <-> 3) on tiny
    changes, so the level is interpolated between the two nearest swatches by their
    closeness (Gaussian weights, ``sigma`` in distance units) and rounded.
    """
    d = np.sqrt((MONK_LAB[:, 0] - lab[0]) ** 2 + (0.5 * (MONK_LAB[:, 2] - lab[2])) ** 2)
    i1, i2 = np.argsort(d)[:2]
    w1, w2 = np.exp(-0.5 * (d[[i1, i2]] - d[i1]) ** 2 / sigma ** 2)  # relative to the nearest
    level = (w1 * (i1 + 1) + w2 * (i2 + 1)) / (w1 + w2)
    out = int(np.clip(np.round(level), 1, 10))
    return out, float((w1 - w2) / (w1 + w2))


def undertone(lab: np.ndarray) -> str:
    h = hue_degrees(lab)
    return "cool" if h < COOL_BELOW else "warm" if h > WARM_ABOVE else "neutral"


def ita_group(ita: float) -> str:
    return "light" if ita > LIGHT_ABOVE else "dark" if ita < DARK_BELOW else "medium"


def estimate_tone(rgb: np.ndarray, skin: np.ndarray, light: Light, greyscale: bool = False) -> SkinTone | None:
    """Skin tone from ``skin`` pixels of ``rgb`` corrected by ``light``; None if too little skin."""
    cols = skin_colour(rgb, skin, light)
    if cols is None:
        return None
    lab, raw = cols
    level, margin = monk_level(lab)
    n = int(skin.sum())
    conf = min(1.0, n / 3000.0) ** 0.5
    conf *= 0.6 + 0.4 * min(1.0, margin * 4)
    conf *= float(np.clip(1.0 - 0.35 * abs(np.log(light.exposure)), 0.3, 1.0))
    if greyscale:
        conf *= 0.2  # no colour: lightness only, the undertone is unknown
    return SkinTone(
        monk=level,
        confidence=float(np.clip(conf, 0, 1)),
        ita=ita_degrees(lab),
        undertone="neutral" if greyscale else undertone(lab),
        swatch_hex=rgb_to_hex(lab_to_srgb(lab) * 255),
        group=ita_group(ita_degrees(lab)),
        raw_ita=ita_degrees(raw),
        lab=tuple(float(v) for v in lab),
        corrected_by=light.source + ("; greyscale photo: colour unknown" if greyscale else ""),
    )


def tone_from_monk(level: int, estimate: SkinTone | None = None) -> SkinTone:
    """The tone a user set by hand: their Monk level, the estimate's undertone if any.

    Raises:
        ValueError: ``level`` outside 1..10.
    """
    if not isinstance(level, (int, np.integer)) or not 1 <= int(level) <= 10:
        raise ValueError(f"tone_override must be a Monk level 1..10, got {level!r}")
    lab = MONK_LAB[int(level) - 1]
    ita = ita_degrees(lab)
    return SkinTone(
        monk=int(level), confidence=1.0, ita=ita,
        undertone=estimate.undertone if estimate else "neutral",
        swatch_hex=MONK_HEX[int(level) - 1], group=ita_group(ita),
        raw_ita=estimate.raw_ita if estimate else ita, lab=tuple(float(v) for v in lab),
        corrected_by="set by the user", user_corrected=True,
    )
