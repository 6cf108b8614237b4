"""The demo catalogue: furniture drawn by our own code, plus makeup shades, so restyle works on a
fresh machine with no data.

:func:`render_demo_assets` draws every demo product (shaded vector drawings on white, 384 px
PNG) into ``assets/catalog/``; :func:`ensure_demo_catalog` imports them (idempotent). Titles,
prices and links are made up and say so: every URL is on ``example.com/demo``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets" / "catalog"
SIZE = 384
SS = 3  # drawn at 3x and downsampled: smooth, anti-aliased edges
DEMO_SOURCE = "demo"


# ---------------------------------------------------------------------- drawing helpers
def _rgb(h: str) -> tuple[int, int, int]:
    h = h.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _shade(c, f: float):
    """Darken (f < 1) or lighten (f > 1, towards white) a colour."""
    c = np.array(c, float)
    out = c * f if f <= 1 else c + (255 - c) * (f - 1)
    return tuple(int(v) for v in np.clip(out, 0, 255))


class Canvas:
    """A supersampled RGBA drawing surface with coordinates in output pixels (0..SIZE)."""

    def __init__(self):
        self.img = Image.new("RGBA", (SIZE * SS, SIZE * SS), (255, 255, 255, 0))
        self.d = ImageDraw.Draw(self.img)

    def _p(self, pts):
        return [(x * SS, y * SS) for x, y in pts]

    def poly(self, pts, fill, outline=None):
        self.d.polygon(self._p(pts), fill=fill, outline=outline)

    def rrect(self, x0, y0, x1, y1, r, fill):
        self.d.rounded_rectangle([x0 * SS, y0 * SS, x1 * SS, y1 * SS], radius=r * SS, fill=fill)

    def ellipse(self, x0, y0, x1, y1, fill):
        self.d.ellipse([x0 * SS, y0 * SS, x1 * SS, y1 * SS], fill=fill)

    def line(self, pts, fill, width):
        self.d.line(self._p(pts), fill=fill, width=max(1, int(width * SS)), joint="curve")

    def gradient_rrect(self, x0, y0, x1, y1, r, top, bottom, horizontal=False):
        """A rounded rectangle filled with a linear gradient (volume for cushions, shades)."""
        w, h = int((x1 - x0) * SS), int((y1 - y0) * SS)
        if w < 1 or h < 1:
            return
        t = np.linspace(0, 1, w if horizontal else h)[None, :, None] if horizontal else np.linspace(0, 1, h)[:, None, None]
        col = (np.array(top, float) * (1 - t) + np.array(bottom, float) * t)
        col = np.broadcast_to(col, (h, w, 3)).astype(np.uint8)
        tile = Image.fromarray(col, "RGB").convert("RGBA")
        mask = Image.new("L", (w, h), 0)
        ImageDraw.Draw(mask).rounded_rectangle([0, 0, w - 1, h - 1], radius=int(r * SS), fill=255)
        self.img.paste(tile, (int(x0 * SS), int(y0 * SS)), mask)

    def shadow(self, cx, y, rx, ry, alpha=60):
        """A soft floor shadow (the cut-out must remove it)."""
        m = Image.new("L", self.img.size, 0)
        ImageDraw.Draw(m).ellipse([(cx - rx) * SS, (y - ry) * SS, (cx + rx) * SS, (y + ry) * SS], fill=alpha)
        m = m.filter(ImageFilter.GaussianBlur(6 * SS))
        grey = Image.new("RGBA", self.img.size, (90, 90, 90, 255))
        self.img = Image.composite(grey, self.img, m)
        self.d = ImageDraw.Draw(self.img)

    def finish(self) -> Image.Image:
        small = self.img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
        out = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
        out.paste(small, mask=small.getchannel("A"))
        return out


def _legs(c: Canvas, xs, y0, y1, color, width=7, taper=2):
    for x in xs:
        c.poly([(x - width / 2, y0), (x + width / 2, y0), (x + width / 2 - taper, y1), (x - width / 2 + taper, y1)], color)


# ---------------------------------------------------------------------- furniture
def draw_sofa(color, seats=3, leg="#6b4a2f", arm="round", back_cushions=True) -> Image.Image:
    c = Canvas()
    base = _rgb(color)
    x0, x1 = 30, 354
    c.shadow(192, 300, 170, 14)
    _legs(c, [x0 + 26, x1 - 26, x0 + 60, x1 - 60], 276, 300, _rgb(leg), 9, 2)
    c.gradient_rrect(x0 + 18, 110, x1 - 18, 240, 22, _shade(base, 0.92), _shade(base, 0.72))  # back
    if back_cushions:
        w = (x1 - x0 - 90) / seats
        for i in range(seats):
            bx = x0 + 45 + i * w
            c.gradient_rrect(bx + 3, 124, bx + w - 3, 214, 18, _shade(base, 1.12), _shade(base, 0.86))
    c.gradient_rrect(x0 + 30, 222, x1 - 30, 282, 12, _shade(base, 0.8), _shade(base, 0.62))  # base
    w = (x1 - x0 - 90) / seats
    for i in range(seats):  # seat cushions
        sx = x0 + 45 + i * w
        c.gradient_rrect(sx + 2, 200, sx + w - 2, 246, 12, _shade(base, 1.15), _shade(base, 0.9))
    r = 26 if arm == "round" else 8
    for ax in (x0, x1 - 48):  # arms
        c.gradient_rrect(ax, 168, ax + 48, 284, r, _shade(base, 1.05), _shade(base, 0.7), horizontal=ax != x0)
    return c.finish()


def draw_armchair(color, leg="#5a3d28", wing=False) -> Image.Image:
    c = Canvas()
    base = _rgb(color)
    c.shadow(192, 318, 120, 12)
    _legs(c, [98, 286, 126, 258], 290, 318, _rgb(leg), 9, 3)
    top = 70 if wing else 100
    c.gradient_rrect(104, top, 280, 250, 34 if not wing else 20, _shade(base, 0.95), _shade(base, 0.72))
    if wing:
        for x in (86, 252):
            c.gradient_rrect(x, 90, x + 46, 200, 22, _shade(base, 1.08), _shade(base, 0.8))
    c.gradient_rrect(120, 124, 264, 232, 26, _shade(base, 1.14), _shade(base, 0.86))  # back cushion
    c.gradient_rrect(110, 228, 274, 296, 14, _shade(base, 0.82), _shade(base, 0.6))  # base
    c.gradient_rrect(120, 210, 264, 252, 14, _shade(base, 1.18), _shade(base, 0.92))  # seat
    for x in (76, 260):
        c.gradient_rrect(x, 170, x + 48, 298, 22, _shade(base, 1.04), _shade(base, 0.68), horizontal=x > 100)
    return c.finish()


def draw_chair(color, wood="#8a5a35", style="slats") -> Image.Image:
    c = Canvas()
    w = _rgb(wood)
    seat = _rgb(color)
    c.shadow(192, 338, 92, 9, alpha=45)
    # back legs and back rest
    _legs(c, [132, 252], 60, 330, _shade(w, 0.8), 11, 1)
    if style == "slats":
        for i in range(4):
            x = 146 + i * 28
            c.rrect(x, 86, x + 10, 200, 3, _shade(w, 0.95))
        c.rrect(128, 70, 256, 96, 8, w)
    elif style == "solid":
        c.gradient_rrect(130, 66, 254, 196, 20, _shade(seat, 1.1), _shade(seat, 0.8))
    else:  # cross back
        c.line([(140, 86), (244, 196)], _shade(w, 0.9), 10)
        c.line([(244, 86), (140, 196)], _shade(w, 0.9), 10)
        c.rrect(128, 70, 256, 94, 8, w)
    c.rrect(128, 190, 256, 204, 4, _shade(w, 0.85))
    # seat (slight perspective) and front legs
    c.poly([(116, 214), (268, 214), (282, 246), (102, 246)], _shade(seat, 1.05))
    c.poly([(102, 246), (282, 246), (282, 258), (102, 258)], _shade(seat, 0.7))
    _legs(c, [112, 272], 256, 340, w, 12, 2)
    c.rrect(118, 300, 266, 306, 2, _shade(w, 0.75))  # stretcher
    return c.finish()


def draw_table(top="#b07a4a", legs=None, shape="rect") -> Image.Image:
    c = Canvas()
    t = _rgb(top)
    lg = _rgb(legs) if legs else _shade(t, 0.8)
    if shape == "round":
        c.shadow(192, 318, 110, 12)
        c.poly([(176, 170), (208, 170), (214, 300), (170, 300)], _shade(lg, 0.9))
        c.ellipse(120, 292, 264, 324, _shade(lg, 0.75))
        c.ellipse(50, 120, 334, 196, _shade(t, 0.75))
        c.ellipse(50, 110, 334, 184, _shade(t, 1.08))
        return c.finish()
    c.shadow(192, 320, 160, 12)
    _legs(c, [66, 318], 150, 316, _shade(lg, 0.85), 14, 2)  # back legs (behind)
    c.poly([(60, 120), (324, 120), (356, 168), (28, 168)], _shade(t, 1.1))  # top surface
    c.poly([(28, 168), (356, 168), (356, 184), (28, 184)], _shade(t, 0.7))  # front edge
    _legs(c, [42, 342], 182, 330, lg, 16, 2)
    if shape == "desk":
        c.rrect(220, 184, 340, 254, 3, _shade(t, 0.82))
        for y in (196, 226):
            c.rrect(270, y, 290, y + 6, 2, (70, 70, 70))
    return c.finish()


def draw_lamp(shade="#f2e8d5", body="#333333", kind="floor") -> Image.Image:
    c = Canvas()
    s, b = _rgb(shade), _rgb(body)
    if kind == "floor":
        c.shadow(192, 352, 60, 6, alpha=40)
        c.ellipse(150, 336, 234, 356, _shade(b, 0.8))
        c.rrect(188, 110, 196, 344, 3, b)
        c.poly([(150, 40), (234, 40), (268, 132), (116, 132)], s)
        c.poly([(150, 40), (192, 40), (192, 132), (116, 132)], _shade(s, 1.06))
        c.ellipse(116, 124, 268, 140, _shade(s, 0.82))
    elif kind == "table":
        c.shadow(192, 340, 70, 7, alpha=40)
        c.ellipse(136, 196, 248, 336, b)
        c.ellipse(150, 210, 214, 290, _shade(b, 1.25))  # glaze highlight
        c.rrect(186, 150, 198, 204, 3, (120, 110, 90))
        c.poly([(136, 70), (248, 70), (286, 168), (98, 168)], s)
        c.poly([(136, 70), (192, 70), (192, 168), (98, 168)], _shade(s, 1.06))
        c.ellipse(98, 160, 286, 176, _shade(s, 0.8))
    else:  # pendant
        c.line([(192, 0), (192, 150)], (40, 40, 40), 3)
        c.rrect(180, 140, 204, 162, 4, b)
        c.d.pieslice([60 * SS, 150 * SS, 324 * SS, 400 * SS], 180, 360, fill=s)
        c.d.pieslice([60 * SS, 150 * SS, 192 * SS, 400 * SS], 180, 270, fill=_shade(s, 1.1))
        c.ellipse(60, 266, 324, 284, _shade(s, 0.7))
        c.ellipse(160, 268, 224, 282, (255, 246, 200))
    return c.finish()


def draw_rug(colors, pattern="stripes") -> Image.Image:
    c = Canvas()
    cols = [_rgb(x) for x in colors]
    quad = [(70, 90), (314, 90), (372, 300), (12, 300)]
    c.poly(quad, cols[0])

    def at(u, v):  # rug coordinates (0..1) -> picture (perspective-ish trapezoid)
        x_top = 70 + u * 244
        x_bot = 12 + u * 360
        return (x_top + (x_bot - x_top) * v, 90 + 210 * v)

    if pattern == "stripes":
        for i in range(1, 9, 2):
            u0, u1 = i / 9, (i + 1) / 9
            c.poly([at(u0, 0), at(u1, 0), at(u1, 1), at(u0, 1)], cols[1 + (i // 2) % (len(cols) - 1)])
    elif pattern == "border":
        for m, col in ((0.06, cols[1]), (0.12, cols[0]), (0.2, cols[2 % len(cols)])):
            c.poly([at(m, m), at(1 - m, m), at(1 - m, 1 - m), at(m, 1 - m)], col)
        c.poly([at(0.5, 0.3), at(0.7, 0.5), at(0.5, 0.7), at(0.3, 0.5)], cols[1])
    else:  # diamonds
        for i in range(4):
            for j in range(3):
                u, v = (i + 0.5) / 4, (j + 0.5) / 3
                du, dv = 0.1, 0.13
                c.poly([at(u, v - dv), at(u + du, v), at(u, v + dv), at(u - du, v)], cols[1 + (i + j) % (len(cols) - 1)])
    for k in range(40):  # fringe
        u = k / 39
        x, y = at(u, 1)
        c.line([(x, y), (x, y + 10)], _shade(cols[0], 1.3), 1.5)
    return c.finish()


def draw_shelf(wood="#c9a77c", books=True, columns=2) -> Image.Image:
    c = Canvas()
    w = _rgb(wood)
    c.shadow(192, 360, 110, 8, alpha=40)
    x0, x1, y0, y1 = 92, 292, 24, 356
    c.rrect(x0, y0, x1, y1, 2, _shade(w, 0.75))  # back panel
    c.rrect(x0, y0, x0 + 10, y1, 1, w)
    c.rrect(x1 - 10, y0, x1, y1, 1, w)
    rows = 5
    rng = np.random.default_rng(len(wood) + columns)
    book_cols = [(176, 58, 46), (44, 82, 130), (220, 190, 90), (70, 120, 80), (230, 230, 225), (60, 60, 60), (190, 110, 60)]
    for r in range(rows + 1):
        y = y0 + r * (y1 - y0) / rows
        c.rrect(x0, y - 4, x1, y + 6, 1, _shade(w, 1.08))
        if books and r < rows:
            x = x0 + 14
            while x < x1 - 30 and rng.random() < 0.93:
                bw = rng.integers(7, 14)
                bh = rng.integers(38, 56)
                col = book_cols[rng.integers(len(book_cols))]
                c.rrect(x, y + 6 + (62 - bh), x + bw, y + 62, 1, col)
                x += bw + 1
                if rng.random() < 0.12:
                    x += 26
    if columns > 1:
        c.rrect((x0 + x1) / 2 - 4, y0, (x0 + x1) / 2 + 4, y1, 1, w)
    return c.finish()


def draw_storage(color, handle="#a0a0a0", kind="drawers", wood_legs=None) -> Image.Image:
    c = Canvas()
    b = _rgb(color)
    c.shadow(192, 318, 150, 10)
    if wood_legs:
        _legs(c, [70, 314], 290, 318, _rgb(wood_legs), 10, 2)
    c.poly([(52, 70), (332, 70), (344, 88), (40, 88)], _shade(b, 1.12))  # top
    c.rrect(40, 88, 344, 292, 3, _shade(b, 0.9))
    h = _rgb(handle)
    if kind == "drawers":
        for r in range(4):
            y = 96 + r * 49
            c.gradient_rrect(48, y, 336, y + 44, 3, _shade(b, 1.02), _shade(b, 0.86))
            c.rrect(172, y + 18, 212, y + 25, 3, h)
    else:  # sideboard with doors
        for i in range(3):
            x = 48 + i * 97
            c.gradient_rrect(x, 96, x + 92, 284, 3, _shade(b, 1.03), _shade(b, 0.84), horizontal=True)
            c.rrect(x + 80 if i < 2 else x + 6, 170, x + 86 if i < 2 else x + 12, 210, 2, h)
    return c.finish()


def draw_plant(pot="#d9d4cc", leaf="#3f7d3a", kind="leafy") -> Image.Image:
    c = Canvas()
    p, lf = _rgb(pot), _rgb(leaf)
    c.shadow(192, 356, 70, 7, alpha=45)
    rng = np.random.default_rng(len(pot) + len(kind))
    if kind == "leafy":
        for i in range(16):
            ang = -math.pi / 2 + rng.uniform(-1.25, 1.25)
            L = rng.uniform(110, 190)
            x2, y2 = 192 + L * math.cos(ang), 250 + L * math.sin(ang)
            c.line([(192, 250), (x2, y2)], _shade(lf, 0.7), 2.5)
            leaf = Image.new("RGBA", (int(90 * SS), int(36 * SS)), (0, 0, 0, 0))
            ImageDraw.Draw(leaf).ellipse([0, 0, 90 * SS - 1, 36 * SS - 1], fill=_shade(lf, rng.uniform(0.75, 1.25)) + (255,))
            ImageDraw.Draw(leaf).line([(4 * SS, 18 * SS), (86 * SS, 18 * SS)], fill=_shade(lf, 0.6) + (255,), width=SS)
            leaf = leaf.rotate(-math.degrees(ang), expand=True, resample=Image.BICUBIC)
            c.img.alpha_composite(leaf, (int(x2 * SS - leaf.width / 2), int(y2 * SS - leaf.height / 2)))
    else:  # cactus / snake plant: tall upright blades
        for i in range(9):
            x = 150 + i * 10 + rng.uniform(-4, 4)
            top = rng.uniform(60, 150)
            c.poly([(x - 9, 262), (x + 9, 262), (x + 2, top), (x - 2, top)], _shade(lf, rng.uniform(0.8, 1.2)))
            c.line([(x, 262), (x, top + 10)], _shade(lf, 1.35), 1.5)
    c.poly([(136, 250), (248, 250), (232, 352), (152, 352)], p)
    c.poly([(136, 250), (192, 250), (192, 352), (152, 352)], _shade(p, 1.07))
    c.rrect(130, 244, 254, 262, 4, _shade(p, 0.9))
    return c.finish()


# ---------------------------------------------------------------------- the demo products
# (id, category, title, price EUR, colour name, drawing function, kwargs, style tags)
FURNITURE = [
    ("demo-sofa-1", "sofa", "Lindhav three-seat sofa", 899.0, "sage green", draw_sofa, {"color": "#8fa68a"}, "scandinavian"),
    ("demo-sofa-2", "sofa", "Osterby two-seat sofa", 649.0, "charcoal", draw_sofa, {"color": "#4a4d52", "seats": 2, "leg": "#222222", "arm": "square"}, "modern"),
    ("demo-sofa-3", "sofa", "Velora velvet sofa", 1190.0, "mustard", draw_sofa, {"color": "#c99a2e", "leg": "#b08d57"}, "mid-century"),
    ("demo-sofa-4", "sofa", "Kasper linen sofa", 799.0, "oatmeal", draw_sofa, {"color": "#d8cdb8", "arm": "square"}, "minimal"),
    ("demo-sofa-5", "sofa", "Navy chesterfield sofa", 1350.0, "navy", draw_sofa, {"color": "#2c3e63", "back_cushions": False, "leg": "#3b2a1e"}, "classic"),
    ("demo-armchair-1", "armchair", "Tove lounge armchair", 429.0, "terracotta", draw_armchair, {"color": "#c0643f"}, "mid-century"),
    ("demo-armchair-2", "armchair", "Hedda wingback chair", 559.0, "bottle green", draw_armchair, {"color": "#2f5d4a", "wing": True}, "classic"),
    ("demo-armchair-3", "armchair", "Nils boucle armchair", 489.0, "cream", draw_armchair, {"color": "#ece6da", "leg": "#c8a77a"}, "scandinavian"),
    ("demo-armchair-4", "armchair", "Ada reading chair", 379.0, "dusty pink", draw_armchair, {"color": "#c99a9a"}, "modern"),
    ("demo-armchair-5", "armchair", "Grey wingback armchair", 459.0, "grey", draw_armchair, {"color": "#7d8086", "wing": True, "leg": "#2a2a2a"}, "classic"),
    ("demo-chair-1", "chair", "Birk dining chair", 89.0, "natural oak", draw_chair, {"color": "#c49a6c", "wood": "#b8895a"}, "scandinavian"),
    ("demo-chair-2", "chair", "Cross-back bistro chair", 119.0, "black", draw_chair, {"color": "#2d2a28", "wood": "#2d2a28", "style": "cross"}, "industrial"),
    ("demo-chair-3", "chair", "Upholstered dining chair", 149.0, "teal", draw_chair, {"color": "#2f7f80", "wood": "#5a3d28", "style": "solid"}, "modern"),
    ("demo-chair-4", "chair", "White spindle chair", 99.0, "white", draw_chair, {"color": "#f2f2ef", "wood": "#e9e7e2"}, "farmhouse"),
    ("demo-chair-5", "chair", "Walnut cross chair", 139.0, "walnut", draw_chair, {"color": "#6b4a33", "wood": "#5b3d28", "style": "cross"}, "mid-century"),
    ("demo-table-1", "table", "Ask dining table", 499.0, "light oak", draw_table, {"top": "#caa47a"}, "scandinavian"),
    ("demo-table-2", "table", "Round pedestal table", 349.0, "white", draw_table, {"top": "#f1f0ec", "legs": "#d8d6d0", "shape": "round"}, "modern"),
    ("demo-table-3", "table", "Walnut writing desk", 429.0, "walnut", draw_table, {"top": "#6e4b32", "shape": "desk"}, "mid-century"),
    ("demo-table-4", "table", "Black steel table", 379.0, "black", draw_table, {"top": "#3a3836", "legs": "#1e1e1e"}, "industrial"),
    ("demo-table-5", "table", "Marble bistro table", 299.0, "grey marble", draw_table, {"top": "#d9d9d6", "legs": "#b39048", "shape": "round"}, "classic"),
    ("demo-lamp-1", "lamp", "Linen floor lamp", 129.0, "linen white", draw_lamp, {"shade": "#efe6d2", "body": "#2e2e2e"}, "modern"),
    ("demo-lamp-2", "lamp", "Ceramic table lamp", 79.0, "blue glaze", draw_lamp, {"shade": "#f3ede0", "body": "#3d6a9a", "kind": "table"}, "classic"),
    ("demo-lamp-3", "lamp", "Dome pendant lamp", 99.0, "black", draw_lamp, {"shade": "#2c2c2c", "body": "#b08d57", "kind": "pendant"}, "industrial"),
    ("demo-lamp-4", "lamp", "Brass floor lamp", 159.0, "brass", draw_lamp, {"shade": "#f7f1e3", "body": "#b08d57"}, "mid-century"),
    ("demo-lamp-5", "lamp", "Terracotta table lamp", 69.0, "terracotta", draw_lamp, {"shade": "#efe3cf", "body": "#b8643e", "kind": "table"}, "boho"),
    ("demo-rug-1", "rug", "Striped cotton rug", 149.0, "blue stripes", draw_rug, {"colors": ["#e9e4d8", "#2f4e7a", "#8aa4c8"]}, "coastal"),
    ("demo-rug-2", "rug", "Bordered wool rug", 299.0, "rust", draw_rug, {"colors": ["#b5532e", "#e7d2b0", "#5a2b1c"], "pattern": "border"}, "classic"),
    ("demo-rug-3", "rug", "Diamond kilim rug", 239.0, "multicolour", draw_rug, {"colors": ["#d8c7a5", "#b13f3a", "#2f5f6b", "#e0a93c"], "pattern": "diamonds"}, "boho"),
    ("demo-rug-4", "rug", "Grey stripe rug", 129.0, "grey", draw_rug, {"colors": ["#a7a9ab", "#6d7073", "#d2d3d4"]}, "minimal"),
    ("demo-rug-5", "rug", "Green bordered rug", 199.0, "green", draw_rug, {"colors": ["#4f7b5a", "#e5dcc3", "#2f4a36"], "pattern": "border"}, "scandinavian"),
    ("demo-shelf-1", "shelf", "Oak bookcase", 249.0, "oak", draw_shelf, {"wood": "#c9a77c"}, "scandinavian"),
    ("demo-shelf-2", "shelf", "White bookcase", 189.0, "white", draw_shelf, {"wood": "#eeeeea", "columns": 1}, "minimal"),
    ("demo-shelf-3", "shelf", "Walnut shelving unit", 329.0, "walnut", draw_shelf, {"wood": "#6b4a33"}, "mid-century"),
    ("demo-shelf-4", "shelf", "Black open shelf", 219.0, "black", draw_shelf, {"wood": "#2f2f2f", "columns": 1}, "industrial"),
    ("demo-shelf-5", "shelf", "Empty pine shelf", 149.0, "pine", draw_shelf, {"wood": "#dcbf8f", "books": False}, "farmhouse"),
    ("demo-storage-1", "storage", "Four-drawer chest", 279.0, "white", draw_storage, {"color": "#f1f0ec", "wood_legs": "#c9a77c"}, "scandinavian"),
    ("demo-storage-2", "storage", "Walnut sideboard", 549.0, "walnut", draw_storage, {"color": "#7a5238", "handle": "#c8a45c", "kind": "doors", "wood_legs": "#5b3d28"}, "mid-century"),
    ("demo-storage-3", "storage", "Sage chest of drawers", 319.0, "sage", draw_storage, {"color": "#9fb39a", "handle": "#e8e2d0"}, "modern"),
    ("demo-storage-4", "storage", "Black media sideboard", 399.0, "black", draw_storage, {"color": "#33312f", "kind": "doors", "handle": "#b08d57"}, "industrial"),
    ("demo-storage-5", "storage", "Oak dresser", 359.0, "oak", draw_storage, {"color": "#c49a6c", "handle": "#3a3a3a"}, "farmhouse"),
    ("demo-plant-1", "plant", "Fiddle leaf plant", 59.0, "green", draw_plant, {}, "boho"),
    ("demo-plant-2", "plant", "Snake plant in terracotta", 39.0, "green", draw_plant, {"pot": "#b8643e", "leaf": "#4c7a3a", "kind": "blades"}, "modern"),
    ("demo-plant-3", "plant", "Rubber plant, black pot", 49.0, "dark green", draw_plant, {"pot": "#2e2e2e", "leaf": "#2f5a33"}, "minimal"),
    ("demo-plant-4", "plant", "Sansevieria, white pot", 35.0, "green", draw_plant, {"pot": "#eeeeea", "leaf": "#5e8a44", "kind": "blades"}, "scandinavian"),
    ("demo-plant-5", "plant", "Monstera, woven basket", 69.0, "green", draw_plant, {"pot": "#c9a46a", "leaf": "#3e8a45"}, "boho"),
]

# More of each kind, so that "swap with similar products" can fill a 20-picture grid with
# distinct products (sofa, armchair, chair, table, lamp, rug: 20 each; shelf, storage, plant: 8).
# Generated from small tables: variant i of a category gets the i-th name and colour and cycles
# through the shapes, legs and styles (cycles of different lengths mix them). Ids continue the
# hand-written ones (demo-sofa-6, ...): add new entries at the end of a list so that every id
# keeps its product.
_OAK, _WALNUT, _BLACK, _BRASS, _ASH = "#b08d57", "#5b3d28", "#242424", "#b8963e", "#d6c4a4"
_VARIANTS = {
    # category: (drawer, colour keyword, base price, [(name, colour name, hex)], [shape kwargs],
    #            (leg keyword, [leg hex]), [title nouns per shape], [style tags])
    "sofa": (draw_sofa, "color", 780, [
        ("Ekvik", "dusty rose", "#c48b8f"), ("Mossby", "forest green", "#2f5a3c"), ("Rundvik", "rust", "#a4532e"),
        ("Saltholm", "light grey", "#b9bcc0"), ("Brenna", "cognac", "#8a4f2a"), ("Havsund", "petrol blue", "#2e5e6e"),
        ("Fjella", "ivory", "#e6dccb"), ("Solberga", "plum", "#6e3b5c"), ("Tallvik", "ochre", "#c08a3a"),
        ("Vinga", "slate blue", "#5b6f8f"), ("Dalsro", "taupe", "#9a8b7a"), ("Grenna", "olive", "#7b7a45"),
        ("Lovas", "burgundy", "#6f2434"), ("Aleby", "sky blue", "#8fb4d4"), ("Ymsen", "black", "#2e2e31")],
        [{"seats": 2}, {"seats": 3, "arm": "square"}, {"seats": 3, "back_cushions": False},
         {"seats": 2, "arm": "square", "back_cushions": False}, {"seats": 3}],
        ("leg", [_OAK, _BLACK, _WALNUT, _BRASS]),
        ["velvet two-seat sofa", "linen three-seat sofa", "tight-back sofa", "compact tight-back sofa", "three-seat sofa"],
        ["mid-century", "modern", "classic", "minimal", "scandinavian", "boho"]),
    "armchair": (draw_armchair, "color", 390, [
        ("Liv", "mustard", "#c99a2e"), ("Edda", "navy", "#2c3e63"), ("Sune", "sage green", "#8fa68a"),
        ("Maja", "rust", "#a4532e"), ("Olof", "charcoal", "#4a4d52"), ("Frida", "blush pink", "#d9a9a6"),
        ("Arvid", "olive", "#7b7a45"), ("Saga", "ivory", "#e6dccb"), ("Gorm", "cognac", "#8a4f2a"),
        ("Idun", "teal", "#2f7f80"), ("Rolf", "lavender", "#a89bc4"), ("Tyra", "camel", "#b98b5a"),
        ("Vidar", "forest green", "#2f5a3c"), ("Alma", "burgundy", "#6f2434"), ("Elof", "sky blue", "#8fb4d4")],
        [{}, {"wing": True}], ("leg", ["#c8a77a", "#5a3d28", "#2a2a2a"]),
        ["lounge armchair", "wingback chair"], ["modern", "classic", "scandinavian", "mid-century", "boho"]),
    "chair": (draw_chair, "color", 85, [
        ("Lund", "mustard", "#c99a2e"), ("Ebbe", "sage green", "#8fa68a"), ("Kalle", "navy", "#2c3e63"),
        ("Tilde", "terracotta", "#c0643f"), ("Harald", "light grey", "#b9bcc0"), ("Signe", "black", "#2d2a28"),
        ("Otto", "cream", "#ece6da"), ("Runa", "forest green", "#2f5a3c"), ("Bo", "dusty pink", "#c99a9a"),
        ("Freja", "rust", "#a4532e"), ("Ivar", "ochre", "#c08a3a"), ("Stina", "petrol blue", "#2e5e6e"),
        ("Njal", "charcoal", "#4a4d52"), ("Hedvig", "oatmeal", "#d8cdb8"), ("Torsten", "burgundy", "#6f2434")],
        [{"style": "solid"}, {"style": "slats"}, {"style": "cross"}],
        ("wood", ["#b8895a", _WALNUT, "#2d2a28", _ASH, "#8a5a35"]),
        ["upholstered dining chair", "spindle-back chair", "cross-back chair"],
        ["modern", "scandinavian", "farmhouse", "industrial", "mid-century"]),
    "table": (draw_table, "top", 360, [
        ("Ramsvik", "white oak", "#d8c3a0"), ("Koster", "black", "#2f2d2b"), ("Bjurvik", "walnut", "#6e4b32"),
        ("Orust", "white", "#eeede8"), ("Styrso", "teak", "#9a6a3c"), ("Smogen", "grey", "#9c9c98"),
        ("Tjorn", "ash", "#cdb994"), ("Marstrand", "espresso", "#4a3326"), ("Hven", "sage green", "#9fb39a"),
        ("Ven", "travertine", "#d8cbb3"), ("Grebbestad", "cherry", "#8e4a32"), ("Fjallbacka", "concrete grey", "#a5a29b"),
        ("Lysekil", "pine", "#dcbf8f"), ("Donso", "navy", "#2c3e63"), ("Kladesholmen", "smoked oak", "#7d6650")],
        [{"shape": "rect"}, {"shape": "round"}, {"shape": "desk"}],
        ("legs", [None, "#1e1e1e", "#b39048", "#8a8a86"]),
        ["dining table", "round pedestal table", "writing desk"], ["scandinavian", "industrial", "modern", "classic"]),
    "lamp": (draw_lamp, None, 75, [  # (floor, table, pendant) in turn: the colour is what you see most
        ("Alva", "chrome", {"body": "#9ea3a8", "shade": "#efe6d2"}),
        ("Juni", "sage green", {"body": "#7f9a7a", "shade": "#f1e9d8"}),
        ("Nora", "mustard", {"shade": "#d1a03a", "body": "#2a2a2a"}),
        ("Bruno", "walnut", {"body": "#5b3d28", "shade": "#e8dcc6"}),
        ("Elsa", "pink glaze", {"body": "#d49a9e", "shade": "#f3ede0"}),
        ("Knut", "navy", {"shade": "#2c3e63", "body": "#b08d57"}),
        ("Hugo", "olive", {"body": "#2a2a2a", "shade": "#a9ad7a"}),
        ("Ines", "green glaze", {"body": "#4f7b5a", "shade": "#efe6d2"}),
        ("Leif", "copper", {"shade": "#b06a3b", "body": "#6b3f22"}),
        ("Vera", "rust", {"body": "#b08d57", "shade": "#b5532e"}),
        ("Moa", "stone grey", {"body": "#8d8a84", "shade": "#f1e9d8"}),
        ("Ture", "forest green", {"shade": "#2f5a3c", "body": "#b08d57"}),
        ("Ulla", "teal", {"body": "#242424", "shade": "#2f7f80"}),
        ("Selma", "black glaze", {"body": "#2a2a2a", "shade": "#efe6d2"}),
        ("Axel", "grey", {"shade": "#7d8086", "body": "#2a2a2a"})],
        [{"kind": "floor"}, {"kind": "table"}, {"kind": "pendant"}],
        (None, []), ["floor lamp", "table lamp", "pendant lamp"], ["modern", "scandinavian", "mid-century", "industrial", "boho"]),
    "rug": (draw_rug, "colors", 140, [
        ("Ranna", "sage stripes", ["#e6e2d3", "#8fa68a", "#5f7a5c"]), ("Sarek", "ochre", ["#c08a3a", "#f0e2c2", "#6b4a2f"]),
        ("Kivik", "mustard", ["#d9a441", "#7b2f2a", "#f3ead6", "#2f4e7a"]),
        ("Bohus", "charcoal stripes", ["#4a4d52", "#d8d6cf", "#8d9093"]),
        ("Atran", "navy", ["#2c3e63", "#e5dcc3", "#8aa4c8"]), ("Vrena", "pink", ["#e3c1c1", "#b86b74", "#f5ece6", "#6e3b5c"]),
        ("Viskan", "terracotta stripes", ["#f0e2c8", "#c0643f", "#e0a07a"]), ("Lagan", "grey", ["#a7a9ab", "#f0efeb", "#4a4d52"]),
        ("Dalalven", "teal", ["#2f7f80", "#e8dfc8", "#c99a2e", "#1e4d4e"]),
        ("Ljusnan", "rainbow stripes", ["#f3efe6", "#c0643f", "#d9a441", "#4f7b5a", "#2f4e7a"]),
        ("Indal", "burgundy", ["#6f2434", "#e7d2b0", "#2c3e63"]), ("Ume", "beige", ["#d8cdb8", "#8a6a4a", "#efe8da", "#5a3d28"]),
        ("Pitea", "black and white stripes", ["#2b2b2b", "#f2f0ea", "#8d8d8d"]),
        ("Kalix", "forest green", ["#2f5a3c", "#e5dcc3", "#a4532e"]),
        ("Torne", "indigo", ["#e6e4dc", "#2f3f7a", "#b13f3a", "#7d8fb8"])],
        [{"pattern": "stripes"}, {"pattern": "border"}, {"pattern": "diamonds"}],
        (None, []), ["striped cotton rug", "bordered wool rug", "diamond kilim rug"],
        ["coastal", "classic", "boho", "minimal", "scandinavian"]),
    "shelf": (draw_shelf, "wood", 200, [("Boda", "ash", "#d9c8a6"), ("Lerum", "grey", "#8d9093"), ("Sjo", "cherry", "#8e4a32")],
              [{"columns": 1}, {}, {"books": False}], (None, []),
              ["narrow bookcase", "bookcase", "empty shelving unit"], ["scandinavian", "modern", "classic"]),
    "storage": (draw_storage, "color", 300, [("Kista", "navy", "#2c3e63"), ("Moln", "light grey", "#b9bcc0"),
                                             ("Teka", "teak", "#9a6a3c")],
                [{"kind": "doors", "handle": "#c8a45c"}, {"handle": "#3a3a3a", "wood_legs": "#c9a77c"},
                 {"kind": "doors", "handle": "#2a2a2a", "wood_legs": "#5b3d28"}],
                (None, []), ["sideboard", "chest of drawers", "media sideboard"], ["modern", "scandinavian", "mid-century"]),
    "plant": (draw_plant, None, 35, [("Calathea", "green", {"pot": "#9fb39a", "leaf": "#2f6b4a"}),
                                     ("Snake plant", "green", {"pot": "#2c3e63", "leaf": "#6a8f3a", "kind": "blades"}),
                                     ("Pothos", "light green", {"pot": "#a5a29b", "leaf": "#5fa04a"})],
              [{}, {}, {}], (None, []), ["in a sage pot", "in a navy pot", "in a concrete pot"], ["boho", "modern", "minimal"]),
}


def _variants() -> list[tuple]:
    """The generated products, as FURNITURE rows (deterministic: same tables, same rows).

    A colour entry's value is the drawer's ``colour keyword`` argument, or a dict of arguments."""
    rows = []
    for cat, (fn, colour_kw, base, colours, shapes, (leg_kw, legs), nouns, styles) in _VARIANTS.items():
        first = 1 + sum(1 for row in FURNITURE if row[1] == cat)
        for i, (name, colour, value) in enumerate(colours):
            kw = dict(shapes[i % len(shapes)])
            kw.update(value if isinstance(value, dict) else {colour_kw: value})
            if leg_kw and legs[i % len(legs)]:
                kw[leg_kw] = legs[i % len(legs)]
            price = round(base * (0.75 + 0.09 * ((i * 5) % 11)) / 10) * 10 - 1.0  # 0.75x .. 1.65x, ends in 9
            rows.append((f"demo-{cat}-{first + i}", cat, f"{name} {nouns[i % len(nouns)]}", price, colour, fn, kw,
                         styles[i % len(styles)]))
    return rows


FURNITURE += _variants()


# (id, makeup type, title, shade name, hex, finish, price EUR)
MAKEUP = [
    ("demo-lip-1", "lipstick", "Demo Velvet Lipstick", "Classic Red", "#b3202c", "matte", 19.0),
    ("demo-lip-2", "lipstick", "Demo Velvet Lipstick", "Brick", "#8e3b2e", "matte", 19.0),
    ("demo-lip-3", "lipstick", "Demo Velvet Lipstick", "Rosewood", "#9c4a56", "matte", 19.0),
    ("demo-lip-4", "lipstick", "Demo Satin Lipstick", "Nude Petal", "#c98a7d", "satin", 21.0),
    ("demo-lip-5", "lipstick", "Demo Satin Lipstick", "Coral Bay", "#e0624f", "satin", 21.0),
    ("demo-lip-6", "lipstick", "Demo Satin Lipstick", "Berry", "#7b1f45", "satin", 21.0),
    ("demo-lip-7", "lipstick", "Demo Gloss", "Clear Pink", "#e497a6", "gloss", 16.0),
    ("demo-lip-8", "lipstick", "Demo Gloss", "Cherry Shine", "#c2183a", "gloss", 16.0),
    ("demo-lip-9", "lipstick", "Demo Velvet Lipstick", "Plum Noir", "#4e1a2e", "matte", 19.0),
    ("demo-lip-10", "lipstick", "Demo Satin Lipstick", "Fuchsia", "#c2267a", "satin", 21.0),
    ("demo-lip-11", "lipstick", "Demo Satin Lipstick", "Mocha", "#7a4a3c", "satin", 21.0),
    ("demo-lip-12", "lipstick", "Demo Gloss", "Peach Glaze", "#e8a07e", "gloss", 16.0),
    ("demo-eye-1", "eyeshadow", "Demo Eye Shadow", "Champagne", "#e3c9a1", "shimmer", 14.0),
    ("demo-eye-2", "eyeshadow", "Demo Eye Shadow", "Bronze", "#9a6533", "shimmer", 14.0),
    ("demo-eye-3", "eyeshadow", "Demo Eye Shadow", "Taupe", "#8b7768", "matte", 12.0),
    ("demo-eye-4", "eyeshadow", "Demo Eye Shadow", "Smoky Grey", "#4e4b4d", "matte", 12.0),
    ("demo-eye-5", "eyeshadow", "Demo Eye Shadow", "Plum", "#6a3f5e", "satin", 13.0),
    ("demo-eye-6", "eyeshadow", "Demo Eye Shadow", "Navy Night", "#2a3556", "shimmer", 14.0),
    ("demo-eye-7", "eyeshadow", "Demo Eye Shadow", "Olive", "#6b6a3a", "satin", 13.0),
    ("demo-eye-8", "eyeshadow", "Demo Eye Shadow", "Rose Gold", "#c98f7e", "shimmer", 14.0),
    ("demo-blush-1", "blush", "Demo Blush", "Soft Pink", "#e8a0a8", "satin", 17.0),
    ("demo-blush-2", "blush", "Demo Blush", "Peach", "#f0a07a", "matte", 17.0),
    ("demo-blush-3", "blush", "Demo Blush", "Rose", "#c7707c", "satin", 17.0),
    ("demo-blush-4", "blush", "Demo Blush", "Berry Flush", "#a4405a", "matte", 17.0),
    ("demo-blush-5", "blush", "Demo Blush", "Terracotta", "#b8614a", "matte", 17.0),
    ("demo-blush-6", "blush", "Demo Blush", "Golden Glow", "#d9925e", "shimmer", 18.0),
]
# Foundation: 14 shades from very light to very deep (L* ~ 88 -> 25), three undertones.
_FOUNDATION = [
    ("Porcelain", "#f6e1cf"), ("Ivory", "#f1d5bb"), ("Light Beige", "#e9c6a4"), ("Sand", "#ddb48f"),
    ("Warm Beige", "#d4a37a"), ("Honey", "#c89167"), ("Golden", "#bd8256"), ("Caramel", "#a96f45"),
    ("Amber", "#956039"), ("Chestnut", "#7f4f30"), ("Mocha", "#6b4129"), ("Espresso", "#573523"),
    ("Ebony", "#43291c"), ("Deep Ebony", "#33201a"),
]
MAKEUP += [(f"demo-foundation-{i + 1}", "foundation", "Demo Skin Foundation", f"{i + 1:02d} {name}", hx,
            "satin" if i % 2 else "matte", 29.0) for i, (name, hx) in enumerate(_FOUNDATION)]


def render_demo_assets(out_dir: str | Path = ASSETS_DIR) -> list[Path]:
    """Draw every demo furniture product into ``out_dir`` as ``<id>.png`` (384 px, white background)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for pid, _cat, _title, _price, _colour, fn, kw, _tags in FURNITURE:
        p = out_dir / f"{pid}.png"
        fn(**kw).save(p, optimize=True)
        paths.append(p)
    return paths


def demo_rows() -> list[dict]:
    """The demo catalogue as import rows (image paths relative to the assets folder)."""
    rows = []
    for pid, cat, title, price, colour, _fn, _kw, tags in FURNITURE:
        rows.append({"id": pid, "category": cat, "title": title, "price": price, "currency": "EUR",
                     "url": f"https://example.com/demo/{pid}", "color_name": colour, "style_tags": tags,
                     "brand": "restyle demo", "description": f"Demo product drawn by restyle: {title.lower()}, {colour}.",
                     "image": f"{pid}.png"})
    for pid, mtype, title, shade, hx, finish, price in MAKEUP:
        rows.append({"id": pid, "category": "makeup", "title": title, "price": price, "currency": "EUR",
                     "url": f"https://example.com/demo/{pid}", "brand": "restyle demo", "makeup_type": mtype,
                     "shade_name": shade, "shade_hex": hx, "finish": finish, "color_hex": hx,
                     "description": f"Demo {mtype} shade {shade}, {finish} finish."})
    return rows


def _demo_fingerprint(assets: Path) -> str:
    h = hashlib.sha1(json.dumps(demo_rows(), sort_keys=True).encode())
    for pid, *_ in FURNITURE:
        p = assets / f"{pid}.png"
        h.update(p.read_bytes() if p.exists() else b"")
    return h.hexdigest()


def ensure_demo_catalog(settings, catalog=None, importer=None, assets_dir: str | Path = ASSETS_DIR):
    """Import the demo catalogue into the settings' catalogue (idempotent) and return the Catalog.

    The assets are drawn first if missing. A second call is a no-op unless the demo changed.
    """
    from catalog.importer import CatalogImporter, RowMapper
    from catalog.store import Catalog

    assets = Path(assets_dir)
    if any(not (assets / f"{pid}.png").exists() for pid, *_ in FURNITURE):
        render_demo_assets(assets)
    catalog = catalog or Catalog.open(settings)
    fp = _demo_fingerprint(assets)
    importer = importer or CatalogImporter.from_settings(settings, catalog)
    key = f"demo:{fp}:{importer.image_model}:{getattr(importer.text_embedder, 'model_name', None)}"
    if catalog.get_meta("demo") == key and all(pid in catalog for pid, *_ in FURNITURE):
        return catalog
    rows = demo_rows()
    report = importer.import_rows(rows, RowMapper(list({k for r in rows for k in r})), base_dir=assets, source=DEMO_SOURCE)
    if report.rejected:
        raise RuntimeError("demo catalogue rows were rejected (a bug): " + "; ".join(map(str, report.rejected[:3])))
    catalog.set_meta("demo", key)
    return catalog
