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

from pipelines.preview.engine import RendererSet, seed_global_rngs
from pipelines.preview.types import PreviewResult, Scene, unit_seed

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
        seed_global_rngs(unit_seed("", scene.id))  # the analysis must not depend on what ran before
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
    """The room pipeline's search while a preview renders: the pinned product answers every
    query (filters ignored on purpose: the team wants this product in this scene whatever its
    price or colour). With nothing pinned it defers to the real search (``base``), which the
    item labeller uses for its catalogue votes; without one it finds nothing.
    """

    def __init__(self, base=None):
        self.base = base
        self.product = None

    def _answer(self, method: str, *args, **kwargs) -> list:
        if self.product is not None:
            return [_search_hit(self.product)]
        if self.base is None:
            raise ValueError("no catalogue search index (and no product pinned)")
        return getattr(self.base, method)(*args, **kwargs)

    def by_image(self, *args, **kwargs) -> list:
        return self._answer("by_image", *args, **kwargs)

    def by_text(self, *args, **kwargs) -> list:
        return self._answer("by_text", *args, **kwargs)

    def by_product(self, *args, **kwargs) -> list:
        return self._answer("by_product", *args, **kwargs)


class PinnedCatalog:
    """The catalogue as the room pipeline sees it during a preview: the pinned product (which
    may be new, not imported yet) in front of the real catalogue ``base``."""

    def __init__(self, base=None):
        self.base = base
        self.product = None

    def get(self, product_id):
        if self.product is not None and self.product.id == product_id:
            return self.product
        return self.base.get(product_id) if self.base is not None else None

    def path(self, rel):
        """Absolute path of a catalogue file (absolute paths of new products pass through)."""
        from pathlib import Path

        if rel is None:
            return None
        if Path(rel).is_absolute() or self.base is None:
            return Path(rel)
        return self.base.path(rel)


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
        pipeline: a ``pipelines.room.RoomPipeline`` built with ``search`` and ``catalog``.
        search: the :class:`PinnedSearch` given to the pipeline.
        catalog: the :class:`PinnedCatalog` given to the pipeline.
    """

    kind = "room"

    def __init__(self, pipeline, search: PinnedSearch, catalog: PinnedCatalog, *, cache_size: int = 16):
        self.pipeline = pipeline
        self.search = search
        self.catalog = catalog
        self.cache = SceneCache(cache_size)

    @classmethod
    def from_settings(cls, settings, catalog=None, **kwargs) -> "RoomRenderer":
        from pipelines.room import RoomPipeline

        if catalog is None:
            from catalog.store import Catalog

            catalog = Catalog.open(settings)
        base_search = None
        try:
            from catalog.search import CatalogSearch

            base_search = CatalogSearch.from_settings(settings, catalog)
        except Exception:  # noqa: BLE001 - no index: items are labelled without catalogue votes
            base_search = None
        search, pinned = PinnedSearch(base_search), PinnedCatalog(catalog)
        pipeline = RoomPipeline.from_settings(settings, catalog=pinned, search=search)
        return cls(pipeline, search, pinned, **kwargs)

    def accepts(self, product) -> bool:
        return not getattr(product, "makeup_type", None)

    def analyse(self, scene: Scene):
        """(photo in the analysed frame, RoomAnalysis) of ``scene``, cached per worker."""

        def compute(s: Scene):
            image = self.pipeline.prepare(s.path)
            return image, self.pipeline.detect_items(image)

        return self.cache.get(scene, compute)

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        from pipelines.room.types import CombinationRequest

        problem = None
        if not getattr(product, "cutout_path", None):
            problem = "no cut-out: the product photo could not be cut out"
        elif getattr(product, "cutout_flagged", False):
            problem = f"cut-out flagged (confidence {product.cutout_confidence or 0:.2f}): not placed until the photo is fixed"
        if problem:
            return PreviewResult(status="skipped", reason=problem)
        image, analysis = self.analyse(scene)
        item = pick_slot(analysis.items, product.category)
        if item is None:
            found = ", ".join(sorted({it.label for it in analysis.items})) or "nothing"
            return PreviewResult(status="skipped", reason=f"no {product.category} in this room (found: {found})")
        self.search.product = self.catalog.product = product
        try:
            request = CombinationRequest(mode="swap_category", item_ids=[item.id], category=product.category, n=1, seed=seed)
            result = self.pipeline.combinations(image, analysis, request)
        finally:
            self.search.product = self.catalog.product = None
        if not result.combinations:
            raise ValueError(f"room pipeline made no combination for {product.id} in item {item.id} ({item.label})")
        combo = result.combinations[0]
        placed = [p.get("id") for p in combo.products]
        if placed != [product.id]:
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
    """Puts one makeup shade on every face of a portrait (the try-on pipeline's own renderer)."""

    kind = "face"

    def __init__(self, pipeline, *, cache_size: int = 16):
        self.pipeline = pipeline
        self.cache = SceneCache(cache_size)

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "FaceRenderer":
        from pipelines.tryon import TryOnPipeline

        return cls(TryOnPipeline.from_settings(settings), **kwargs)

    def accepts(self, product) -> bool:
        return bool(getattr(product, "makeup_type", None))

    def analyse(self, scene: Scene):
        def compute(s: Scene):
            image = self.pipeline.check_inputs(s.path)
            return image, self.pipeline.analyze(image)

        return self.cache.get(scene, compute)

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        image, analysis = self.analyse(scene)
        if not analysis.faces:
            return PreviewResult(status="skipped", reason=analysis.message or "no face found")
        if not getattr(product, "shade_hex", None):
            return PreviewResult(status="skipped", reason="product has no shade colour (shade_hex)")
        look = self.pipeline.render(image, analysis, [product], seed=seed)
        fid = look.fidelity.get(str(product.id), look.fidelity)
        return PreviewResult(
            status="ok",
            image=look.image,
            backend=look.backend,
            fidelity=dict(fid) if isinstance(fid, dict) else {},
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
