"""Live try-on for video frames: landmarks with tracking, regions drawn only in crops.

The still-photo pipeline segments skin and refines regions with the photo (hundreds of ms);
a camera needs a frame in a few ms, so here regions come from the mesh alone (with the same
lip-contour correction) and every mask is drawn in the crop it paints. The face mesh keeps
tracking between frames (its face detector runs only when the track is lost).
"""

from __future__ import annotations

import time

import numpy as np

from pipelines.tryon import landmarks as L
from pipelines.tryon import render as R
from pipelines.tryon.color import hex_to_lab
from pipelines.tryon.landmarks import Face, FaceMesh
from pipelines.tryon.refine import mouth_outline
from pipelines.tryon.regions import cheek_ellipse, eyeshadow_polygon, polygon_mask
from pipelines.tryon.types import MAKEUP_TYPES, Light


def _crop_box(points: np.ndarray, pad: float, shape) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(0) - pad).astype(int)
    x1, y1 = np.ceil(points.max(0) + pad).astype(int) + 1
    h, w = shape[:2]
    return max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1))


def live_regions(face: Face, shape, kind: str) -> list[R.Region]:
    """The regions ``kind`` paints on ``face``, each drawn in its own crop."""
    out = []
    if kind == "lipstick":
        outer, inner = mouth_outline(face), face.points(L.LIPS_INNER)
        hgt = float(np.ptp(outer[:, 1]))
        box = _crop_box(outer, 3 * R._sigma(kind, hgt, hgt) + 3, shape)
        off = box[:2]
        sh = (box[3] - box[1], box[2] - box[0])
        mouth = polygon_mask(sh, outer, offset=off)
        interior = polygon_mask(sh, inner, offset=off) & mouth
        out.append(R.Region(box, mouth & ~interior, interior))
    elif kind == "eyeshadow":
        for side, eye_idx, brow_idx in (("right", L.RIGHT_EYE, L.RIGHT_BROW), ("left", L.LEFT_EYE, L.LEFT_BROW)):
            poly = eyeshadow_polygon(face, side)
            ext = float(min(np.ptp(poly[:, 0]), np.ptp(poly[:, 1])))
            box = _crop_box(poly, 3 * R._sigma(kind, ext, ext) + 3, shape)
            sh = (box[3] - box[1], box[2] - box[0])
            protect = polygon_mask(sh, face.points(eye_idx), face.points(brow_idx), offset=box[:2])
            out.append(R.Region(box, polygon_mask(sh, poly, offset=box[:2]) & ~protect, protect))
    elif kind == "blush":
        for side in ("right", "left"):
            (cx, cy), (a, b), ang = cheek_ellipse(face, side)
            # A soft elliptical falloff drawn directly (no mask blur): weight 1 at the centre,
            # about 0.3 at the ellipse's edge, fading out by 1.6 times its size.
            box = _crop_box(np.array([[cx - 1.6 * a, cy - 1.6 * a], [cx + 1.6 * a, cy + 1.6 * a]]), 1, shape)
            yy, xx = np.mgrid[box[1]:box[3], box[0]:box[2]].astype(np.float32)
            t = np.radians(ang)
            u = ((xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)) / a
            v = (-(xx - cx) * np.sin(t) + (yy - cy) * np.cos(t)) / b
            q = u * u + v * v
            w = np.exp(-1.2 * q) * (q < 2.56)
            out.append(R.Region(box, q < 1.0, None, w.astype(np.float32)))
    elif kind == "foundation":
        oval = face.points(L.FACE_OVAL)
        box = _crop_box(oval, 3, shape)
        sh = (box[3] - box[1], box[2] - box[0])
        protect = polygon_mask(sh, face.points(L.RIGHT_EYE), face.points(L.LEFT_EYE), face.points(L.RIGHT_BROW),
                               face.points(L.LEFT_BROW), mouth_outline(face), offset=box[:2])
        out.append(R.Region(box, polygon_mask(sh, oval, offset=box[:2]) & ~protect, protect))
    else:
        raise ValueError(f"unknown makeup type {kind!r}; known: {', '.join(MAKEUP_TYPES)}")
    return [r for r in out if r.mask.any()]


class LiveTryOn:
    """Render products on video frames.

    Args:
        face_mesh: a :class:`FaceMesh` built with ``video=True`` (tracking).
        products: objects with makeup_type, shade_hex and finish (catalogue products).
        light: the scene's light (from a still analysis), or None for neutral.
        opacity: None for each type's default.
    """

    backend = "lab-transfer-cpu-live"

    def __init__(self, face_mesh: FaceMesh, products: list, light: Light | None = None, opacity: float | None = None):
        self.face_mesh = face_mesh
        self.light = light
        self.opacity = opacity
        self.items = []
        for p in products:
            kind = getattr(p, "makeup_type", None)
            if kind not in MAKEUP_TYPES:
                raise ValueError(f"product {getattr(p, 'id', p)!r} has makeup_type {kind!r}; expected one of {', '.join(MAKEUP_TYPES)}")
            self.items.append((kind, hex_to_lab(p.shade_hex), getattr(p, "finish", None) or "satin"))
        self.items.sort(key=lambda t: t[0] != "foundation")
        self._rng = np.random.default_rng(0)

    def render_frame(self, frame: np.ndarray) -> tuple[np.ndarray, dict]:
        """(H, W, 3) uint8 RGB frame -> (the frame with makeup, {"landmarks_ms", "render_ms", "faces"})."""
        t0 = time.perf_counter()
        faces = self.face_mesh.detect(frame)
        t1 = time.perf_counter()
        out = frame.copy()
        for face in faces:
            for kind, shade, finish in self.items:
                for reg in live_regions(face, frame.shape, kind):
                    # Only the region's crop goes to float and back.
                    x0, y0, x1, y1 = reg.box
                    canvas = out[y0:y1, x0:x1].astype(np.float32) * (1.0 / 255.0)
                    local = R.Region((0, 0, x1 - x0, y1 - y0), reg.mask, reg.protect)
                    R.render_product(canvas, local, shade, kind, finish, self.opacity, self.light, self._rng, measure=False)
                    out[y0:y1, x0:x1] = (canvas * 255.0 + 0.5).astype(np.uint8)
        t2 = time.perf_counter()
        return out, {"landmarks_ms": (t1 - t0) * 1000, "render_ms": (t2 - t1) * 1000, "faces": len(faces)}
