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
