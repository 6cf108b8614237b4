"""Cut-outs: an alpha mask for a product photo on a plain background.

Catalogue photos are mostly a product on white (or another plain colour). The cut-out

1. estimates the background colour from the image border (median in CIE Lab);
2. measures each pixel's colour distance to it, and its local edge strength, so a white product
   on white still separates where it has an outline or texture;
3. treats soft, low-chroma, darker-than-background areas with no edges as shadow (background);
4. keeps the connected foreground (holes such as chair backs and between legs stay background,
   whether or not they touch the border, when they match the background colour);
5. makes a soft alpha edge from the colour distance.

The confidence in [0, 1] combines: how plain the border is, how well the foreground and background
distances separate, and whether the foreground size is plausible. Below ``flag_below`` the result is
flagged: the product still exists in the catalogue, but compositing should not silently use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

DEFAULT_FLAG_BELOW = 0.5


@dataclass
class Cutout:
    """A product cut-out.

    Attributes:
        image: RGBA PIL image, same size as the input; alpha 255 on the product, 0 on the background.
        confidence: in [0, 1], how trustworthy the alpha is.
        flagged: True when ``confidence`` is below the threshold (do not composite without review).
        background_rgb: the estimated background colour (R, G, B), 0..255.
        reasons: short words explaining a low confidence ("busy border", "tiny object", ...).
    """

    image: Image.Image
    confidence: float
    flagged: bool
    background_rgb: tuple[int, int, int]
    reasons: list[str]

    @property
    def alpha(self) -> np.ndarray:
        """uint8 (H, W) alpha."""
        return np.asarray(self.image)[..., 3]


def _lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 CIE Lab (L in 0..100, a/b roughly -128..127)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab


def _border(a: np.ndarray, width: int) -> np.ndarray:
    return np.concatenate([a[:width].reshape(-1, a.shape[-1]), a[-width:].reshape(-1, a.shape[-1]),
                           a[:, :width].reshape(-1, a.shape[-1]), a[:, -width:].reshape(-1, a.shape[-1])])


def cut_out(
    image: Image.Image,
    *,
    flag_below: float = DEFAULT_FLAG_BELOW,
    work_side: int = 320,
    fg_distance: float = 14.0,
    bg_distance: float = 4.0,
) -> Cutout:
    """Cut the product out of ``image`` (RGB or RGBA PIL).

    An RGBA input whose alpha is already informative (some pixels < 250) is trusted as is
    (confidence 1). ``fg_distance`` / ``bg_distance`` are CIE76 colour distances (Delta E) to the
    background above which a pixel is surely product, below which it is background if no edge
    says otherwise.
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"cut_out needs a PIL image, got {type(image).__name__}")
    if image.width < 8 or image.height < 8:
        raise ValueError(f"image too small to cut out ({image.width}x{image.height})")
    if image.mode == "RGBA":
        a = np.asarray(image)[..., 3]
        if (a < 250).mean() > 0.01:
            return Cutout(image.copy(), 1.0, False, (255, 255, 255), ["alpha supplied"])
    rgb_full = np.asarray(image.convert("RGB"))
    H, W = rgb_full.shape[:2]
    scale = min(1.0, work_side / max(H, W))
    w, h = max(8, round(W * scale)), max(8, round(H * scale))
    rgb = cv2.resize(rgb_full, (w, h), interpolation=cv2.INTER_AREA) if scale < 1 else rgb_full
    lab = _lab(rgb)

    bw = max(2, round(min(h, w) * 0.02))
    border = _border(lab, bw)
    bg = np.median(border, axis=0)
    border_dist = np.linalg.norm(border - bg, axis=1)
    # Thresholds follow the border's own noise: pure studio white allows a tight cut (white
    # products on white differ by only ~4-15 Delta E); a noisy or graded backdrop needs slack.
    noise = float(np.percentile(border_dist, 95))
    bg_thr = float(np.clip(bg_distance * 0.25 + 2.0 * noise, 1.0, 3 * bg_distance))
    fg_thr = max(fg_distance * 0.5, bg_thr + 6.0)
    border_plain = float((border_dist < max(bg_thr, 2.0) * 1.5).mean())

    diff = lab - bg
    dist = np.linalg.norm(diff, axis=2)
    chroma_d = np.linalg.norm(diff[..., 1:], axis=2)
    darker = -diff[..., 0]

    # Edges (on L) catch white-on-white outlines that colour distance misses.
    L = lab[..., 0]
    gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), 1.0)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    edges = cv2.dilate((grad > 12).astype(np.uint8), k).astype(bool)

    # Background: pixels near the background colour, plus shadow-like pixels (darker, same hue,
    # smooth), but only where they connect to the border without crossing an edge: a white
    # cushion's shading is enclosed by its outline, a floor shadow is not.
    near = dist <= bg_thr
    shadow = (darker > 0) & (darker < 30) & (chroma_d < 5) & ~edges
    cand = (near | shadow).astype(np.uint8)
    n, lbl, stats, _ = cv2.connectedComponentsWithStats(cand, connectivity=4)
    touches = np.zeros(n, bool)
    touches[np.unique(np.concatenate([lbl[0], lbl[-1], lbl[:, 0], lbl[:, -1]]))] = True
    touches[0] = False
    background = touches[lbl]
    # Enclosed holes (chair backs, between legs) are background when they match the backdrop closely.
    holes = near & ~background
    big_holes = 0.0
    if holes.any():
        nh, hl, hs, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
        min_hole = max(12, int(0.0005 * h * w))
        # A big enclosed backdrop-coloured area is more likely a white surface (lamp shade, mirror,
        # table top) than a gap: keep it as product and lower the confidence instead.
        max_hole = 0.12 * max(1, int((~background).sum()))
        areas = hs[:, cv2.CC_STAT_AREA]
        keep = np.zeros(nh, bool)
        keep[1:] = (areas[1:] >= min_hole) & (areas[1:] <= max_hole)
        big_holes = float(areas[1:][areas[1:] > max_hole].sum()) / max(1, int((~background).sum()))
        background |= keep[hl]
    shadow = shadow & background & ~near
    mask = ~background
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).astype(bool)
    # Drop specks: keep components that are a meaningful share of the largest one.
    n2, lbl2, stats2, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n2 > 1:
        areas = stats2[1:, cv2.CC_STAT_AREA]
        keep = np.zeros(n2, bool)
        keep[1:] = areas >= max(0.02 * areas.max(), 20)
        mask = keep[lbl2]
    fg_frac = float(mask.mean())

    # Soft alpha: ramp on colour distance near the boundary, solid inside.
    ramp = np.clip((dist - bg_thr) / (fg_thr - bg_thr), 0, 1)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=1).astype(bool)
    alpha = np.where(inner, 1.0, np.where(mask, np.maximum(ramp, 0.6 * (grad > 20)), 0.0))
    alpha = np.where(mask, np.maximum(alpha, 0.5), 0.0)  # inside the mask is at least half opaque
    alpha = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), 0.6)
    if scale < 1:
        alpha = cv2.resize(alpha, (W, H), interpolation=cv2.INTER_LINEAR)
    alpha_u8 = (np.clip(alpha, 0, 1) * 255).round().astype(np.uint8)

    # Confidence.
    reasons = []
    sep_fg = float(np.median(dist[inner])) if inner.any() else 0.0
    sep = float(np.clip(sep_fg / (2 * fg_thr), 0, 1))
    # Share of the product whose colour is barely off the backdrop: there the cut relied on edges.
    ambiguous = float((mask & (dist < fg_thr)).sum() / max(1, mask.sum()))
    conf = 1.0
    if border_plain < 0.9:
        conf *= max(0.0, (border_plain - 0.5) / 0.4)
        reasons.append(f"busy background ({border_plain:.0%} of the border is plain)")
    if fg_frac < 0.01:
        conf *= fg_frac / 0.01
        reasons.append(f"tiny product ({fg_frac:.1%} of the photo)")
    elif fg_frac > 0.92:
        conf *= max(0.0, (1.0 - fg_frac) / 0.08)
        reasons.append(f"product fills the photo ({fg_frac:.0%}): no background to remove")
    if sep < 0.5:
        conf *= 0.6 + 0.8 * sep
        reasons.append("product colour close to the background")
    if ambiguous > 0.25:
        conf *= max(0.3, 1.0 - (ambiguous - 0.25))
        reasons.append(f"{ambiguous:.0%} of the product is close to the background colour")
    # White on white: where the product's own outline is backdrop-coloured, the cut followed faint
    # edges and may have opened surfaces (lamp shades, table tops) as if they were holes.
    # The ring measured sits 2-3 px inside the mask, past the anti-aliased edge.
    e2 = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
    rim = e2.astype(bool) & ~cv2.erode(e2, np.ones((3, 3), np.uint8)).astype(bool)
    faint_rim = float((dist[rim] < fg_thr).mean()) if rim.any() else 0.0
    if faint_rim > 0.3:
        conf *= max(0.2, 1.0 - 1.2 * (faint_rim - 0.3))
        reasons.append(f"white on white: {faint_rim:.0%} of the outline is faint")
    # Outline only: nearly every product pixel is on an edge (a white object whose surfaces were
    # taken for background).
    edge_share = float(edges[inner].mean()) if inner.any() else 1.0
    if edge_share > 0.8 and faint_rim > 0.15:
        conf *= 0.4
        reasons.append(f"outline only ({edge_share:.0%} of the product is edges): white surfaces may be missing")
    if big_holes > 0.05:
        conf *= max(0.4, 1.0 - big_holes)
        reasons.append(f"{big_holes:.0%} of the product is backdrop-coloured (white surface or see-through?)")
    conf = float(np.clip(conf, 0.0, 1.0))
    rgba = np.dstack([rgb_full, alpha_u8])
    bg_rgb = tuple(int(c) for c in np.median(_border(rgb.astype(np.float32), bw), axis=0))
    return Cutout(Image.fromarray(rgba, "RGBA"), conf, conf < flag_below, bg_rgb, reasons)


def composite_on(cutout: Image.Image, fill=(255, 255, 255)) -> Image.Image:
    """RGBA cut-out flattened onto a plain ``fill`` colour (RGB)."""
    base = Image.new("RGB", cutout.size, fill)
    base.paste(cutout, mask=cutout.getchannel("A"))
    return base


def crop_to_alpha(cutout: Image.Image, pad: float = 0.04) -> Image.Image:
    """The cut-out cropped to its opaque pixels plus ``pad`` of the long side on each edge."""
    a = np.asarray(cutout.getchannel("A"))
    ys, xs = np.nonzero(a > 16)
    if len(xs) == 0:
        return cutout
    p = int(round(pad * max(cutout.size)))
    x0, y0 = max(0, xs.min() - p), max(0, ys.min() - p)
    x1, y1 = min(cutout.width, xs.max() + 1 + p), min(cutout.height, ys.max() + 1 + p)
    return cutout.crop((x0, y0, x1, y1))


def product_view(cutout: Image.Image, fill=(255, 255, 255)) -> Image.Image:
    """What a catalogue image embedding sees: the cut-out cropped to the product, on ``fill`` (RGB)."""
    return composite_on(crop_to_alpha(cutout), fill)


def dominant_color(cutout: Image.Image) -> tuple[int, int, int] | None:
    """The product's main colour (R, G, B): the largest of 4 k-means clusters of its opaque pixels."""
    small = cutout.copy()
    small.thumbnail((96, 96))
    a = np.asarray(small)
    px = a[..., :3][a[..., 3] > 200].astype(np.float32)
    if len(px) < 16:
        return None
    k = min(4, len(px))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, labels, centers = cv2.kmeans(px, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    big = np.bincount(labels.ravel(), minlength=k).argmax()
    return tuple(int(round(c)) for c in centers[big])
