"""The Previews tab: the catalogue team picks a product (or uploads a new product photo with its
details), sees it across the template scenes with fidelity flags, and downloads the contact sheet.

It runs the same engine as ``restyle preview`` (in-process), into
``<data dir>/previews/app/<product>-<hash>``: asking again for the same product reuses what was
rendered. The renderers reuse the app's room and try-on pipelines (models loaded once per app).
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import threading
import zipfile
from pathlib import Path
from typing import Any, Callable

from pipelines.intake import load_image, save_image
from pipelines.preview.types import slug

FURNITURE_CATEGORIES = ("sofa", "armchair", "chair", "table", "bed", "lamp", "rug", "shelf", "storage", "mirror", "cushion", "plant")
MAKEUP_TYPES = ("lipstick", "eyeshadow", "blush", "foundation")
FINISHES = ("matte", "satin", "gloss", "shimmer")


class PreviewTabError(ValueError):
    """Something the person can fix (missing title, bad colour, unreadable photo)."""


def renderers_from_context(ctx):
    """Room and face renderers sharing the app's pipelines (and their loaded models)."""
    from pipelines.preview.engine import RendererSet
    from pipelines.preview.renderers import FaceRenderer, PinnedCatalog, PinnedSearch, RoomRenderer, _Lazy

    def room():
        base = ctx.room
        search, pinned = PinnedSearch(getattr(base, "search", None)), PinnedCatalog(ctx.catalog)
        pipe = copy.copy(base)  # shallow: same segmenter, labeller and embedder, own search/catalogue
        pipe.search, pipe.catalog = search, pinned
        pipe._sprites, pipe._product_vecs = {}, {}  # an uploaded product may reuse an id: no stale cut-outs
        return RoomRenderer(pipe, search, pinned)

    return RendererSet([
        _Lazy("room", lambda p: not getattr(p, "makeup_type", None), room),
        _Lazy("face", lambda p: bool(getattr(p, "makeup_type", None)), lambda: FaceRenderer(ctx.tryon)),
    ])


def product_fingerprint(product) -> str:
    return hashlib.sha256(json.dumps(product.model_dump(), sort_keys=True, default=str).encode()).hexdigest()[:10]


def product_from_upload(settings, image_path: str | None, *, title: str, category: str | None, price: float | None = None,
                        currency: str | None = "EUR", makeup_type: str | None = None, shade_hex: str | None = None,
                        finish: str | None = None, brand: str | None = None):
    """A new (not imported) product from the form: its photo is cut out and kept under
    ``<previews dir>/uploads``. Makeup needs a shade colour, furniture a photo and a category.

    Raises:
        PreviewTabError: with what to fix.
    """
    from catalog.products import Product

    title = (title or "").strip()
    if not title:
        raise PreviewTabError("Give the product a title.")
    makeup_type = makeup_type or None
    up = settings.previews_dir / "uploads"
    fields: dict[str, Any] = {"title": title, "price": price, "currency": currency or None, "brand": (brand or "").strip() or None, "source": "previews tab upload"}
    if makeup_type:
        if not shade_hex:
            raise PreviewTabError("A makeup product needs its shade colour (hex, e.g. #b0304a).")
        fields.update(category="makeup", makeup_type=makeup_type, shade_hex=shade_hex, finish=finish or "satin")
        key = json.dumps([title, makeup_type, shade_hex, finish]).encode()
    else:
        if not category:
            raise PreviewTabError("Choose the product's category (sofa, lamp, ...): it decides where it goes in a room.")
        if not image_path:
            raise PreviewTabError("Upload the product photo (on a plain background) for furniture.")
        try:
            img = load_image(image_path, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
        except ValueError as e:
            raise PreviewTabError(f"Product photo: {e}") from None
        key = Path(image_path).read_bytes()
        pid = "upload-" + hashlib.sha256(key).hexdigest()[:12]  # same photo, same id: reruns resume
        from catalog.cutout import cut_out

        cut = cut_out(img)
        fields.update(
            category=category,
            image_path=str(save_image(img, up / f"{pid}.jpg").resolve()),
            cutout_path=str(save_image(cut.image, up / f"{pid}-cutout.png").resolve()),
            cutout_confidence=round(float(cut.confidence), 4),
            cutout_flagged=bool(cut.flagged),
        )
    pid = "upload-" + hashlib.sha256(key).hexdigest()[:12]
    try:
        return Product(id=pid, **fields)
    except ValueError as e:
        raise PreviewTabError(f"Product details: {e}") from None


def zip_run(run_dir: Path) -> Path:
    """The contact sheet with its thumbnails and images, zipped (written atomically)."""
    run_dir = Path(run_dir)
    dst = run_dir / "contact_sheet.zip"
    tmp = dst.with_name(".contact_sheet.zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:  # JPEGs do not compress
        for name in ("contact_sheet.html", "coverage.json", "manifest.json"):
            if (run_dir / name).exists():
                z.write(run_dir / name, name)
        for sub in ("thumbs", "images", "products"):
            for f in sorted((run_dir / sub).rglob("*")) if (run_dir / sub).exists() else []:
                if f.is_file() and not f.name.startswith("."):
                    z.write(f, f.relative_to(run_dir).as_posix())
    tmp.replace(dst)
    return dst


def preview_product(settings, product, scenes, renderer_factory: Callable, progress: Callable[[int, int], None] | None = None) -> dict:
    """Render ``product`` into every scene of its kind; returns the gallery items, a summary
    (HTML) and the zipped contact sheet.

    Raises:
        PreviewTabError: no template scene of the product's kind.
    """
    from pipelines.preview.engine import PreviewRunner, product_scene_kind
    from pipelines.preview.report import load_coverage

    kind = product_scene_kind(product)
    mine = [s for s in scenes if s.kind == kind]
    if not mine:
        raise PreviewTabError(f"No template {kind} photos are installed (assets/{kind}s/), so there is nowhere to preview this product.")
    run_dir = settings.previews_dir / "app" / f"{slug(product.id, 40)}-{product_fingerprint(product)}"
    runner = PreviewRunner(run_dir, renderer_factory, retries=0, progress=(lambda d, t, r: progress(d, t)) if progress else None)
    summary = runner.run([product], mine)
    from pipelines.preview.manifest import load_manifest

    records = load_manifest(run_dir)
    gallery = []
    for r in records:
        if r["status"] == "ok":
            cap = r["scene_id"] + (" — ⚠ " + "; ".join(r["flags"]) if r["flags"] else " — fidelity ok")
            gallery.append((str(run_dir / r["image"]), cap))
    cov = load_coverage(run_dir)["entries"][0]
    esc = html.escape
    lines = [f"<p><b>{esc(product.title)}</b> ({esc(product.id)}): {summary.ok} previews in {len(mine)} template {kind} photos; "
             f"rendered with <b>{esc(', '.join(sorted({r['backend'] for r in records if r['backend']})) or '—')}</b>.</p>"]
    if cov["needs_attention"]:
        lines.append("<p><b>Needs attention:</b> " + "; ".join(esc(x) for x in cov["reasons"]) + "</p>")
    others = [r for r in records if r["status"] != "ok"]
    if others:
        lines.append("<ul>" + "".join(f"<li>{esc(r['scene_id'])}: {esc(r['status'])} — {esc(r['reason'] or '')}</li>" for r in others) + "</ul>")
    return {"gallery": gallery, "summary_html": "".join(lines), "zip": str(zip_run(run_dir)), "run_dir": str(run_dir), "records": records}


def _product_choices(ctx) -> list[tuple[str, str]]:
    """The catalogue's products as dropdown choices; none while the demo is still importing."""
    try:
        catalog = ctx.catalog_if_ready() if hasattr(ctx, "catalog_if_ready") else ctx.catalog
        products = catalog.list() if catalog is not None else []
    except Exception:  # noqa: BLE001 - no catalogue yet: the upload path still works
        return []
    return [(f"{p.title} · {p.makeup_type or p.category} · {p.id}", p.id) for p in sorted(products, key=lambda p: (p.makeup_type or p.category, p.title))]


def build_previews_tab(ctx, renderer_factory: Callable | None = None, scenes: list | None = None):
    """Mount the tab's components in the current ``gr.Blocks`` / ``gr.Tab`` context.

    Returns the product dropdown (the app refreshes its choices when the tab is opened).

    Args:
        ctx: the app's ``AppContext`` (settings, catalogue, pipelines).
        renderer_factory: override of the renderers (tests); default shares ctx's pipelines.
        scenes: override of the template scenes; default the demo rooms and faces in assets/.
    """
    import gradio as gr

    from pipelines.preview.cli import absolute_paths
    from pipelines.preview.sources import default_scenes

    lock = threading.Lock()
    cached: dict[str, Any] = {}

    def factory():
        if renderer_factory is not None:
            return renderer_factory()
        with lock:  # one renderer set per app: scene analyses stay cached between clicks
            if "set" not in cached:
                cached["set"] = renderers_from_context(ctx)
            return cached["set"]

    def template_scenes():
        return scenes if scenes is not None else default_scenes()

    gr.Markdown(
        "### Preview products in the template scenes\n"
        "See a product in every template room (or a shade on every template face) before it goes live. "
        "Products whose cut-out is poor or whose renders score low are flagged so the photo can be fixed. "
        "For thousands of products use `restyle preview` (in-process or on Ray)."
    )
    with gr.Row():
        with gr.Column(scale=1):
            gr.Markdown('<p class="rs-step">1. Pick a catalogue product…</p>')
            pick = gr.Dropdown(choices=_product_choices(ctx), label="Catalogue product", value=None, allow_custom_value=False,
                               elem_id="preview-product")
            refresh = gr.Button("Refresh list", size="sm")
            go_pick = gr.Button("Preview this product", variant="primary", elem_id="preview-run")
            gr.Markdown('<p class="rs-step">…or upload a new product</p>')
            with gr.Accordion("New product", open=False):
                photo = gr.Image(type="filepath", label="Product photo (plain background; not needed for makeup)", sources=["upload"])
                title = gr.Textbox(label="Title")
                with gr.Row():
                    category = gr.Dropdown(choices=list(FURNITURE_CATEGORIES), label="Furniture category", value=None)
                    makeup = gr.Dropdown(choices=["", *MAKEUP_TYPES], label="…or makeup type", value="")
                with gr.Row():
                    shade = gr.ColorPicker(label="Shade (makeup)", value="#b0304a")
                    finish = gr.Dropdown(choices=list(FINISHES), label="Finish", value="satin")
                with gr.Row():
                    price = gr.Number(label="Price", value=None)
                    currency = gr.Textbox(label="Currency", value="EUR")
                go_upload = gr.Button("Preview the new product", variant="primary", elem_id="preview-upload-run")
        with gr.Column(scale=2):
            gr.Markdown('<p class="rs-step">2. The product across the template scenes</p>')
            summary = gr.HTML(elem_id="preview-summary")
            gallery = gr.Gallery(label="Previews", columns=3, height="auto", object_fit="contain", elem_id="preview-gallery")
            sheet = gr.File(label="Contact sheet (HTML with images, zipped)", elem_id="preview-sheet")

    def run(product, progress):
        try:
            out = preview_product(ctx.settings, product, template_scenes(), factory,
                                  progress=lambda d, t: progress(d / max(t, 1), desc=f"Rendering {d}/{t}"))
        except PreviewTabError as e:
            raise gr.Error(str(e)) from None
        return out["summary_html"], out["gallery"], out["zip"]

    def from_catalog(pid, progress=gr.Progress()):
        if not pid:
            raise gr.Error("Pick a product first (or upload a new one below).")
        p = ctx.catalog.get(pid)
        if p is None:
            raise gr.Error(f"Product {pid} is no longer in the catalogue: refresh the list.")
        return run(absolute_paths([p], ctx.catalog)[0], progress)

    def from_upload(photo_path, title_, category_, makeup_, shade_, finish_, price_, currency_, progress=gr.Progress()):
        try:
            # gr.Number shows an empty price as 0: no product is free, so 0 means "no price given".
            p = product_from_upload(ctx.settings, photo_path, title=title_, category=category_, price=price_ or None, currency=currency_,
                                    makeup_type=makeup_ or None, shade_hex=shade_, finish=finish_)
        except PreviewTabError as e:
            raise gr.Error(str(e)) from None
        return run(p, progress)

    go_pick.click(from_catalog, [pick], [summary, gallery, sheet], api_name="preview_product")
    go_upload.click(from_upload, [photo, title, category, makeup, shade, finish, price, currency], [summary, gallery, sheet],
                    api_name="preview_upload")
    refresh.click(lambda: refresh_product_choices(ctx), None, [pick], api_visibility="private")
    return pick


def refresh_product_choices(ctx):
    import gradio as gr

    return gr.update(choices=_product_choices(ctx))
