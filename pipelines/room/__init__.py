"""Room redesign: find the furniture in a photo, erase / rearrange / swap it for real catalogue
products, and return N ranked combinations. Entry point: :class:`RoomPipeline`."""

from pipelines.room.pipeline import RoomPipeline
from pipelines.room.segment import ClassicalSegmenter
from pipelines.room.types import (
    Combination, CombinationRequest, CombinationSet, Item, MaskProposal, RoomAnalysis,
)

__all__ = [
    "RoomPipeline", "ClassicalSegmenter", "Combination", "CombinationRequest", "CombinationSet", "Item",
    "MaskProposal", "RoomAnalysis",
]
