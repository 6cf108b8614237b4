"""The catalogue product: one validated record per real (or demo) product.

Furniture and makeup share one model; makeup rows also carry ``makeup_type``, ``shade_hex`` and
``finish``. Validation normalises what it can (``"ABC"`` -> ``"#aabbcc"``, ``"Gloss"`` ->
``"gloss"``) and refuses what it cannot with a message that names the field and the value.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAKEUP_TYPES = ("lipstick", "eyeshadow", "blush", "foundation")
FINISHES = ("matte", "satin", "gloss", "shimmer")
MakeupType = Literal["lipstick", "eyeshadow", "blush", "foundation"]
Finish = Literal["matte", "satin", "gloss", "shimmer"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_ID = re.compile(r"^[\w.\-:/+ ]{1,128}$")
# Words retailers use for a finish -> the four we render.
_FINISH_ALIASES = {
    "matte": "matte", "matt": "matte", "velvet": "matte", "powder": "matte",
    "satin": "satin", "cream": "satin", "creamy": "satin", "natural": "satin", "dewy": "satin",
    "gloss": "gloss", "glossy": "gloss", "shine": "gloss", "lacquer": "gloss", "sheer": "gloss",
    "shimmer": "shimmer", "metallic": "shimmer", "glitter": "shimmer", "pearl": "shimmer", "frost": "shimmer",
}


def normalize_hex(value: Any) -> str:
    """``'#AbC'``, ``'aabbcc'`` -> ``'#aabbcc'``. Raises ValueError naming the bad value."""
    s = str(value).strip()
    m = _HEX.match(s)
    if not m:
        raise ValueError(f"malformed hex colour {s!r} (expected #rrggbb)")
    h = m.group(1).lower()
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    return "#" + h


def hex_to_rgb(h: str) -> tuple[int, int, int]:
    h = normalize_hex(h)
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


def rgb_to_hex(rgb) -> str:
    r, g, b = (int(max(0, min(255, round(float(c))))) for c in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


class Product(BaseModel):
    """One catalogue product.

    ``image_path`` / ``cutout_path`` are relative to the catalogue folder once imported.
    ``cutout_confidence`` is in [0, 1]; ``cutout_flagged`` is True when the cut-out is too uncertain
    to composite without a person checking it (the room pipeline then skips it or says so).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str
    title: str
    category: str
    price: float | None = None
    currency: str | None = None
    url: str | None = None
    description: str | None = None
    image_path: str | None = None
    image_url: str | None = None
    cutout_path: str | None = None
    cutout_confidence: float | None = Field(None, ge=0.0, le=1.0)
    cutout_flagged: bool = False
    color_hex: str | None = None
    color_name: str | None = None
    style_tags: list[str] = Field(default_factory=list)
    dimensions: str | None = None
    brand: str | None = None
    makeup_type: MakeupType | None = None
    shade_name: str | None = None
    shade_hex: str | None = None
    finish: Finish | None = None
    source: str | None = Field(None, description="Where the row came from (file name, 'demo').")

    @model_validator(mode="before")
    @classmethod
    def _blanks_are_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if _blank(v) and k not in ("id", "title", "category") else v) for k, v in data.items()}
        return data

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> str:
        if _blank(v):
            raise ValueError("missing id")
        s = str(v).strip()
        if not _ID.match(s):
            raise ValueError(f"id {s[:40]!r} has characters other than letters, digits and . - _ : / + space (or is over 128)")
        return s

    @field_validator("title", "category", mode="before")
    @classmethod
    def _required_text(cls, v: Any, info) -> str:
        if _blank(v):
            raise ValueError(f"missing {info.field_name}")
        return " ".join(str(v).split())

    @field_validator("category", mode="after")
    @classmethod
    def _category_lower(cls, v: str) -> str:
        return v.lower()

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, v: Any) -> float | None:
        if _blank(v):
            return None
        if isinstance(v, str):
            s = re.sub(r"[^\d.,\-]", "", v.strip())
            if s.count(",") == 1 and s.count(".") == 0:
                s = s.replace(",", ".")  # "12,50" (European decimal comma)
            s = s.replace(",", "")
            try:
                v = float(s)
            except ValueError:
                raise ValueError(f"bad price {v!r} (not a number)") from None
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"bad price {v!r} (not a number)") from None
        if not math.isfinite(f) or f < 0:
            raise ValueError(f"bad price {v!r} (must be a finite number >= 0)")
        return round(f, 2)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, v: Any) -> str | None:
        if _blank(v):
            return None
        s = str(v).strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", s):
            raise ValueError(f"bad currency {v!r} (expected a 3-letter ISO code such as EUR)")
        return s

    @field_validator("url", "image_url", mode="before")
    @classmethod
    def _url(cls, v: Any, info) -> str | None:
        if _blank(v):
            return None
        s = str(v).strip()
        if not re.match(r"^https?://[^\s/]+", s):
            raise ValueError(f"bad {info.field_name} {s[:60]!r} (only http:// and https:// links)")
        return s

    @field_validator("color_hex", "shade_hex", mode="before")
    @classmethod
    def _hex(cls, v: Any) -> str | None:
        return None if _blank(v) else normalize_hex(v)

    @field_validator("style_tags", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> list[str]:
        if _blank(v):
            return []
        if isinstance(v, str):
            v = re.split(r"[;,|]", v)
        return [t.strip().lower() for t in v if str(t).strip()]

    @field_validator("makeup_type", mode="before")
    @classmethod
    def _makeup_type(cls, v: Any) -> str | None:
        if _blank(v):
            return None
        s = str(v).strip().lower().replace(" ", "").replace("_", "")
        s = {"lipsticks": "lipstick", "eyeshadows": "eyeshadow", "blusher": "blush", "blushes": "blush"}.get(s, s)
        if s not in MAKEUP_TYPES:
            raise ValueError(f"makeup type {v!r} is not supported (one of {', '.join(MAKEUP_TYPES)})")
        return s

    @field_validator("finish", mode="before")
    @classmethod
    def _finish(cls, v: Any) -> str | None:
        if _blank(v):
            return None
        s = _FINISH_ALIASES.get(str(v).strip().lower())
        if s is None:
            raise ValueError(f"finish {v!r} is not one of {', '.join(FINISHES)}")
        return s

    @field_validator("title", "description", "color_name", "brand", "shade_name", "dimensions", mode="after")
    @classmethod
    def _strip(cls, v: str | None) -> str | None:
        return None if v is None else v.strip()

    @model_validator(mode="after")
    def _makeup_needs_shade(self) -> "Product":
        if self.makeup_type is not None and self.shade_hex is None:
            raise ValueError(f"{self.makeup_type} has no shade hex")
        return self

    @property
    def is_makeup(self) -> bool:
        return self.makeup_type is not None

    def ref(self) -> dict:
        """What a result shows about this product (combination / look cards)."""
        return {
            "id": self.id, "title": self.title, "brand": self.brand, "category": self.category,
            "price": self.price, "currency": self.currency, "url": self.url,
            "shade_hex": self.shade_hex, "shade_name": self.shade_name,
        }

    def search_text(self) -> str:
        """The text a text embedding is made from (title, category, colour, tags, description)."""
        desc = " ".join((self.description or "").split()[:40])  # the first sentences say what it is
        parts = [self.title, self.brand, self.category, self.color_name, self.makeup_type, self.shade_name,
                 self.finish, " ".join(self.style_tags), desc]
        return ". ".join(p for p in parts if p)
