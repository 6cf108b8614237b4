"""Plain data types shared by the room segmenters (classical and SAM) and the room pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MaskProposal:
    """One region of a room photo.

    Attributes:
        mask: (H, W) bool array, True inside the region; same size as the photo it came from.
        score: confidence in [0, 1] that the region is one whole object.
        box: (x0, y0, x1, y1) in pixels, x to the right, y down, x1/y1 exclusive.
        source: which segmenter made it, e.g. "sam-vit_b" or "proposals".
    """

    mask: np.ndarray
    score: float
    box: tuple[int, int, int, int]
    source: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_mask(cls, mask: np.ndarray, score: float, source: str = "") -> "MaskProposal":
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            raise ValueError("empty mask")
        return cls(mask.astype(bool), float(score), (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), source)


# --- room pipeline results ------------------------------------------------------------------

ROOM_LABELS = (
    "sofa", "armchair", "chair", "table", "bed", "lamp", "rug", "shelf", "storage", "mirror",
    "cushion", "plant", "curtain", "picture", "object",
)
COMBINATION_MODES = ("swap_similar", "swap_text", "swap_category", "erase", "rearrange")


@dataclass
class Item:
    """One piece of furniture found in a room photo.

    Attributes:
        id: index of the item inside its :class:`RoomAnalysis` (stable for that analysis).
        label: a room word from :data:`ROOM_LABELS` ("sofa", "lamp", ... or "object").
        confidence: in [0, 1], how sure we are that the mask is one whole item of that label.
        mask: (H, W) bool, True on the item, same size as the analysed photo.
        box: (x0, y0, x1, y1) pixels, x right, y down, x1/y1 exclusive.
        source: the segmenter that made the mask ("proposals", "grabcut", "sam-vit_b", ...).
        scores: label -> probability, the labeller's top guesses (for the UI and for debugging).
    """

    id: int
    label: str
    confidence: float
    mask: np.ndarray
    box: tuple[int, int, int, int]
    source: str = ""
    scores: dict = field(default_factory=dict)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    @property
    def contact_y(self) -> int:
        """Row (pixels) where the item meets the floor: the bottom of its mask."""
        return int(self.box[3] - 1)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "label": self.label, "confidence": round(float(self.confidence), 4),
            "box": [int(v) for v in self.box], "area": self.area, "source": self.source,
            "scores": {k: round(float(v), 4) for k, v in self.scores.items()},
        }


@dataclass
class RoomAnalysis:
    """What :meth:`RoomPipeline.detect_items` found.

    Attributes:
        items: furniture, most confident first.
        size: (width, height) of the analysed photo in pixels (the photo after intake and resizing
            to ``settings.work_max_side``); all masks and boxes are in this frame.
        backend: the segmentation backend, e.g. "proposals+efficientnet" or "sam".
        horizon_y: estimated row of the horizon (vanishing line of the floor), pixels; may be
            negative or beyond the photo. Used to scale items with the floor's perspective.
        floor_mask: (H, W) bool estimate of the visible floor, or None.
        timings: seconds per stage.
    """

    items: list[Item]
    size: tuple[int, int]
    backend: str
    horizon_y: float = 0.0
    floor_mask: np.ndarray | None = None
    timings: dict = field(default_factory=dict)

    def get(self, item_id: int) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise ValueError(f"no item with id {item_id} (known ids: {[it.id for it in self.items]})")

    def to_dict(self) -> dict:
        return {
            "items": [it.to_dict() for it in self.items], "size": list(self.size), "backend": self.backend,
            "horizon_y": round(float(self.horizon_y), 2), "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass
class CombinationRequest:
    """What to make: ``n`` variations of the room editing the items ``item_ids`` ("slots").

    Attributes:
        mode: "swap_similar" (products that look like the current item), "swap_text" (products
            matching ``text``), "swap_category" (products of ``category``, default the item's
            label), "erase" (remove the items), "rearrange" (move the first item; to ``target``
            when given, else to positions the pipeline proposes along the floor).
        item_ids: ids from :class:`RoomAnalysis`; 1 or more.
        text: query for "swap_text".
        category: catalogue category filter (for any swap mode).
        price_min, price_max: price filter for swaps.
        target: (x, y) pixel in the analysed frame where the moved item should stand (its floor
            contact point) for "rearrange".
        n: how many combinations (at most).
        seed: the same seed gives the same combinations.
    """

    mode: str
    item_ids: list[int]
    text: str | None = None
    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    target: tuple[int, int] | None = None
    n: int = 20
    seed: int = 0

    def to_dict(self) -> dict:
        return {
            "mode": self.mode, "item_ids": list(self.item_ids), "text": self.text, "category": self.category,
            "price_min": self.price_min, "price_max": self.price_max,
            "target": list(self.target) if self.target is not None else None, "n": self.n, "seed": self.seed,
        }


@dataclass
class Combination:
    """One edited room.

    Attributes:
        image: the edited photo (PIL RGB, same size as the analysed photo).
        products: ``Product.ref()`` dicts of the catalogue products placed (empty for erase /
            rearrange).
        backend: what rendered it ("composite" on the CPU, or the diffusion backend's name).
        seed: the seed of this combination.
        timings: seconds per stage for this combination.
        fidelity: ``ssim_outside`` (SSIM of the photo outside the edited region, 1.0 = unchanged),
            ``changed_fraction`` (share of pixels inside the edited region), and per product
            ``product_similarity`` (cosine of image embeddings, rendered product vs its catalogue
            photo; a list, one per product).
        description: one line for people ("Swapped the sofa for KIVIK, 449 EUR").
        edited_mask: (H, W) bool, where this combination may differ from the photo.
        score: ranking score (higher first).
    """

    image: "object"
    products: list[dict]
    backend: str
    seed: int
    timings: dict
    fidelity: dict
    description: str
    edited_mask: np.ndarray | None = None
    score: float = 0.0

    def to_dict(self) -> dict:
        return {
            "products": self.products, "backend": self.backend, "seed": self.seed,
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "fidelity": self.fidelity, "description": self.description, "score": round(float(self.score), 4),
        }


@dataclass
class CombinationSet:
    """The answer to one :class:`CombinationRequest`: combinations, best first."""

    combinations: list[Combination]
    before: "object"
    backend: str
    request: CombinationRequest
    timings: dict = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict:
        return {
            "combinations": [c.to_dict() for c in self.combinations], "backend": self.backend,
            "request": self.request.to_dict(), "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "message": self.message,
        }
