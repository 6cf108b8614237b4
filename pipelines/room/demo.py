"""Demo room photos drawn by our own code (no outside images), for the app's first run and tests.

One-point perspective rooms: back wall, side walls, a wooden floor whose planks run to the
vanishing point, skirting, a window, and shaded furniture (sofa, coffee table, floor lamp, rug,
plant, bed, chairs...). :func:`render_demo_room` returns the photo and the ground-truth item boxes;
:func:`render_demo_rooms` writes ``assets/rooms/*.jpg`` (+ ``rooms.json`` with the boxes).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOMS = ("living", "bedroom", "dining")


class _Canvas:
    def __init__(self, w: int, h: int, vp: tuple[float, float], rng: np.random.Generator):
        self.img = np.zeros((h, w, 3), np.float32)
        self.w, self.h, self.vp, self.rng = w, h, vp, rng
        self.items: list[dict] = []

    def toward_vp(self, x: float, y: float, t: float) -> tuple[float, float]:
        return x + (self.vp[0] - x) * t, y + (self.vp[1] - y) * t

    def poly(self, pts, color, shade=None, mask_out=None):
        """Fill a polygon; ``shade`` = (top factor, bottom factor) vertical gradient."""
        m = np.zeros((self.h, self.w), np.uint8)
        cv2.fillPoly(m, [np.round(np.array(pts)).astype(np.int32)], 1, lineType=cv2.LINE_AA)
        ys, xs = np.nonzero(m)
        if len(ys) == 0:
            return m
        col = np.array(color, np.float32)
        if shade:
            y0, y1 = ys.min(), ys.max() + 1
            f = np.linspace(shade[0], shade[1], y1 - y0, dtype=np.float32)
            c = col[None, :] * f[:, None]
            self.img[ys, xs] = c[ys - y0]
        else:
            self.img[ys, xs] = col
        if mask_out is not None:
            mask_out |= m.astype(bool)
        return m

    def box3d(self, x0, x1, yb, height, depth, color, mask_out=None, top_light=1.12, side_dark=0.72):
        """A box standing on the floor, front face (x0..x1, yb-height..yb), receding by ``depth``."""
        ft = yb - height
        # Back corners toward the vanishing point.
        bl = self.toward_vp(x0, ft, depth)
        br = self.toward_vp(x1, ft, depth)
        top = [(x0, ft), (x1, ft), br, bl]
        self.poly(top, np.array(color) * top_light, mask_out=mask_out)
        # The side facing the camera's centre shows.
        if x1 < self.vp[0]:
            bb = self.toward_vp(x1, yb, depth)
            self.poly([(x1, ft), br, bb, (x1, yb)], np.array(color) * side_dark, shade=(1.0, 0.85), mask_out=mask_out)
        elif x0 > self.vp[0]:
            bb = self.toward_vp(x0, yb, depth)
            self.poly([(x0, ft), bl, bb, (x0, yb)], np.array(color) * side_dark, shade=(1.0, 0.85), mask_out=mask_out)
        self.poly([(x0, ft), (x1, ft), (x1, yb), (x0, yb)], color, shade=(1.0, 0.82), mask_out=mask_out)

    def add_item(self, label, mask):
        ys, xs = np.nonzero(mask)
        if len(xs):
            self.items.append({"label": label, "box": [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]})


def _room_shell(c: _Canvas, wall, floor_col, side_wall):
    w, h = c.w, c.h
    bx0, bx1, by0, by1 = w * 0.16, w * 0.84, h * 0.06, h * 0.62
    # Side walls, ceiling, back wall.
    c.poly([(0, 0), (bx0, by0), (bx0, by1), (0, h * 1.02)], side_wall, shade=(1.05, 0.9))
    c.poly([(w, 0), (bx1, by0), (bx1, by1), (w, h * 1.02)], np.array(side_wall) * 0.9, shade=(1.0, 0.85))
    c.poly([(0, 0), (w, 0), (bx1, by0), (bx0, by0)], (236, 234, 230))
    c.poly([(bx0, by0), (bx1, by0), (bx1, by1), (bx0, by1)], wall, shade=(1.04, 0.9))
    # Floor with planks converging to the vanishing point.
    floor = np.zeros((h, w), bool)
    c.poly([(bx0, by1), (bx1, by1), (w * 1.6, h), (-w * 0.6, h)], floor_col, shade=(0.8, 1.05), mask_out=floor)
    planks = np.zeros((h, w), np.float32)
    for k in np.linspace(-1.6, 2.6, 34):
        x_bottom = w * k
        cv2.line(planks, (int(c.vp[0]), int(c.vp[1])), (int(x_bottom), h), 1.0, 1, cv2.LINE_AA)
    grain = c.rng.normal(0, 1, (h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), sigmaX=9, sigmaY=0.8)
    board_tone = cv2.GaussianBlur(c.rng.normal(0, 1, (h // 8 + 1, w // 8 + 1)).astype(np.float32), (0, 0), 1.2)
    board_tone = cv2.resize(board_tone, (w, h))
    f = 1.0 - 0.35 * planks + 0.05 * grain + 0.05 * board_tone
    c.img[floor] *= f[floor][:, None]
    # Skirting along the back wall and the side walls' bottom edges.
    c.poly([(bx0, by1 - h * 0.025), (bx1, by1 - h * 0.025), (bx1, by1), (bx0, by1)], (245, 244, 240))
    c.poly([(0, h * 1.02 - h * 0.07), (bx0, by1 - h * 0.025), (bx0, by1), (0, h * 1.02)], (238, 237, 233))
    c.poly([(w, h * 1.02 - h * 0.07), (bx1, by1 - h * 0.025), (bx1, by1), (w, h * 1.02)], (222, 221, 217))
    return floor, (bx0, bx1, by0, by1)


def _window(c: _Canvas, x0, x1, y0, y1):
    c.poly([(x0 - 8, y0 - 8), (x1 + 8, y0 - 8), (x1 + 8, y1 + 8), (x0 - 8, y1 + 8)], (250, 250, 248))
    c.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], (200, 222, 240), shade=(1.1, 0.95))
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    c.poly([(xm - 4, y0), (xm + 4, y0), (xm + 4, y1), (xm - 4, y1)], (250, 250, 248))
    c.poly([(x0, ym - 4), (x1, ym - 4), (x1, ym + 4), (x0, ym + 4)], (250, 250, 248))


def _picture(c: _Canvas, x0, y0, x1, y1, color):
    c.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], (40, 38, 36))
    c.poly([(x0 + 6, y0 + 6), (x1 - 6, y0 + 6), (x1 - 6, y1 - 6), (x0 + 6, y1 - 6)], (235, 232, 225))
    c.poly([(x0 + 14, y0 + 14), (x1 - 14, y0 + 14), (x1 - 14, y1 - 14), (x0 + 14, y1 - 14)], color, shade=(1.1, 0.8))


def _sofa(c: _Canvas, x0, x1, yb, color):
    m = np.zeros((c.h, c.w), bool)
    W = x1 - x0
    H = W * 0.42
    c.box3d(x0 + W * 0.02, x1 - W * 0.02, yb - H * 0.42, H * 0.58, 0.10, np.array(color) * 0.92, m)  # back
    c.box3d(x0 + W * 0.08, x1 - W * 0.08, yb, H * 0.42, 0.08, color, m)  # seat
    for a, b in ((x0, x0 + W * 0.1), (x1 - W * 0.1, x1)):
        c.box3d(a, b, yb, H * 0.6, 0.1, np.array(color) * 0.95, m)  # arms
    # Seat cushions: seams and soft highlights.
    for k in (1, 2):
        xs = x0 + W * 0.08 + (W * 0.84) * k / 3
        cv2.line(c.img, (int(xs), int(yb - H * 0.42)), (int(xs), int(yb - 4)), np.array(color, float) * 0.7, 2, cv2.LINE_AA)
    for k in range(2):
        cx = x0 + W * (0.33 + 0.34 * k)
        cy = yb - H * 0.62
        cm = np.zeros((c.h, c.w), np.uint8)
        cv2.ellipse(cm, (int(cx), int(cy)), (int(W * 0.1), int(H * 0.17)), 0, 0, 360, 1, -1, cv2.LINE_AA)
        cc = np.array((232, 200, 120) if k == 0 else (200, 210, 220), np.float32)
        ys, xs = np.nonzero(cm)
        f = 1.05 - 0.35 * (ys - ys.min()) / max(1, ys.max() - ys.min())
        c.img[ys, xs] = cc[None] * f[:, None]
        m |= cm.astype(bool)
    # Short legs.
    for lx in (x0 + W * 0.06, x1 - W * 0.06):
        cv2.rectangle(c.img, (int(lx - 4), int(yb)), (int(lx + 4), int(yb + 10)), (50, 40, 30), -1)
        m[int(yb): int(yb + 10), int(lx - 4): int(lx + 5)] = True
    c.add_item("sofa", m)


def _table(c: _Canvas, x0, x1, yb, height, color, label="table", depth=0.12):
    m = np.zeros((c.h, c.w), bool)
    top_th = max(6, height * 0.1)
    for lx in (x0 + 6, x1 - 16):
        c.poly([(lx, yb - height), (lx + 10, yb - height), (lx + 10, yb), (lx, yb)], np.array(color) * 0.75, mask_out=m)
    for lx in (x0 + 6, x1 - 16):
        bx, by = c.toward_vp(lx, yb, depth * 0.8)
        c.poly([(bx, by - height * 0.9), (bx + 8, by - height * 0.9), (bx + 8, by), (bx, by)], np.array(color) * 0.55, mask_out=m)
    c.box3d(x0, x1, yb - height + top_th, top_th, depth, color, m, top_light=1.18)
    c.add_item(label, m)


def _lamp(c: _Canvas, x, yb, height, shade_col=(246, 238, 220)):
    m = np.zeros((c.h, c.w), bool)
    cv2.ellipse(c.img, (int(x), int(yb)), (22, 6), 0, 0, 360, (45, 45, 48), -1, cv2.LINE_AA)
    cv2.ellipse(m.view(np.uint8), (int(x), int(yb)), (22, 6), 0, 0, 360, 1, -1)
    cv2.line(c.img, (int(x), int(yb)), (int(x), int(yb - height * 0.8)), (60, 60, 62), 4, cv2.LINE_AA)
    m[int(yb - height * 0.8): int(yb), int(x - 2): int(x + 3)] = True
    sw, sh = height * 0.22, height * 0.22
    ty = yb - height
    pts = [(x - sw * 0.35, ty), (x + sw * 0.35, ty), (x + sw * 0.5, ty + sh), (x - sw * 0.5, ty + sh)]
    c.poly(pts, shade_col, shade=(0.92, 1.05), mask_out=m)
    # Warm glow on the wall.
    glow = np.zeros((c.h, c.w), np.float32)
    cv2.circle(glow, (int(x), int(ty + sh)), int(height * 0.35), 1.0, -1)
    glow = cv2.GaussianBlur(glow, (0, 0), height * 0.15)
    c.img += (glow * ~m)[..., None] * np.array([28, 18, 0], np.float32)
    c.add_item("lamp", m)


def _rug(c: _Canvas, x0, x1, y0, y1, color, color2):
    m = np.zeros((c.h, c.w), bool)
    # Near edge (y1) full width; far edge (y0) narrowed toward the vanishing point.
    t = (y1 - y0) / max(1.0, y1 - c.vp[1])
    a = c.toward_vp(x0, y1, t)
    b = c.toward_vp(x1, y1, t)
    c.poly([a, b, (x1, y1), (x0, y1)], color, shade=(0.92, 1.02), mask_out=m)
    # Border and a stripe pattern following the perspective.
    inner = [c.toward_vp(x0 + 14, y1 - 8, t * 0.9), c.toward_vp(x1 - 14, y1 - 8, t * 0.9), (x1 - 18, y1 - 8), (x0 + 18, y1 - 8)]
    c.poly(inner, color2)
    inner2 = [c.toward_vp(x0 + 26, y1 - 14, t * 0.82), c.toward_vp(x1 - 26, y1 - 14, t * 0.82), (x1 - 30, y1 - 14), (x0 + 30, y1 - 14)]
    c.poly(inner2, color)
    c.add_item("rug", m)


def _plant(c: _Canvas, x, yb, height):
    m = np.zeros((c.h, c.w), bool)
    pw = height * 0.32
    c.poly([(x - pw / 2, yb - height * 0.3), (x + pw / 2, yb - height * 0.3), (x + pw * 0.38, yb), (x - pw * 0.38, yb)],
           (190, 110, 80), shade=(1.05, 0.8), mask_out=m)
    rng = c.rng
    for _ in range(26):
        ang = rng.uniform(-2.5, -0.6)
        ln = rng.uniform(0.35, 0.7) * height
        cx = x + np.cos(ang) * ln * 0.55
        cy = yb - height * 0.3 + np.sin(ang) * ln * 0.6
        col = np.array((60, 120 + rng.integers(0, 50), 55), np.float32) * rng.uniform(0.75, 1.1)
        lm = np.zeros((c.h, c.w), np.uint8)
        cv2.ellipse(lm, (int(cx), int(cy)), (int(height * 0.12), int(height * 0.035)), float(np.degrees(ang)), 0, 360, 1, -1, cv2.LINE_AA)
        c.img[lm > 0] = col
        m |= lm > 0
    c.add_item("plant", m)


def _bed(c: _Canvas, x0, x1, yb, color):
    m = np.zeros((c.h, c.w), bool)
    W = x1 - x0
    c.box3d(x0 + W * 0.03, x1 - W * 0.03, yb - W * 0.12, W * 0.45, 0.04, (120, 90, 70), m)  # headboard
    c.box3d(x0, x1, yb, W * 0.2, 0.22, (245, 245, 242), m, top_light=1.02)  # mattress + sheet
    c.box3d(x0 - 4, x1 + 4, yb + 2, W * 0.12, 0.16, color, m, top_light=1.08)  # duvet
    for k in range(2):
        px = x0 + W * (0.26 + 0.48 * k)
        cv2.ellipse(c.img, (int(px), int(yb - W * 0.27)), (int(W * 0.17), int(W * 0.05)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
    c.add_item("bed", m)


def _chair(c: _Canvas, x, yb, height, color):
    m = np.zeros((c.h, c.w), bool)
    w = height * 0.45
    for lx in (x - w / 2, x + w / 2 - 6):
        c.poly([(lx, yb - height * 0.5), (lx + 6, yb - height * 0.5), (lx + 6, yb), (lx, yb)], np.array(color) * 0.7, mask_out=m)
    c.box3d(x - w / 2, x + w / 2, yb - height * 0.45, height * 0.06, 0.06, color, m)
    c.poly([(x - w / 2, yb - height), (x + w / 2, yb - height), (x + w / 2, yb - height * 0.55), (x - w / 2, yb - height * 0.55)],
           np.array(color) * 0.9, shade=(1.05, 0.85), mask_out=m)
    c.add_item("chair", m)


def render_demo_room(kind: str = "living", size: tuple[int, int] = (1024, 683), seed: int = 0) -> tuple[Image.Image, list[dict]]:
    """Draw one demo room.

    Args:
        kind: "living", "bedroom" or "dining".
        size: (width, height) in pixels.
    Returns:
        (PIL RGB photo, [{"label": room word, "box": [x0, y0, x1, y1]}, ...] ground truth).
    """
    if kind not in ROOMS:
        raise ValueError(f"unknown demo room {kind!r}; choose from {', '.join(ROOMS)}")
    w, h = size
    rng = np.random.default_rng(seed)
    c = _Canvas(w, h, (w * 0.5, h * 0.4), rng)
    if kind == "living":
        floor, (bx0, bx1, by0, by1) = _room_shell(c, (214, 222, 214), (176, 132, 92), (226, 228, 222))
        _window(c, w * 0.58, w * 0.76, h * 0.14, h * 0.42)
        _picture(c, w * 0.27, h * 0.17, w * 0.43, h * 0.33, (90, 130, 160))
        _rug(c, w * 0.2, w * 0.82, h * 0.66, h * 0.93, (170, 60, 50), (220, 190, 150))
        _sofa(c, w * 0.22, w * 0.6, h * 0.72, (70, 95, 130))
        _plant(c, w * 0.09, h * 0.9, h * 0.34)
        _lamp(c, w * 0.7, h * 0.7, h * 0.5)
        _table(c, w * 0.3, w * 0.56, h * 0.88, h * 0.1, (150, 110, 70))
    elif kind == "bedroom":
        floor, _ = _room_shell(c, (232, 222, 206), (196, 160, 120), (236, 232, 226))
        _window(c, w * 0.2, w * 0.34, h * 0.12, h * 0.4)
        _picture(c, w * 0.44, h * 0.12, w * 0.62, h * 0.26, (170, 120, 90))
        _rug(c, w * 0.18, w * 0.76, h * 0.74, h * 0.97, (200, 200, 190), (120, 130, 150))
        _bed(c, w * 0.3, w * 0.74, h * 0.8, (110, 140, 120))
        _table(c, w * 0.78, w * 0.9, h * 0.76, h * 0.16, (120, 90, 60), label="table")
        _lamp(c, w * 0.84, h * 0.6, h * 0.3, (240, 220, 200))
        _plant(c, w * 0.12, h * 0.95, h * 0.4)
    else:
        floor, _ = _room_shell(c, (200, 210, 222), (150, 110, 80), (214, 220, 228))
        _window(c, w * 0.38, w * 0.62, h * 0.12, h * 0.44)
        _picture(c, w * 0.7, h * 0.18, w * 0.8, h * 0.34, (200, 160, 60))
        _rug(c, w * 0.16, w * 0.84, h * 0.7, h * 0.98, (70, 80, 100), (180, 170, 150))
        _chair(c, w * 0.33, h * 0.76, h * 0.34, (60, 60, 64))
        _chair(c, w * 0.66, h * 0.76, h * 0.34, (60, 60, 64))
        _table(c, w * 0.3, w * 0.7, h * 0.9, h * 0.24, (190, 150, 100), depth=0.16)
        _plant(c, w * 0.9, h * 0.93, h * 0.42)
        _lamp(c, w * 0.12, h * 0.82, h * 0.55)
    img = c.img
    # Photographic touches: vignetting, soft focus, sensor noise.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vign = 1.0 - 0.18 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2)
    img = img * vign[..., None]
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    img += rng.normal(0, 2.0, img.shape).astype(np.float32)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)), c.items


def render_demo_rooms(out_dir: str | Path) -> list[Path]:
    """Write every demo room as ``<kind>.jpg`` and their ground truth in ``rooms.json``."""
    from pipelines.intake import save_image

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, truth = [], {}
    for i, kind in enumerate(ROOMS):
        img, items = render_demo_room(kind, seed=i)
        paths.append(save_image(img, out_dir / f"{kind}.jpg", quality=90))
        truth[f"{kind}.jpg"] = items
    (out_dir / "rooms.json").write_text(json.dumps(truth, indent=1))
    return paths


if __name__ == "__main__":  # python -m pipelines.room.demo [out_dir]
    import sys

    print(*render_demo_rooms(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "assets" / "rooms"), sep="\n")


def render_demo_product(label: str, color=(70, 95, 130), size: tuple[int, int] = (480, 360), seed: int = 0) -> Image.Image:
    """A product photo on white (like a catalogue's), drawn with the same shapes as the rooms.

    Args:
        label: "sofa", "table", "lamp", "plant", "chair" or "bed".
    Returns:
        PIL RGB, the product centred on white with a margin.
    """
    w, h = size
    rng = np.random.default_rng(seed)
    c = _Canvas(w, h, (w * 0.5, -h * 2.0), rng)  # a far, high vanishing point: a frontal view
    c.img[:] = 255.0
    draw = {
        "sofa": lambda: _sofa(c, w * 0.1, w * 0.9, h * 0.85, color),
        "table": lambda: _table(c, w * 0.15, w * 0.85, h * 0.85, h * 0.45, color),
        "lamp": lambda: _lamp(c, w * 0.5, h * 0.92, h * 0.85, tuple(int(v) for v in color)),
        "plant": lambda: _plant(c, w * 0.5, h * 0.92, h * 0.8),
        "chair": lambda: _chair(c, w * 0.5, h * 0.9, h * 0.8, color),
        "bed": lambda: _bed(c, w * 0.1, w * 0.9, h * 0.85, color),
    }
    if label not in draw:
        raise ValueError(f"no demo drawing for {label!r}; choose from {', '.join(draw)}")
    draw[label]()
    if label == "lamp":  # the glow is for rooms, not for a product on white
        c.img = np.where(c.img > 255, 255, c.img)
    return Image.fromarray(np.clip(c.img, 0, 255).astype(np.uint8))
