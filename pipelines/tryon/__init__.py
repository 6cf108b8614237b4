"""Face try-on: regions, all visible skin, skin tone, and makeup looks from catalogue shades.

    from pipelines.tryon import TryOnPipeline, LookRequest
    pipe = TryOnPipeline.from_settings(settings, catalog)
    analysis = pipe.analyze(photo)
    looks = pipe.looks(photo, analysis, LookRequest(n=20))
"""

from pipelines.tryon.landmarks import Face, FaceMesh, PersonSegmenter
from pipelines.tryon.pipeline import TryOnPipeline, product_ref
from pipelines.tryon.types import FaceAnalysis, Light, Look, LookRequest, LookSet, SkinTone

__all__ = [
    "Face", "FaceAnalysis", "FaceMesh", "Light", "Look", "LookRequest", "LookSet", "PersonSegmenter",
    "SkinTone", "TryOnPipeline", "product_ref",
]
