"""Room geometry from one photo: the horizon (floor's vanishing line) and the floor.

For a camera held level above a flat floor, an object of real height h standing on the floor at
image row y has image height proportional to (y - horizon_y). So moving an item from contact row
y0 to y1 scales it by (y1 - horizon_y) / (y0 - horizon_y). The horizon is where receding lines
(floor boards, skirting, table edges) meet: we intersect pairs of oblique line segments found by
OpenCV's LSD and take a robust (median) row of the intersections.
"""

from __future__ import annotations

import cv2
import numpy as np


def estimate_horizon(image: np.ndarray, default: float = 0.42, seed: int = 0) -> float:
    """Row (pixels, y down) of the horizon of ``image``.

    Args:
        image: (H, W, 3) uint8 RGB.
        default: fraction of the height used when too few receding lines are found.
    Returns:
        float row, clipped to [0.15 H, 0.75 H].
    """
    H, W = image.shape[:2]
    s = min(1.0, 640 / max(H, W))
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if s < 1:
        gray = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    try:
        lsd = cv2.createLineSegmentDetector()
        lines = lsd.detect(gray)[0]
    except cv2.error:  # pragma: no cover - builds without LSD
        lines = None
    if lines is None or len(lines) < 4:
        return default * H
    seg = lines.reshape(-1, 4) / s
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    length = np.hypot(dx, dy)
    ang = np.degrees(np.arctan2(np.abs(dy), np.abs(dx)))
    keep = (length > 0.04 * max(H, W)) & (ang > 8) & (ang < 75)
    seg, length = seg[keep], length[keep]
    if len(seg) < 4:
        return default * H
    order = np.argsort(-length)[:80]
    seg = seg[order]
    # Homogeneous lines and all pairwise intersections.
    p1 = np.c_[seg[:, :2], np.ones(len(seg))]
    p2 = np.c_[seg[:, 2:], np.ones(len(seg))]
    L = np.cross(p1, p2)
    i, j = np.triu_indices(len(L), 1)
    X = np.cross(L[i], L[j])
    ok = np.abs(X[:, 2]) > 1e-6
    X = X[ok]
    ys = X[:, 1] / X[:, 2]
    xs = X[:, 0] / X[:, 2]
    # Vanishing points of floor lines lie roughly within a few widths of the photo.
    good = (ys > -0.5 * H) & (ys < 1.2 * H) & (np.abs(xs - W / 2) < 3 * W)
    if good.sum() < 6:
        return default * H
    cand = np.c_[xs[good], ys[good]]
    rng = np.random.default_rng(seed)
    if len(cand) > 400:
        cand = cand[rng.choice(len(cand), 400, replace=False)]
    # RANSAC-style vote: a candidate is supported by the segments that point at it (within 1.5
    # degrees), weighted by their length; the best-supported one is the vanishing point.
    mid = (seg[:, :2] + seg[:, 2:]) / 2
    d = seg[:, 2:] - seg[:, :2]
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    to = cand[:, None, :] - mid[None, :, :]
    to /= np.linalg.norm(to, axis=2, keepdims=True) + 1e-9
    cos = np.abs((to * d[None]).sum(axis=2))
    support = ((cos > np.cos(np.radians(1.5))) * length[order][None, :]).sum(axis=1)
    # Eye level of room photos sits near 0.4 H: a soft prior breaks ties between vanishing points
    # of furniture edges and the room's own.
    support = support * np.exp(-(((cand[:, 1] / H) - default) / 0.3) ** 2)
    y = float(cand[int(np.argmax(support)), 1])
    return float(np.clip(y, 0.15 * H, 0.75 * H))


def perspective_scale(from_y: float, to_y: float, horizon_y: float) -> float:
    """How much bigger an item looks when its floor contact moves from row ``from_y`` to ``to_y``."""
    d0 = max(from_y - horizon_y, 1.0)
    d1 = max(to_y - horizon_y, 1.0)
    return float(np.clip(d1 / d0, 0.25, 4.0))


def estimate_floor(image: np.ndarray, horizon_y: float, items_mask: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: visible floor, grown from the bottom edge over pixels of floor-like colour.

    Seeds are the bottom rows outside items; the floor is every pixel below the horizon whose Lab
    colour is within the seeds' spread, connected to the seeds.
    """
    H, W = image.shape[:2]
    s = min(1.0, 256 / max(H, W))
    small = cv2.resize(image, (max(8, round(W * s)), max(8, round(H * s))), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (0, 0), 1.5), cv2.COLOR_RGB2LAB).astype(np.float32)
    items = None
    if items_mask is not None and items_mask.any():
        items = cv2.resize(items_mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    seed_rows = max(2, h // 20)
    seed = np.zeros((h, w), bool)
    seed[h - seed_rows:] = True
    if items is not None:
        seed &= ~items
    if seed.sum() < 4:
        seed[h - seed_rows:] = True
    # Robust statistics: the bottom rows also hold a rug or a chair leg; the median colour and
    # its median deviation describe the floor itself.
    mu = np.median(lab[seed], axis=0)
    sd = 1.4826 * np.median(np.abs(lab[seed] - mu), axis=0) + np.array([5.0, 2.5, 2.5], np.float32)
    z = np.abs((lab - mu) / sd).max(axis=2)
    # Strong edges (object outlines, the skirting) cut the floor off from what stands on it.
    from pipelines.room.segment import edge_magnitude

    edges = edge_magnitude(small) > 0.12
    cand = (z < 2.5) & ~edges & (np.arange(h)[:, None] > horizon_y * s)
    if items is not None:
        cand &= ~items
    n, cc = cv2.connectedComponents(cand.astype(np.uint8), connectivity=4)
    keep = np.unique(cc[seed & cand])
    keep = keep[keep > 0]
    floor = np.isin(cc, keep)
    floor = cv2.morphologyEx(floor.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0
    return cv2.resize(floor.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST) > 0
