"""Renderers that put one product into one scene, adapting the room and try-on pipelines.

Both pipelines choose their products through the catalogue (the room pipeline through its search
component, the try-on pipeline through its catalogue). A preview must render one given product,
which may not be in the catalogue yet, so each renderer hands its pipeline a *pinned* source that
offers exactly that product. Everything else (item detection, placement, harmonisation, shade
rendering, fidelity figures) is the pipelines' own code path, the same the app uses.

Scene analysis (item detection, face analysis) is the expensive part; each renderer keeps it in a
small per-worker LRU cache keyed by scene id, so a scene is analysed once per worker.
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from pipelines.intake import load_image
from pipelines.preview.engine import RendererSet
from pipelines.preview.types import PreviewResult, Scene

# A product of category X fits an item labelled X; failing that, these look-alikes (in order).
SLOT_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "armchair": ("chair", "sofa"),
    "chair": ("armchair",),
    "sofa": ("armchair",),
    "shelf": ("storage",),
    "storage": ("shelf",),
    "cushion": ("sofa", "armchair"),
}


class SceneCache:
    """LRU of per-scene analyses: ``get(scene, compute)`` runs ``compute(scene)`` once per scene."""

    def __init__(self, size: int = 16):
        if size < 1:
            raise ValueError(f"cache size must be >= 1, got {size}")
        self.size = size
        self._d: OrderedDict[str, Any] = OrderedDict()
        self.misses = 0

    def get(self, scene: Scene, compute: Callable[[Scene], Any]) -> Any:
        if scene.id in self._d:
            self._d.move_to_end(scene.id)
            return self._d[scene.id]
        self.misses += 1
        value = compute(scene)
        self._d[scene.id] = value
        if len(self._d) > self.size:
            self._d.popitem(last=False)
        return value


def _search_hit(product, score: float = 1.0):
    try:
        from catalog.search import SearchHit

        return SearchHit(product=product, score=score)
    except (ImportError, TypeError):  # pragma: no cover - older catalogue without SearchHit kwargs
        from types import SimpleNamespace

        return SimpleNamespace(product=product, score=score)


class PinnedSearch:
    """A catalogue search that always answers with one product (the one being previewed).

    Same methods as ``catalog.search.CatalogSearch``; filters are ignored on purpose: the
    catalogue team wants this product in this scene whatever its price or colour.
    """

    def __init__(self):
        self.product = None

    def _hits(self, k: int = 1, *args, **kwargs) -> list:
        if self.product is None:
            raise ValueError("PinnedSearch: no product pinned")
        return [_search_hit(self.product)]

    def by_image(self, image, k: int = 1, filters=None, *args, **kwargs) -> list:
        return self._hits()

    def by_text(self, text, k: int = 1, filters=None, *args, **kwargs) -> list:
        return self._hits()

    def by_product(self, product_id, k: int = 1, filters=None, *args, **kwargs) -> list:
        return self._hits()

    def by_vector(self, vector, k: int = 1, filters=None, *args, **kwargs) -> list:
        return self._hits()


class PinnedCatalog:
    """A catalogue holding only the pinned product (``get``/``list``/``len`` of ``Catalog``)."""

    def __init__(self):
        self.product = None

    def get(self, product_id):
        return self.product if self.product is not None and self.product.id == product_id else None

    def list(self, category=None, makeup_type=None, **kwargs) -> list:
        p = self.product
        if p is None:
            return []
        if category is not None and p.category != category:
            return []
        if makeup_type is not None and p.makeup_type != makeup_type:
            return []
        return [p]

    def __len__(self) -> int:
        return 0 if self.product is None else 1

    def __iter__(self):
        return iter(self.list())


def pick_slot(items: list, category: str | None):
    """The item a product of ``category`` goes into: the most confident item with that label,
    else the most confident look-alike (see :data:`SLOT_ALTERNATIVES`); None when nothing fits."""
    if not category:
        return None
    for label in (category, *SLOT_ALTERNATIVES.get(category, ())):
        cands = [it for it in items if it.label == label]
        if cands:
            return max(cands, key=lambda it: (it.confidence, it.area))
    return None


class RoomRenderer:
    """Swaps a furniture product into the matching item ("slot") of a room photo.

    Args:
        pipeline: a ``pipelines.room.RoomPipeline`` whose search component is ``search``.
        search: the :class:`PinnedSearch` given to the pipeline.
        max_side: photos are read through intake with this pixel budget (settings limits).
    """

    kind = "room"

    def __init__(self, pipeline, search: PinnedSearch, *, max_pixels: int = 50_000_000, max_bytes: int = 25 * 1024 * 1024, cache_size: int = 16):
        self.pipeline = pipeline
        self.search = search
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.cache = SceneCache(cache_size)

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "RoomRenderer":
        from pipelines.room import RoomPipeline

        search = PinnedSearch()
        pipeline = RoomPipeline.from_settings(settings, catalog=PinnedCatalog(), search=search)
        return cls(pipeline, search, max_pixels=settings.max_image_pixels, max_bytes=settings.max_upload_bytes, **kwargs)

    def accepts(self, product) -> bool:
        return not getattr(product, "makeup_type", None)

    def analyse(self, scene: Scene):
        """(photo, RoomAnalysis) of ``scene``, cached."""

        def compute(s: Scene):
            image = load_image(s.path, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
            return image, self.pipeline.detect_items(image)

        return self.cache.get(scene, compute)

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        from pipelines.room.types import CombinationRequest

        image, analysis = self.analyse(scene)
        item = pick_slot(analysis.items, product.category)
        if item is None:
            found = ", ".join(sorted({it.label for it in analysis.items})) or "nothing"
            return PreviewResult(status="skipped", reason=f"no {product.category} in this room (found: {found})")
        self.search.product = product
        try:
            request = CombinationRequest(mode="swap_category", item_ids=[item.id], category=product.category, n=1, seed=seed)
            result = self.pipeline.combinations(image, analysis, request)
        finally:
            self.search.product = None
        if not result.combinations:
            raise ValueError(f"room pipeline made no combination for {product.id} in item {item.id} ({item.label})")
        combo = result.combinations[0]
        placed = [p.get("id") for p in combo.products]
        if product.id not in placed:
            raise ValueError(f"room pipeline placed {placed} instead of {product.id}")
        return PreviewResult(
            status="ok",
            image=combo.image,
            backend=combo.backend,
            fidelity=dict(combo.fidelity),
            description=combo.description,
            slot={"item_id": item.id, "label": item.label, "confidence": round(float(item.confidence), 4), "box": [int(v) for v in item.box]},
        )


class FaceRenderer:
    """Puts a makeup shade on the face(s) of a portrait.

    Args:
        pipeline: a ``pipelines.tryon.TryOnPipeline`` whose catalogue is ``catalog``.
        catalog: the :class:`PinnedCatalog` given to the pipeline.
    """

    kind = "face"

    def __init__(self, pipeline, catalog: PinnedCatalog, *, max_pixels: int = 50_000_000, max_bytes: int = 25 * 1024 * 1024, cache_size: int = 16):
        self.pipeline = pipeline
        self.catalog = catalog
        self.max_pixels = max_pixels
        self.max_bytes = max_bytes
        self.cache = SceneCache(cache_size)

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "FaceRenderer":
        from pipelines.tryon import TryOnPipeline

        catalog = PinnedCatalog()
        pipeline = TryOnPipeline.from_settings(settings, catalog=catalog)
        return cls(pipeline, catalog, max_pixels=settings.max_image_pixels, max_bytes=settings.max_upload_bytes, **kwargs)

    def accepts(self, product) -> bool:
        return bool(getattr(product, "makeup_type", None))

    def analyse(self, scene: Scene):
        def compute(s: Scene):
            image = load_image(s.path, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
            return image, self.pipeline.analyze(image)

        return self.cache.get(scene, compute)

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        from pipelines.tryon.types import LookRequest

        image, analysis = self.analyse(scene)
        if not analysis.faces:
            return PreviewResult(status="skipped", reason=f"no face found ({analysis.message})")
        self.catalog.product = product
        try:
            req = LookRequest(product_types=[product.makeup_type], product_id=product.id, n=1, seed=seed)
            result = self.pipeline.looks(image, analysis, req)
        finally:
            self.catalog.product = None
        if not result.looks:
            raise ValueError(f"try-on pipeline made no look for {product.id}")
        look = result.looks[0]
        placed = [p.get("id") for p in look.products]
        if product.id not in placed:
            raise ValueError(f"try-on pipeline applied {placed} instead of {product.id}")
        return PreviewResult(
            status="ok",
            image=look.image,
            backend=look.backend,
            fidelity=dict(look.fidelity),
            description=look.description,
            slot={"faces": len(analysis.faces), "region": product.makeup_type},
        )


class _Lazy:
    """Builds a renderer on first use, so a run with only rooms never loads the face models."""

    def __init__(self, kind: str, accepts: Callable[[Any], bool], build: Callable[[], Any]):
        self.kind = kind
        self._accepts = accepts
        self._build = build
        self._renderer = None

    def accepts(self, product) -> bool:
        return self._accepts(product)

    @property
    def renderer(self):
        if self._renderer is None:
            self._renderer = self._build()
        return self._renderer

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        return self.renderer.render(product, scene, seed=seed)


@dataclass
class DefaultRendererFactory:
    """The room and face renderers from settings (picklable: sent to each Ray worker)."""

    settings: Any

    def __call__(self) -> RendererSet:
        s = self.settings
        return RendererSet(
            [
                _Lazy("room", lambda p: not getattr(p, "makeup_type", None), lambda: RoomRenderer.from_settings(s)),
                _Lazy("face", lambda p: bool(getattr(p, "makeup_type", None)), lambda: FaceRenderer.from_settings(s)),
            ]
        )


@dataclass
class CustomRendererFactory:
    """``module:callable(settings) -> RendererSet``, imported in each worker."""

    module: str
    name: str
    settings: Any

    def __call__(self) -> RendererSet:
        fn = getattr(importlib.import_module(self.module), self.name)
        out = fn(self.settings)
        if not isinstance(out, RendererSet):
            out = RendererSet(list(out))
        return out
