"""Catalogue search: by image ("shop similar" on a crop of a room photo), by text, and by product
("more like this"), with filters.

Each hit carries its product and a cosine score (higher is closer). Filters are exact: a hit
always satisfies every filter, and a query returns ``min(k, number of matching products)`` hits
however selective the filter is (see :mod:`catalog.index`).

Indexes are built from the vectors stored in the catalogue, saved under ``catalog_dir/index/``
and rebuilt when the catalogue's version changes or the embedding model does.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from catalog.index import VectorIndex, default_factory
from catalog.products import Product, hex_to_rgb
from catalog.store import Catalog

DEFAULT_MAX_COLOR_DISTANCE = 25.0


@dataclass
class Filters:
    """Restrictions on hits. ``None`` means "any".

    ``price_min`` / ``price_max`` exclude products without a price; ``color_hex`` keeps products
    whose colour (``color_hex``, or ``shade_hex`` for makeup) is within ``max_color_distance``
    (CIE76 Delta E, default 25) of it.
    """

    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    color_hex: str | None = None
    max_color_distance: float | None = None
    makeup_type: str | None = None
    brand: str | None = None

    def check(self) -> None:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError(f"price_min ({self.price_min}) is above price_max ({self.price_max})")
        if self.color_hex is not None:
            hex_to_rgb(self.color_hex)  # raises ValueError naming the malformed hex
        if self.max_color_distance is not None and self.max_color_distance < 0:
            raise ValueError("max_color_distance must be >= 0")

    @property
    def empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__dataclass_fields__)


@dataclass
class SearchHit:
    product: Product
    score: float

    def to_dict(self) -> dict:
        return {**self.product.ref(), "score": round(float(self.score), 4),
                "cutout_flagged": self.product.cutout_flagged}


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(rgb, dtype=np.float64).reshape(-1, 1, 3) / 255.0).reshape(-1, 3)


class _Meta:
    """Per-row product attributes of an index, as arrays, for vectorised filtering."""

    def __init__(self, products: list[Product | None]):
        n = len(products)
        self.category = np.array([p.category if p else "" for p in products], dtype=object)
        self.makeup = np.array([(p.makeup_type or "") if p else "" for p in products], dtype=object)
        self.brand = np.array([(p.brand or "").lower() if p else "" for p in products], dtype=object)
        self.price = np.array([p.price if p and p.price is not None else np.nan for p in products], dtype=np.float64)
        rgb = np.full((n, 3), np.nan)
        for i, p in enumerate(products):
            h = p and (p.shade_hex or p.color_hex)
            if h:
                rgb[i] = hex_to_rgb(h)
        self.lab = np.full((n, 3), np.nan)
        ok = ~np.isnan(rgb[:, 0])
        if ok.any():
            self.lab[ok] = _lab(rgb[ok])
        self.exists = np.array([p is not None for p in products])

    def allowed(self, f: Filters, exclude_rows=()) -> np.ndarray | None:
        """Row positions passing ``f`` (None: every row, no filter)."""
        if f.empty and not len(exclude_rows):
            return None
        m = self.exists.copy()
        if f.category is not None:
            m &= self.category == f.category.lower()
        if f.makeup_type is not None:
            m &= self.makeup == f.makeup_type
        if f.brand is not None:
            m &= self.brand == f.brand.lower()
        if f.price_min is not None:
            m &= ~np.isnan(self.price) & (self.price >= f.price_min)
        if f.price_max is not None:
            m &= ~np.isnan(self.price) & (self.price <= f.price_max)
        if f.color_hex is not None:
            target = _lab(np.array(hex_to_rgb(f.color_hex)))[0]
            d = np.linalg.norm(self.lab - target, axis=1)
            m &= ~np.isnan(d) & (d <= (f.max_color_distance if f.max_color_distance is not None else DEFAULT_MAX_COLOR_DISTANCE))
        if len(exclude_rows):
            m[list(exclude_rows)] = False
        return np.flatnonzero(m)


class CatalogSearch:
    """Search a :class:`Catalog` by image, text or product.

    Args:
        catalog: the catalogue.
        image_embedder / text_embedder: from :mod:`catalog.embeddings` (loaded from settings on
            first use when None).
        image_model: the stored image-vector model name to search (default: the importer's recipe
            for ``image_embedder``).
        factory: FAISS factory string; None picks exact or approximate by catalogue size.
        settings: used to load embedders lazily.
    """

    def __init__(self, catalog: Catalog, image_embedder=None, text_embedder=None, *, image_model: str | None = None,
                 factory: str | None = None, settings=None, persist: bool = True):
        self.catalog = catalog
        self._image_embedder = image_embedder
        self._text_embedder = text_embedder
        self._image_model = image_model
        self.factory = factory
        self.settings = settings
        self.persist = persist
        self._lock = threading.RLock()
        self._indexes: dict[tuple[str, str], tuple[VectorIndex, _Meta]] = {}

    @classmethod
    def from_settings(cls, settings, catalog: Catalog | None = None, **kw) -> "CatalogSearch":
        return cls(catalog or Catalog.open(settings), settings=settings, **kw)

    # ------------------------------------------------------------------ embedders
    @property
    def image_embedder(self):
        if self._image_embedder is None:
            from catalog.embeddings import ImageEmbedder

            self._image_embedder = ImageEmbedder.from_settings(self.settings) if self.settings else ImageEmbedder()
        return self._image_embedder

    @property
    def text_embedder(self):
        if self._text_embedder is None:
            from catalog.embeddings import TextEmbedder

            self._text_embedder = TextEmbedder.from_settings(self.settings) if self.settings else TextEmbedder()
        return self._text_embedder

    @property
    def image_model(self) -> str:
        if self._image_model is None:
            from catalog.importer import IMAGE_VIEW

            self._image_model = f"{self.image_embedder.model_name}|{IMAGE_VIEW}"
        return self._image_model

    # ------------------------------------------------------------------ indexes
    def index(self, kind: str, model: str) -> tuple[VectorIndex, _Meta]:
        """The (index, row metadata) for vectors of ``kind`` and ``model``, current with the catalogue."""
        version = self.catalog.version
        with self._lock:
            cached = self._indexes.get((kind, model))
            if cached and cached[0].version == version:
                return cached
            path = self.catalog.index_dir / f"{kind}-{hashlib.sha1(model.encode()).hexdigest()[:12]}.faiss"
            idx = None
            if self.persist and path.is_file():
                try:
                    idx = VectorIndex.load(path)
                    if idx.version != version or idx.model != model or (self.factory and idx.factory != self.factory):
                        idx = None
                except (ValueError, OSError, RuntimeError):
                    idx = None  # unreadable or stale: rebuild below
            if idx is None:
                ids, vecs = self.catalog.get_embeddings(kind, model)
                if not ids:
                    raise LookupError(
                        f"the catalogue has no {kind} vectors for model {model!r}: import products (or re-import "
                        "after changing the model) first")
                idx = VectorIndex.build(vecs, ids, self.factory or default_factory(len(ids)), model=model, version=version)
                if self.persist:
                    idx.save(path)
            products = self.catalog.get_many(idx.ids)
            meta = _Meta([products.get(pid) for pid in idx.ids])
            self._indexes[(kind, model)] = (idx, meta)
            return idx, meta

    def _search(self, kind: str, model: str, query: np.ndarray, k: int, filters: Filters | None,
                exclude: tuple[str, ...] = ()) -> list[SearchHit]:
        return self._search_many(kind, model, np.atleast_2d(query), k, filters, exclude)[0]

    def _search_many(self, kind: str, model: str, queries: np.ndarray, k: int, filters: Filters | None,
                     exclude: tuple[str, ...] = ()) -> list[list[SearchHit]]:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        filters = filters or Filters()
        filters.check()
        idx, meta = self.index(kind, model)
        exclude_rows = [r for r in (idx.row_of(pid) for pid in exclude) if r is not None]
        allowed = meta.allowed(filters, exclude_rows)
        per_query = idx.search(queries, k, allowed_rows=allowed)
        products = self.catalog.get_many(sorted({pid for hits in per_query for pid in hits.ids}))
        return [[SearchHit(products[pid], float(s)) for pid, s in zip(hits.ids, hits.scores) if pid in products]
                for hits in per_query]

    # ------------------------------------------------------------------ public API
    def by_image(self, image: Image.Image, k: int = 10, filters: Filters | None = None, flip: bool = True) -> list[SearchHit]:
        """Products that look like ``image`` (a product photo or a crop of a room photo).

        ``flip`` averages the embedding of the image and its mirror (furniture faces either way).
        """
        if not isinstance(image, Image.Image):
            raise ValueError(f"by_image needs a PIL image, got {type(image).__name__}")
        views = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)] if flip else [image]
        q = self.image_embedder.embed(views).mean(axis=0)
        q /= max(np.linalg.norm(q), 1e-12)
        return self._search("image", self.image_model, q, k, filters)

    def by_image_vectors(self, vectors: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[list[SearchHit]]:
        """:meth:`by_image` for many queries at once, from embeddings made by ``self.image_embedder``
        (float32 (N, D), L2-normalised; one batched index search). Returns one hit list per row."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        return self._search_many("image", self.image_model, vectors, k, filters)

    def by_text(self, text: str, k: int = 10, filters: Filters | None = None) -> list[SearchHit]:
        """Products whose description matches ``text`` (e.g. "green velvet armchair")."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("by_text needs a non-empty text")
        q = self.text_embedder.embed([text.strip()])[0]
        return self._search("text", self.text_embedder.model_name, q, k, filters)

    def by_product(self, product_id: str, k: int = 10, filters: Filters | None = None) -> list[SearchHit]:
        """More like this: products closest to ``product_id``'s image (its text when it has no image)."""
        if self.catalog.get(product_id) is None:
            raise KeyError(f"no product with id {product_id!r}")
        for kind, model in (("image", self.image_model), ("text", self.text_embedder.model_name)):
            try:
                idx, _ = self.index(kind, model)
            except LookupError:
                continue
            row = idx.row_of(product_id)
            if row is not None:
                return self._search(kind, model, idx.vectors[row], k, filters, exclude=(product_id,))
        raise LookupError(f"product {product_id!r} has no stored vectors: re-import it")
