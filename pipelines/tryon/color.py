"""Colour conversions used by tone estimation and rendering.

Conventions: sRGB as float32 in [0, 1] (or uint8 0..255 where named), CIE L*a*b* under D65 with
L* in [0, 100] and a*, b* roughly in [-128, 127] (OpenCV's float32 Lab, which matches
skimage.color.rgb2lab to ~0.01), linear RGB as float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000


def hex_to_rgb(hex_code: str) -> tuple[int, int, int]:
    """'#RRGGBB' or 'RRGGBB' (case-insensitive) -> (r, g, b) ints 0..255.

    Raises:
        ValueError: anything else, naming the bad value.
    """
    s = str(hex_code).strip().lstrip("#")
    if len(s) == 3:
        s = "".join(c * 2 for c in s)
    if len(s) != 6 or any(c not in "0123456789abcdefABCDEF" for c in s):
        raise ValueError(f"not a hex colour: {hex_code!r} (expected '#RRGGBB')")
    return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)


def rgb_to_hex(rgb) -> str:
    r, g, b = (int(round(float(np.clip(v, 0, 255)))) for v in rgb)
    return f"#{r:02X}{g:02X}{b:02X}"


def srgb_to_lab(rgb01: np.ndarray) -> np.ndarray:
    """(..., 3) float sRGB in [0, 1] -> (..., 3) float32 Lab."""
    a = np.asarray(rgb01, np.float32)
    shp = a.shape
    # One long row, not one long column: cv2 pays a cost per row.
    flat = np.clip(a, 0, 1).reshape(shp if a.ndim == 3 else (1, -1, 3))
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(shp)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """(..., 3) float Lab -> (..., 3) float32 sRGB clipped to [0, 1]."""
    a = np.asarray(lab, np.float32)
    shp = a.shape
    rgb = cv2.cvtColor(np.ascontiguousarray(a.reshape(shp if a.ndim == 3 else (1, -1, 3))), cv2.COLOR_Lab2RGB)
    return np.clip(rgb.reshape(shp), 0, 1)


def hex_to_lab(hex_code: str) -> np.ndarray:
    """(3,) float32 Lab of a hex colour."""
    return srgb_to_lab(np.array(hex_to_rgb(hex_code), np.float32) / 255.0)


def srgb_to_linear(rgb01: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb01, np.float32)
    return np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    a = np.clip(np.asarray(lin, np.float32), 0, 1)
    return np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055).astype(np.float32)


def delta_e(lab1, lab2) -> np.ndarray:
    """CIEDE2000 between Lab colours (broadcasting)."""
    return deltaE_ciede2000(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))


def ita_degrees(lab: np.ndarray) -> float:
    """Individual Typology Angle arctan((L* - 50) / b*) in degrees, from one Lab colour."""
    L, _, b = (float(v) for v in lab)
    return float(np.degrees(np.arctan2(L - 50.0, max(b, 1e-3))))


def hue_degrees(lab: np.ndarray) -> float:
    """CIE hue angle h_ab = atan2(b*, a*) in degrees."""
    return float(np.degrees(np.arctan2(float(lab[2]), float(lab[1]))))
