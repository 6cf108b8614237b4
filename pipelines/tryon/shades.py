"""Shade matching: which catalogue shades suit a skin tone.

* Foundation: ranked by CIEDE2000 between the shade and the skin's colour on the scale
  foundation swatches use (the Monk swatch lightness of the estimated level, the estimate's own
  chroma and hue), plus a penalty when the shade's undertone disagrees with the skin's.
* Lipstick and blush: a shade suits a tone when it contrasts enough in lightness to read on the
  skin (light skin: anything but near-skin nudes; dark skin: deeper or richer shades rather
  than pale pastels that look chalky), and its hue family agrees with the undertone (warm:
  corals, brick reds, oranges; cool: blue-reds, berries, pinks).
"""

from __future__ import annotations

import numpy as np

from pipelines.tryon.color import delta_e, hex_to_lab, hue_degrees
from pipelines.tryon.tone import MONK_LAB, undertone as _undertone
from pipelines.tryon.types import SkinTone


def skin_reference_lab(tone: SkinTone) -> np.ndarray:
    """The skin colour as a swatch: the Monk level's lightness, the estimate's chroma/hue."""
    mk = MONK_LAB[int(tone.monk) - 1].astype(np.float64)
    a, b = float(tone.lab[1]), float(tone.lab[2])
    if tone.user_corrected or (abs(a) + abs(b)) < 1e-3:
        return mk
    return np.array([mk[0], 0.5 * (a + mk[1]), 0.5 * (b + mk[2])])


def foundation_score(shade_hex: str, tone: SkinTone) -> float:
    """Lower is better: CIEDE2000 to the skin reference + 4 per undertone step of mismatch."""
    lab = hex_to_lab(shade_hex)
    de = float(delta_e(lab, skin_reference_lab(tone)))
    order = {"cool": 0, "neutral": 1, "warm": 2}
    mismatch = abs(order[_undertone(lab)] - order.get(tone.undertone, 1))
    return de + 4.0 * mismatch


def colour_score(shade_hex: str, tone: SkinTone, kind: str) -> float:
    """Lower is better, for lipstick, blush and eyeshadow."""
    lab = hex_to_lab(shade_hex)
    skin = skin_reference_lab(tone)
    contrast = abs(float(lab[0] - skin[0]))
    want = 12.0 if kind == "blush" else 18.0  # blush should be subtler than lipstick
    score = max(0.0, want - contrast) / want * 10.0
    if kind != "eyeshadow":
        h = hue_degrees(lab)
        chroma = float(np.hypot(lab[1], lab[2]))
        if chroma > 8:
            warmish = h > 30.0  # orange-reds and corals sit above ~30 degrees
            if tone.undertone == "warm" and not warmish:
                score += 3.0
            elif tone.undertone == "cool" and warmish:
                score += 3.0
    # Pale pastels on deep skin look chalky: shades much lighter than deep skin are demoted.
    if skin[0] < 55 and lab[0] > skin[0] + 12:
        score += 6.0 + 0.2 * float(lab[0] - skin[0] - 12)
    return score


def rank_products(products: list, tone: SkinTone | None, kind: str) -> list:
    """``products`` sorted best first for ``tone`` (unchanged order when ``tone`` is None)."""
    valid = [p for p in products if getattr(p, "shade_hex", None)]
    if tone is None:
        return valid
    key = (lambda p: foundation_score(p.shade_hex, tone)) if kind == "foundation" else (lambda p: colour_score(p.shade_hex, tone, kind))
    scored = []
    for p in valid:
        try:
            scored.append((key(p), p))
        except ValueError:
            continue  # malformed hex in the catalogue: skip the shade, keep going
    return [p for _, p in sorted(scored, key=lambda t: t[0])]
