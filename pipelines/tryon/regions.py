"""Face regions drawn from the mesh: lips, mouth, eyes, brows, eyeshadow zones, cheeks, face.

All masks are (H, W) bool arrays in the frame of the image the landmarks came from. Polygons
are rasterised with 1/16-pixel precision (cv2 ``shift``) so thin parts such as lips keep their
shape on small faces.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.tryon import landmarks as L
from pipelines.tryon.landmarks import Face

_SHIFT = 4  # cv2 fixed-point bits: coordinates are multiplied by 16


def polygon_mask(shape: tuple[int, int], *polygons: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Rasterise closed polygons (each (N, 2) float (x, y) pixels) into an (H, W) bool mask.

    ``offset`` (x0, y0) is subtracted first, to draw into a crop.
    """
    m = np.zeros(shape[:2], np.uint8)
    pts = [np.round((np.asarray(p, np.float64) - offset) * (1 << _SHIFT)).astype(np.int32) for p in polygons]
    cv2.fillPoly(m, pts, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return m.astype(bool)


def _resample(poly: np.ndarray, n: int) -> np.ndarray:
    """A polyline resampled to ``n`` points evenly spaced along its length."""
    seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(poly, axis=0), axis=1))]
    t = np.linspace(0.0, seg[-1], n)
    return np.stack([np.interp(t, seg, poly[:, 0]), np.interp(t, seg, poly[:, 1])], axis=1)


def eyeshadow_polygon(face: Face, side: str, height: float = 0.55) -> np.ndarray:
    """The eyeshadow zone of one eye: from the upper lid up ``height`` of the way to the brow.

    Returns an (N, 2) float32 closed polygon in (x, y) pixels.
    """
    if side == "right":
        lid, brow = face.points(L.RIGHT_UPPER_LID), face.points(L.RIGHT_BROW_LOWER)
    elif side == "left":
        lid, brow = face.points(L.LEFT_UPPER_LID), face.points(L.LEFT_BROW_LOWER)
    else:
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    lid = _resample(lid.astype(np.float64), 24)
    # The brow's lower edge runs outer -> inner like the lid; extend it by the lid's corners so
    # the zone reaches the outer corner (brows are usually shorter than the eye's arc).
    brow = _resample(brow.astype(np.float64), 24)
    top = lid + height * (brow - lid)
    return np.concatenate([lid, top[::-1]]).astype(np.float32)


def cheek_ellipse(face: Face, side: str) -> tuple[tuple[float, float], tuple[float, float], float]:
    """Centre (x, y), semi-axes (a, b) in pixels and angle in degrees of a blush ellipse."""
    idx = L.RIGHT_CHEEK_CENTRE if side == "right" else L.LEFT_CHEEK_CENTRE
    c = face.points(idx).mean(0)
    eye_outer = face.landmarks[33 if side == "right" else 263]
    # Blush sits on the apple and sweeps up toward the temple: the ellipse is tilted along the
    # line from the cheek centre to the eye's outer corner.
    v = eye_outer - c
    angle = float(np.degrees(np.arctan2(v[1], v[0])))
    face_w = float(np.linalg.norm(face.landmarks[454] - face.landmarks[234]))
    return (float(c[0]), float(c[1])), (0.16 * face_w, 0.09 * face_w), angle


def mesh_regions(face: Face, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Every region of one face from its mesh alone (no image evidence).

    Keys: ``mouth`` (outer lip outline incl. the gap between the lips), ``lips`` (mouth minus
    its interior: teeth and the dark gap), ``mouth_interior``, ``eyes`` (visible eyeballs),
    ``brows``, ``eyeshadow``, ``cheeks`` (blush zones), ``face_oval``, ``face_skin`` (oval minus
    eyes, brows and mouth).
    """
    h, w = shape[:2]
    pm = lambda *idx: polygon_mask((h, w), *[face.points(i) for i in idx])  # noqa: E731
    mouth = pm(L.LIPS_OUTER)
    interior = pm(L.LIPS_INNER)
    eyes = pm(L.RIGHT_EYE, L.LEFT_EYE)
    brows = pm(L.RIGHT_BROW, L.LEFT_BROW)
    oval = pm(L.FACE_OVAL)
    shadow = polygon_mask((h, w), eyeshadow_polygon(face, "right"), eyeshadow_polygon(face, "left"))
    shadow &= ~eyes & ~brows
    cheeks = np.zeros((h, w), np.uint8)
    for side in ("right", "left"):
        (cx, cy), (a, b), ang = cheek_ellipse(face, side)
        cv2.ellipse(cheeks, ((cx, cy), (2 * a, 2 * b), ang), 1, -1)
    cheeks = cheeks.astype(bool) & oval & ~eyes & ~mouth
    return {
        "mouth": mouth,
        "lips": mouth & ~interior,
        "mouth_interior": interior & mouth,
        "eyes": eyes,
        "brows": brows,
        "eyeshadow": shadow,
        "cheeks": cheeks,
        "face_oval": oval,
        "face_skin": oval & ~eyes & ~brows & ~mouth,
    }
