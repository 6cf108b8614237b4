"""Putting a thing into a room photo: a catalogue cut-out (swap) or an item of the room itself
(rearrange), standing on the floor, lit like the room, with a contact shadow.

Everything works on a small window around the placement, so one placement costs a few
milliseconds on a 1024-px photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass
class Sprite:
    """An RGBA thing to place.

    Attributes:
        rgb: (h, w, 3) float32 in [0, 255].
        alpha: (h, w) float32 in [0, 1].
    """

    rgb: np.ndarray
    alpha: np.ndarray

    @classmethod
    def from_rgba(cls, img: Image.Image) -> "Sprite":
        """From a PIL RGBA cut-out, cropped to its opaque part."""
        a = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = a[..., 3] / 255.0
        ys, xs = np.nonzero(alpha > 0.05)
        if len(xs) == 0:
            raise ValueError("the cut-out is fully transparent")
        a = a[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
        return cls(np.ascontiguousarray(a[..., :3]), np.ascontiguousarray(a[..., 3] / 255.0))

    @classmethod
    def from_item(cls, image: np.ndarray, mask: np.ndarray) -> "Sprite":
        """An item of the photo itself: its pixels and its (slightly feathered) mask."""
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            raise ValueError("empty item mask")
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        alpha = cv2.GaussianBlur(mask[y0:y1, x0:x1].astype(np.float32), (0, 0), 0.8)
        return cls(image[y0:y1, x0:x1].astype(np.float32), alpha)

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]

    def resized(self, w: int, h: int) -> "Sprite":
        w, h = max(1, int(w)), max(1, int(h))
        interp = cv2.INTER_AREA if w < self.alpha.shape[1] else cv2.INTER_LINEAR
        return Sprite(cv2.resize(self.rgb, (w, h), interpolation=interp), cv2.resize(self.alpha, (w, h), interpolation=interp))

    def flipped(self) -> "Sprite":
        return Sprite(self.rgb[:, ::-1].copy(), self.alpha[:, ::-1].copy())


def fit_standing(sprite_size: tuple[int, int], box: tuple[int, int, int, int], max_overshoot: float = 1.25) -> tuple[int, int]:
    """Size (w, h) of a product replacing an item whose box is ``box``, aspect kept.

    The product covers the same image area as the item's box (the geometric mean of the width and
    height ratios: a catalogue photo is often a three-quarter view, so neither side alone is a
    fair measure), but is never more than ``max_overshoot`` times the box's width or height.
    """
    sw, sh = sprite_size
    bw, bh = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    s = float(np.sqrt((bw / sw) * (bh / sh)))
    s = min(s, max_overshoot * bw / sw, max_overshoot * bh / sh)
    return max(1, round(sw * s)), max(1, round(sh * s))


def room_light(image: np.ndarray, box: tuple[int, int, int, int], ring: float = 0.35) -> dict:
    """Light around a box, in Lab (OpenCV 8-bit scale): mean/std of L in a ring around the box,
    L on the left vs right side (light direction), and the photo's colour cast (mean a, b)."""
    H, W = image.shape[:2]
    x0, y0, x1, y1 = box
    mx, my = int((x1 - x0) * ring) + 4, int((y1 - y0) * ring) + 4
    X0, Y0, X1, Y1 = max(0, x0 - mx), max(0, y0 - my), min(W, x1 + mx), min(H, y1 + my)
    lab = cv2.cvtColor(image[Y0:Y1, X0:X1], cv2.COLOR_RGB2LAB).astype(np.float32)
    L = lab[..., 0]
    midx = (x0 + x1) / 2 - X0
    left, right = L[:, : max(1, int(midx))], L[:, int(midx):]
    small = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA)
    lab_all = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    bright = lab_all[..., 0] >= np.percentile(lab_all[..., 0], 60)  # never empty
    return {
        "L_mean": float(L.mean()), "L_std": float(L.std() + 1e-3),
        "L_left": float(left.mean()) if left.size else float(L.mean()),
        "L_right": float(right.mean()) if right.size else float(L.mean()),
        "cast_a": float(lab_all[..., 1][bright].mean() - 128), "cast_b": float(lab_all[..., 2][bright].mean() - 128),
    }


def harmonise(sprite: Sprite, light: dict, strength: float = 1.0) -> Sprite:
    """Relight a sprite for the room: luminance pulled part-way toward the surroundings' mean,
    a left-right gain following the room's light direction, a touch of the room's colour cast.
    Chroma is kept (the product must stay recognisably itself)."""
    if strength <= 0:
        return sprite
    rgb8 = np.clip(sprite.rgb, 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(rgb8, cv2.COLOR_RGB2LAB).astype(np.float32)
    a = sprite.alpha > 0.5
    if not a.any():
        return sprite
    L = lab[..., 0]
    mu, sd = float(L[a].mean()), float(L[a].std() + 1e-3)
    target_mu = mu + 0.35 * strength * (light["L_mean"] - mu)
    contrast = float(np.clip((light["L_std"] / sd) ** (0.25 * strength), 0.8, 1.2))
    L = (L - mu) * contrast + target_mu
    # Light direction: a gentle horizontal ramp matching the room's left/right brightness ratio.
    h, w = L.shape
    diff = np.clip((light["L_right"] - light["L_left"]) / max(light["L_mean"], 1.0), -0.3, 0.3) * strength
    ramp = 1.0 + diff * (np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :])
    L = L * ramp
    lab[..., 0] = L
    lab[..., 1] += 0.3 * strength * light["cast_a"]
    lab[..., 2] += 0.3 * strength * light["cast_b"]
    out = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB).astype(np.float32)
    return Sprite(out, sprite.alpha)


def contact_shadow(canvas: np.ndarray, cx: float, contact_y: float, width: float, strength: float = 0.45) -> None:
    """Darken the floor under a placed thing in place: a blurred ellipse (ambient occlusion) plus
    a tighter dark core where it touches. Drawn and blurred at 1/4 scale (it is all low
    frequency), then enlarged.

    Args:
        canvas: (H, W, 3) float32, modified in place.
        cx, contact_y: bottom centre of the thing, pixels of ``canvas``.
        width: its width, pixels.
    """
    H, W = canvas.shape[:2]
    rx, ry = max(2.0, 0.55 * width), max(2.0, 0.07 * width)
    pad = int(rx * 0.6 + ry * 4) + 2
    X0, X1 = max(0, int(cx - rx - pad)), min(W, int(cx + rx + pad))
    Y0, Y1 = max(0, int(contact_y - ry * 3 - pad)), min(H, int(contact_y + ry * 3 + pad))
    if X1 <= X0 or Y1 <= Y0:
        return
    f = 4 if min(X1 - X0, Y1 - Y0) >= 32 else 1
    w, h = max(1, (X1 - X0) // f), max(1, (Y1 - Y0) // f)
    sh = np.zeros((h, w), np.float32)
    c = (int((cx - X0) / f), int((contact_y - Y0) / f))
    cv2.ellipse(sh, c, (max(1, int(rx / f)), max(1, int(ry * 1.6 / f))), 0, 0, 360, 0.6, -1)
    cv2.ellipse(sh, c, (max(1, int(rx * 0.92 / f)), max(1, int(ry * 0.6 / f))), 0, 0, 360, 1.0, -1)
    sh = cv2.GaussianBlur(sh, (0, 0), max(0.5, ry * 0.9 / f))
    if f > 1:
        sh = cv2.resize(sh, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR)
    canvas[Y0:Y1, X0:X1] *= (1.0 - strength * sh)[..., None]


def paste(canvas: np.ndarray, sprite: Sprite, x0: int, y0: int) -> np.ndarray:
    """Alpha-blend ``sprite`` into ``canvas`` (float32, in place) with its top-left at (x0, y0).

    Returns:
        the (H, W) float32 alpha actually written (0 outside), for masks and occlusion.
    """
    H, W = canvas.shape[:2]
    h, w = sprite.alpha.shape
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(W, x0 + w), min(H, y0 + h)
    cov = np.zeros((H, W), np.float32)
    if cx1 <= cx0 or cy1 <= cy0:
        return cov
    sx0, sy0 = cx0 - x0, cy0 - y0
    a = sprite.alpha[sy0: sy0 + cy1 - cy0, sx0: sx0 + cx1 - cx0]
    rgb = sprite.rgb[sy0: sy0 + cy1 - cy0, sx0: sx0 + cx1 - cx0]
    region = canvas[cy0:cy1, cx0:cx1]
    region *= 1.0 - a[..., None]
    region += rgb * a[..., None]
    cov[cy0:cy1, cx0:cx1] = a
    return cov


def warp_to_floor(sprite: Sprite, box: tuple[int, int, int, int], horizon_y: float) -> tuple[Sprite, int, int]:
    """Lay a flat, top-down product photo (a rug) onto the floor inside ``box``: a trapezoid whose
    top edge is narrowed by perspective (rows nearer the horizon look narrower).

    Returns:
        (warped sprite, x0, y0) where the sprite's top-left goes.
    """
    x0, y0, x1, y1 = box
    bw, bh = max(2, x1 - x0), max(2, y1 - y0)
    shrink = float(np.clip((y0 - horizon_y) / max(y1 - horizon_y, 1.0), 0.3, 1.0))
    sw, shh = sprite.size
    src = np.float32([[0, 0], [sw, 0], [sw, shh], [0, shh]])
    inset = bw * (1 - shrink) / 2
    dst = np.float32([[inset, 0], [bw - inset, 0], [bw, bh], [0, bh]])
    M = cv2.getPerspectiveTransform(src, dst)
    rgb = cv2.warpPerspective(sprite.rgb, M, (bw, bh), flags=cv2.INTER_LINEAR, borderValue=0)
    a = cv2.warpPerspective(sprite.alpha, M, (bw, bh), flags=cv2.INTER_LINEAR, borderValue=0)
    return Sprite(rgb, a), x0, y0
