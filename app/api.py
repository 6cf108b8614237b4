"""The app's actions as plain functions: photo paths, strings and numbers in; images and JSON out.

The Gradio UI (:mod:`app.ui`) wires each of these to a named endpoint (``/detect_items``,
``/room_combinations``...), so the browser and ``gradio_client`` run exactly the same code.
Heavy parts (catalogue, search index, room and face pipelines, share store) live in one
:class:`AppContext` per app, built lazily on first use and reused by every request.

Errors a user can fix (bad photo, unknown item, no matching product) are raised as
:class:`UserError` with a specific message; the UI turns them into ``gr.Error`` pop-ups.
"""

from __future__ import annotations

import hashlib
import html
import logging
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from app.settings import Settings
from pipelines.intake import ImageRejected, load_image, save_image

log = logging.getLogger("restyle.app")

ROOM_MODES = ("swap_similar", "swap_text", "swap_category", "erase", "rearrange")
ROOM_MODE_LABELS = {
    "swap_similar": "Swap with similar products",
    "swap_text": "Swap by description",
    "swap_category": "Swap by category and price",
    "erase": "Erase",
    "rearrange": "Rearrange (move to a spot)",
}
MAKEUP_TYPES = ("lipstick", "eyeshadow", "blush", "foundation")
# Monk Skin Tone scale, levels 1-10 (Google's published reference colours).
MONK_HEX = ("#f6ede4", "#f3e7db", "#f7ead0", "#eadaba", "#d7bd96", "#a07e56", "#825c43", "#604134", "#3a312a", "#292420")
# Outline colours for detected items (RGB), distinct on light and dark rooms.
PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (0, 128, 128), (170, 110, 40), (128, 0, 0), (0, 0, 128)]
REGION_COLOURS = {"skin": (255, 196, 0), "lips": (230, 25, 75), "eyes": (0, 130, 200), "cheeks": (245, 130, 220)}


class UserError(ValueError):
    """Something the person can fix; the message says what, in their words."""


# --------------------------------------------------------------------------------------------
# context
# --------------------------------------------------------------------------------------------


@dataclass
class PhotoEntry:
    image: Image.Image  # RGB, long side <= settings.work_max_side
    analysis: Any = None  # RoomAnalysis or FaceAnalysis


class AppContext:
    """Everything the app builds once: catalogue, search, pipelines, share store.

    Components may be passed in (tests, custom deployments); anything left ``None`` is built from
    ``settings`` the first time it is needed, under a lock so concurrent requests build it once.
    """

    def __init__(self, settings: Settings, *, demo: bool = False, catalog=None, search=None, room=None,
                 tryon=None, shares=None, max_cached_photos: int = 16):
        self.settings = settings
        self.demo = demo
        self._parts: dict[str, Any] = {"catalog": catalog, "search": search, "room": room, "tryon": tryon,
                                       "shares": shares}
        self._lock = threading.RLock()
        self._photos: OrderedDict[tuple[str, str], PhotoEntry] = OrderedDict()
        self._max_photos = max_cached_photos

    # -- lazily built parts --------------------------------------------------------------
    def _get(self, name: str, build: Callable[[], Any]):
        with self._lock:
            if self._parts.get(name) is None:
                self._parts[name] = build()
            return self._parts[name]

    @property
    def catalog(self):
        def build():
            from catalog.store import Catalog

            catalog = Catalog.open(self.settings)
            if self.demo and not (catalog.get_meta("demo") and len(catalog)):
                from catalog.demo import ensure_demo_catalog

                return ensure_demo_catalog(self.settings, catalog=catalog)  # first run: import it now
            # Imported before: open it at once (the page waits for this); warm_up() checks that the
            # demo is current (ensure_demo_catalog loads the embedding models: seconds).
            return catalog

        return self._get("catalog", build)

    def catalog_if_ready(self):
        """The catalogue when it can be had at once; ``None`` while the demo's first import is
        still to run (the warm-up runs it: the page must not wait for it)."""
        if self._parts.get("catalog") is None and self.demo:  # read without the lock: the warm-up may hold it
            from catalog.store import Catalog

            on_disk = Catalog.open(self.settings)
            if not (on_disk.get_meta("demo") and len(on_disk)):
                return None
        return self.catalog

    def _refresh_demo(self) -> None:
        from catalog.demo import ensure_demo_catalog

        ensure_demo_catalog(self.settings, catalog=self.catalog)

    @property
    def search(self):
        def build():
            from catalog.search import CatalogSearch

            return CatalogSearch.from_settings(self.settings, self.catalog)

        return self._get("search", build)

    @property
    def room(self):
        def build():
            from pipelines.room import RoomPipeline

            try:
                search = self.search  # shared with the Catalogue tab: one index in memory
            except Exception:  # noqa: BLE001 - no index yet: detection works, swaps say why not
                log.warning("catalogue search unavailable:\n%s", traceback.format_exc())
                search = None
            return RoomPipeline.from_settings(self.settings, catalog=self.catalog, search=search)

        return self._get("room", build)

    @property
    def tryon(self):
        def build():
            from pipelines.tryon import TryOnPipeline

            return TryOnPipeline.from_settings(self.settings, catalog=self.catalog)

        return self._get("tryon", build)

    @property
    def shares(self):
        def build():
            from app.share import ShareStore

            return ShareStore.from_settings(self.settings)

        return self._get("shares", build)

    def warm_up(self) -> None:
        """Build every part now (demo catalogue, index, models) so the first click is quick.

        Failures are logged, not raised: the action that needs the part builds it again and
        reports the error to the person.
        """
        steps = ["catalog"] + (["_refresh_demo"] if self.demo else []) + ["search", "room", "tryon", "shares"]
        for name in steps:
            try:
                part = getattr(self, name)
                if callable(part):
                    part()
            except Exception:  # noqa: BLE001
                log.warning("warm-up: cannot build %s yet:\n%s", name, traceback.format_exc())

    def reset_catalog(self) -> None:
        """Forget the search index and pipelines after an import, so they see the new products."""
        with self._lock:
            for name in ("search", "room", "tryon"):
                self._parts[name] = None

    # -- photos ------------------------------------------------------------------------------
    def photo(self, source, kind: str) -> tuple[str, PhotoEntry]:
        """Load an uploaded photo through intake (limits, EXIF, mode) and cache it by content.

        Returns (photo_id, entry); the same bytes give the same id, so a later call with the same
        upload reuses the analysis (and items added by clicks).
        """
        if source is None or (isinstance(source, str) and not source.strip()):
            raise UserError(f"no {'room' if kind == 'room' else 'face'} photo: upload one first")
        if isinstance(source, dict):  # gradio_client FileData
            source = source.get("path") or source.get("url")
        try:
            data = Path(source).read_bytes() if not isinstance(source, Image.Image) else None
        except FileNotFoundError:
            raise UserError(f"the photo file {source} is gone; upload it again") from None
        except OSError as e:
            raise UserError(f"cannot read the photo: {e}") from None
        if data is not None:
            if len(data) > self.settings.max_upload_bytes:
                raise UserError(f"photo is {len(data):,} bytes, over the limit of {self.settings.max_upload_bytes:,}")
            photo_id = hashlib.sha1(data).hexdigest()[:16]
        else:
            photo_id = hashlib.sha1(source.tobytes()).hexdigest()[:16]
        key = (kind, photo_id)
        with self._lock:
            if key in self._photos:
                self._photos.move_to_end(key)
                return photo_id, self._photos[key]
        try:
            img = load_image(data if data is not None else source, max_bytes=self.settings.max_upload_bytes,
                             max_pixels=self.settings.max_image_pixels)
        except ImageRejected as e:
            raise UserError(f"photo rejected: {e}") from None
        side = self.settings.work_max_side
        if max(img.size) > side:
            img = img.copy()
            img.thumbnail((side, side), Image.Resampling.LANCZOS)
        entry = PhotoEntry(img)
        with self._lock:
            self._photos[key] = entry
            while len(self._photos) > self._max_photos:
                self._photos.popitem(last=False)
        return photo_id, entry


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------


def draw_items(image: Image.Image, items, selected: set[int] | frozenset = frozenset()) -> Image.Image:
    """Outline every item (contour + label); selected items are filled and drawn thicker.

    ``image`` RGB; each item's ``mask`` is (H, W) bool in the image's pixel grid.
    """
    import cv2

    canvas = np.asarray(image.convert("RGB")).copy()
    h, w = canvas.shape[:2]
    thick = max(2, round(max(h, w) / 400))
    font_scale = max(0.45, max(h, w) / 1600)
    overlay = canvas.copy()
    for idx, item in enumerate(items):
        colour = PALETTE[item.id % len(PALETTE)]
        mask = _fit_mask(item.mask, (h, w))
        if item.id in selected:
            overlay[mask] = colour
    canvas = (0.62 * canvas + 0.38 * overlay).astype(np.uint8) if selected else canvas
    for item in items:
        colour = PALETTE[item.id % len(PALETTE)]
        mask = _fit_mask(item.mask, (h, w)).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        t = thick * 2 if item.id in selected else thick
        cv2.drawContours(canvas, contours, -1, (255, 255, 255), t + 2, cv2.LINE_AA)
        cv2.drawContours(canvas, contours, -1, colour, t, cv2.LINE_AA)
    # Labels last so no outline crosses them; selected ones on top. Each label takes the first
    # free spot (above the box, inside its top, below it), else slides down until it is free.
    placed: list[tuple[int, int, int, int]] = []
    for item in sorted(items, key=lambda i: i.id in selected):
        colour = PALETTE[item.id % len(PALETTE)]
        text = f"{item.id} {item.label}" + (" (selected)" if item.id in selected else "")
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        lw, lh = tw + 8, th + base + 6
        bx0, by0, bx1, by1 = (int(v) for v in item.box)
        spot = None
        for cy in (by0 - lh, by0 + 2, by1 + 2) + tuple(range(by0 + 2 + lh, h - lh, lh)):
            cx = min(max(0, bx0), max(0, w - lw))
            cy = min(max(0, cy), max(0, h - lh))
            rect = (cx, cy, cx + lw, cy + lh)
            if not any(rect[0] < r[2] and r[0] < rect[2] and rect[1] < r[3] and r[1] < rect[3] for r in placed):
                spot = rect
                break
        spot = spot or (min(max(0, bx0), max(0, w - lw)), min(max(0, by0), max(0, h - lh)),
                        min(max(0, bx0), max(0, w - lw)) + lw, min(max(0, by0), max(0, h - lh)) + lh)
        placed.append(spot)
        x0, y0 = spot[0], spot[1]
        cv2.rectangle(canvas, (x0, y0), (x0 + lw, y0 + lh), colour, -1)
        if item.id in selected:
            cv2.rectangle(canvas, (x0, y0), (x0 + lw, y0 + lh), (255, 255, 255), 2)
        lum = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        ink = (0, 0, 0) if lum > 150 else (255, 255, 255)
        cv2.putText(canvas, text, (x0 + 4, y0 + th + 3), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink, 1, cv2.LINE_AA)
    return Image.fromarray(canvas)


def draw_regions(image: Image.Image, regions: dict[str, np.ndarray]) -> Image.Image:
    """Tint each face region (skin, lips, eyes, cheeks) with its own colour and outline it."""
    import cv2

    canvas = np.asarray(image.convert("RGB")).astype(np.float32)
    h, w = canvas.shape[:2]
    out = canvas.copy()
    order = ["skin", "cheeks", "eyes", "lips"]
    names = sorted(regions, key=lambda n: order.index(n) if n in order else len(order))
    for name in names:
        mask = _fit_mask(regions[name], (h, w))
        colour = np.array(REGION_COLOURS.get(name, (255, 255, 255)), np.float32)
        alpha = 0.22 if name == "skin" else 0.4
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
    out = out.astype(np.uint8)
    for name in names:
        mask = _fit_mask(regions[name], (h, w)).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, REGION_COLOURS.get(name, (255, 255, 255)), max(1, round(max(h, w) / 500)),
                         cv2.LINE_AA)
    return Image.fromarray(out)


def _fit_mask(mask, hw: tuple[int, int]) -> np.ndarray:
    """A bool mask resized (nearest) to ``hw`` = (H, W) when a pipeline worked at another size."""
    mask = np.asarray(mask).astype(bool)
    if mask.shape[:2] == hw:
        return mask
    m = Image.fromarray(mask.astype(np.uint8) * 255).resize((hw[1], hw[0]), Image.Resampling.NEAREST)
    return np.asarray(m) > 127


# --------------------------------------------------------------------------------------------
# JSON helpers
# --------------------------------------------------------------------------------------------


def item_dict(item) -> dict:
    return {
        "id": int(item.id),
        "label": str(item.label),
        "confidence": round(float(item.confidence), 3),
        "box": [int(v) for v in item.box],
        "area": int(np.asarray(item.mask).sum()),
    }


def _json_safe(obj):
    """Make pipeline ``to_dict()`` output JSON-safe (numpy scalars, tuples, paths)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items() if not isinstance(v, (Image.Image, np.ndarray))}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def result_meta(result) -> dict:
    """One combination or look as JSON: its ``to_dict()`` plus the total price of its products."""
    meta = _json_safe(result.to_dict()) if hasattr(result, "to_dict") else {}
    meta.setdefault("products", _json_safe(list(getattr(result, "products", []))))
    meta.setdefault("backend", getattr(result, "backend", "unknown"))
    meta.setdefault("description", getattr(result, "description", ""))
    meta["total"] = price_total(meta["products"])
    return meta


def price_total(products: list[dict]) -> dict | None:
    """Sum of product prices per currency, e.g. {"EUR": 1249.0}; None when no product has a price."""
    totals: dict[str, float] = {}
    for p in products:
        if p.get("price") is not None:
            cur = p.get("currency") or ""
            totals[cur] = round(totals.get(cur, 0.0) + float(p["price"]), 2)
    return totals or None


def _safe_url(url) -> str | None:
    url = str(url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else None


def format_price(price, currency) -> str:
    if price is None:
        return "price not listed"
    return f"{float(price):,.2f} {currency or ''}".strip()


def products_html(meta: dict) -> str:
    """The products of one result as an HTML table (escaped; only http(s) links)."""
    products = meta.get("products") or []
    backend = html.escape(backend_label(meta.get("backend", "unknown")))
    desc = html.escape(str(meta.get("description") or ""))
    head = f'<p class="rs-desc">{desc}</p>' if desc else ""
    if not products:
        body = '<p class="rs-muted">No catalogue product in this result (it rearranges or erases your own items).</p>'
    else:
        rows = []
        for p in products:
            title = html.escape(str(p.get("title") or p.get("id") or "product"))
            url = _safe_url(p.get("url"))
            link = f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
            swatch = ""
            if p.get("shade_hex"):
                hx = html.escape(str(p["shade_hex"]))
                swatch = f'<span class="rs-swatch" style="background:{hx}"></span>'
            shade = html.escape(str(p.get("shade_name") or ""))
            rows.append(
                "<tr>"
                f"<td>{swatch}{link}{' - ' + shade if shade else ''}</td>"
                f"<td>{html.escape(str(p.get('brand') or ''))}</td>"
                f"<td>{html.escape(str(p.get('makeup_type') or p.get('category') or ''))}</td>"
                f'<td class="rs-num">{html.escape(format_price(p.get("price"), p.get("currency")))}</td>'
                "</tr>"
            )
        total = meta.get("total") or price_total(products)
        total_s = " + ".join(format_price(v, k) for k, v in total.items()) if total else "prices not listed"
        body = (
            '<table class="rs-products"><thead><tr><th>Product</th><th>Brand</th><th>Category</th>'
            '<th class="rs-num">Price</th></tr></thead><tbody>' + "".join(rows) + "</tbody>"
            f'<tfoot><tr><td colspan="3">Total</td><td class="rs-num rs-total">{html.escape(total_s)}</td></tr></tfoot>'
            "</table>"
        )
    return f'<div class="rs-detail">{head}{body}<p class="rs-backend">Rendered with: <b>{backend}</b></p></div>'


def backend_label(name: str) -> str:
    """'composite' -> 'composite (CPU)'; model backends keep their name."""
    name = str(name or "unknown")
    cpu = ("composite", "proposals", "efficientnet", "minilm", "faiss-cpu", "classical", "mediapipe", "cpu")
    return f"{name} (CPU)" if any(name.startswith(c) for c in cpu) and "(CPU)" not in name else name


# --------------------------------------------------------------------------------------------
# the actions
# --------------------------------------------------------------------------------------------


def _num(value, name: str, *, integer: bool = False, lo: float | None = None, hi: float | None = None):
    """None/"" -> None; otherwise a number within [lo, hi], or a UserError naming the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, got {value!r}") from None
    if v != v:  # NaN
        raise UserError(f"{name} must be a number, got NaN")
    if lo is not None and v < lo:
        raise UserError(f"{name} must be at least {lo:g}, got {v:g}")
    if hi is not None and v > hi:
        raise UserError(f"{name} must be at most {hi:g}, got {v:g}")
    return int(round(v)) if integer else v


def _price_range(price_min, price_max) -> tuple[float | None, float | None]:
    lo = _num(price_min, "minimum price", lo=0)
    hi = _num(price_max, "maximum price", lo=0)
    if lo == 0:
        lo = None  # 0 is the UI's "no minimum"
    if hi == 0:
        hi = None  # and "no maximum"
    if lo is not None and hi is not None and lo > hi:
        raise UserError(f"minimum price {lo:g} is above maximum price {hi:g}")
    return lo, hi


def parse_item_ids(value) -> list[int]:
    """'3, 5' / [3, 5] / 3 -> [3, 5]."""
    if value is None or value == "":
        return []
    if isinstance(value, (int, float)):
        return [int(value)]
    parts = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").split(",")
    out = []
    for p in parts:
        p = str(p).strip()
        if not p:
            continue
        try:
            out.append(int(p))
        except ValueError:
            raise UserError(f"item ids must be whole numbers separated by commas, got {p!r}") from None
    return list(dict.fromkeys(out))


def share_url(base_url: str, share_id: str) -> str:
    return f"{(base_url or '').rstrip('/')}/?share={share_id}"


def room_info(photo_id: str, entry: PhotoEntry, selected: list[int] | None = None) -> dict:
    a = entry.analysis
    return {
        "photo_id": photo_id,
        "size": list(entry.image.size),
        "backend": str(getattr(a, "backend", "")),
        "items": [item_dict(i) for i in a.items],
        "selected": list(selected or []),
    }


def detect_items(ctx: AppContext, photo) -> tuple[Image.Image, dict]:
    """Segment a room photo into items. Returns (photo with items outlined and labelled, info)."""
    photo_id, entry = ctx.photo(photo, "room")
    if entry.analysis is None:
        entry.analysis = ctx.room.detect_items(entry.image)
    return draw_items(entry.image, entry.analysis.items), room_info(photo_id, entry)


def select_item(ctx: AppContext, photo, x, y, selected=None, add_new: bool = False) -> tuple[Image.Image, dict]:
    """A click at pixel (x, y) of the photo (x right, y down).

    On an item: toggles its selection. On no item, or with ``add_new``: segments a new item
    from the click (the pipeline's point prompt), adds it and selects it.
    """
    photo_id, entry = ctx.photo(photo, "room")
    if entry.analysis is None:
        entry.analysis = ctx.room.detect_items(entry.image)
    w, h = entry.image.size
    x = _num(x, "x", lo=0, hi=w - 1)
    y = _num(y, "y", lo=0, hi=h - 1)
    if x is None or y is None:
        raise UserError("a click needs both x and y")
    chosen = parse_item_ids(selected)
    analysis = entry.analysis
    item = None if add_new else ctx.room.item_at(analysis, (int(x), int(y)))
    if item is None:
        new = ctx.room.refine_item(entry.image, analysis, points=[(int(x), int(y))])
        if all(i is not new for i in analysis.items):
            if any(i.id == new.id for i in analysis.items):
                new.id = max(i.id for i in analysis.items) + 1
            analysis.items.append(new)
        chosen.append(new.id)
    elif item.id in chosen:
        chosen.remove(item.id)
    else:
        chosen.append(item.id)
    known = {i.id for i in analysis.items}
    chosen = [c for c in chosen if c in known]
    return draw_items(entry.image, analysis.items, set(chosen)), room_info(photo_id, entry, chosen)


def room_combinations(ctx: AppContext, photo, mode: str, item_ids, text: str = "", category: str = "",
                      price_min=None, price_max=None, target_x=None, target_y=None, n=None, seed=0,
                      base_url: str = "") -> tuple[list[tuple[str, str]], dict]:
    """Make N combinations for the selected items and store them under a new permalink.

    Returns (gallery of (image path, caption), result JSON with share id/url and every combination).
    """
    from pipelines.room import CombinationRequest

    if mode in ROOM_MODE_LABELS.values():
        mode = next(k for k, v in ROOM_MODE_LABELS.items() if v == mode)
    if mode not in ROOM_MODES:
        raise UserError(f"unknown action {mode!r}; choose one of {', '.join(ROOM_MODES)}")
    photo_id, entry = ctx.photo(photo, "room")
    if entry.analysis is None:
        entry.analysis = ctx.room.detect_items(entry.image)
    ids = parse_item_ids(item_ids)
    if not ids:
        raise UserError("select at least one item first: click it in the photo")
    known = {i.id: i for i in entry.analysis.items}
    missing = [i for i in ids if i not in known]
    if missing:
        raise UserError(f"no item {missing[0]} in this photo (items: {', '.join(map(str, sorted(known))) or 'none'})")
    text = (text or "").strip()
    if mode == "swap_text" and not text:
        raise UserError("describe what you want, e.g. 'green velvet sofa under 800'")
    category = (category or "").strip() or None
    if mode == "swap_category" and not category:
        raise UserError("choose a category to swap in")
    lo, hi = _price_range(price_min, price_max)
    target = None
    tx, ty = _num(target_x, "target x", lo=0), _num(target_y, "target y", lo=0)
    if tx is not None and ty is not None:
        target = (int(tx), int(ty))
    n = _num(n, "number of combinations", integer=True, lo=1, hi=100) or ctx.settings.num_combinations
    seed = _num(seed, "seed", integer=True, lo=0) or 0
    request = CombinationRequest(mode=mode, item_ids=ids, text=text or None, category=category, price_min=lo,
                                 price_max=hi, target=target, n=n, seed=seed)
    result_set = ctx.room.combinations(entry.image, entry.analysis, request)
    if not result_set.combinations:
        raise UserError("no combination could be made: no catalogue product matches these filters; widen them")
    results = [(c.image, result_meta(c)) for c in result_set.combinations]
    info = {"backend": str(result_set.backend), "photo_id": photo_id, "request": _json_safe(_request_dict(request)),
            "items": [item_dict(known[i]) for i in ids], "message": str(getattr(result_set, "message", "") or "")}
    share = ctx.shares.create("room", result_set.before if result_set.before is not None else entry.image,
                              results, info)
    return _share_payload(share, base_url)


def _request_dict(request) -> dict:
    if hasattr(request, "to_dict"):
        return request.to_dict()
    if hasattr(request, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(request)
    if hasattr(request, "model_dump"):
        return request.model_dump()
    return dict(vars(request))


def _caption(i: int, meta: dict) -> str:
    total = meta.get("total")
    price = " + ".join(format_price(v, k) for k, v in total.items()) if total else ""
    desc = str(meta.get("description") or "").strip()
    if len(desc) > 60:
        desc = desc[:57] + "..."
    return f"{i + 1}. {desc}" + (f" | {price}" if price else "")


def _share_payload(share, base_url: str) -> tuple[list[tuple[str, str]], dict]:
    gallery = [(str(r.image), _caption(i, r.meta)) for i, r in enumerate(share.results)]
    payload = {
        "share_id": share.id,
        "share_url": share_url(base_url, share.id),
        "kind": share.kind,
        "created": share.created,
        "backend": share.info.get("backend", ""),
        "before": str(share.before),
        "images": [str(r.image) for r in share.results],
        "info": share.info,
        "results": [r.meta for r in share.results],
    }
    return gallery, payload


def tone_dict(tone) -> dict | None:
    if tone is None:
        return None
    return {
        "monk": int(tone.monk),
        "confidence": round(float(tone.confidence), 3),
        "ita": round(float(tone.ita), 1),
        "undertone": str(tone.undertone),
        "swatch_hex": str(tone.swatch_hex),
    }


def analyze_face(ctx: AppContext, photo) -> tuple[Image.Image, dict]:
    """Find the faces, their regions, all visible skin and the skin tone.

    Returns (photo with skin, lips, eyes and cheeks tinted, info). A photo with skin but no face
    still gets a tone (the message says so); a photo with neither is an error.
    """
    photo_id, entry = ctx.photo(photo, "face")
    if entry.analysis is None:
        entry.analysis = ctx.tryon.analyze(entry.image)
    a = entry.analysis
    if not getattr(a, "faces", None) and getattr(a, "tone", None) is None:
        raise UserError(str(getattr(a, "message", "") or "no face found in this photo: use a well-lit, frontal photo"))
    shown = {"skin": getattr(a, "skin_mask", None)}
    for name in ("lips", "eyes", "cheeks"):
        shown[name] = (a.regions or {}).get(name)
    shown = {k: np.asarray(v) for k, v in shown.items() if v is not None}
    info = {
        "photo_id": photo_id,
        "faces": len(a.faces or []),
        "backend": str(a.backend),
        "message": str(a.message or ""),
        "tone": tone_dict(a.tone),
        "regions": {k: int(v.sum()) for k, v in shown.items()},
    }
    return draw_regions(entry.image, shown), info


def face_looks(ctx: AppContext, photo, product_types=None, brand: str = "", price_min=None, price_max=None,
               product_id: str = "", tone_override=None, n=None, seed=0,
               base_url: str = "") -> tuple[list[tuple[str, str]], dict]:
    """Render catalogue shades on the face as N looks, stored under a new permalink."""
    from pipelines.tryon import LookRequest

    photo_id, entry = ctx.photo(photo, "face")
    if entry.analysis is None:
        entry.analysis = ctx.tryon.analyze(entry.image)
    if not getattr(entry.analysis, "faces", None):
        raise UserError(f"makeup needs a face: {entry.analysis.message or 'no face found in this photo'}")
    if isinstance(product_types, str):
        product_types = [t.strip() for t in product_types.split(",") if t.strip()]
    product_types = list(product_types or [])
    bad = [t for t in product_types if t not in MAKEUP_TYPES]
    if bad:
        raise UserError(f"unknown product type {bad[0]!r}; choose from {', '.join(MAKEUP_TYPES)}")
    product_id = (product_id or "").strip() or None
    if not product_types and not product_id:
        raise UserError("pick at least one product type (lipstick, eyeshadow, blush, foundation) or one product")
    if product_id and ctx.catalog.get(product_id) is None:
        raise UserError(f"no product with id {product_id!r} in the catalogue")
    lo, hi = _price_range(price_min, price_max)
    tone = _num(tone_override, "Monk level", integer=True, lo=1, hi=10)
    if tone is not None and entry.analysis.tone is not None and tone == entry.analysis.tone.monk:
        tone = None  # unchanged: not an override
    n = _num(n, "number of looks", integer=True, lo=1, hi=100) or ctx.settings.num_combinations
    seed = _num(seed, "seed", integer=True, lo=0) or 0
    request = LookRequest(product_types=product_types or list(MAKEUP_TYPES[:3]), brand=(brand or "").strip() or None,
                          price_min=lo, price_max=hi, product_id=product_id, n=n, seed=seed, tone_override=tone)
    look_set = ctx.tryon.looks(entry.image, entry.analysis, request)
    if not look_set.looks:
        raise UserError("no look could be made: no catalogue shade matches these filters; widen them")
    results = [(lk.image, result_meta(lk)) for lk in look_set.looks]
    info = {"backend": str(look_set.backend), "photo_id": photo_id, "request": _json_safe(_request_dict(request)),
            "tone": tone_dict(look_set.tone), "message": str(getattr(look_set, "message", "") or "")}
    share = ctx.shares.create("face", look_set.before if look_set.before is not None else entry.image, results, info)
    return _share_payload(share, base_url)


def get_share(ctx: AppContext, share_id: str, base_url: str = "") -> tuple[str, list[tuple[str, str]], dict]:
    """Reopen a permalink: (before image path, gallery, result JSON). Read-only."""
    from app.share import ShareNotFound

    try:
        share = ctx.shares.get(share_id)
    except ShareNotFound as e:
        raise UserError(str(e)) from None
    gallery, payload = _share_payload(share, base_url)
    return str(share.before), gallery, payload


# --------------------------------------------------------------------------------------------
# catalogue
# --------------------------------------------------------------------------------------------


def _product_image(ctx: AppContext, p) -> str | None:
    """The product's photo (or cut-out); for a makeup shade without a photo, a swatch of its colour."""
    for attr in ("image_path", "cutout_path"):
        rel = getattr(p, attr, None)
        if rel:
            path = ctx.catalog.path(rel) if hasattr(ctx.catalog, "path") else Path(rel)
            if path is not None and Path(path).is_file():
                return str(path)
    hx = getattr(p, "shade_hex", None) or getattr(p, "color_hex", None)
    if hx and _is_hex(hx):
        swatch = ctx.settings.data_dir / "cache" / "swatches" / f"{hx.lstrip('#').lower()}.png"
        if not swatch.is_file():
            save_image(Image.new("RGB", (96, 96), "#" + hx.lstrip("#")), swatch)
        return str(swatch)
    return None


def catalog_search(ctx: AppContext, photo=None, text: str = "", category: str = "", makeup_type: str = "",
                   brand: str = "", price_min=None, price_max=None, color_hex: str = "",
                   k=24) -> tuple[list[tuple[str, str]], dict]:
    """Search by photo and/or words with filters; with neither, browse the filtered catalogue.

    Returns (gallery of (product image, caption), {"mode", "hits": [product ref + score]}).
    """
    from catalog.search import Filters

    k = _num(k, "number of results", integer=True, lo=1, hi=200) or 24
    lo, hi = _price_range(price_min, price_max)
    color_hex = (color_hex or "").strip() or None
    if color_hex and not _is_hex(color_hex):
        raise UserError(f"colour must look like #a1b2c3, got {color_hex!r}")
    if makeup_type and makeup_type not in MAKEUP_TYPES:
        raise UserError(f"unknown makeup type {makeup_type!r}; choose from {', '.join(MAKEUP_TYPES)}")
    filters = Filters(category=(category or "").strip() or None, price_min=lo, price_max=hi, color_hex=color_hex,
                      makeup_type=makeup_type or None, brand=(brand or "").strip() or None)
    text = (text or "").strip()
    if photo:
        _pid, entry = ctx.photo(photo, "catalog")
        hits = ctx.search.by_image(entry.image, k, filters)
        mode = "photo"
        if text:  # both: re-rank the photo hits by the words as well
            by_text = {h.product.id: h.score for h in ctx.search.by_text(text, max(k * 4, 50), filters)}
            hits = sorted(hits, key=lambda h: -(h.score + by_text.get(h.product.id, 0.0)))
            mode = "photo+text"
        scored = [(h.product, float(h.score)) for h in hits]
    elif text:
        scored = [(h.product, float(h.score)) for h in ctx.search.by_text(text, k, filters)]
        mode = "text"
    else:
        mode = "browse"
        products = ctx.catalog.list(category=filters.category, makeup_type=filters.makeup_type)
        keep = []
        for p in products:
            if filters.brand and (p.brand or "").lower() != filters.brand.lower():
                continue
            if lo is not None and (p.price is None or p.price < lo):
                continue
            if hi is not None and (p.price is None or p.price > hi):
                continue
            keep.append(p)
        if color_hex:  # nearest colours first
            keep.sort(key=lambda p: _hex_distance(color_hex, p.shade_hex or p.color_hex))
        scored = [(p, None) for p in keep[:k]]
    gallery, refs = [], []
    for p, score in scored:
        ref = _json_safe(p.ref())
        ref["score"] = None if score is None else round(score, 4)
        ref["color_hex"] = getattr(p, "color_hex", None)
        refs.append(ref)
        img = _product_image(ctx, p)
        if img:
            gallery.append((img, f"{p.title} | {format_price(p.price, p.currency)}"))
    return gallery, {"mode": mode, "count": len(refs), "hits": refs}


def _is_hex(s: str) -> bool:
    s = s.lstrip("#")
    return len(s) == 6 and all(c in "0123456789abcdefABCDEF" for c in s)


def _hex_distance(a: str, b: str | None) -> float:
    if not b or not _is_hex(b):
        return float("inf")
    pa = [int(a.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    pb = [int(b.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
    return float(sum((x - y) ** 2 for x, y in zip(pa, pb)))


def hits_html(result: dict | None) -> str:
    """The search hits as a table: title (link), brand, category, price, score."""
    if not result:
        return ""
    if not result.get("hits"):
        return '<p class="rs-muted">No product matches. Remove a filter or use other words.</p>'
    rows = []
    for h in result["hits"]:
        title = html.escape(str(h.get("title") or h.get("id")))
        url = _safe_url(h.get("url"))
        link = f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
        hx = h.get("shade_hex") or h.get("color_hex")
        sw = f'<span class="rs-swatch" style="background:{html.escape(hx)}"></span>' if hx and _is_hex(hx) else ""
        score = "" if h.get("score") is None else f"{h['score']:.3f}"
        rows.append(f"<tr><td>{sw}{link}</td><td>{html.escape(str(h.get('brand') or ''))}</td>"
                    f"<td>{html.escape(str(h.get('category') or ''))}</td>"
                    f'<td class="rs-num">{html.escape(format_price(h.get("price"), h.get("currency")))}</td>'
                    f'<td class="rs-num">{score}</td></tr>')
    return ('<table class="rs-products"><thead><tr><th>Product</th><th>Brand</th><th>Category</th>'
            '<th class="rs-num">Price</th><th class="rs-num">Score</th></tr></thead><tbody>' + "".join(rows)
            + f"</tbody></table><p class=\"rs-muted\">{len(rows)} products ({html.escape(result['mode'])})</p>")


CATALOG_FILE_TYPES = (".csv", ".json", ".jsonl", ".parquet")
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")


def _server_paths_in(rows: list[dict]) -> str | None:
    """The first image reference that points at the server's own files ("/x.jpg", "../x.png",
    "~/x.jpg", "file:..."), as "row N: value"; None when there is none. An uploaded catalogue may
    name images by URL only: it must not import pictures from the server's disk."""
    for n, row in enumerate(rows, start=1):
        for v in row.values():
            if not isinstance(v, str):
                continue
            t = v.strip()
            low = t.lower()
            if low.startswith("file:") or (low.endswith(_IMAGE_EXTS) and (
                    t.startswith(("/", "~", "\\")) or ".." in Path(t).parts or (len(t) > 2 and t[1] == ":"))):
                return f"row {n}: {t!r}"
    return None


def catalog_import(ctx: AppContext, file, progress: Callable[[int, int], None] | None = None) -> dict:
    """Import a catalogue file (CSV, JSON or Parquet) uploaded through the app.

    Every row is validated; bad rows are listed with their row number and reason and skipped.
    Product images must be http(s) URLs (fetched only when ``allow_network`` is on); makeup shades
    need no image. Returns the import report as JSON (``imported`` = rows accepted).
    """
    import tempfile

    from catalog.importer import CatalogImporter, read_table

    if isinstance(file, dict):
        file = file.get("path")
    if not file:
        raise UserError("no catalogue file: choose a CSV, JSON or Parquet file first")
    path = Path(file)
    if path.suffix.lower() not in CATALOG_FILE_TYPES:
        raise UserError(f"{path.name} is not a catalogue file: use {', '.join(CATALOG_FILE_TYPES)}")
    if not path.is_file():
        raise UserError(f"the uploaded file {path.name} is gone; upload it again")
    if path.stat().st_size > ctx.settings.max_upload_bytes:
        raise UserError(f"{path.name} is {path.stat().st_size:,} bytes, over the limit of "
                        f"{ctx.settings.max_upload_bytes:,}")
    try:
        rows = read_table(path)
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path.name}: {e}") from None
    if not rows:
        raise UserError(f"{path.name} has no rows")
    bad = _server_paths_in(rows)
    if bad:
        raise UserError(f"image paths on the server are not allowed in an uploaded catalogue ({bad}); "
                        "use http(s) image URLs, or import on the server with `restyle catalog import`")
    with ctx._lock:  # one import at a time; searches wait for the new index
        importer = CatalogImporter.from_settings(ctx.settings, catalog=ctx.catalog)
        with tempfile.TemporaryDirectory(prefix="restyle-import-") as empty:
            report = importer.import_file(path, images_dir=empty, progress=progress)
        ctx.reset_catalog()
    out = _json_safe(report.to_dict())
    out["imported"] = report.accepted
    return out


def import_report_md(report: dict | None) -> str:
    """The import report in a few lines for people."""
    if not report:
        return ""
    lines = [f"**{report['imported']} of {report['rows']} rows imported** from {html.escape(str(report['source']))} "
             f"({report['inserted']} new, {report['updated']} updated, {report['unchanged']} unchanged); "
             f"**{len(report['rejected'])} rejected**."]
    if report["rejected"]:
        lines.append("")
        lines.append("Rejected rows:")
        lines += [f"- {html.escape(r)}" for r in report["rejected"][:50]]
        if len(report["rejected"]) > 50:
            lines.append(f"- ... and {len(report['rejected']) - 50} more (all are in the JSON report)")
    if report.get("warnings"):
        lines.append(f"\n{len(report['warnings'])} warnings (see the JSON report).")
    return "\n".join(lines)
