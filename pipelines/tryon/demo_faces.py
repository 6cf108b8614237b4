"""Demo face photos drawn by our own code (no photo from anywhere else).

A shaded ellipsoid head lit from the upper left, with eyes (sclera, iris, pupil, catch-light,
lids and lashes), brows, a nose drawn by its shading, lips with a darker line between them,
hair and a neck, softened by a blur and a little sensor noise. mediapipe's face mesh finds
these faces (checked by tests/test_tryon_demo.py), so the app can show try-on before anyone
uploads a photo.

    .venv/bin/python -m pipelines.tryon.demo_faces   # writes assets/faces/*.png
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipelines.tryon.color import hex_to_rgb

# (file name, skin, lips, iris, hair) in sRGB hex: light, medium and deep skin.
DEMO_FACES = (
    ("demo_face_light.png", "#E9C3A6", "#C07A78", "#4A6A8A", "#5A3A22"),
    ("demo_face_medium.png", "#B98560", "#9A5A50", "#4A3020", "#1E1410"),
    ("demo_face_deep.png", "#6B432C", "#5A3028", "#2A1A10", "#0E0A08"),
)


def _c(hx: str) -> np.ndarray:
    return np.array(hex_to_rgb(hx), np.float32) / 255.0


def draw_face(skin_hex: str, lips_hex: str, iris_hex: str, hair_hex: str, size: int = 512, seed: int = 0) -> Image.Image:
    """One frontal face, ``size`` x ``size`` RGB."""
    rng = np.random.default_rng(seed)
    S = size / 512.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img = np.zeros((size, size, 3), np.float32)
    # Background: a soft vertical gradient.
    img[:] = (np.array([0.78, 0.80, 0.82]) * (0.85 + 0.15 * (1 - yy / size))[..., None])

    skin, hair = _c(skin_hex), _c(hair_hex)
    cx, cy, ax, ay = 256 * S, 250 * S, 150 * S, 195 * S

    def lit(mask_dist, base, nx, ny, nz):
        # Lambert shading of an ellipsoid normal, light from the upper left and front.
        light = np.array([-0.35, -0.45, 0.82])
        light = light / np.linalg.norm(light)
        shade = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
        return base[None, None] * (0.35 + 0.75 * shade)[..., None]

    # Neck (a shaded cylinder) and shoulders.
    neck = (np.abs(xx - cx) < 70 * S) & (yy > cy + 120 * S)
    nxn = (xx - cx) / (70 * S)
    neck_col = skin[None, None] * (0.55 + 0.35 * np.sqrt(np.clip(1 - nxn ** 2, 0, 1)))[..., None] * 0.9
    img = np.where(neck[..., None], neck_col, img)
    shoulders = yy > 450 * S + 0.35 * np.clip(np.abs(xx - cx) - 60 * S, 0, None)
    img = np.where(shoulders[..., None], np.array([0.25, 0.3, 0.45]) * (0.8 + 0.2 * (xx / size))[..., None], img)

    # Hair behind the head.
    hb = ((xx - cx) / (ax * 1.18)) ** 2 + ((yy - (cy - 25 * S)) / (ay * 1.08)) ** 2 < 1
    hb &= yy < cy + 90 * S
    img = np.where(hb[..., None], hair[None, None] * (0.7 + 0.3 * rng.random((size, size)))[..., None], img)

    # Head: an ellipsoid, slightly narrower at the chin.
    u = (xx - cx) / ax
    v = (yy - cy) / ay
    u = u / (1 - 0.18 * np.clip(v, 0, 1))
    r2 = u ** 2 + v ** 2
    head = r2 < 1
    nz = np.sqrt(np.clip(1 - r2, 0, 1))
    face = lit(None, skin, u, v, nz)
    img = np.where(head[..., None], face, img)

    def blend(mask_f, col, alpha=1.0):
        nonlocal img
        m = np.clip(mask_f, 0, 1)[..., None] * alpha
        img = img * (1 - m) + np.asarray(col, np.float32)[None, None] * m

    def ell(x, y, a, b, ang=0.0):
        m = np.zeros((size, size), np.uint8)
        cv2.ellipse(m, ((x * S, y * S), (2 * a * S, 2 * b * S), ang), 1, -1, lineType=cv2.LINE_AA)
        return m.astype(np.float32)

    # Cheeks a little warmer, temples darker (depth).
    blend(cv2.GaussianBlur(ell(190, 300, 38, 26) + ell(322, 300, 38, 26), (0, 0), 18 * S), skin * np.array([1.05, 0.85, 0.82]), 0.35)
    # Eye sockets: soft shadow.
    for ex in (198, 314):
        blend(cv2.GaussianBlur(ell(ex, 228, 44, 24), (0, 0), 10 * S), skin * 0.7, 0.5)
    # Nose: shading on the side away from the light, a lit bridge, nostrils.
    blend(cv2.GaussianBlur(ell(272, 270, 12, 48), (0, 0), 7 * S), skin * 0.68, 0.65)
    blend(cv2.GaussianBlur(ell(250, 265, 8, 50), (0, 0), 5 * S), np.clip(skin * 1.18, 0, 1), 0.45)
    blend(cv2.GaussianBlur(ell(256, 318, 30, 14), (0, 0), 6 * S), skin * 0.8, 0.5)
    for nx in (242, 270):
        blend(cv2.GaussianBlur(ell(nx, 322, 7, 4), (0, 0), 1.5 * S), skin * 0.35, 0.9)
    # Eyes: sclera, iris, pupil, catch-light, upper lid line and lashes, brows.
    iris = _c(iris_hex)
    for ex in (198, 314):
        sc = ell(ex, 232, 30, 13)
        blend(cv2.GaussianBlur(sc, (0, 0), 1.0 * S), [0.9, 0.88, 0.86])
        irs = ell(ex, 232, 13, 13) * sc
        blend(cv2.GaussianBlur(irs, (0, 0), 0.8 * S), iris)
        blend(ell(ex, 232, 5.5, 5.5) * sc, [0.03, 0.03, 0.03])
        blend(ell(ex - 4, 227, 2.5, 2.5), [1, 1, 1], 0.9)
        lid = np.zeros((size, size), np.uint8)
        cv2.ellipse(lid, (int(ex * S), int(232 * S)), (int(31 * S), int(14 * S)), 0, 180, 360, 1, max(1, int(3 * S)), cv2.LINE_AA)
        blend(lid.astype(np.float32), [0.08, 0.06, 0.05], 0.95)
        low = np.zeros((size, size), np.uint8)
        cv2.ellipse(low, (int(ex * S), int(232 * S)), (int(30 * S), int(13 * S)), 0, 10, 170, 1, max(1, int(1 * S)), cv2.LINE_AA)
        blend(low.astype(np.float32), skin * 0.55, 0.7)
        crease = np.zeros((size, size), np.uint8)
        cv2.ellipse(crease, (int(ex * S), int(226 * S)), (int(33 * S), int(18 * S)), 0, 200, 340, 1, max(1, int(2 * S)), cv2.LINE_AA)
        blend(cv2.GaussianBlur(crease.astype(np.float32), (0, 0), 1.5 * S), skin * 0.6, 0.6)
        brow = np.zeros((size, size), np.uint8)
        side = -1 if ex < 256 else 1
        cv2.ellipse(brow, (int(ex * S), int(205 * S)), (int(36 * S), int(14 * S)), 0, 195 if side < 0 else 200, 340 if side < 0 else 345, 1, max(1, int(7 * S)), cv2.LINE_AA)
        blend(cv2.GaussianBlur(brow.astype(np.float32), (0, 0), 1.2 * S), hair * 0.9, 0.9)
    # Mouth: upper and lower lip, the dark line between, shading under the lower lip.
    lips = _c(lips_hex)
    up = ell(256, 366, 44, 10)
    up = np.maximum(up - ell(256, 352, 10, 5), 0)
    lo = ell(256, 378, 40, 13)
    blend(cv2.GaussianBlur(up, (0, 0), 1.2 * S), lips * 0.85)
    blend(cv2.GaussianBlur(lo, (0, 0), 1.2 * S), lips)
    blend(cv2.GaussianBlur(ell(250, 381, 16, 4), (0, 0), 3 * S), np.clip(lips * 1.3, 0, 1), 0.5)
    line = np.zeros((size, size), np.uint8)
    cv2.ellipse(line, (int(256 * S), int(362 * S)), (int(44 * S), int(8 * S)), 0, 10, 170, 1, max(1, int(2 * S)), cv2.LINE_AA)
    blend(cv2.GaussianBlur(line.astype(np.float32), (0, 0), 0.8 * S), lips * 0.35, 0.9)
    blend(cv2.GaussianBlur(ell(256, 400, 26, 6), (0, 0), 5 * S), skin * 0.7, 0.5)
    # Fringe of hair over the forehead edges.
    fringe = hb & (yy < cy - ay * 0.62 + 12 * S * np.sin(xx / (19 * S)))
    img = np.where(fringe[..., None], hair[None, None] * (0.7 + 0.3 * rng.random((size, size)))[..., None], img)
    # Camera: slight blur, skin-texture noise.
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.8 * S)
    img = img * (1 + 0.025 * rng.standard_normal((size, size, 1)).astype(np.float32))
    return Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))


def write_demo_faces(out_dir: str | Path, size: int = 512) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, skin, lips, iris, hair) in enumerate(DEMO_FACES):
        p = out_dir / name
        draw_face(skin, lips, iris, hair, size=size, seed=i).save(p, optimize=True)
        paths.append(p)
    return paths


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[2]
    for p in write_demo_faces(root / "assets" / "faces"):
        print(p)
