"""segment-anything backend for room items: :class:`SamSegmenter` and a registry of model builders."""

from pipelines.sam.registry import build_sam, build_sam_tiny, sam_model_registry
from pipelines.sam.segmenter import SamSegmenter, load_sam_weights

__all__ = ["SamSegmenter", "build_sam", "build_sam_tiny", "load_sam_weights", "sam_model_registry"]
