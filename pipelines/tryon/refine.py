"""Refining mesh regions with image evidence (lips)."""

from __future__ import annotations

import numpy as np

from pipelines.tryon.landmarks import Face


def refine_mouth(rgb: np.ndarray, face: Face, regions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The mesh's mouth as is (refinement comes next)."""
    return regions
