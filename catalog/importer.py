"""Catalogue import: CSV, JSON or Parquet (plus an image folder) -> validated products.

Each row is mapped to :class:`~catalog.products.Product` fields (a column mapping, a preset, or
the built-in synonyms), validated, and its image loaded through ``pipelines.intake.load_image``,
normalised into the catalogue folder, cut out and embedded. A bad row (missing or corrupt image,
bad price, malformed hex, duplicate id, ...) is reported with its row number and reason and
skipped; every other row lands. Rows are committed in batches (products and their vectors in one
transaction), and re-importing is an upsert by id: an interrupted import completes when run again.

Row numbers count data rows from 1 (in a CSV, row N is on line N + 1, after the header).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image
from pydantic import ValidationError

from catalog.cutout import DEFAULT_FLAG_BELOW, cut_out, dominant_color, product_view
from catalog.fetch import FetchRefused, fetch_bytes
from catalog.products import FINISHES, Product, rgb_to_hex
from catalog.store import Catalog
from pipelines.intake import ImageRejected, load_image, save_image

IMAGE_VIEW = "view=cutout-on-white-cropped:v1"
STORED_MAX_SIDE = 800
PRODUCT_FIELDS = set(Product.model_fields)
# Extra targets a mapping may name besides Product fields.
EXTRA_TARGETS = {"image"}

# Column names other catalogues use -> our field (used when the mapping does not say otherwise).
SYNONYMS = {
    "product_id": "id", "sku": "id", "article": "id",
    "name": "title", "product_name": "title",
    "colour": "color_name", "color": "color_name",
    "colour_hex": "color_hex", "hex": "color_hex",
    "size": "dimensions", "link": "url", "product_link": "url",
    "image_file": "image", "image_path": "image", "img": "image", "image_link": "image",
    "tags": "style_tags", "style": "style_tags", "type": "category",
}


@dataclass
class Preset:
    """How one known catalogue maps onto products.

    ``mapping``: source column -> field. ``templates``: field -> ``"{col} {col|fallback}"`` built from
    the raw row (``{a|b}`` takes the first non-blank). ``constants``: field -> value. ``slug_id``: make
    the id safe (lower case, punctuation to '-'). ``finish_from``: columns whose words name a finish.
    """

    name: str
    kind: str
    mapping: dict[str, str] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    slug_id: bool = False
    finish_from: tuple[str, ...] = ()
    signature: tuple[str, ...] = ()


PRESETS: dict[str, Preset] = {
    "ikea": Preset(
        "ikea", "furniture",
        mapping={"product_id": "id", "category": "category", "color": "color_name", "size": "dimensions",
                 "description": "description", "image": "image"},
        templates={"title": "{name} {ikea_type}", "style_tags": "{ikea_type}"},
        constants={"brand": "IKEA"},
        signature=("product_id", "ikea_type", "name", "image"),
    ),
    "makeup_api": Preset(
        "makeup_api", "makeup",
        mapping={"brand": "brand", "product_type": "makeup_type", "price": "price", "currency": "currency",
                 "colour_name": "shade_name", "hex": "shade_hex", "product_link": "url", "image_link": "image_url"},
        templates={"id": "mua-{product_id}-{colour_name|hex}", "title": "{product_name}"},
        constants={"category": "makeup"},
        slug_id=True, finish_from=("product_name", "colour_name", "category"),
        signature=("product_id", "product_type", "colour_name", "hex"),
    ),
    "ovilia": Preset(
        "ovilia", "makeup",
        mapping={"brand_en": "brand", "hex": "shade_hex"},
        templates={"id": "ovilia-{brand_en}-{series_zh}-{shade_id}", "title": "{brand_en} {series_zh}",
                   "shade_name": "{shade_id} {shade_name_zh}"},
        constants={"category": "makeup", "makeup_type": "lipstick"},
        slug_id=True, signature=("brand_en", "series_zh", "shade_id", "hex"),
    ),
    "pudding": Preset(
        "pudding", "makeup",
        mapping={"brand": "brand", "url": "url", "hex": "shade_hex", "imgSrc": "image_url", "imgAlt": "description"},
        templates={"id": "pudding-{index}", "title": "{product}", "shade_name": "{name|specific}"},
        constants={"category": "makeup", "makeup_type": "foundation"},
        slug_id=True, finish_from=("product", "description"),
        signature=("brand", "product", "imgSrc", "hex"),
    ),
}


@dataclass
class RowIssue:
    """One rejected (or warned-about) row."""

    row: int
    id: str | None
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}" + (f" (id {self.id})" if self.id else "") + f": {self.reason}"


@dataclass
class ImportReport:
    """What an import did. Every input row is in exactly one of inserted/updated/unchanged/rejected."""

    source: str
    rows: int = 0
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    flagged_cutouts: list[str] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0
    preset: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return len(self.inserted) + len(self.updated) + len(self.unchanged)

    def reasons(self, issues: list[RowIssue] | None = None) -> dict[str, int]:
        """Rejections (or ``issues``) grouped by reason, values blanked, most common first."""
        counts: dict[str, int] = {}
        for r in self.rejected if issues is None else issues:
            key = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", r.reason)
            key = re.sub(r"row \d+", "row N", key)
            key = re.sub(r"\d+(\.\d+)?%", "N%", key)
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def summary(self, max_rows: int = 20) -> str:
        rate = self.accepted / self.seconds if self.seconds else 0.0
        lines = [
            f"import {self.source}" + (f" (preset {self.preset})" if self.preset else ""),
            f"  rows read: {self.rows}",
            f"  inserted: {len(self.inserted)}  updated: {len(self.updated)}  unchanged: {len(self.unchanged)}"
            f"  rejected: {len(self.rejected)}",
            f"  embedded: {self.embedded}  cut-outs flagged for review: {len(self.flagged_cutouts)}",
            f"  time: {self.seconds:.1f} s ({rate:.1f} products/s)",
        ]
        if self.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(self.ignored_columns)}")
        if self.rejected:
            lines.append("  rejected rows by reason:")
            for reason, n in self.reasons().items():
                lines.append(f"    {n:5d}  {reason}")
            lines.append(f"  rejected rows (first {min(max_rows, len(self.rejected))} of {len(self.rejected)}):")
            lines += [f"    {r}" for r in self.rejected[:max_rows]]
        if self.warnings:
            lines.append(f"  warnings by reason ({len(self.warnings)} rows, imported anyway):")
            lines += [f"    {n:5d}  {reason}" for reason, n in list(self.reasons(self.warnings).items())[:10]]
            shown = min(max_rows // 2, len(self.warnings))
            lines.append(f"  warnings (first {shown} of {len(self.warnings)}):")
            lines += [f"    {w}" for w in self.warnings[:shown]]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "source": self.source, "preset": self.preset, "rows": self.rows, "inserted": len(self.inserted),
            "updated": len(self.updated), "unchanged": len(self.unchanged), "rejected": [str(r) for r in self.rejected],
            "rejected_by_reason": self.reasons(), "warnings": [str(w) for w in self.warnings],
            "warnings_by_reason": self.reasons(self.warnings),
            "flagged_cutouts": self.flagged_cutouts, "embedded": self.embedded, "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


# ---------------------------------------------------------------------- reading tables
def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV, JSON (a list of objects, or {"products": [...]}) or Parquet file, as dicts.

    Raises ValueError with the file name when the file cannot be read as a table.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such catalogue file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            df = pd.read_csv(path, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")
            return df.to_dict("records")
        if suffix in (".json", ".jsonl"):
            if suffix == ".jsonl":
                return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                data = data.get("products", data.get("items"))
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValueError("expected a list of objects (or {\"products\": [...]})")
            return data
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
            return [{k: (None if _isna(v) else v) for k, v in r.items()} for r in df.to_dict("records")]
    except ValueError as e:
        raise ValueError(f"cannot read {path.name}: {e}") from None
    except Exception as e:  # noqa: BLE001 - parser errors of any library become one clear message
        raise ValueError(f"cannot read {path.name} as {suffix[1:].upper()}: {type(e).__name__}: {e}") from None
    raise ValueError(f"{path.name}: unsupported catalogue format {suffix!r} (CSV, JSON or Parquet)")


def _isna(v) -> bool:
    try:
        return v is None or (np.isscalar(v) and bool(np.isnan(v)))
    except TypeError:
        return False


def detect_preset(columns) -> Preset | None:
    cols = set(columns)
    for p in PRESETS.values():
        if p.signature and set(p.signature) <= cols:
            return p
    return None


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """``["src=dst", ...]`` -> ``{src: dst}``; the target must be a product field or ``image``."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"mapping {pair!r} must look like source_column=field")
        src, dst = (s.strip() for s in pair.split("=", 1))
        if dst not in PRODUCT_FIELDS | EXTRA_TARGETS:
            raise ValueError(f"mapping {pair!r}: {dst!r} is not a product field ({', '.join(sorted(PRODUCT_FIELDS | EXTRA_TARGETS))})")
        out[src] = dst
    return out


_TEMPLATE = re.compile(r"\{([^{}]+)\}")


def _fill(template: str, row: dict) -> str:
    def one(m):
        for col in m.group(1).split("|"):
            v = row.get(col.strip())
            if v is not None and not _isna(v) and str(v).strip():
                return str(v).strip()
        return ""

    return " ".join(_TEMPLATE.sub(one, template).split())


def _slug(s: str) -> str:
    s = re.sub(r"[^\w.\-]+", "-", s.strip().lower(), flags=re.UNICODE)
    return re.sub(r"-{2,}", "-", s).strip("-")


def _finish_in(text: str) -> str | None:
    from catalog.products import _FINISH_ALIASES

    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _FINISH_ALIASES:
            return _FINISH_ALIASES[word]
    return None


class RowMapper:
    """Turns one raw row into Product fields (plus ``image``) following a preset and a mapping."""

    def __init__(self, columns, mapping: dict[str, str] | None = None, preset: Preset | None = None,
                 defaults: dict[str, Any] | None = None):
        self.preset = preset
        self.mapping: dict[str, str] = {}
        targets = PRODUCT_FIELDS | EXTRA_TARGETS
        templated = set(preset.templates) if preset else set()
        for col in columns:
            if col in targets and col not in templated:
                self.mapping[col] = col
            elif col in SYNONYMS and SYNONYMS[col] not in templated:
                self.mapping[col] = SYNONYMS[col]
        if preset:
            self.mapping.update({c: f for c, f in preset.mapping.items() if c in columns})
        if mapping:
            unknown = [c for c in mapping if c not in columns]
            if unknown:
                raise ValueError(f"mapping names columns the file does not have: {', '.join(unknown)} "
                                 f"(columns: {', '.join(columns)})")
            self.mapping.update(mapping)
        # One source per field: a later (more specific) mapping wins over a synonym.
        seen: dict[str, str] = {}
        for c, f in list(self.mapping.items()):
            if f in seen and seen[f] != c:
                del self.mapping[seen[f]]
            seen[f] = c
        self.defaults = defaults or {}
        used = set(self.mapping) | {m for t in (preset.templates.values() if preset else []) for m in _TEMPLATE.findall(t)}
        used |= {c for m in list(used) for c in m.split("|")}
        used |= set(preset.finish_from) if preset else set()
        self.ignored = [c for c in columns if c not in used]

    def __call__(self, row: dict) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.defaults)
        for col, f in self.mapping.items():
            v = row.get(col)
            if v is not None and not _isna(v) and not (isinstance(v, str) and not v.strip()):
                out[f] = v
        if self.preset:
            out.update(self.preset.constants)
            for f, t in self.preset.templates.items():
                out[f] = _fill(t, row)
            if self.preset.slug_id and out.get("id"):
                out["id"] = _slug(str(out["id"]))
            if self.preset.finish_from and not out.get("finish"):
                fin = _finish_in(" ".join(str(row.get(c) or "") for c in self.preset.finish_from))
                if fin in FINISHES:
                    out["finish"] = fin
        # A "colour" column holding a hex code is a colour, not a name.
        name = out.get("color_name")
        if isinstance(name, str) and re.fullmatch(r"#?[0-9a-fA-F]{6}", name.strip()) and "color_hex" not in out:
            out["color_hex"] = out.pop("color_name")
        return out


# ---------------------------------------------------------------------- the importer
@dataclass
class _Prepared:
    row: int
    product: Product
    view: Image.Image | None = None
    image_hash: str | None = None


class CatalogImporter:
    """Imports catalogue files into a :class:`Catalog`.

    Args:
        catalog: where products land.
        image_embedder: a :class:`catalog.embeddings.ImageEmbedder` (None: no image vectors).
        text_embedder: a :class:`catalog.embeddings.TextEmbedder` (None: no text vectors).
        allow_network: fetch ``http(s)`` image URLs (guarded against private addresses).
        max_bytes, max_pixels: limits for every image (the settings' upload limits).
        flag_below: cut-outs with lower confidence are flagged.
        batch_size: rows per transaction.
        workers: threads that load and cut out images in parallel.
    """

    def __init__(self, catalog: Catalog, image_embedder=None, text_embedder=None, *, allow_network: bool = False,
                 max_bytes: int = 25 * 1024 * 1024, max_pixels: int = 50_000_000,
                 flag_below: float = DEFAULT_FLAG_BELOW, batch_size: int = 64, workers: int = 2):
        self.catalog = catalog
        self.image_embedder = image_embedder
        self.text_embedder = text_embedder
        self.allow_network = allow_network
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.flag_below = flag_below
        self.batch_size = batch_size
        self.workers = workers

    @classmethod
    def from_settings(cls, settings, catalog: Catalog | None = None, embed: bool = True, **kw) -> "CatalogImporter":
        from catalog.embeddings import ImageEmbedder, TextEmbedder

        catalog = catalog or Catalog.open(settings)
        return cls(catalog, ImageEmbedder.from_settings(settings) if embed else None,
                   TextEmbedder.from_settings(settings) if embed else None,
                   allow_network=settings.allow_network, max_bytes=settings.max_upload_bytes,
                   max_pixels=settings.max_image_pixels, **kw)

    @property
    def image_model(self) -> str | None:
        return f"{self.image_embedder.model_name}|{IMAGE_VIEW}" if self.image_embedder else None

    # .................................................................. entry points
    def import_file(self, path: str | Path, *, images_dir: str | Path | None = None,
                    mapping: dict[str, str] | None = None, preset: str | None = None,
                    kind: str | None = None, defaults: dict[str, Any] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """Import a CSV/JSON/Parquet file. Image paths are relative to ``images_dir`` (default: the
        file's folder). ``preset`` None auto-detects a known catalogue from its columns; "none" disables."""
        path = Path(path)
        rows = read_table(path)
        columns = list(dict.fromkeys(k for r in rows for k in r))  # JSON rows may differ in keys
        if preset == "none":
            pre = None
        elif preset:
            if preset not in PRESETS:
                raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
            pre = PRESETS[preset]
        else:
            pre = detect_preset(columns)
        if kind == "makeup" and not (pre and pre.kind == "makeup") and "category" not in (mapping or {}).values():
            defaults = {"category": "makeup", **(defaults or {})}
        mapper = RowMapper(columns, mapping, pre, defaults)
        report = self.import_rows(rows, mapper, base_dir=Path(images_dir) if images_dir else path.parent,
                                  source=path.name, progress=progress)
        report.preset = pre.name if pre else None
        report.ignored_columns = mapper.ignored
        return report

    def import_rows(self, rows: list[dict], mapper: RowMapper | None = None, *, base_dir: Path | None = None,
                    source: str = "rows", progress: Callable[[int, int], None] | None = None) -> ImportReport:
        t0 = time.perf_counter()
        mapper = mapper or RowMapper(list(dict.fromkeys(k for r in rows for k in r)))
        report = ImportReport(source=source, rows=len(rows))
        timings = {"validate": 0.0, "images": 0.0, "embed_image": 0.0, "embed_text": 0.0, "write": 0.0}
        first_seen: dict[str, int] = {}
        valid: list[tuple[int, dict, Product]] = []
        tv = time.perf_counter()
        for i, raw in enumerate(rows, start=1):
            fields = mapper(raw)
            pid = str(fields.get("id") or "").strip() or None
            if pid and pid in first_seen:
                report.rejected.append(RowIssue(i, pid, f"duplicate id (first seen in row {first_seen[pid]})"))
                continue
            image_ref = fields.pop("image", None)
            try:
                product = Product(source=source, **fields)
            except ValidationError as e:
                # A bad optional photo link is not worth losing the row: drop it, warn, and retry
                # (a furniture row then fails below for having no image, with that reason).
                if {err["loc"][0] for err in e.errors() if err["loc"]} == {"image_url"}:
                    report.warnings.append(RowIssue(i, pid, f"{_validation_reason(e)}: image link dropped"))
                    fields.pop("image_url", None)
                    try:
                        product = Product(source=source, **fields)
                    except ValidationError as e2:
                        report.rejected.append(RowIssue(i, pid, _validation_reason(e2)))
                        continue
                else:
                    report.rejected.append(RowIssue(i, pid, _validation_reason(e)))
                    continue
            first_seen[product.id] = i
            valid.append((i, {"image": image_ref}, product))
        timings["validate"] = time.perf_counter() - tv

        pool = ThreadPoolExecutor(max(1, self.workers)) if self.workers > 1 else None
        try:
            for b in range(0, len(valid), self.batch_size):
                batch = valid[b : b + self.batch_size]
                ti = time.perf_counter()
                fn = lambda item: self._prepare(item, base_dir, report)  # noqa: E731
                prepared = list(pool.map(fn, batch)) if pool else [fn(x) for x in batch]
                timings["images"] += time.perf_counter() - ti
                prepared = [p for p in prepared if p is not None]
                self._commit(prepared, report, timings)
                if progress:
                    progress(min(b + self.batch_size, len(valid)), len(valid))
        finally:
            if pool:
                pool.shutdown()
        report.rejected.sort(key=lambda r: r.row)
        report.warnings.sort(key=lambda r: r.row)
        report.seconds = time.perf_counter() - t0
        report.timings = timings
        return report

    # .................................................................. per row
    def _prepare(self, item, base_dir: Path | None, report: ImportReport) -> _Prepared | None:
        row, extra, product = item
        image_ref = extra["image"]
        if image_ref is None and product.image_url:
            image_ref = product.image_url
        if image_ref is None:
            if not product.is_makeup:
                report.rejected.append(RowIssue(row, product.id, "no image (a furniture product needs a photo)"))
                return None
            return _Prepared(row, product)
        try:
            img, data_hash = self._load(str(image_ref), base_dir)
        except FetchRefused as e:
            if product.is_makeup:  # makeup renders from its shade hex; the photo is optional
                report.warnings.append(RowIssue(row, product.id, str(e)))
                return _Prepared(row, product)
            report.rejected.append(RowIssue(row, product.id, str(e)))
            return None
        except ImageRejected as e:
            report.rejected.append(RowIssue(row, product.id, f"image {Path(str(image_ref)).name}: {e}"))
            return None
        stem = _file_stem(product.id)
        img.thumbnail((STORED_MAX_SIDE, STORED_MAX_SIDE), Image.Resampling.LANCZOS)
        rgb = img.convert("RGB")
        save_image(rgb, self.catalog.images_dir / f"{stem}.jpg", quality=90)
        cut = cut_out(img, flag_below=self.flag_below)
        save_image(cut.image, self.catalog.cutouts_dir / f"{stem}.png")
        updates = {
            "image_path": f"images/{stem}.jpg", "cutout_path": f"cutouts/{stem}.png",
            "cutout_confidence": round(cut.confidence, 4), "cutout_flagged": cut.flagged,
        }
        if product.color_hex is None:
            rgb_main = dominant_color(cut.image)
            if rgb_main is not None:
                updates["color_hex"] = rgb_to_hex(rgb_main)  # measured from the photo, for colour filters
        if cut.flagged:
            report.warnings.append(RowIssue(row, product.id, "cut-out flagged for review: " + "; ".join(cut.reasons)))
        product = product.model_copy(update=updates)
        view = product_view(cut.image) if self.image_embedder else None
        return _Prepared(row, product, view, data_hash)

    def _load(self, ref: str, base_dir: Path | None) -> tuple[Image.Image, str]:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", ref):
            data = fetch_bytes(ref, allow_network=self.allow_network, max_bytes=self.max_bytes)
            img = load_image(data, max_bytes=self.max_bytes, max_pixels=self.max_pixels, mode="RGBA")
            return img, hashlib.sha1(data).hexdigest()
        p = Path(ref)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        if not p.is_file():
            raise ImageRejected(f"missing image file {p}")
        data = p.read_bytes()
        img = load_image(data, max_bytes=self.max_bytes, max_pixels=self.max_pixels, mode="RGBA")
        return img, hashlib.sha1(data).hexdigest()

    # .................................................................. per batch
    def _commit(self, prepared: list[_Prepared], report: ImportReport, timings: dict) -> None:
        if not prepared:
            return
        embeddings = []
        if self.image_embedder is not None:
            model = self.image_model
            have = self.catalog.embedding_hashes("image", model)
            todo = [p for p in prepared if p.view is not None and have.get(p.product.id) != p.image_hash]
            if todo:
                te = time.perf_counter()
                vec = self.image_embedder.embed([p.view for p in todo])
                timings["embed_image"] += time.perf_counter() - te
                embeddings.append(("image", model, [p.product.id for p in todo], vec, [p.image_hash for p in todo]))
                report.embedded += len(todo)
        if self.text_embedder is not None:
            model = self.text_embedder.model_name
            have = self.catalog.embedding_hashes("text", model)
            texts = {p.product.id: p.product.search_text() for p in prepared}
            hashes = {pid: hashlib.sha1(t.encode()).hexdigest() for pid, t in texts.items()}
            todo = [pid for pid in texts if have.get(pid) != hashes[pid]]
            if todo:
                te = time.perf_counter()
                vec = self.text_embedder.embed([texts[pid] for pid in todo])
                timings["embed_text"] += time.perf_counter() - te
                embeddings.append(("text", model, todo, vec, [hashes[pid] for pid in todo]))
        tw = time.perf_counter()
        res = self.catalog.upsert([p.product for p in prepared], embeddings)
        timings["write"] += time.perf_counter() - tw
        report.inserted += res.inserted
        report.updated += res.updated
        report.unchanged += res.unchanged
        report.flagged_cutouts += [p.product.id for p in prepared if p.product.cutout_flagged]


def _file_stem(product_id: str) -> str:
    """A file-name-safe, collision-free stem for a product id."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", product_id)[:60].strip("._") or "product"
    return f"{safe}-{hashlib.sha1(product_id.encode()).hexdigest()[:8]}"


def _validation_reason(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        msg = err["msg"].removeprefix("Value error, ")
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {loc!r}"
        elif loc and loc not in msg:
            msg = f"{loc}: {msg}"
        parts.append(msg)
    return "; ".join(parts)
