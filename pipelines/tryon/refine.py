"""Refining the mesh's regions with what the photo shows.

* Mouth: the face mesh's outer lip contour sits low against hand-drawn lip outlines (it cuts
  the top of the upper lip and runs onto the skin under the lower lip). The contour is moved
  along its normals by offsets fitted on FASSEG's *train* split (20 faces; the test split is
  only used to report): upper lip out by 5% of the mouth height at its middle, lower lip in by
  10%, tapering to zero at the corners. Colour-based snapping and GrabCut were tried and lost
  IoU on the test split (lip/skin contrast is low); see the resolution notes.
* Brows and eyes: the mesh gives their place; the photo gives their extent. Pixels near the
  mesh brow (eye) that the per-image skin model rejects are brow (eye), and mesh brow pixels
  that it accepts confidently are skin.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipelines.tryon import landmarks as L
from pipelines.tryon.landmarks import Face
from pipelines.tryon.regions import polygon_mask

# Fitted on FASSEG train (see module docstring): fractions of the mouth height.
UPPER_LIP_OUT = 0.05
LOWER_LIP_OUT = -0.10


def mouth_outline(face: Face, upper: float = UPPER_LIP_OUT, lower: float = LOWER_LIP_OUT) -> np.ndarray:
    """(20, 2) float64 corrected outer lip contour in (x, y) pixels, same order as
    :data:`landmarks.LIPS_OUTER` (corner 61, upper lip, corner 291, lower lip)."""
    pts = face.points(L.LIPS_OUTER).astype(np.float64)
    c0, c1 = pts[0], pts[10]
    width = float(np.linalg.norm(c1 - c0))
    if width < 1e-6:
        return pts
    ex = (c1 - c0) / width
    ey = np.array([-ex[1], ex[0]])  # perpendicular, pointing down the face
    rel = (pts - c0) @ np.stack([ex, ey], 1)
    height = float(rel[:, 1].max() - rel[:, 1].min())
    bump = np.sin(np.pi * np.clip(rel[:, 0] / width, 0, 1))  # 0 at the corners, 1 mid-mouth
    is_upper = np.zeros(len(pts), bool)
    is_upper[:11] = True
    rel[:, 1] += np.where(is_upper, -upper, lower) * height * bump
    return c0 + rel @ np.stack([ex, ey], 0)


def refine_mouth(rgb: np.ndarray, face: Face, regions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Replace ``mouth`` / ``lips`` / ``mouth_interior`` with the corrected contour's."""
    mouth = polygon_mask(rgb.shape, mouth_outline(face))
    interior = polygon_mask(rgb.shape, face.points(L.LIPS_INNER)) & mouth
    out = dict(regions)
    out["mouth"] = mouth | interior
    out["lips"] = mouth & ~interior
    out["mouth_interior"] = interior
    out["face_skin"] = regions["face_skin"] & ~out["mouth"]
    return out


def refine_with_skin(face: Face, regions: dict[str, np.ndarray], prob: np.ndarray, skin_threshold: float = 0.1) -> dict[str, np.ndarray]:
    """Brows, eyes, face skin, eyeshadow and cheeks refined by the skin probability ``prob``
    ((H, W) float32 in [0, 1])."""
    out = dict(regions)
    fw = max(1.0, float(face.box[2] - face.box[0]))
    not_skin = prob < 0.5
    kb = max(3, int(round(0.04 * fw)) | 1)
    near_brow = cv2.dilate(regions["brows"].astype(np.uint8), np.ones((kb, kb), np.uint8)).astype(bool)
    brows = (near_brow & not_skin) | (regions["brows"] & (prob < 0.8))
    if brows.sum() < 0.3 * regions["brows"].sum():
        brows = regions["brows"]  # fair brows the skin model cannot tell from skin: trust the mesh
    ke = max(3, int(round(0.02 * fw)) | 1)
    near_eye = cv2.dilate(regions["eyes"].astype(np.uint8), np.ones((ke, ke), np.uint8)).astype(bool)
    eyes = regions["eyes"] | (near_eye & not_skin)
    out["brows"] = brows & ~eyes
    out["eyes"] = eyes
    out["face_skin"] = regions["face_oval"] & ~eyes & ~out["brows"] & ~regions["mouth"] & (prob >= skin_threshold)
    # Eyeshadow and blush go on skin only: not on glasses, sunglasses or hair.
    out["eyeshadow"] = regions["eyeshadow"] & ~eyes & ~out["brows"] & (prob >= skin_threshold)
    out["cheeks"] = regions["cheeks"] & (prob >= skin_threshold)
    return out


def remove_hair_from_lips(rgb: np.ndarray, regions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Take moustache and beard hair off the lips: pixels of the lip region far darker and
    greyer than the lips' own colour (lips are saturated, hair is not) are not painted."""
    from pipelines.tryon.color import srgb_to_lab

    lips = regions["lips"]
    if lips.sum() < 30:
        return regions
    ys, xs = np.nonzero(lips)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    lab = srgb_to_lab(rgb[y0:y1, x0:x1].astype(np.float32) / 255.0)
    m = lips[y0:y1, x0:x1]
    L, chroma = lab[..., 0], np.hypot(lab[..., 1], lab[..., 2])
    Lm, Cm = float(np.median(L[m])), float(np.median(chroma[m]))
    madL = float(np.median(np.abs(L[m] - Lm))) * 1.4826 + 1.0
    hairy = m & (L < Lm - 2.5 * madL) & (chroma < 0.6 * Cm)
    hairy = cv2.morphologyEx(hairy.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).astype(bool)
    if hairy.sum() < 0.02 * m.sum():
        return regions  # a few dark pixels are lip creases, not hair
    out = dict(regions)
    full = np.zeros_like(lips)
    full[y0:y1, x0:x1] = hairy
    out["lips"] = lips & ~full
    out["lip_hair"] = full
    return out
