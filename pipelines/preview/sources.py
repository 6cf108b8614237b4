"""Where a preview's inputs come from: scene folders and product selections.

Scenes are the photos in a folder (JPEG/PNG/WebP, by extension here; the renderer reads each
through ``pipelines.intake.load_image``, which checks the content). Products come from catalogue
ids, a catalogue search, or a catalogue file of new products (JSON list, JSON Lines or CSV of
``catalog.products.Product`` fields) that need not be in the catalogue yet.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable

from pipelines.preview.types import Scene, SceneKind, slug

REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOMS = REPO / "assets" / "rooms"
DEFAULT_FACES = REPO / "assets" / "faces"
SCENE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def discover_scenes(folder: str | Path, kind: SceneKind, limit: int | None = None) -> list[Scene]:
    """The photos directly inside ``folder`` as scenes of ``kind``, sorted by name.

    Raises:
        ValueError: the folder does not exist or holds no photos.
    """
    folder = Path(folder)
    if kind not in ("room", "face"):
        raise ValueError(f"scene kind must be 'room' or 'face', got {kind!r}")
    if not folder.is_dir():
        raise ValueError(f"no such scene folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SCENE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise ValueError(f"no photos (.jpg, .png, .webp) in scene folder {folder}")
    if limit is not None:
        files = files[:limit]
    return [Scene(id=f"{kind}-{slug(p.stem)}", path=p.resolve(), kind=kind) for p in files]


def default_scenes() -> list[Scene]:
    """The demo template scenes shipped in assets/rooms and assets/faces (those that exist)."""
    out: list[Scene] = []
    for folder, kind in ((DEFAULT_ROOMS, "room"), (DEFAULT_FACES, "face")):
        try:
            out += discover_scenes(folder, kind)
        except ValueError:
            pass
    return out


def _product_model():
    from catalog.products import Product

    return Product


def read_product_file(path: str | Path) -> tuple[list, list[str]]:
    """Products from a JSON list, JSON Lines or CSV file of Product fields.

    Relative ``image_path``/``cutout_path`` values are taken relative to the file's folder.
    Returns ``(products, problems)``: a bad row is reported ("row 7: price: ...") and skipped.

    Raises:
        ValueError: the file is missing, of an unknown type, or unreadable as a whole.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such catalogue file: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            rows = json.loads(path.read_text())
            if isinstance(rows, dict):
                rows = rows.get("products", [rows])
        elif suffix in (".jsonl", ".ndjson"):
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        elif suffix == ".csv":
            with open(path, newline="", encoding="utf-8") as f:
                rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in csv.DictReader(f)]
        else:
            raise ValueError(f"catalogue file must be .json, .jsonl or .csv, got {path.name}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    Product = _product_model()
    products, problems = [], []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(f"row {i}: not an object")
            continue
        row = dict(row)
        for key in ("image_path", "cutout_path"):
            if row.get(key) and not Path(row[key]).is_absolute():
                row[key] = str((path.parent / row[key]).resolve())
        if isinstance(row.get("style_tags"), str):
            row["style_tags"] = [t.strip() for t in row["style_tags"].split(";") if t.strip()]
        try:
            products.append(Product(**row))
        except Exception as e:  # pydantic ValidationError: one line per bad field
            problems.append(f"row {i}: {_short_error(e)}")
    return products, problems


def _short_error(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errors())
    return str(e)


def select_products(catalog, *, ids: Iterable[str] = (), search: str | None = None, k: int = 20, category: str | None = None, search_engine=None) -> list:
    """Products by id and/or by a text search over the catalogue (``k`` hits, optional category).

    Raises:
        ValueError: an id not in the catalogue (all missing ids are named).
    """
    out, missing = [], []
    for pid in ids:
        p = catalog.get(pid)
        (out.append(p) if p is not None else missing.append(pid))
    if missing:
        raise ValueError(f"not in the catalogue: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""))
    if search:
        from catalog.search import Filters

        hits = search_engine.by_text(search, k, Filters(category=category))
        out += [h.product for h in hits]
    elif category and not ids:
        out += list(catalog.list(category=category))
    seen, unique = set(), []
    for p in out:
        if p.id not in seen:
            seen.add(p.id)
            unique.append(p)
    return unique


def ensure_cutouts(products: list, folder: str | Path, *, max_bytes: int = 25 * 1024 * 1024, max_pixels: int = 50_000_000) -> tuple[list, list[str]]:
    """Cut out new products that come with a photo but no cut-out (``catalog.cutout.cut_out``),
    saving RGBA PNGs in ``folder`` (idempotent: an existing cut-out file is reused). Returns the
    products (updated copies where a cut-out was made) and the problems met."""
    from catalog.cutout import cut_out

    from pipelines.intake import ImageRejected, load_image, save_image

    folder = Path(folder)
    out, problems = [], []
    for p in products:
        if getattr(p, "makeup_type", None) or getattr(p, "cutout_path", None) or not getattr(p, "image_path", None):
            out.append(p)
            continue
        dst = folder / f"{slug(p.id)}.png"
        meta = folder / f"{slug(p.id)}.json"
        try:
            if dst.exists() and meta.exists():
                info = json.loads(meta.read_text())
            else:
                c = cut_out(load_image(p.image_path, max_bytes=max_bytes, max_pixels=max_pixels))
                save_image(c.image, dst)
                info = {"confidence": round(float(c.confidence), 4), "flagged": bool(c.flagged), "reasons": list(c.reasons)}
                meta.write_text(json.dumps(info))
        except (ImageRejected, ValueError) as e:
            problems.append(f"{p.id}: cannot cut out {p.image_path}: {e}")
            out.append(p)
            continue
        out.append(p.model_copy(update={"cutout_path": str(dst.resolve()), "cutout_confidence": info["confidence"], "cutout_flagged": info["flagged"]}))
    return out, problems
