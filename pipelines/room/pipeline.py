"""RoomPipeline: photo in, items out; erase, rearrange and swap them; N ranked combinations.

Components come in through the constructor (nothing global):

* ``segmenter``: :class:`~pipelines.room.segment.ClassicalSegmenter` (CPU default) or
  ``pipelines.sam.SamSegmenter``; both offer ``propose(image)`` and ``from_prompts(...)``.
* ``labeler``: :class:`~pipelines.room.labels.FurnitureLabeler` (ImageNet classifier + catalogue
  votes) naming each proposal.
* ``search``: ``catalog.search.CatalogSearch`` for candidate products; ``embedder``: an image
  embedder (``embed(list[PIL]) -> (N, D)``) for the product-similarity fidelity figure.
* ``refiner``: optional ``pipelines.diffusion.RoomDiffusionRenderer``; when given, every
  composite is refined inside its edited region by diffusion (GPU with weights). Without it the
  CPU compositor's result is final and the backend is "composite".

All masks, boxes and points are in the *analysed frame*: the photo after intake and resizing to
``work_max_side`` (``RoomAnalysis.size``).
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pipelines.intake import load_image
from pipelines.room.composite import (
    Sprite, contact_shadow, fit_standing, harmonise, paste, room_light, warp_to_floor,
)
from pipelines.room.fill import fill_hole, hole_for_item
from pipelines.room.geometry import estimate_floor, estimate_horizon, perspective_scale
from pipelines.room.labels import FURNITURE, proposal_crop
from pipelines.room.types import (
    COMBINATION_MODES, Combination, CombinationRequest, CombinationSet, Item, MaskProposal, RoomAnalysis,
)

FLAT_CATEGORIES = ("rug",)
FLOOR_CATEGORIES = ("sofa", "armchair", "chair", "table", "bed", "rug")  # stand on the floor  # lie on the floor: warped onto it rather than stood up
WALL_CATEGORIES = ("mirror", "shelf", "picture", "curtain")  # may hang: no contact shadow
# When a catalogue has fewer matching products than combinations asked for, a product's mirrored
# placement fills the grid only when the mirror is visibly another picture: mirror_difference of
# its cut-out above this. Measured on cut-outs: the demo's drawn products that are symmetric but
# for their shading score at most 0.051 (sofas <= 0.015, armchairs <= 0.018, chairs <= 0.029,
# pendant lamps lit from the left 0.045-0.051); asymmetric drawings score more (desks >= 0.137,
# plants >= 0.079, striped rugs >= 0.11). Real catalogue photos (IKEA, mostly three-quarter
# views): sofas >= 0.065, armchairs >= 0.126, 90% of chairs >= 0.097; frontal lamps and round
# tables 0.02-0.065, so a few near-symmetric ones still get a mirror. tests/test_room_parts.py
# checks the demo side.
MIRROR_MIN_DIFFERENCE = 0.06


class RoomPipeline:
    """See the module docstring.

    Args:
        segmenter: has ``propose(np.ndarray) -> list[MaskProposal]`` and ``from_prompts(...)``.
        labeler: has ``label(np.ndarray, list[MaskProposal]) -> list[(label, conf, scores)]``;
            None leaves every item "object".
        search: a ``CatalogSearch`` (needed for the swap modes).
        catalog: a ``Catalog`` (cut-out paths are resolved against it).
        embedder: image embedder for ``product_similarity`` (None: the figure is left out, said so).
        refiner: optional diffusion refiner (``render(images, masks, ...)``).
        work_max_side, max_image_pixels, max_upload_bytes: intake limits (from settings).
        max_items: most items kept by :meth:`detect_items`.
        min_confidence: items below this labelled confidence are dropped (except "object" items
            kept to fill up to ``max_items`` when they are clearly objects).
        segmentation_backend: the name recorded in results ("proposals+efficientnet", "sam").
        refine_kwargs: extra arguments for the refiner's ``render`` (steps, strength, ...).
        similarity_embedder: embedder for the product-similarity figure (default ``embedder``);
            both sides of the cosine (rendered crop and catalogue photo) use it.
    """

    def __init__(
        self,
        segmenter,
        labeler=None,
        search=None,
        catalog=None,
        embedder=None,
        refiner=None,
        *,
        work_max_side: int = 1024,
        max_image_pixels: int = 50_000_000,
        max_upload_bytes: int = 25 * 1024 * 1024,
        num_combinations: int = 20,
        max_items: int = 12,
        min_confidence: float = 0.2,
        segmentation_backend: str | None = None,
        refine_kwargs: dict | None = None,
        similarity_embedder=None,
    ):
        self.segmenter = segmenter
        self.labeler = labeler
        self.search = search
        self.catalog = catalog
        self.embedder = embedder
        # The product-similarity figure needs only a rough look: a smaller input is 3x cheaper.
        self.similarity_embedder = similarity_embedder or embedder
        self.refiner = refiner
        self.work_max_side = work_max_side
        self.max_image_pixels = max_image_pixels
        self.max_upload_bytes = max_upload_bytes
        self.num_combinations = num_combinations
        self.max_items = max_items
        self.min_confidence = min_confidence
        if segmentation_backend is None:
            seg = getattr(segmenter, "source", type(segmenter).__name__)
            segmentation_backend = f"{seg}+{labeler.backend}" if labeler is not None else str(seg)
        self.segmentation_backend = segmentation_backend
        # Passed to the refiner's render() (num_inference_steps, strength, guidance_scale...).
        self.refine_kwargs = dict(refine_kwargs or {})
        self._sprites: dict[str, Sprite] = {}
        self._mirror_diffs: dict[str, float] = {}
        self._product_vecs: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings, catalog=None, *, search=None, embedder=None) -> "RoomPipeline":
        """The best backends ``settings`` allow (SAM / diffusion with weights, CPU defaults otherwise).

        Args:
            catalog: a ``catalog.store.Catalog``; opened from settings when None.
        """
        from app.backends import choose

        if embedder is None:
            from catalog.embeddings import ImageEmbedder

            embedder = ImageEmbedder.from_settings(settings)
        seg_backend = choose("room_segmentation", settings)
        if seg_backend == "sam":
            from pipelines.sam import SamSegmenter

            segmenter = SamSegmenter.from_checkpoint(settings.sam_checkpoint, settings.sam_model_type,
                                                     settings.resolved_device(), settings=settings)
        else:
            from pipelines.room.segment import ClassicalSegmenter

            segmenter = ClassicalSegmenter()
        if catalog is None:
            from catalog.store import Catalog

            catalog = Catalog.open(settings)
        if search is None:
            try:
                from catalog.search import CatalogSearch

                search = CatalogSearch.from_settings(settings, catalog)
            except Exception:  # noqa: BLE001 - no index yet: swaps will say so, detection still works
                search = None
        from pipelines.room.labels import FurnitureLabeler

        labeler = FurnitureLabeler(embedder, search=search)
        refiner = None
        gen_backend = choose("room_generation", settings)
        if gen_backend != "composite":
            from pipelines.diffusion import RoomDiffusionRenderer

            refiner = RoomDiffusionRenderer.from_settings(settings, family="sd15" if gen_backend.endswith("sd15") else "sdxl")
        similarity_embedder = embedder
        if getattr(embedder, "backend", "") == "efficientnet-lite0":
            from catalog.embeddings import ImageEmbedder

            similarity_embedder = ImageEmbedder(device=settings.resolved_device(), size=128)
        return cls(
            segmenter, labeler, search=search, catalog=catalog, embedder=embedder, refiner=refiner,
            similarity_embedder=similarity_embedder,
            work_max_side=settings.work_max_side, max_image_pixels=settings.max_image_pixels,
            max_upload_bytes=settings.max_upload_bytes, num_combinations=settings.num_combinations,
            segmentation_backend=f"{seg_backend}" if seg_backend == "sam" else f"proposals+{getattr(embedder, 'backend', 'classifier')}",
        )

    @property
    def generation_backend(self) -> str:
        return getattr(self.refiner, "backend", "composite") if self.refiner is not None else "composite"

    # ------------------------------------------------------------------ input
    def prepare(self, image) -> Image.Image:
        """The analysed frame of ``image`` (PIL, path or bytes): through intake (limits, EXIF
        orientation, RGB) and resized so its long side is at most ``work_max_side``."""
        img = load_image(image, max_bytes=self.max_upload_bytes, max_pixels=self.max_image_pixels)
        s = self.work_max_side / max(img.size)
        if s < 1:
            img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS)
        return img

    def _frame(self, image, analysis: RoomAnalysis) -> np.ndarray:
        """``image`` in ``analysis``'s frame; ValueError if it cannot be the analysed photo."""
        if isinstance(image, np.ndarray):
            if image.shape[:2] != tuple(analysis.size)[::-1] or image.ndim != 3 or image.dtype != np.uint8:
                raise ValueError(f"array image must be (H, W, 3) uint8 of the analysed size {analysis.size}, got {image.shape}")
            return image
        img = image if isinstance(image, Image.Image) and image.size == tuple(analysis.size) else self.prepare(image)
        if img.size != tuple(analysis.size):
            if abs(img.width / img.height - analysis.size[0] / analysis.size[1]) > 0.01:
                raise ValueError(
                    f"this photo ({img.width}x{img.height}) is not the analysed one ({analysis.size[0]}x{analysis.size[1]})"
                )
            img = img.resize(tuple(analysis.size), Image.Resampling.LANCZOS)
        return np.asarray(img.convert("RGB"))

    # ------------------------------------------------------------------ items
    def detect_items(self, image) -> RoomAnalysis:
        """Find the furniture in a room photo.

        Args:
            image: PIL image, path or bytes (goes through intake).
        Returns:
            :class:`RoomAnalysis` with items most confident first.
        """
        t0 = time.perf_counter()
        img = self.prepare(image)
        arr = np.asarray(img)
        t1 = time.perf_counter()
        proposals = self.segmenter.propose(arr)
        t2 = time.perf_counter()
        horizon = estimate_horizon(arr)  # the labeller's wall rules need it
        labels = (self.labeler.label(arr, proposals, horizon_y=horizon) if self.labeler is not None
                  else [("object", 0.0, {})] * len(proposals))
        t3 = time.perf_counter()
        items = self._select_items(proposals, labels, arr.shape[:2], horizon)
        union = np.zeros(arr.shape[:2], bool)
        for it in items:
            union |= it.mask
        floor = estimate_floor(arr, horizon, union)
        t4 = time.perf_counter()
        return RoomAnalysis(
            items=items, size=img.size, backend=self.segmentation_backend, horizon_y=horizon, floor_mask=floor,
            timings={"intake": t1 - t0, "proposals": t2 - t1, "labels": t3 - t2, "geometry": t4 - t3, "total": t4 - t0},
        )

    def _select_items(self, proposals: list[MaskProposal], labels, shape, horizon_y: float) -> list[Item]:
        """Rank labelled proposals and drop duplicates (same thing twice, or a part of a kept item
        with the same name).

        The classifier's furniture mass says *whether* a region is furniture (weakly: ImageNet
        spreads furniture over few classes), its relative distribution says *which*; the
        segmenter's objectness says how clean the region is. A flat, wide region lying wholly on
        the floor is a rug whatever the classifier thinks (ImageNet has few rug photos).
        """
        H, W = shape
        scored = []
        for p, (label, conf, scores) in zip(proposals, labels):
            if self.labeler is None:
                scored.append((p.score, p, "object", p.score, {}))
                continue
            scores = dict(scores)
            x0, y0, x1, y1 = p.box
            below = H - horizon_y
            if (y0 > horizon_y + 0.15 * below and y1 > horizon_y + 0.6 * below
                    and (x1 - x0) > 3.0 * (y1 - y0) and (y1 - y0) > 0.06 * H):
                scores["rug"] = scores.get("rug", 0.0) + 0.3
            # Floor-standing furniture touches the floor: below the horizon. A region ending
            # above it is on the wall (a picture, a shelf, a lamp), whatever it looks like.
            if y1 < horizon_y + 0.05 * H:
                for k in FLOOR_CATEGORIES:
                    scores.pop(k, None)
            # A "sofa" or "bed" the size of a cushion is a cushion.
            if p.mask.mean() < 0.025:
                for k in ("sofa", "bed"):
                    if k in scores:
                        scores["cushion"] = scores.get("cushion", 0.0) + scores.pop(k)
            mass = sum(v for k, v in scores.items() if k in FURNITURE)
            if mass < 0.02:
                continue
            label = max((k for k in scores if k in FURNITURE), key=lambda k: scores[k])
            share = scores[label] / mass  # how clearly it is *this* piece of furniture
            evidence = min(1.0, 3.0 * mass)
            conf = float(np.clip(0.45 * evidence + 0.25 * share + 0.3 * p.score, 0.0, 1.0))
            if conf < self.min_confidence:
                continue
            scored.append((conf, p, label, conf, {k: round(v, 4) for k, v in sorted(scores.items(), key=lambda kv: -kv[1])[:3]}))
        scored.sort(key=lambda t: -t[0])
        kept: list[tuple] = []
        for cand in scored:
            rank, p, label, conf, scores = cand
            dup = False
            for j, (qrank, q, qlabel, *_) in enumerate(kept):
                inter = np.logical_and(p.mask, q.mask).sum()
                pa, qa = p.mask.sum(), q.mask.sum()
                if inter / max(pa + qa - inter, 1) > 0.6:
                    dup = True
                elif qlabel == label and inter / max(min(pa, qa), 1) > 0.6:
                    dup = True  # a part of an item already kept (or the item around a kept part)
                    # The whole beats its part (a sofa's seat found before the sofa) when its
                    # outline is as clean and it is not the part plus half the room.
                    if inter / max(qa, 1) > 0.8 and qa < pa <= 4 * qa and p.score >= 0.9 * q.score:
                        kept[j] = (qrank, p, label, kept[j][3], kept[j][4])
                if dup:
                    break
            if not dup and len(kept) < self.max_items:
                kept.append(cand)
        return [
            Item(id=i, label=label, confidence=float(conf), mask=p.mask, box=tuple(int(v) for v in p.box),
                 source=p.source, scores=scores)
            for i, (rank, p, label, conf, scores) in enumerate(kept)
        ]

    def item_at(self, analysis: RoomAnalysis, point: tuple[float, float]) -> Item | None:
        """The item under pixel ``point`` = (x, y) of the analysed frame (the smallest one when
        items overlap), or None."""
        x, y = int(point[0]), int(point[1])
        W, H = analysis.size
        if not (0 <= x < W and 0 <= y < H):
            return None
        hits = [it for it in analysis.items if it.mask[y, x]]
        return min(hits, key=lambda it: it.area) if hits else None

    def refine_item(self, image, analysis: RoomAnalysis, points=None, box=None, point_labels=None, label: str | None = None) -> Item:
        """An item from click and/or box prompts (to select something not found, or fix a mask).

        The new item is appended to ``analysis.items`` (so combinations can use its id) and
        labelled by the labeler unless ``label`` is given.

        Args:
            points: [(x, y), ...] in the analysed frame; ``point_labels`` 1 = on the item, 0 = not.
            box: (x0, y0, x1, y1) in the analysed frame.
        Raises:
            ValueError: no prompt, or prompts outside the photo.
        """
        arr = self._frame(image, analysis)
        if points is None and box is None:
            raise ValueError("give points (clicks on the item) or a box around it")
        prop = self.segmenter.from_prompts(arr, points=points, point_labels=point_labels, box=box)
        conf, scores = prop.score, {}
        if label is None:
            if self.labeler is not None:
                label, lconf, scores = self.labeler.label(arr, [prop])[0]
                if label not in FURNITURE:
                    label = "object"
                conf = 0.5 * prop.score + 0.5 * lconf
            else:
                label = "object"
        new_id = max((it.id for it in analysis.items), default=-1) + 1
        item = Item(id=new_id, label=label, confidence=float(conf), mask=prop.mask, box=tuple(int(v) for v in prop.box),
                    source=prop.source, scores=scores)
        analysis.items.append(item)
        return item

    # ------------------------------------------------------------------ erase (cached per item set)
    def _others_mask(self, analysis: RoomAnalysis, exclude: set[int]) -> np.ndarray:
        m = np.zeros(analysis.size[::-1], bool)
        for it in analysis.items:
            if it.id not in exclude:
                m |= it.mask
        return m

    def erased(self, image, analysis: RoomAnalysis, item_ids, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The photo with the items removed and the room filled in behind them (cached).

        Returns:
            (image (H, W, 3) uint8, repainted region (H, W) bool).
        """
        arr = self._frame(image, analysis)
        ids = tuple(sorted(set(int(i) for i in item_ids)))
        key = ("erase", ids, seed, hash(arr[::17, ::17].tobytes()))
        cache = analysis.__dict__.setdefault("_cache", {})
        if key not in cache:
            hole = np.zeros(arr.shape[:2], bool)
            for i in ids:
                hole |= hole_for_item(analysis.get(i).mask)
            avoid = self._others_mask(analysis, set(ids)) & ~hole
            cache[key] = (fill_hole(arr, hole, avoid=avoid, seed=seed), hole)
        return cache[key]

    def _light(self, arr, analysis, item: Item) -> dict:
        """:func:`room_light` around ``item`` (cached: the same for every combination)."""
        cache = analysis.__dict__.setdefault("_cache", {})
        key = ("light", item.id, item.box)
        if key not in cache:
            cache[key] = room_light(arr, item.box)
        return cache[key]

    def _erased_boxed(self, arr, analysis, ids, seed=0):
        """:meth:`erased` plus the hole's bounding box (x0, y0, x1, y1) or None, cached."""
        img, hole = self.erased(arr, analysis, ids, seed=seed)
        cache = analysis.__dict__.setdefault("_cache", {})
        key = ("erase_box", tuple(sorted(set(int(i) for i in ids))), seed, id(hole))
        if key not in cache:
            ys, xs = np.nonzero(hole.any(1))[0], np.nonzero(hole.any(0))[0]
            cache[key] = (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1) if len(xs) else None
        return img, hole, cache[key]

    # ------------------------------------------------------------------ combinations
    def check_inputs(self, analysis: RoomAnalysis, request: CombinationRequest) -> None:
        """Raise ValueError with a specific message for a request this analysis cannot serve."""
        if request.mode not in COMBINATION_MODES:
            raise ValueError(f"unknown mode {request.mode!r}; use one of {', '.join(COMBINATION_MODES)}")
        if not request.item_ids:
            raise ValueError("choose at least one item (item_ids is empty)")
        if len(set(request.item_ids)) != len(request.item_ids):
            raise ValueError(f"item_ids repeat an item: {request.item_ids}")
        for i in request.item_ids:
            analysis.get(i)  # raises with the known ids
        if not (1 <= request.n <= 100):
            raise ValueError(f"n must be between 1 and 100, got {request.n}")
        if request.mode == "swap_text" and not (request.text or "").strip():
            raise ValueError("mode 'swap_text' needs a text, e.g. 'green velvet sofa'")
        if request.price_min is not None and request.price_max is not None and request.price_min > request.price_max:
            raise ValueError(f"price_min {request.price_min} is above price_max {request.price_max}")
        if request.mode.startswith("swap") and self.search is None:
            raise ValueError("swaps need a catalogue search index: import a catalogue first (restyle catalog import)")
        if request.mode == "rearrange" and request.target is not None:
            x, y = request.target
            W, H = analysis.size
            if not (0 <= x < W and 0 <= y < H):
                raise ValueError(f"target {request.target} is outside the {W}x{H} photo")

    def combinations(self, image, analysis: RoomAnalysis, request: CombinationRequest) -> CombinationSet:
        """``request.n`` distinct combinations, best first (see :class:`CombinationRequest`)."""
        self.check_inputs(analysis, request)
        t0 = time.perf_counter()
        arr = self._frame(image, analysis)
        if request.mode == "erase":
            plans, message = self._plan_erase(analysis, request)
        elif request.mode == "rearrange":
            plans, message = self._plan_rearrange(arr, analysis, request)
        else:
            plans, message = self._plan_swaps(arr, analysis, request)
        t1 = time.perf_counter()
        combos = [self._render(arr, analysis, request, plan, k) for k, plan in enumerate(plans)]
        t2 = time.perf_counter()
        if self.refiner is not None and combos:
            self._refine(arr, combos, request)
        t3 = time.perf_counter()
        self._fidelity(arr, combos)
        t4 = time.perf_counter()
        combos.sort(key=lambda c: -c.score)
        backend = self.generation_backend
        return CombinationSet(
            combinations=combos, before=Image.fromarray(arr), backend=backend, request=request,
            timings={"plan": t1 - t0, "render": t2 - t1, "refine": t3 - t2, "fidelity": t4 - t3, "total": t4 - t0},
            message=message,
        )

    # ---- planning: what each combination contains
    def _filters(self, request: CombinationRequest, category: str | None):
        from catalog.search import Filters

        return Filters(category=category, price_min=request.price_min, price_max=request.price_max)

    def _usable(self, product) -> bool:
        return bool(product.cutout_path) and not product.cutout_flagged and self._cutout_path(product) is not None

    def _cutout_path(self, product) -> Path | None:
        p = Path(product.cutout_path)
        if not p.is_absolute() and self.catalog is not None and hasattr(self.catalog, "path"):
            p = self.catalog.path(product.cutout_path)
        return p if p is not None and p.is_file() else None

    def _candidates(self, arr, analysis, request, item: Item, k: int) -> list[tuple[object, float]]:
        cat = request.category
        if cat is None and request.mode in ("swap_similar", "swap_category") and item.label in FURNITURE:
            cat = item.label
        filters = self._filters(request, cat)
        try:
            if request.mode == "swap_text":
                hits = self.search.by_text(request.text, k=k, filters=filters)
            else:
                crop = proposal_crop(arr, item.mask, item.box)
                hits = self.search.by_image(crop, k=k, filters=filters)
        except LookupError as e:  # an empty or unindexed catalogue
            raise ValueError(f"cannot search the catalogue: {e}") from None
        return [(h.product, float(h.score)) for h in hits if self._usable(h.product)]

    def _plan_swaps(self, arr, analysis, request):
        n = request.n
        per_slot = []
        for i in request.item_ids:
            item = analysis.get(i)
            cands = self._candidates(arr, analysis, request, item, k=max(3 * n, 30))
            if not cands:
                what = request.text if request.mode == "swap_text" else (request.category or item.label)
                raise ValueError(f"no catalogue product with a usable cut-out matches {what!r} for item {i} ({item.label})"
                                 + (" within the price range" if request.price_min is not None or request.price_max is not None else ""))
            per_slot.append(cands)
        plans = []
        if len(per_slot) == 1:
            for prod, score in per_slot[0][:n]:
                plans.append({"swaps": [(request.item_ids[0], prod, score, False)], "score": score})
        else:
            # Several slots: best-scoring mixes, penalising reuse so the grid shows variety.
            import itertools

            top = [c[: max(4, int(np.ceil(n ** (1 / len(per_slot)))) + 2)] for c in per_slot]
            combos = []
            for choice in itertools.product(*top):
                ids = [p.id for p, _ in choice]
                if len(set(ids)) < len(ids):
                    continue
                combos.append((float(np.mean([s for _, s in choice])), choice))
            combos.sort(key=lambda t: -t[0])
            used: dict[str, int] = {}
            pool = combos
            while pool and len(plans) < n:
                best = max(pool, key=lambda t: t[0] - 0.05 * sum(used.get(p.id, 0) for p, _ in t[1]))
                pool.remove(best)
                for p, _ in best[1]:
                    used[p.id] = used.get(p.id, 0) + 1
                plans.append({"swaps": [(iid, p, s, False) for iid, (p, s) in zip(request.item_ids, best[1])], "score": best[0]})
        message = ""
        if len(plans) < n:
            # Too few products. A mirrored placement is a distinct variation only when the mirror
            # looks different (an asymmetric product); a symmetric one would repeat a picture.
            k = len(plans)
            extra = [dict(pl, swaps=[(a, p, s, True) for a, p, s, _ in pl["swaps"]], score=pl["score"] - 1.0)
                     for pl in plans if any(self.mirror_is_distinct(p) for _, p, _, _ in pl["swaps"])][: n - k]
            plans = plans + extra
            what = "matching product" if len(per_slot) == 1 else "distinct combination of matching products"
            message = (f"only {k} {what}{'s' if k != 1 else ''} in the catalogue"
                       + (f", {len(extra)} of them also shown mirrored" if extra else "")
                       + " (import a larger catalogue for more)")
        return plans, message

    def mirror_is_distinct(self, product) -> bool:
        """Whether ``product``'s cut-out mirrored is visibly another picture (cached)."""
        if product.id not in self._mirror_diffs:
            self._mirror_diffs[product.id] = mirror_difference(self._sprite(product))
        return self._mirror_diffs[product.id] > MIRROR_MIN_DIFFERENCE

    def _plan_erase(self, analysis, request):
        ids = list(request.item_ids)
        plans = [{"erase": ids, "score": 1.0}]
        if len(ids) > 1:
            for i in ids:
                plans.append({"erase": [i], "score": 0.5})
        plans = plans[: request.n]
        msg = "" if len(plans) >= request.n else f"{len(plans)} distinct erase result(s) for {len(ids)} item(s)"
        return plans, msg

    def _plan_rearrange(self, arr, analysis, request):
        item = analysis.get(request.item_ids[0])
        plans = []
        if request.target is not None:
            plans.append({"move": (item.id, request.target, False), "score": 2.0})
            plans.append({"move": (item.id, request.target, True), "score": 1.9})
        targets = self.propose_layouts(analysis, item, n=max(0, request.n - len(plans) - 1), seed=request.seed)
        for t, s in targets:
            plans.append({"move": (item.id, t, False), "score": s})
            if len(plans) < request.n - 1:
                plans.append({"move": (item.id, t, True), "score": s - 0.01})
        plans = plans[: max(1, request.n - 1)]
        plans.append({"erase": [item.id], "score": 0.0})  # "without it" is a layout too
        plans = plans[: request.n]
        msg = "" if len(plans) >= request.n else f"only {len(plans)} free floor positions found for the {item.label}"
        return plans, msg

    def propose_layouts(self, analysis: RoomAnalysis, item: Item, n: int, seed: int = 0) -> list[tuple[tuple[int, int], float]]:
        """Floor positions (x, y contact point) where ``item`` could stand: on free floor, inside
        the photo at its perspective size, away from other items, spread out (farthest-point
        sampling from a seeded start). Returns [(point, score)], best first."""
        if n <= 0:
            return []
        W, H = analysis.size
        rng = np.random.default_rng(seed)
        others = self._others_mask(analysis, {item.id})
        floor = analysis.floor_mask if analysis.floor_mask is not None else np.zeros((H, W), bool)
        x0, y0, x1, y1 = item.box
        bw, bh = x1 - x0, y1 - y0
        cands = []
        step = max(8, min(W, H) // 24)
        for y in range(int(analysis.horizon_y + 0.15 * (H - analysis.horizon_y)), H, step):
            s = perspective_scale(item.contact_y, y, analysis.horizon_y)
            w, h = bw * s, bh * s
            if h < 0.05 * H or w > 0.9 * W:
                continue
            for x in range(step // 2, W, step):
                if x - w / 2 < 0 or x + w / 2 > W or y - h < 0:
                    continue
                fx0, fx1 = int(x - w / 2), int(x + w / 2)
                # Standing on floor: the band just under the whole footprint is floor (not the
                # foot of a wall that happens to share the floor's colour).
                under = floor[min(H - 1, y): min(H, y + max(3, step // 2)), fx0:fx1]
                if under.size == 0 or under.mean() < 0.8:
                    continue
                fy0 = int(y - max(2, h * 0.25))
                foot = others[fy0:y, fx0:fx1]
                overlap = float(foot.mean()) if foot.size else 1.0
                if overlap > 0.15:
                    continue
                dist = np.hypot(x - (x0 + x1) / 2, y - item.contact_y) / max(W, H)
                if dist < 0.08:
                    continue
                free = float(floor[max(0, fy0):y, fx0:fx1].mean()) if foot.size else 0.0
                cands.append(((x, y), 0.6 * free + 0.4 * (1 - overlap)))
        if len(cands) < n:
            # Too little floor was recognised: slide the item along its own row (same depth, so
            # the same size), wherever it fits and does not stand in another item.
            y = item.contact_y
            fy0 = int(y - max(2, bh * 0.25))
            for x in range(step // 2, W, step):
                fx0, fx1 = int(x - bw / 2), int(x + bw / 2)
                if fx0 < 0 or fx1 > W or abs(x - (x0 + x1) / 2) < 0.5 * bw:
                    continue
                foot = others[max(0, fy0):y + 1, fx0:fx1]
                overlap = float(foot.mean()) if foot.size else 1.0
                if overlap <= 0.15:
                    cands.append(((x, int(y)), 0.5 * (1 - overlap)))
        if not cands:
            return []
        pts = np.array([c[0] for c in cands], float)
        sc = np.array([c[1] for c in cands])
        chosen = [int(rng.choice(np.flatnonzero(sc >= sc.max() - 0.1)))]
        d = np.hypot(*(pts - pts[chosen[0]]).T)
        while len(chosen) < min(n, len(cands)):
            j = int(np.argmax(d * (0.5 + sc)))
            if d[j] <= 0:
                break
            chosen.append(j)
            d = np.minimum(d, np.hypot(*(pts - pts[j]).T))
        return [((int(pts[j][0]), int(pts[j][1])), float(sc[j])) for j in chosen]

    # ---- rendering one combination
    def _sprite(self, product) -> Sprite:
        if product.id not in self._sprites:
            path = self._cutout_path(product)
            img = load_image(path, max_bytes=self.max_upload_bytes, max_pixels=self.max_image_pixels, mode="RGBA")
            self._sprites[product.id] = Sprite.from_rgba(img)
        return self._sprites[product.id]

    def _occlude(self, canvas, arr_win, analysis, exclude: set[int], contact_y: float, coverage: np.ndarray, win) -> None:
        """Re-draw items standing in front of a placed thing (nearer the camera: lower contact
        row) where they overlap it, from the original photo. ``canvas``, ``arr_win`` and
        ``coverage`` are the window ``win`` of the photo."""
        removed = np.zeros(arr_win.shape[:2], bool)
        for i in exclude:
            removed |= analysis.get(i).mask[win]
        for it in analysis.items:
            if it.id in exclude or it.contact_y <= contact_y or it.confidence < 0.3 or it.label in FLAT_CATEGORIES:
                continue  # behind it, unsure, or lying flat on the floor (a rug is under things)
            m = it.mask[win]
            if (m & removed).sum() > 0.3 * max(1, it.area):
                continue  # a part of (or a cushion on) the item being replaced: gone with it
            ov = m & (coverage > 0.02)
            if ov.any():
                canvas[ov] = arr_win[ov]

    def _render(self, arr, analysis, request, plan, k) -> Combination:
        """One combination. All the work happens in a window around the edit (the hole, the
        placed things and their shadows), so a combination costs a few milliseconds."""
        t0 = time.perf_counter()
        seed = int(request.seed) * 1000 + k
        H, W = arr.shape[:2]
        products: list[dict] = []
        placements = []  # dicts: sprite, x0, y0, shadow (cx, cy, width, strength) or None, occlude_y, pid
        if "erase" in plan:
            ids = list(plan["erase"])
            desc = "Removed the " + ", ".join(analysis.get(i).label for i in ids)
        elif "move" in plan:
            iid, (tx, ty), flip = plan["move"]
            ids = [iid]
            item = analysis.get(iid)
            sprite = Sprite.from_item(arr, item.mask)
            if flip:
                sprite = sprite.flipped()
            s = perspective_scale(item.contact_y, ty, analysis.horizon_y)
            sw, sh = sprite.size
            sprite = sprite.resized(round(sw * s), round(sh * s))
            sw, sh = sprite.size
            shadow = (tx, ty, sw * 0.9, 0.35) if item.label not in WALL_CATEGORIES else None
            placements.append(dict(sprite=sprite, x0=int(round(tx - sw / 2)), y0=int(round(ty - sh + 1)), shadow=shadow,
                                   occlude_y=ty, pid=None))
            desc = f"Moved the {item.label} to ({tx}, {ty})" + (" and turned it around" if flip else "")
        else:
            ids = [iid for iid, *_ in plan["swaps"]]
            # Far items first so nearer ones overlap them.
            for iid, prod, score, flip in sorted(plan["swaps"], key=lambda t: analysis.get(t[0]).contact_y):
                item = analysis.get(iid)
                sprite = self._sprite(prod)
                if flip:
                    sprite = sprite.flipped()
                light = self._light(arr, analysis, item)
                if prod.category in FLAT_CATEGORIES:
                    placed, px, py = warp_to_floor(sprite, item.box, analysis.horizon_y)
                    placements.append(dict(sprite=harmonise(placed, light, strength=0.7), x0=px, y0=py, shadow=None,
                                           occlude_y=None, pid=prod.id))
                else:
                    w, h = fit_standing(sprite.size, item.box)
                    cx, cy = _footprint_cx(item), item.contact_y
                    shadow = (cx, cy, w, 0.45) if prod.category not in WALL_CATEGORIES else None
                    placements.append(dict(sprite=harmonise(sprite.resized(w, h), light), x0=int(round(cx - w / 2)),
                                           y0=int(round(cy - h + 1)), shadow=shadow, occlude_y=cy, pid=prod.id))
            # Products and words in the order of the request's slots.
            parts = []
            for iid, prod, score, flip in plan["swaps"]:
                products.append(prod.ref())
                price = f", {prod.price:g} {prod.currency or ''}".rstrip() if prod.price is not None else ""
                parts.append(f"the {analysis.get(iid).label} for {prod.title}{price}" + (" (mirrored)" if flip else ""))
            desc = "Swapped " + " and ".join(parts)
        base, hole, hole_box = self._erased_boxed(arr, analysis, ids, seed=request.seed)
        # The window: hole, sprites and shadows.
        boxes = [hole_box] if hole_box else []
        for p in placements:
            sw, sh = p["sprite"].size
            boxes.append((p["x0"], p["y0"], p["x0"] + sw, p["y0"] + sh))
            if p["shadow"]:
                boxes.append(_shadow_box(*p["shadow"][:3]))
        X0 = max(0, min(b[0] for b in boxes) - 2)
        Y0 = max(0, min(b[1] for b in boxes) - 2)
        X1 = min(W, max(b[2] for b in boxes) + 2)
        Y1 = min(H, max(b[3] for b in boxes) + 2)
        win = (slice(Y0, Y1), slice(X0, X1))
        canvas = base[win].astype(np.float32)
        edit_w = hole[win].copy()
        placed_cov = []
        for p in placements:
            if p["shadow"]:
                cx, cy, sw, strength = p["shadow"]
                contact_shadow(canvas, cx - X0, cy - Y0, sw, strength=strength)
                sb = _shadow_box(cx, cy, sw)
                edit_w[max(0, sb[1] - Y0):max(0, sb[3] - Y0), max(0, sb[0] - X0):max(0, sb[2] - X0)] = True
            cov = paste(canvas, p["sprite"], p["x0"] - X0, p["y0"] - Y0)
            if p["occlude_y"] is not None:
                self._occlude(canvas, arr[win], analysis, set(ids), p["occlude_y"], cov, win)
            edit_w |= cov > 0.01
            if p["pid"] is not None:
                placed_cov.append((p["pid"], cov, (X0, Y0)))
        out = arr.copy()
        region = out[win]
        # Only the edited region may differ from the photo: enforce it exactly.
        region[edit_w] = np.clip(canvas[edit_w] + 0.5, 0, 255).astype(np.uint8)
        edit = np.zeros((H, W), bool)
        edit[win] = edit_w
        t1 = time.perf_counter()
        combo = Combination(
            image=Image.fromarray(out), products=products, backend="composite", seed=seed,
            timings={"render": t1 - t0}, fidelity={}, description=desc, edited_mask=edit, score=float(plan["score"]),
        )
        combo._placed = placed_cov  # consumed by _fidelity
        return combo

    def _refine(self, arr, combos, request):
        product_images = None
        if all(c.products for c in combos) and self.catalog is not None:
            product_images = []
            for c in combos:
                prod = self.catalog.get(c.products[0]["id"])
                p = self._cutout_path(prod)
                product_images.append(load_image(p, max_bytes=self.max_upload_bytes, max_pixels=self.max_image_pixels))
        prompts = [c.description for c in combos]
        out = self.refiner.render(
            [c.image for c in combos], [c.edited_mask for c in combos], room=Image.fromarray(arr),
            product_images=product_images, prompts=prompts, seeds=[c.seed for c in combos], **self.refine_kwargs,
        )
        for c, im in zip(combos, out.images):
            c.image = im
            c.backend = out.backend
            c.timings["refine"] = out.timings.get("per_image", 0.0)

    # ---- fidelity figures
    def _fidelity(self, arr, combos) -> None:
        from skimage.metrics import structural_similarity

        H, W = arr.shape[:2]
        s = min(1.0, 384 / max(H, W))
        size = (max(8, round(W * s)), max(8, round(H * s)))
        g0 = cv2.resize(cv2.cvtColor(arr, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        crops, owners = [], []
        for c in combos:
            t0 = time.perf_counter()
            out = np.asarray(c.image)
            g1 = cv2.resize(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
            _, smap = structural_similarity(g0, g1, data_range=255, full=True, win_size=7)
            edit_small = cv2.resize(c.edited_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            # The SSIM window reaches 3 px around the edit: only count windows fully outside it.
            outside = ~(cv2.dilate(edit_small.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)
            c.fidelity["ssim_outside"] = round(float(smap[outside].mean()) if outside.any() else 1.0, 4)
            c.fidelity["changed_fraction"] = round(float(c.edited_mask.mean()), 4)
            c.timings["fidelity"] = time.perf_counter() - t0
            for pid, cov, (ox, oy) in getattr(c, "_placed", []):
                h, w = cov.shape
                crops.append(_rendered_crop(out[oy:oy + h, ox:ox + w], cov))
                owners.append((c, pid))
        if not crops:
            return
        if self.similarity_embedder is None:
            for c, _ in owners:
                c.fidelity["product_similarity_note"] = "no image embedder configured"
            return
        t0 = time.perf_counter()
        self._load_product_vecs({pid for _, pid in owners})
        vecs = np.asarray(self.similarity_embedder.embed(crops), np.float32)
        for (c, pid), v in zip(owners, vecs):
            ref = self._product_vec(pid)
            if ref is None:
                continue
            c.fidelity.setdefault("product_similarity", []).append(round(float(np.dot(v, ref)), 4))
        dt = (time.perf_counter() - t0) / max(1, len(combos))
        for c in combos:
            c.timings["fidelity"] = c.timings.get("fidelity", 0.0) + dt

    def _load_product_vecs(self, pids) -> None:
        """Embed the catalogue photos of ``pids`` not embedded yet, in one batch."""
        todo, images = [], []
        for pid in sorted(set(pids) - set(self._product_vecs)):
            prod = self.catalog.get(pid) if self.catalog is not None else None
            rel = (prod.image_path or prod.cutout_path) if prod is not None else None
            if rel is None:
                continue
            p = Path(rel)
            if not p.is_absolute() and hasattr(self.catalog, "path"):
                p = self.catalog.path(rel)
            if p is None or not p.is_file():
                continue
            todo.append(pid)
            images.append(load_image(p, max_bytes=self.max_upload_bytes, max_pixels=self.max_image_pixels))
        if images:
            for pid, v in zip(todo, np.asarray(self.similarity_embedder.embed(images), np.float32)):
                self._product_vecs[pid] = v

    def _product_vec(self, pid: str) -> np.ndarray | None:
        self._load_product_vecs([pid])
        return self._product_vecs.get(pid)


def mirror_difference(sprite: Sprite, side: int = 64, blur: float = 1.0) -> float:
    """How different ``sprite`` looks from its horizontal mirror: 0 (symmetric) .. 1.

    Both are seen as a grid thumbnail would show them: shrunk to ``side`` px on the long side and
    slightly blurred, so anti-aliasing and a cut-out cropped a pixel off-centre do not count (the
    mirror may also shift by one pixel). The figure is the mean absolute difference of the
    premultiplied RGBA values (in [0, 1]), weighted by the alpha of either picture.
    """
    h, w = sprite.alpha.shape
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    a = cv2.resize(sprite.alpha.astype(np.float32), size, interpolation=interp)
    rgb = cv2.resize(sprite.rgb.astype(np.float32), size, interpolation=interp) / 255.0
    pm = np.dstack([rgb * a[..., None], a])
    pm = cv2.GaussianBlur(np.pad(pm, ((4, 4), (4, 4), (0, 0))), (0, 0), blur)
    flipped = pm[:, ::-1]
    best = 1.0
    for dx in (-1, 0, 1):
        f = np.roll(flipped, dx, axis=1)
        weight = np.maximum(pm[..., 3], f[..., 3])
        diff = np.abs(pm - f).mean(axis=2)
        best = min(best, float((diff * weight).sum() / max(float(weight.sum()), 1e-6)))
    return best


def _footprint_cx(item: Item) -> float:
    """x where a replacement stands: the middle of the item's box (its widest extent; the centre
    of its lowest rows would follow one leg or a cushion hanging over the edge)."""
    return (item.box[0] + item.box[2]) / 2


def _shadow_box(cx, cy, width) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of :func:`contact_shadow`'s footprint (may leave the photo)."""
    rx, ry = 0.55 * width + 0.2 * width, 0.07 * width * 4 + 4
    return int(cx - rx - 4), int(cy - ry * 2), int(cx + rx + 4) + 1, int(cy + ry * 2) + 1


def _rendered_crop(out: np.ndarray, cov: np.ndarray) -> Image.Image:
    """The placed product as it appears in the result, on white (like its catalogue photo)."""
    ys, xs = np.nonzero(cov > 0.5)
    if len(xs) == 0:
        return Image.new("RGB", (8, 8), "white")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = cov[y0:y1, x0:x1, None]
    crop = out[y0:y1, x0:x1].astype(np.float32) * a + 255.0 * (1 - a)
    return Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8))
