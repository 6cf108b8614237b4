"""Catalogue previews at scale: each product rendered into each template scene where it fits
(a sofa into the sofa slot of a room, a lipstick on each face), resumably, in-process or on Ray,
with a JSON manifest, a coverage report and an HTML contact sheet.

    from pipelines.preview import PreviewRunner, DefaultRendererFactory, default_scenes
    summary = PreviewRunner(run_dir, DefaultRendererFactory(settings)).run(products, default_scenes())
    summary = PreviewRunner(run_dir, DefaultRendererFactory(settings)).run(products, scenes, executor="ray")

The command line is ``restyle preview`` (see :mod:`pipelines.preview.cli`).
"""

from pipelines.preview.engine import PreviewRunner, Renderer, RendererSet, RunLocked, RunSummary, plan_units
from pipelines.preview.renderers import DefaultRendererFactory, FaceRenderer, RoomRenderer
from pipelines.preview.sources import default_scenes, discover_scenes, read_product_file
from pipelines.preview.types import PreviewResult, Scene, WorkUnit

__all__ = [
    "DefaultRendererFactory", "FaceRenderer", "PreviewResult", "PreviewRunner", "Renderer", "RendererSet", "RoomRenderer",
    "RunLocked", "RunSummary", "Scene", "WorkUnit", "default_scenes", "discover_scenes", "plan_units", "read_product_file",
]
