"""The browser app: Room studio, Try-on studio, Catalogue, Previews, and read-only permalinks.

Each action is a named endpoint (``api_name``) that calls a plain function of :mod:`app.api`, so
``gradio_client`` and the page run the same code. UI-only glue (click coordinates, detail panel,
visibility) is kept in small private handlers here.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import traceback
from functools import wraps
from pathlib import Path

import gradio as gr

from app import api
from app.api import AppContext, UserError
from app.security import PhotoInput, guard, model_concurrency
from app.settings import Settings

log = logging.getLogger("restyle.ui")

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp"}

CSS = """
.rs-hero h1 {margin-bottom: 0.2rem}
.rs-hero p {margin-top: 0; opacity: 0.85}
.rs-step {font-weight: 600; margin: 0.4rem 0 0.1rem}
.rs-products {width: 100%; border-collapse: collapse; font-size: 0.95rem}
.rs-products th, .rs-products td {padding: 6px 8px; border-bottom: 1px solid var(--border-color-primary); text-align: left}
.rs-products .rs-num {text-align: right; white-space: nowrap}
.rs-products tfoot td {font-weight: 700; border-bottom: none}
.rs-swatch {display: inline-block; width: 1em; height: 1em; border-radius: 50%; margin-right: 6px;
            vertical-align: -0.15em; border: 1px solid rgba(0,0,0,0.25)}
.rs-backend {margin-top: 0.6rem; font-size: 0.9rem; opacity: 0.85}
.rs-muted {opacity: 0.7}
.rs-share a {word-break: break-all}
.rs-tone {display: flex; gap: 14px; align-items: center; flex-wrap: wrap}
.rs-tone .rs-big {width: 64px; height: 64px; border-radius: 12px; border: 1px solid rgba(0,0,0,0.2)}
.rs-monk {display: flex; gap: 3px; margin-top: 6px}
.rs-monk span {flex: 1; min-width: 18px; height: 22px; border-radius: 4px; text-align: center; font-size: 11px;
               line-height: 22px; color: #fff; text-shadow: 0 0 2px #000}
.rs-monk span.on {outline: 3px solid var(--color-accent); outline-offset: 1px}
/* Show the whole grid of results: Gradio caps galleries at 55% of the screen otherwise. */
.rs-gallery .grid-wrap {max-height: none !important; overflow-y: visible !important}
@media (max-width: 640px) {
  .rs-products {font-size: 0.85rem}
  .rs-hero h1 {font-size: 1.5rem}
  /* 5 columns of at least 100 px do not fit a phone: Gradio would clip 2 of every 5 results. */
  .rs-gallery .grid-container {grid-template-columns: repeat(3, minmax(0, 1fr)) !important}
}
"""

THEME = gr.themes.Soft(primary_hue="teal", secondary_hue="orange")


class RestyleBlocks(gr.Blocks):
    """Blocks that bring their own CSS and theme to ``launch()`` (Gradio 6 takes them there)."""

    def launch(self, *args, **kwargs):
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("theme", THEME)
        return super().launch(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# glue
# --------------------------------------------------------------------------------------------


def _user_errors(step: str):
    """Turn every failure of ``step`` into a specific ``gr.Error`` (never a stack trace)."""

    def deco(fn):
        guarded = guard(fn)  # out-of-memory: frees caches and says "retry" (app.security)

        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return guarded(*args, **kwargs)
            except gr.Error:
                raise
            except (UserError, ValueError, LookupError) as e:  # includes ImageRejected, ShareNotFound
                raise gr.Error(f"{step}: {e}", print_exception=False) from None
            except MemoryError:
                raise gr.Error(f"{step}: the server ran out of memory; try a smaller photo or fewer results") from None
            except Exception as e:
                log.error("%s failed:\n%s", step, traceback.format_exc())
                raise gr.Error(f"{step} failed unexpectedly ({type(e).__name__}: {e}). The details are in the server log.",
                               print_exception=False) from None

        return wrapper

    return deco


def _base_url(request: gr.Request | None) -> str:
    """The page's own origin, for permalinks, from the request's Host (and proxy) headers."""
    if request is None:
        return ""
    headers = {k.lower(): v for k, v in dict(getattr(request, "headers", {}) or {}).items()}
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        return ""
    proto = headers.get("x-forwarded-proto") or "http"
    return f"{proto}://{host}"


def _demo_files(kind: str) -> list[str]:
    folder = ASSETS / kind
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)


def _share_md(payload: dict | None) -> str:
    if not payload:
        return ""
    url = payload["share_url"]
    n = len(payload.get("results", []))
    note = str((payload.get("info") or {}).get("message") or "")
    note_html = f'<p class="rs-muted">{html.escape(note)}</p>' if note else ""
    return (f'{note_html}<div class="rs-share">Permalink to these {n} results (read-only, for anyone with the link): '
            f'<a href="{html.escape(url)}" target="_blank">{html.escape(url)}</a></div>')


def _detail(payload: dict | None, index: int | None):
    """(before/after pair, products HTML, heading) for result ``index`` of a result set."""
    if not payload or index is None or not (0 <= index < len(payload["results"])):
        return None, "", ""
    meta = payload["results"][index]
    heading = f"### Result {index + 1} of {len(payload['results'])}"
    return (payload["before"], payload["images"][index]), api.products_html(meta), heading


def _tone_html(tone: dict | None, backend: str = "") -> str:
    if not tone:
        return '<p class="rs-muted">No skin tone yet.</p>'
    monk = tone["monk"]
    cells = "".join(
        f'<span class="{"on" if i + 1 == monk else ""}" style="background:{hx}">{i + 1}</span>'
        for i, hx in enumerate(api.MONK_HEX)
    )
    return (
        '<div class="rs-tone">'
        f'<div class="rs-big" style="background:{html.escape(tone["swatch_hex"])}"></div>'
        f'<div><b>Monk {monk}</b> of 10 &middot; ITA {tone["ita"]:.0f}&deg; &middot; {html.escape(tone["undertone"])} undertone'
        f'<br>confidence {tone["confidence"]:.0%}'
        + (f' &middot; <span class="rs-muted">{html.escape(backend)}</span>' if backend else "")
        + f'</div></div><div class="rs-monk">{cells}</div>'
    )


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------


def build_app(settings: Settings, demo: bool = False, ctx: AppContext | None = None,
              warm_up: bool | None = None) -> gr.Blocks:
    """The whole app.

    Args:
        demo: import the demo catalogue (idempotent) and offer the demo rooms and faces.
        ctx: the pipelines and stores (built lazily from ``settings`` when omitted).
        warm_up: load the catalogue and models in a background thread right away, so the page is
            up at once and the first action waits only for what is still loading. Default: on in
            demo mode (what ``make run`` starts).
    """
    ctx = ctx or AppContext(settings, demo=demo)
    do_warm_up = demo if warm_up is None else warm_up

    with RestyleBlocks(title="restyle: redesign your room, try on makeup") as app:
        app.restyle_ctx = ctx
        gr.HTML(
            '<div class="rs-hero"><h1>restyle</h1>'
            "<p>Upload a photo of your room or your face and try real catalogue products in it: "
            "swap furniture, erase or rearrange it, or try lipstick, eyeshadow and blush shades. "
            "Every result lists the products used, with prices and links, and gets a permalink.</p></div>"
        )

        # ---- read-only permalink view (shown instead of the studios for ?share=<id>) --------
        with gr.Column(visible=False) as shared_col:
            shared_title = gr.Markdown(elem_id="shared-title")
            with gr.Column() as shared_body:
                shared_gallery = gr.Gallery(label="Shared results: click one", columns=5, height="auto",
                                            object_fit="cover", allow_preview=False, elem_id="shared-gallery",
                                            elem_classes=["rs-gallery"])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        shared_heading = gr.Markdown()
                        shared_slider = gr.ImageSlider(label="Before / after (drag)", type="filepath",
                                                       elem_id="shared-slider")
                    with gr.Column(scale=2, min_width=280):
                        shared_products = gr.HTML(elem_id="shared-products")
            gr.HTML('<p><a href="./">Make your own &rarr;</a></p>')
            shared_state = gr.State(None)
            shared_id = gr.Textbox(label="Share id", visible=False)
            shared_json = gr.JSON(visible=False)

        with gr.Tabs(visible=True, elem_id="studios") as tabs:
            _room_tab(ctx)
            _face_tab(ctx)
            _catalog_tab(ctx, app)
            _previews_tab(ctx)

        # ---- permalink endpoint + page load -----------------------------------------------
        @_user_errors("Opening the shared result")
        def get_share(share_id: str, request: gr.Request = None):
            before, gallery, payload = api.get_share(ctx, share_id, _base_url(request))
            return gallery, payload

        shared_id.submit(get_share, [shared_id], [shared_gallery, shared_json], api_name="get_share")

        def on_load(request: gr.Request):
            params = dict(getattr(request, "query_params", {}) or {})
            sid = (params.get("share") or "").strip()
            if not sid:
                return (gr.update(visible=False),) + (gr.update(),) * 7 + (gr.update(visible=True),)
            try:
                _before, gallery, payload = api.get_share(ctx, sid, _base_url(request))
            except UserError as e:
                return (gr.update(visible=True), f"### This link does not open a result\n{e}",
                        gr.update(visible=False), [], None, "", "", None, gr.update(visible=True))
            what = "room combinations" if payload["kind"] == "room" else "makeup looks"
            title = (f"## Shared {what}\n{len(payload['results'])} results made with "
                     f"**{api.backend_label(payload['backend'])}**. Read-only: click one to see it large, "
                     "with its products and prices.")
            pair, prod, heading = _detail(payload, 0)
            return (gr.update(visible=True), title, gr.update(visible=True), gallery, payload, heading, prod, pair,
                    gr.update(visible=False))

        app.load(on_load, None, [shared_col, shared_title, shared_body, shared_gallery, shared_state, shared_heading,
                                 shared_products, shared_slider, tabs], api_visibility="private")

        def on_shared_select(payload, evt: gr.SelectData):
            pair, prod, heading = _detail(payload, evt.index)
            return pair, prod, heading

        shared_gallery.select(on_shared_select, [shared_state], [shared_slider, shared_products, shared_heading],
                              api_visibility="private")
        if do_warm_up:
            # First run of the demo: the import starts as soon as the server is up (the page does
            # not wait for it; the first action does). Later runs wait for the page (see _WarmUp).
            warm = _WarmUp(ctx, delay_s=0.0 if ctx.catalog_if_ready() is None else 15.0)
            # When a browser has the page (its first load event), or shortly after start for API use.
            app.load(warm.start, None, None, api_visibility="private", queue=False)
    if do_warm_up:
        threading.Thread(target=warm.start_later, args=(app,), name="restyle-warm-up-timer", daemon=True).start()
    return app


class _WarmUp:
    """Loads the catalogue and models once, in the background, after the first page is out.

    Loading them while the server starts (imports hold Python's import lock, and the CPU is
    busy) delayed the first page 2-3x in ``bench.bench_app``; the first action waits anyway.
    """

    def __init__(self, ctx: AppContext, delay_s: float = 15.0):
        self.ctx, self.delay_s = ctx, delay_s
        self._started = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._started.is_set():
                return
            self._started.set()
        threading.Thread(target=self.ctx.warm_up, name="restyle-warm-up", daemon=True).start()

    def start_later(self, app: gr.Blocks) -> None:
        waited = 0.0
        while not getattr(app, "is_running", False) and waited < 600:
            time.sleep(0.2)
            waited += 0.2
        if not self._started.wait(self.delay_s) and getattr(app, "is_running", False):
            self.start()


def _results_block(prefix: str):
    """Gallery + permalink + detail panel shared by both studios. Returns the components."""
    gr.Markdown('<p class="rs-step">4. Results: click one to see it large</p>')
    share = gr.HTML(elem_id=f"{prefix}-share")
    gallery = gr.Gallery(label="Results", columns=5, height="auto", object_fit="cover", allow_preview=False,
                         elem_id=f"{prefix}-gallery", elem_classes=["rs-gallery"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            heading = gr.Markdown()
            slider = gr.ImageSlider(label="Before / after (drag)", type="filepath", elem_id=f"{prefix}-slider")
        with gr.Column(scale=2, min_width=280):
            products = gr.HTML(elem_id=f"{prefix}-products")
    with gr.Accordion("Result details (JSON)", open=False):
        result_json = gr.JSON(label="Result set")
    return share, gallery, heading, slider, products, result_json


def _room_tab(ctx: AppContext):
    with gr.Tab("Room", id="room", elem_id="tab-room"):
        gr.Markdown("Redesign a room with real products: upload a photo, click the item to change, "
                    "pick what to do, and browse the combinations.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                gr.Markdown('<p class="rs-step">1. Your room photo</p>')
                photo = PhotoInput(label="Room photo", sources=["upload", "clipboard"], height=300,
                                 elem_id="room-photo")
                demos = _demo_files("rooms")
                if demos:
                    gr.Examples(demos, inputs=[photo], label="Or pick a demo room")
            with gr.Column(scale=3, min_width=300):
                gr.Markdown('<p class="rs-step">2. Click an item to select it</p>')
                items_img = gr.Image(label="Detected items (click to select)", interactive=False,
                                     elem_id="room-items", type="pil", format="jpeg")
                click_mode = gr.Radio(["Select or unselect an item", "Add a missed item at the click",
                                       "Set the spot to move to (rearrange)"], value="Select or unselect an item",
                                      label="A click on the photo will", elem_id="room-click-mode")
                status = gr.Markdown(elem_id="room-status")
        with gr.Group():
            gr.Markdown('<p class="rs-step">3. Choose what to do</p>')
            with gr.Row():
                selected = gr.Textbox(label="Selected item ids", placeholder="click items above, or type e.g. 2, 5",
                                      elem_id="room-selected", scale=1, min_width=160)
                mode = gr.Radio([(v, k) for k, v in api.ROOM_MODE_LABELS.items()], value="swap_similar",
                                label="Action", elem_id="room-mode", scale=3)
            with gr.Row():
                text = gr.Textbox(label="Describe the product", placeholder="green velvet sofa under 800",
                                  visible=False, elem_id="room-text", min_width=200)
                category = gr.Dropdown(label="Category", choices=[], visible=False, allow_custom_value=True,
                                       elem_id="room-category", min_width=160)
                price_min = gr.Number(label="Min price (0 = none)", value=None, minimum=0, min_width=100)
                price_max = gr.Number(label="Max price (0 = none)", value=None, minimum=0, min_width=100)
                target_x = gr.Number(label="Move to x", visible=False, precision=0, min_width=90)
                target_y = gr.Number(label="Move to y", visible=False, precision=0, min_width=90)
            with gr.Row():
                n = gr.Slider(1, 40, value=ctx.settings.num_combinations, step=1, label="How many combinations",
                              scale=3)
                seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, min_width=90, scale=1)
        go = gr.Button("Make combinations", variant="primary", size="lg", elem_id="room-go")
        share, gallery, heading, slider, products, result_json = _results_block("room")
        info = gr.JSON(visible=False)

        # hidden inputs of the API-only /select_item endpoint
        api_x = gr.Number(visible=False)
        api_y = gr.Number(visible=False)
        api_add = gr.Checkbox(visible=False)
        api_btn = gr.Button(visible=False)

    @_user_errors("Finding the items in your room")
    def detect(p, progress=gr.Progress()):
        if not p:
            return None, None
        progress(0.1, desc="Finding the items in your room")
        return api.detect_items(ctx, p)

    def after_detect(inf):
        if not inf:
            return "", ""
        items = ", ".join(f"{i['id']} {i['label']}" for i in inf["items"]) or "none"
        return "", (f"Found **{len(inf['items'])} items** ({items}) with {api.backend_label(inf['backend'])}. "
                    "Click one to select it.")

    room_model = model_concurrency("room", ctx.settings)  # one limit for every handler using the pipeline
    photo.change(detect, [photo], [items_img, info], api_name="detect_items", **room_model).then(
        after_detect, [info], [selected, status], api_visibility="private")

    @_user_errors("Selecting an item")
    def select_api(p, x, y, sel, add):
        return api.select_item(ctx, p, x, y, sel, bool(add))

    api_btn.click(select_api, [photo, api_x, api_y, selected, api_add], [items_img, info], api_name="select_item",
                  **room_model)

    @_user_errors("Selecting an item")
    def on_click(p, sel, how, evt: gr.SelectData):
        x, y = evt.index[0], evt.index[1]
        if how.startswith("Set the spot"):
            return gr.update(), gr.update(), sel, f"Move-to spot set at ({x}, {y}).", x, y, "rearrange"
        img, inf = api.select_item(ctx, p, x, y, sel, how.startswith("Add"))
        by_id = {i["id"]: i["label"] for i in inf["items"]}
        chosen = ", ".join(f"{i} {by_id[i]}" for i in inf["selected"]) or "nothing"
        return (img, inf, ", ".join(map(str, inf["selected"])), f"Selected: **{chosen}**.", gr.update(), gr.update(),
                gr.update())

    items_img.select(on_click, [photo, selected, click_mode],
                     [items_img, info, selected, status, target_x, target_y, mode], api_visibility="private",
                     **room_model)

    def on_mode(m):
        return (gr.update(visible=m == "swap_text"), gr.update(visible=m == "swap_category", choices=_categories(ctx)),
                gr.update(visible=m == "rearrange"), gr.update(visible=m == "rearrange"))

    mode.change(on_mode, [mode], [text, category, target_x, target_y], api_visibility="private")

    @_user_errors("Making combinations")
    def combine(p, m, sel, t, c, lo, hi, tx, ty, k, s, request: gr.Request = None,
                progress=gr.Progress(track_tqdm=True)):
        progress(0.05, desc="Making combinations")
        return api.room_combinations(ctx, p, m, sel, t, c, lo, hi, tx, ty, k, s, _base_url(request))

    go.click(combine, [photo, mode, selected, text, category, price_min, price_max, target_x, target_y, n, seed],
             [gallery, result_json], api_name="room_combinations", **room_model).then(
        _show_results, [result_json], [share, slider, products, heading], api_visibility="private")
    gallery.select(_on_result_select, [result_json], [slider, products, heading], api_visibility="private")
    return photo


def _show_results(payload):
    pair, prod, heading = _detail(payload, 0)
    return _share_md(payload), pair, prod, heading


def _on_result_select(payload, evt: gr.SelectData):
    return _detail(payload, evt.index)


def _categories(ctx: AppContext) -> list[str]:
    try:
        return sorted({p.category for p in ctx.catalog.list() if p.category and not p.makeup_type})
    except Exception:  # the dropdown stays usable with free text
        log.warning("cannot list catalogue categories:\n%s", traceback.format_exc())
        return []


def _brands(ctx: AppContext, makeup: bool) -> list[str]:
    try:
        return sorted({p.brand for p in ctx.catalog.list() if p.brand and bool(p.makeup_type) == makeup})
    except Exception:
        log.warning("cannot list catalogue brands:\n%s", traceback.format_exc())
        return []


def _face_tab(ctx: AppContext):
    with gr.Tab("Makeup", id="face", elem_id="tab-face"):
        gr.Markdown("Try real makeup shades on your own face: upload a photo (or use your camera), check the skin "
                    "tone we found, pick what to try, and browse the looks.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                gr.Markdown('<p class="rs-step">1. Your face photo</p>')
                photo = PhotoInput(label="Face photo", sources=["upload", "webcam", "clipboard"],
                                 height=300, elem_id="face-photo")
                demos = _demo_files("faces")
                if demos:
                    gr.Examples(demos, inputs=[photo], label="Or pick a demo face")
            with gr.Column(scale=3, min_width=300):
                gr.Markdown('<p class="rs-step">2. Your skin tone (correct it if it looks wrong)</p>')
                regions_img = gr.Image(label="What we found: skin (yellow), lips (red), eyes (blue), cheeks (pink)",
                                       interactive=False, type="pil", format="jpeg", elem_id="face-regions")
                tone_html = gr.HTML(_tone_html(None), elem_id="face-tone")
                # A Number, not a Slider: empty (None) means "use the estimate" for API callers.
                monk = gr.Number(label="Monk level, 1 lightest to 10 deepest: change it if it looks wrong",
                                 value=None, minimum=1, maximum=10, step=1, precision=0, elem_id="face-monk")
        with gr.Group():
            gr.Markdown('<p class="rs-step">3. What to try</p>')
            with gr.Row():
                types = gr.CheckboxGroup(list(api.MAKEUP_TYPES), value=["lipstick", "eyeshadow", "blush"],
                                         label="Product types", elem_id="face-types")
                brand = gr.Dropdown(label="Brand", choices=[""], value="", allow_custom_value=True, min_width=160)
                product = gr.Dropdown(label="Or one product in all its shades", choices=[("", "")], value="",
                                      allow_custom_value=True, min_width=200)
            with gr.Row():
                price_min = gr.Number(label="Min price (0 = none)", value=None, minimum=0, min_width=100)
                price_max = gr.Number(label="Max price (0 = none)", value=None, minimum=0, min_width=100)
                n = gr.Slider(1, 40, value=ctx.settings.num_combinations, step=1, label="How many looks", scale=2)
                seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, min_width=90)
        go = gr.Button("Make looks", variant="primary", size="lg", elem_id="face-go")
        share, gallery, heading, slider, products, result_json = _results_block("face")
        info = gr.JSON(visible=False)

    @_user_errors("Analysing your face")
    def analyze(p, progress=gr.Progress()):
        if not p:
            return None, None
        progress(0.1, desc="Finding your face and skin tone")
        return api.analyze_face(ctx, p)

    def after_analyze(inf):
        if not inf or not inf.get("tone"):
            return _tone_html(None), gr.update(), gr.update(), gr.update()
        brands = [""] + _brands(ctx, makeup=True)
        prods = [("", "")] + _makeup_products(ctx)
        return (_tone_html(inf["tone"], api.backend_label(inf["backend"])), gr.update(value=inf["tone"]["monk"]),
                gr.update(choices=brands), gr.update(choices=prods))

    face_model = model_concurrency("face", ctx.settings)
    photo.change(analyze, [photo], [regions_img, info], api_name="analyze_face", **face_model).then(
        after_analyze, [info], [tone_html, monk, brand, product], api_visibility="private")

    @_user_errors("Making looks")
    def looks(p, tps, b, pid, lo, hi, tone, k, s, request: gr.Request = None, progress=gr.Progress(track_tqdm=True)):
        progress(0.05, desc="Making looks")
        return api.face_looks(ctx, p, tps, b, lo, hi, pid, tone, k, s, _base_url(request))

    go.click(looks, [photo, types, brand, product, price_min, price_max, monk, n, seed], [gallery, result_json],
             api_name="face_looks", **face_model).then(
        _show_results, [result_json], [share, slider, products, heading], api_visibility="private")
    gallery.select(_on_result_select, [result_json], [slider, products, heading], api_visibility="private")
    return photo


def _makeup_products(ctx: AppContext) -> list[tuple[str, str]]:
    """One entry per makeup product family (title + brand), value = a product id of it."""
    try:
        seen: dict[str, str] = {}
        for p in ctx.catalog.list():
            if p.makeup_type:
                label = f"{p.brand + ' ' if p.brand else ''}{p.title} ({p.makeup_type})"
                seen.setdefault(label, p.id)
        return sorted(seen.items())
    except Exception:
        log.warning("cannot list makeup products:\n%s", traceback.format_exc())
        return []


def _catalog_tab(ctx: AppContext, app: gr.Blocks):
    with gr.Tab("Catalogue", id="catalog", elem_id="tab-catalog"):
        gr.Markdown("Browse and search the product catalogue by photo, by words, or with filters.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                q_photo = PhotoInput(label="Search by photo", sources=["upload", "clipboard"],
                                   height=200)
                q_text = gr.Textbox(label="Search by words", placeholder="oak dining table")
                with gr.Row():
                    category = gr.Dropdown(label="Category", choices=[""], value="", allow_custom_value=True)
                    makeup_type = gr.Dropdown(label="Makeup type", choices=[""] + list(api.MAKEUP_TYPES), value="")
                with gr.Row():
                    brand = gr.Dropdown(label="Brand", choices=[""], value="", allow_custom_value=True)
                    colour = gr.ColorPicker(label="Colour (optional)", value=None)
                with gr.Row():
                    price_min = gr.Number(label="Min price (0 = none)", value=None, minimum=0)
                    price_max = gr.Number(label="Max price (0 = none)", value=None, minimum=0)
                k = gr.Slider(1, 100, value=24, step=1, label="How many")
                go = gr.Button("Search", variant="primary", elem_id="catalog-go")
            with gr.Column(scale=2, min_width=300):
                results = gr.Gallery(label="Products", columns=4, height="auto", object_fit="contain",
                                     allow_preview=True, elem_id="catalog-gallery")
                table = gr.HTML()
                hits = gr.JSON(visible=False)
        with gr.Accordion("Import a catalogue file", open=False):
            gr.Markdown("A CSV, JSON or Parquet file of products (id, title, category, price, currency, url, "
                        "image URL; makeup: makeup_type, shade_hex, shade_name). Rows that cannot be used are "
                        "listed with the reason; the others are imported.")
            upload = gr.File(label="Catalogue file", file_types=list(api.CATALOG_FILE_TYPES), type="filepath")
            import_btn = gr.Button("Import")
            report_md = gr.Markdown()
            report = gr.JSON(label="Import report")

    @_user_errors("Searching the catalogue")
    def search(ph, t, c, mt, b, lo, hi, col, kk):
        return api.catalog_search(ctx, ph, t, c, mt, b, lo, hi, col, kk)

    def refresh_filters():
        cats = [""] + _categories(ctx)
        brands = [""] + sorted(set(_brands(ctx, True)) | set(_brands(ctx, False)))
        return gr.update(choices=cats), gr.update(choices=brands)

    go.click(search, [q_photo, q_text, category, makeup_type, brand, price_min, price_max, colour, k],
             [results, hits], api_name="catalog_search").then(
        lambda h: api.hits_html(h), [hits], [table], api_visibility="private")

    @_user_errors("Importing the catalogue")
    def do_import(f, progress=gr.Progress()):
        progress(0.02, desc="Reading the file")
        return api.catalog_import(ctx, f, lambda done, total: progress(done / max(total, 1),
                                                                        desc=f"Importing products {done}/{total}"))

    import_btn.click(do_import, [upload], [report], api_name="catalog_import").then(
        lambda r: api.import_report_md(r), [report], [report_md], api_visibility="private").then(
        refresh_filters, None, [category, brand], api_visibility="private")
    upload.upload(lambda: "", None, [report_md], api_visibility="private")
    # Fill the filter choices when the page opens (cheap: a catalogue listing).
    app.load(refresh_filters, None, [category, brand], api_visibility="private")


def _previews_tab(ctx: AppContext):
    try:
        from app.previews_tab import build_previews_tab, refresh_product_choices
    except ImportError:
        return
    with gr.Tab("Previews", id="previews", elem_id="tab-previews") as tab:
        pick = build_previews_tab(ctx)
    # The list is empty while the demo's first import runs: fill it whenever the tab is opened.
    tab.select(lambda: refresh_product_choices(ctx), None, [pick], api_visibility="private")
