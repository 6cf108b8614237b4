"""CPU makeup renderer: replace a region's colour in CIE Lab, keep its texture and light.

For one product on one region:

1. the region's mean Lab moves to the shade's Lab (seen under the photo's light, when a
   :class:`~pipelines.tryon.types.Light` is given: a shade in shadow is darker), while each
   pixel keeps its deviation from the mean: lightness deviations scaled by how much lighter or
   darker the shade is (shading is multiplicative), chroma deviations damped (the product's
   pigment replaces the lips' own colour);
2. the finish acts on that texture: matte flattens highlights, gloss brightens the lips' own
   highlights, shimmer adds seeded sparkle;
3. a feathered mask blends it in with the opacity, never over protected pixels (teeth, eyes,
   hair);
4. the mean is corrected (two passes) so that the blended region's mean hits the target after
   sRGB clipping: this is what makes dark and very light shades accurate.

Everything runs on the crop around the region, so cost scales with the region, not the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipelines.tryon.color import delta_e, lab_to_srgb, linear_to_srgb, srgb_to_lab, srgb_to_linear
from pipelines.tryon.types import FINISHES, Light

BACKEND = "lab-transfer-cpu"


@dataclass(frozen=True)
class Style:
    """How a makeup type sits on the face.

    texture: lightness-deviation gain (1 keeps the skin's texture at full strength);
    chroma_keep: fraction of the region's own chroma deviations kept;
    feather: mask blur sigma as a fraction of the region's smaller side;
    opacity: default strength;
    lightness: how far the region's lightness moves to the shade's (1: all the way). Sheer
    tints (blush, eyeshadow) change colour more than lightness: a pale blush must not turn
    deep skin chalky.
    """

    texture: float
    chroma_keep: float
    feather: float
    opacity: float
    lightness: float = 1.0
    chroma: float = 1.0  # the same for the colour (a*, b*)


STYLES = {
    "lipstick": Style(texture=1.0, chroma_keep=0.25, feather=0.06, opacity=0.9),
    "eyeshadow": Style(texture=0.85, chroma_keep=0.3, feather=0.22, opacity=0.6, lightness=0.6, chroma=0.8),
    "blush": Style(texture=1.0, chroma_keep=0.6, feather=0.30, opacity=0.3, lightness=0.3, chroma=0.55),
    "foundation": Style(texture=1.0, chroma_keep=0.6, feather=0.015, opacity=0.5),
}


@dataclass
class Region:
    """A region to paint, as a crop of the image.

    box: (x0, y0, x1, y1) pixels of the crop in the image.
    mask: (h, w) bool, the region (where the colour is measured).
    protect: (h, w) bool or None, pixels that must stay untouched (teeth, eyes, hair).
    """

    box: tuple[int, int, int, int]
    mask: np.ndarray
    protect: np.ndarray | None = None
    weights: np.ndarray | None = None  # (h, w) float32 soft weights in [0, 1], if already known

    @classmethod
    def from_mask(cls, mask: np.ndarray, kind: str = "lipstick", protect: np.ndarray | None = None) -> "Region | None":
        """The crop around ``mask`` (H, W bool), padded so the kind's feathering fits inside."""
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            return None
        h, w = mask.shape
        pad = int(np.ceil(3 * _sigma(kind, ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))) + 2
        x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
        x1, y1 = min(w, xs.max() + 1 + pad), min(h, ys.max() + 1 + pad)
        pr = protect[y0:y1, x0:x1] if protect is not None else None
        return cls((int(x0), int(y0), int(x1), int(y1)), mask[y0:y1, x0:x1], pr)


def _sigma(kind: str, height: int, width: int) -> float:
    return max(0.6, STYLES[kind].feather * min(height, width))


def shade_in_light(shade_lab: np.ndarray, light: Light | None) -> np.ndarray:
    """The Lab a shade shows in a photo with ``light`` (identity when None)."""
    if light is None:
        return np.asarray(shade_lab, np.float32)
    lin = srgb_to_linear(lab_to_srgb(np.asarray(shade_lab, np.float32)))
    return srgb_to_lab(linear_to_srgb(lin / light.total))


def _blur(m: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones run at reduced resolution (same result to ~1%, far cheaper)."""
    f = int(sigma // 3)
    if f < 2:
        return cv2.GaussianBlur(m, (0, 0), sigma)
    h, w = m.shape
    small = cv2.resize(m, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def feather_weights(region: Region, kind: str, opacity: float) -> np.ndarray:
    """(h, w) float32 blend weights in [0, 1]: blurred mask x opacity, zero on protected pixels."""
    if region.weights is not None:
        w = region.weights.astype(np.float32, copy=True)
        if region.protect is not None:
            w[region.protect] = 0.0
        return w * np.float32(opacity)
    m = region.mask.astype(np.float32)
    ys = np.nonzero(m.any(1))[0]
    xs = np.nonzero(m.any(0))[0]
    if len(ys) == 0:
        return np.zeros(m.shape, np.float32)
    sigma = _sigma(kind, ys[-1] - ys[0] + 1, xs[-1] - xs[0] + 1)
    w = _blur(m, sigma)
    if kind in ("lipstick", "foundation"):
        # Hard-edged products: keep full strength inside, feather only across the edge.
        w = np.clip(w * 2.0, 0, 1) * np.clip(cv2.GaussianBlur(m, (0, 0), max(0.6, sigma * 0.5)) * 1.5, 0, 1)
    else:
        w = w / max(float(w.max()), 1e-6)
    if region.protect is not None:
        w[region.protect] = 0.0
    return (w * float(opacity)).astype(np.float32)


def _finish(lab: np.ndarray, lab0: np.ndarray, mask: np.ndarray, finish: str, rng: np.random.Generator) -> None:
    """Apply a finish in place on ``lab`` (the recoloured crop) using the original ``lab0``."""
    if finish in (None, "satin"):
        return
    L0 = lab0[..., 0]
    vals = L0[mask]
    if len(vals) < 4:
        return
    mu, hi = float(vals.mean()), float(np.percentile(vals, 88))
    if finish == "matte":
        # Matte pigment scatters light: the lips' own sheen (bright deviations) is halved.
        excess = np.clip(lab[..., 0] - (lab[..., 0][mask].mean()), 0, None)
        lab[..., 0] -= 0.5 * excess
    elif finish == "gloss":
        # Gloss mirrors the light: where the original lips were brightest, add a specular lobe
        # that is whiter (less chroma) and sharp-edged.
        spec = np.clip((L0 - hi) / max(100.0 - hi, 1.0) * 4.0, 0, 1) ** 1.5
        spec = cv2.GaussianBlur(spec.astype(np.float32), (0, 0), 0.8)
        lab[..., 0] += 22.0 * spec
        lab[..., 1:] *= (1.0 - 0.6 * spec)[..., None]
    elif finish == "shimmer":
        # Fine reflective particles: sparse seeded sparkles, denser where light already falls.
        lit = np.clip((L0 - mu) / 15.0 + 0.5, 0.15, 1.0)
        sparkle = (rng.random(L0.shape) < 0.035 * lit).astype(np.float32)
        sparkle = cv2.GaussianBlur(sparkle, (0, 0), 0.6) * 3.0
        lab[..., 0] += 14.0 * np.clip(sparkle, 0, 1)
        lab[..., 1:] *= (1.0 - 0.35 * np.clip(sparkle, 0, 1))[..., None]
    else:
        raise ValueError(f"unknown finish {finish!r}; known: {', '.join(FINISHES)}")


def render_product(
    image: np.ndarray,
    region: Region,
    shade_lab: np.ndarray,
    kind: str,
    finish: str | None = "satin",
    opacity: float | None = None,
    light: Light | None = None,
    rng: np.random.Generator | None = None,
    measure: bool = True,
) -> dict:
    """Paint one product into ``image`` in place.

    Args:
        image: (H, W, 3) float32 sRGB in [0, 1], modified in place inside ``region.box``.
        region: where to paint.
        shade_lab: (3,) the product's colour (CIE Lab of its hex).
        kind: "lipstick", "eyeshadow", "blush" or "foundation".
        finish: "matte", "satin", "gloss", "shimmer" or None (satin).
        opacity: 0..1, None for the kind's default.
        light: the photo's light; the shade is shown under it. None for a neutral reference.
        rng: for shimmer's sparkle (seeded by the caller).
        measure: compute the fidelity figures (skip for live video).
    Returns:
        {"delta_e": CIEDE2000 of the region's rendered mean vs the target colour (the shade
        under ``light``; for sheer tints, with the lightness only partly moved), "texture_corr": correlation of rendered and original lightness in the
        region, "pixels": region size}.
    """
    if kind not in STYLES:
        raise ValueError(f"unknown makeup type {kind!r}; known: {', '.join(STYLES)}")
    st = STYLES[kind]
    opacity = st.opacity if opacity is None else float(opacity)
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    mask = region.mask
    if mask.sum() < 4 or opacity == 0.0:
        return {"delta_e": float("nan"), "texture_corr": float("nan"), "pixels": int(mask.sum())}
    rng = rng or np.random.default_rng(0)
    target = shade_in_light(shade_lab, light).astype(np.float32)
    w = feather_weights(region, kind, opacity)
    # Work only where the product shows (the cut is far below one grey level's change).
    cut = 1 / 512 if kind in ("lipstick", "foundation") else 1 / 128
    rows, cols = np.nonzero((w > cut).any(1))[0], np.nonzero((w > cut).any(0))[0]
    if len(rows) == 0:  # everything protected
        return {"delta_e": float("nan"), "texture_corr": float("nan"), "pixels": 0}
    ay0, ay1, ax0, ax1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    w = w[ay0:ay1, ax0:ax1, None]
    mask = mask[ay0:ay1, ax0:ax1]
    x0, y0 = region.box[0] + ax0, region.box[1] + ay0
    x1, y1 = region.box[0] + ax1, region.box[1] + ay1
    crop = image[y0:y1, x0:x1]

    # Blush and eyeshadow change colour smoothly: their colour change is computed at half
    # resolution and added to the full-resolution pixels, so the skin's fine texture is kept.
    soft = kind in ("blush", "eyeshadow") and min(crop.shape[:2]) >= 24
    if soft:
        size = (crop.shape[1] // 2, crop.shape[0] // 2)
        base = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        bmask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        bw = cv2.resize(w[..., 0], size, interpolation=cv2.INTER_AREA)[..., None]
        if not bmask.any():
            soft, base, bmask, bw = False, crop, mask, w
    else:
        base, bmask, bw = crop, mask, w

    lab0 = srgb_to_lab(base)
    bmask_u8 = bmask.astype(np.uint8)
    mu = np.array(cv2.mean(lab0, bmask_u8)[:3], np.float32)
    if st.lightness < 1.0 or st.chroma < 1.0:
        target = target.copy()
        target[0] = mu[0] + st.lightness * (target[0] - mu[0])
        target[1:] = mu[1:] + st.chroma * (target[1:] - mu[1:])
    dev = lab0 - mu
    # Shading is multiplicative: a darker pigment shows proportionally smaller lightness swings.
    gain_L = st.texture * float(np.clip((target[0] + 5.0) / (mu[0] + 5.0), 0.5, 1.4))
    lab = np.empty_like(lab0)
    lab[..., 0] = target[0] + gain_L * dev[..., 0]
    lab[..., 1:] = target[1:] + st.chroma_keep * dev[..., 1:]
    _finish(lab, lab0, bmask, None if (soft and finish == "shimmer") else finish, rng)

    rgb = lab_to_srgb(lab)
    out = base + (rgb - base) * bw
    if opacity >= 0.999:
        # Correct the painted colour so the *blended* mean lands on the target after sRGB
        # clipping (only reachable at full opacity; below it the blend is the point).
        wm = max(float(bw[..., 0][bmask].mean()), 0.05)
        for _ in range(4):
            err = target - np.array(cv2.mean(srgb_to_lab(out), bmask_u8)[:3], np.float32)
            if np.abs(err).max() < 0.05:
                break
            lab += err / wm
            rgb = lab_to_srgb(lab)
            out = base + (rgb - base) * bw
    if soft:
        delta = cv2.resize(rgb - base, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
        out = crop + delta * w
        if finish == "shimmer":
            lum = crop.mean(2)
            lit = np.clip((lum - lum[mask].mean()) * 6.0 + 0.5, 0.15, 1.0)
            sparkle = cv2.GaussianBlur((rng.random(lum.shape) < 0.035 * lit).astype(np.float32), (0, 0), 0.6) * 3.0
            out = out + (0.16 * np.clip(sparkle, 0, 1))[..., None] * w
        out = np.clip(out, 0.0, 1.0)
    image[y0:y1, x0:x1] = out
    if not measure:
        return {"pixels": int(mask.sum())}
    res = srgb_to_lab(out[mask])
    de = float(delta_e(res.mean(0), target))
    a = (lab0 if not soft else srgb_to_lab(crop))[..., 0][mask]
    b = res[:, 0]
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 1e-6 and b.std() > 1e-6 else 0.0
    return {"delta_e": de, "texture_corr": corr, "pixels": int(mask.sum())}
