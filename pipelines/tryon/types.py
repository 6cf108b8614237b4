"""Typed inputs and outputs of the try-on pipeline."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from pipelines.tryon.landmarks import Face

MAKEUP_TYPES = ("lipstick", "eyeshadow", "blush", "foundation")
FINISHES = ("matte", "satin", "gloss", "shimmer")
UNDERTONES = ("warm", "neutral", "cool")
TONE_GROUPS = ("light", "medium", "dark")


@dataclass
class Light:
    """How the photo's lighting departs from a neutral, well-exposed reference.

    Multiplying the photo's linear RGB by ``gains * exposure`` neutralises it (white balance,
    then exposure). A product colour seen in the photo is the reverse: its linear RGB divided
    by the same factors.

    Attributes:
        gains: (3,) float32 per-channel white-balance gains (green is 1).
        exposure: scalar exposure gain applied after white balance.
        source: what the estimate came from, e.g. "sclera" or "scene".
    """

    gains: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))
    exposure: float = 1.0
    source: str = "none"

    @property
    def total(self) -> np.ndarray:
        return np.asarray(self.gains, np.float32) * np.float32(self.exposure)

    def to_dict(self) -> dict:
        return {"gains": [round(float(g), 4) for g in self.gains], "exposure": round(float(self.exposure), 4), "source": self.source}


@dataclass
class SkinTone:
    """A skin-tone estimate after lighting correction.

    Attributes:
        monk: Monk Skin Tone level, 1 (lightest) .. 10 (darkest).
        confidence: 0..1, how much to trust ``monk`` (low for tiny, greyscale or badly lit skin).
        ita: Individual Typology Angle in degrees of the corrected skin colour.
        undertone: "warm", "neutral" or "cool".
        swatch_hex: the corrected skin colour as '#RRGGBB'.
        group: "light", "medium" or "dark" from ``ita`` (> 41, 10..41, < 10 degrees).
        raw_ita: ITA of the uncorrected skin pixels (what the camera saw).
        lab: (L*, a*, b*) of the corrected skin colour.
        corrected_by: how lighting was corrected (e.g. "white balance: scene; exposure: sclera").
        user_corrected: True when the user set ``monk`` (the estimate is then replaced).
    """

    monk: int
    confidence: float
    ita: float
    undertone: Literal["warm", "neutral", "cool"]
    swatch_hex: str
    group: str = "medium"
    raw_ita: float = 0.0
    lab: tuple[float, float, float] = (0.0, 0.0, 0.0)
    corrected_by: str = ""
    user_corrected: bool = False

    def to_dict(self) -> dict:
        return {
            "monk": int(self.monk),
            "confidence": round(float(self.confidence), 3),
            "ita": round(float(self.ita), 2),
            "undertone": self.undertone,
            "swatch_hex": self.swatch_hex,
            "group": self.group,
            "raw_ita": round(float(self.raw_ita), 2),
            "lab": [round(float(v), 2) for v in self.lab],
            "corrected_by": self.corrected_by,
            "user_corrected": self.user_corrected,
        }


@dataclass
class FaceAnalysis:
    """Everything found in one photo.

    Attributes:
        faces: detected faces, largest first (empty when none was found).
        regions: name -> (H, W) bool mask, the union over the faces analysed: "mouth", "lips",
            "mouth_interior", "eyes", "brows", "eyeshadow", "cheeks", "face_oval", "face_skin".
            Empty when no face was found.
        skin_mask: (H, W) bool, all visible skin of the people in the photo (face, neck, ears,
            arms, hands...), with or without a face.
        person_mask: (H, W) bool, the people in the photo.
        tone: the skin-tone estimate, or None when there is too little skin to estimate.
        light: the lighting estimate used to correct the tone and adapt rendered shades.
        backend: which components made this, e.g. "mediapipe-face-mesh+skin-gmm".
        message: plain words for the user ("2 faces found", "no face found: ...").
        size: (W, H) of the analysed image.
        face_regions: per-face region dicts (same keys as ``regions``), for rendering.
    """

    faces: list[Face]
    regions: dict[str, np.ndarray]
    skin_mask: np.ndarray
    tone: SkinTone | None
    backend: str
    message: str
    person_mask: np.ndarray | None = None
    light: Light = field(default_factory=Light)
    size: tuple[int, int] = (0, 0)
    face_regions: list[dict[str, np.ndarray]] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "faces": [f.to_dict() for f in self.faces],
            "regions": {k: int(v.sum()) for k, v in self.regions.items()},
            "skin_pixels": int(self.skin_mask.sum()),
            "tone": self.tone.to_dict() if self.tone else None,
            "light": self.light.to_dict(),
            "backend": self.backend,
            "message": self.message,
            "size": list(self.size),
            "timings": {k: round(float(v), 2) for k, v in self.timings.items()},
        }


@dataclass
class LookRequest:
    """What looks to make.

    Attributes:
        product_types: makeup types combined in each look (a subset of lipstick, eyeshadow,
            blush, foundation).
        brand, price_min, price_max: catalogue filters.
        product_id: all shades of one product (one look per shade) instead of combinations.
        n: how many looks (>= 1).
        seed: makes the choice of combinations reproducible.
        tone_override: the user's own Monk level (1..10); it replaces the estimate everywhere.
        opacity: None uses each type's natural strength; otherwise 0..1 for every product.
    """

    product_types: list[str] = field(default_factory=lambda: ["lipstick", "eyeshadow", "blush"])
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    product_id: str | None = None
    n: int = 20
    seed: int = 0
    tone_override: int | None = None
    opacity: float | None = None


def _png_data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@dataclass
class Look:
    """One rendered look.

    Attributes:
        image: the photo wearing the look (RGB, same size as the analysed photo).
        products: ``Product.ref()`` dicts of the products worn, each with "makeup_type",
            "finish" and "opacity" added.
        backend: the renderer that made it (e.g. "lab-transfer-cpu").
        description: one line for people, e.g. "Ruby Woo lipstick + Taupe eyeshadow".
        fidelity: per product id, {"delta_e": CIEDE2000 of the rendered mean colour (on the
            lighting-corrected photo) vs the shade, "texture_corr": correlation of the region's
            lightness with the original's}.
        timings: milliseconds per step.
    """

    image: Image.Image
    products: list[dict]
    backend: str
    description: str
    fidelity: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self, include_image: bool = False) -> dict:
        d = {
            "products": self.products,
            "backend": self.backend,
            "description": self.description,
            "fidelity": self.fidelity,
            "timings": {k: round(float(v), 2) for k, v in self.timings.items()},
            "seed": self.seed,
        }
        if include_image:
            d["image"] = _png_data_url(self.image)
        return d


@dataclass
class LookSet:
    """N looks for one photo, plus the photo before, the tone used and the backend."""

    looks: list[Look]
    before: Image.Image
    tone: SkinTone | None
    backend: str
    request: LookRequest | None = None
    message: str = ""

    def to_dict(self, include_images: bool = False) -> dict:
        from dataclasses import asdict

        return {
            "looks": [lk.to_dict(include_image=include_images) for lk in self.looks],
            "tone": self.tone.to_dict() if self.tone else None,
            "backend": self.backend,
            "request": asdict(self.request) if self.request else None,
            "message": self.message,
        }
