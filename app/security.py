"""Web hardening for any Gradio app restyle serves: one place, applied by :func:`harden` and
:func:`launch_kwargs` (``app.server.launch`` uses both; tests use them on tiny Blocks).

What it enforces, and why:

- **Upload and request size**: ``max_file_size`` (Gradio's upload route) *and* a body limit on
  every request (base64 images in JSON would otherwise bypass the upload limit).
- **File routes**: Gradio serves ``/gradio_api/file=<path>`` from its cache, uploads and
  ``allowed_paths``. :class:`RequestGuard` refuses, before Gradio sees them, any path with ``..``
  segments (plain, %-encoded once or twice, any case), backslashes or NUL bytes, any URL
  (``/file=http://...`` would make the server fetch it), and files that are data, not media
  (SQLite databases, checkpoints, settings). ``blocked_paths`` repeats this for Gradio itself.
- **CORS**: :class:`StrictCORS` replaces Gradio's CORS middleware, which grants *any* origin
  when the app is reached under a non-localhost host name. Only the app's own origin and
  ``settings.allowed_origins`` get ``Access-Control-Allow-Origin``; cross-origin preflights and
  state-changing requests (POST, PUT, PATCH, DELETE) from other origins are refused (CSRF).
- **Queue**: every call goes through it (``api_open=False`` closes Gradio's queue-skipping
  ``/run/<name>`` routes), a bounded queue (``settings.queue_size``) and a concurrency limit per model
  (``settings.concurrency_per_model``, shared by every event that uses the same model through
  :func:`model_concurrency`). A full queue answers **429 Too Many Requests** with
  ``Retry-After`` (Gradio says 503: a 5xx reads as a server fault to monitors and clients).
- **Headers**: ``Referrer-Policy: no-referrer`` (share ids never leak to shops through the
  Referer of a product link), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options``.
- **Memory**: :func:`guard` turns ``torch.cuda.OutOfMemoryError``/``MemoryError`` into a
  ``gr.Error`` asking to retry, after freeing caches, so the next request succeeds.
- **Retention**: uploads and results in Gradio's cache are deleted after
  ``settings.upload_retention_s`` (Gradio keeps them forever by default).
- **Auth**: ``Settings`` refuses a non-loopback host without ``auth``; :func:`launch_kwargs`
  passes it to Gradio.
"""

from __future__ import annotations

import functools
import gc
import inspect
import json
import logging
import re
import secrets
import sys
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from app.settings import Settings

log = logging.getLogger("restyle.security")

RETRY_AFTER_S = 3
# Suffixes never served by the file route, wherever the file lies (data, code, secrets, weights).
DENIED_SUFFIXES = (
    ".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite3", ".db", ".db-wal", ".db-shm",
    ".py", ".pyc", ".toml", ".ini", ".cfg", ".env", ".yaml", ".yml",
    ".parquet", ".faiss", ".index", ".npy", ".npz",
    ".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".pkl", ".pickle",
    ".key", ".pem", ".crt", ".sh", ".log",
)  # fmt: skip
_FILE_ROUTE = re.compile(r"/file(=|/)", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def max_request_bytes(settings: Settings) -> int:
    """Largest request body accepted: one upload, base64-encoded (4/3), plus 1 MiB of form and
    JSON overhead."""
    return settings.max_upload_bytes * 4 // 3 + (1 << 20)


# --------------------------------------------------------------------------------------------
# ASGI middleware
# --------------------------------------------------------------------------------------------


async def _send_json(send, status: int, detail: str, extra_headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + list(extra_headers)})
    await send({"type": "http.response.body", "body": body})


def _decoded_forms(text: str, rounds: int = 3) -> list[str]:
    """``text`` and its %-decodings (double encoding such as %252e%252e is a classic bypass)."""
    forms = [text]
    for _ in range(rounds):
        nxt = unquote(forms[-1])
        if nxt == forms[-1]:
            break
        forms.append(nxt)
    return forms


def refuse_path_reason(raw_path: str) -> str | None:
    """Why a request path must be refused, or None. ``raw_path`` as sent (not yet decoded)."""
    for form in _decoded_forms(raw_path):
        if "\x00" in form:
            return "NUL byte in path"
        if "\\" in form:
            return "backslash in path"
        # Split on "=" too: in "/file=../x" the first segment is "file=..".
        if any(seg in ("..", ".") for seg in re.split(r"[/=]", form)[1:]):
            return "'..' in path"
    last = _decoded_forms(raw_path)[-1]
    m = _FILE_ROUTE.search(last)
    if m:
        target = last[m.end():]
        if _SCHEME.match(target) or target.startswith("//"):
            return "file route given a URL"
        name = target.rsplit("/", 1)[-1].lower()
        if name.endswith(DENIED_SUFFIXES) or name.startswith("."):
            return f"file type not served: {name}"
    return None


# Sent with every response. no-referrer: a share page's URL (its unguessable id) must not reach
# the shops its product links point to. nosniff: a served upload is never run as HTML/script.
SECURITY_HEADERS = (
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
)


async def _with_security_headers(message, send):
    if message["type"] == "http.response.start":
        present = {k.lower() for k, _ in message.get("headers", [])}
        extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
        if extra:
            message = {**message, "headers": list(message.get("headers", [])) + extra}
    await send(message)


class RequestGuard:
    """Outermost middleware: refuse hostile paths, rewrite "queue full" to 429.

    Path checks use the raw bytes of the request line, so ``..`` cannot hide behind
    percent-encoding, double encoding or upper-case hex.
    """

    def __init__(self, app, queue_paths: tuple[str, ...] = ("/queue/join", "/call/")):
        self.app = app
        self.queue_paths = queue_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if scope["type"] == "http":
            send = functools.partial(_with_security_headers, send=send)
        raw = scope.get("raw_path") or scope.get("path", "").encode()
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        reason = refuse_path_reason(raw_path) or refuse_path_reason(scope.get("path", ""))
        if reason:
            log.warning("refused %s %s: %s", scope.get("method"), raw_path[:200], reason)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            return await _send_json(send, 403, f"Not allowed ({reason}).")
        if scope["type"] == "http" and scope.get("method") == "POST" and any(
            p in scope.get("path", "") for p in self.queue_paths
        ):
            return await self._queue_call(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _queue_call(self, scope, receive, send):
        """Pass through; a 503 "Queue is full" from Gradio becomes 429 with Retry-After."""
        held: dict[str, Any] = {}

        async def send_wrapper(message):
            if message["type"] == "http.response.start" and message["status"] == 503:
                held["start"] = message
                return
            if "start" in held and message["type"] == "http.response.body":
                body = held.setdefault("body", b"") + message.get("body", b"")
                held["body"] = body
                if message.get("more_body"):
                    return
                if b"Queue is full" in body:
                    return await _send_json(
                        send, 429,
                        "restyle is busy: the queue is full. Please retry in a few seconds.",
                        [(b"retry-after", str(RETRY_AFTER_S).encode())],
                    )
                await send(held["start"])
                return await send({"type": "http.response.body", "body": body})
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _norm_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


class StrictCORS:
    """CORS that grants only the app's own origin and ``allowed_origins``.

    Same origin means the Origin's host[:port] equals the Host (or X-Forwarded-Host, which a
    browser cannot set on a cross-origin request without a preflight we refuse) header.
    A foreign origin gets no ``Access-Control-Allow-Origin``; its preflights and unsafe-method
    requests are refused with 403 before reaching the app.
    """

    def __init__(self, app, allowed_origins: list[str] | tuple[str, ...] = (), **_ignored):
        self.app = app
        self.allowed = {_norm_origin(o) for o in allowed_origins}

    def is_allowed(self, origin: str, headers: dict[str, str]) -> bool:
        o = _norm_origin(origin)
        if o in self.allowed:
            return True
        if o == "null" or not o.startswith(("http://", "https://")):
            return False
        netloc = urlsplit(o).netloc
        hosts = {headers.get("host", "").lower()}
        if "x-forwarded-host" in headers:
            hosts.add(headers["x-forwarded-host"].split(",")[0].strip().lower())
        scheme, port = urlsplit(o).scheme, urlsplit(o).port
        # "http://example.com" and Host "example.com:80" are the same origin.
        if port is None:
            hosts |= {h.rsplit(":", 1)[0] for h in hosts if h.endswith(":80" if scheme == "http" else ":443")}
        return netloc in hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is None:
            return await self.app(scope, receive, send)
        allowed = self.is_allowed(origin, headers)
        method = scope["method"]
        if method == "OPTIONS" and "access-control-request-method" in headers:
            if not allowed:
                return await _send_json(send, 403, "Cross-origin request refused.")
            extra = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
            ]
            if "access-control-request-headers" in headers:
                extra.append((b"access-control-allow-headers", headers["access-control-request-headers"].encode("latin-1")))
            await send({"type": "http.response.start", "status": 200, "headers": extra})
            return await send({"type": "http.response.body", "body": b""})
        if not allowed and method in UNSAFE_METHODS:
            log.warning("refused cross-origin %s %s from %s", method, scope.get("path"), origin[:100])
            return await _send_json(send, 403, "Cross-origin request refused.")

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
                if allowed:
                    kept += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-allow-credentials", b"true"),
                        (b"vary", b"Origin"),
                    ]
                message = {**message, "headers": kept}
            await send(message)

        await self.app(scope, receive, send_wrapper)


@functools.lru_cache(maxsize=1)
def _hardened_app_class():
    """A gradio ``App`` whose CORS middleware is :class:`StrictCORS` and whose outermost layer is
    :class:`RequestGuard`. Built lazily so importing this module does not import gradio."""
    from gradio.route_utils import CustomCORSMiddleware
    from gradio.routes import App

    class HardenedApp(App):
        def __init__(self, settings: Settings, **kwargs):
            self.restyle_settings = settings
            kwargs.setdefault("max_body_size", max_request_bytes(settings))
            from fastapi.responses import ORJSONResponse

            kwargs.setdefault("default_response_class", ORJSONResponse)
            super().__init__(**kwargs)

        def add_middleware(self, middleware_class, *args, **kwargs):
            if middleware_class is CustomCORSMiddleware:
                return super().add_middleware(StrictCORS, allowed_origins=self.restyle_settings.allowed_origins)
            return super().add_middleware(middleware_class, *args, **kwargs)

        def build_middleware_stack(self):
            return RequestGuard(super().build_middleware_stack())

    return HardenedApp


def hardened_app(settings: Settings):
    """A fresh :class:`HardenedApp` (a ``gradio.routes.App``) for ``Blocks.launch(_app=...)``."""
    return _hardened_app_class()(settings)


# --------------------------------------------------------------------------------------------
# Blocks-level hardening
# --------------------------------------------------------------------------------------------


def blocked_paths(settings: Settings) -> list[str]:
    """Absolute paths Gradio must never serve, even inside ``allowed_paths``."""
    shares = settings.shares_dir.resolve()
    paths = [
        shares / "shares.sqlite",
        shares / "shares.sqlite-wal",
        shares / "shares.sqlite-shm",
        Path.home() / ".ssh",
        Path("/etc"),
        Path("/proc"),
    ]
    for model in (settings.sam_checkpoint, settings.sd_model, settings.sdxl_model, settings.controlnet_model,
                  settings.controlnet_sdxl_model, settings.ip_adapter, settings.clip_model, settings.annotators_dir):
        if model and Path(model).expanduser().is_absolute():
            paths.append(Path(model).expanduser())
    return [str(p) for p in paths]


def _prewarm() -> None:
    """Import now what Gradio imports on the first request (matplotlib, ~0.5-1.5 s cold), so the
    first person to upload a photo gets an answer as fast as everyone after."""
    try:
        import matplotlib

        matplotlib.get_backend()
    except ImportError:
        pass


def harden(blocks, settings: Settings):
    """Give ``blocks`` a bounded queue and a default per-event concurrency limit; returns it.

    Also lowers Pillow's process-wide bomb limit to ``settings.max_image_pixels``, so any decode
    that does not go through :mod:`pipelines.intake` (a library's own) refuses bombs too.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = min(Image.MAX_IMAGE_PIXELS or settings.max_image_pixels, settings.max_image_pixels)
    _prewarm()
    if blocks.delete_cache is None:
        # Strangers' photos must not pile up in Gradio's cache forever: every (retention / 4, at
        # most hourly) Gradio deletes uploads and results older than the retention.
        age = settings.upload_retention_s
        blocks.delete_cache = (max(1, min(3600, age // 4)), age)
    # api_open=False: Gradio otherwise also serves every event at /gradio_api/run/<name>, which
    # skips the queue, its size bound and the concurrency limits.
    blocks.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency_per_model,
                 api_open=False)
    return blocks


def launch_kwargs(settings: Settings, **overrides) -> dict[str, Any]:
    """Keyword arguments for ``Blocks.launch`` that apply every limit in ``settings``."""
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    settings.shares_dir.mkdir(parents=True, exist_ok=True)
    kw: dict[str, Any] = dict(
        server_name=settings.host,
        server_port=settings.port or None,
        share=settings.share,
        auth=auth,
        max_file_size=settings.max_upload_bytes,
        allowed_paths=[str(settings.shares_dir.resolve())],
        blocked_paths=blocked_paths(settings),
        show_error=False,  # gr.Error messages still show; other exceptions stay in the log
        strict_cors=True,
        enable_monitoring=False,
        _app=hardened_app(settings),
    )
    kw.update(overrides)
    return kw


def model_concurrency(model: str, settings: Settings) -> dict[str, Any]:
    """Event kwargs so every handler using ``model`` shares one limit:
    ``btn.click(fn, ..., **model_concurrency("room", settings))``."""
    return {"concurrency_id": f"model:{model}", "concurrency_limit": settings.concurrency_per_model}


# --------------------------------------------------------------------------------------------
# Handlers: memory errors and share ids
# --------------------------------------------------------------------------------------------

OOM_MESSAGE = (
    "The server ran out of {what} memory for this request and has freed it. "
    "Please retry; if it happens again, ask for fewer results or use a smaller photo."
)


def free_memory() -> None:
    """Drop unreachable objects and, on CUDA, cached blocks, so the next request has room."""
    gc.collect()
    torch = sys.modules.get("torch")  # not imported means no CUDA memory to free
    try:
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    except Exception:  # noqa: BLE001 - freeing memory must never raise
        pass


def _memory_kind(e: BaseException) -> str | None:
    """"GPU"/"CPU" when ``e`` means out of memory, else None."""
    torch = sys.modules.get("torch")  # never import torch (seconds) just to classify an error
    if torch is not None and isinstance(e, torch.cuda.OutOfMemoryError):
        return "GPU"
    if isinstance(e, MemoryError):
        return "CPU"
    if isinstance(e, RuntimeError):
        text = str(e).lower()
        if "out of memory" in text and ("cuda" in text or "mps" in text or "hip" in text):
            return "GPU"
        if "can't allocate memory" in text or "defaultcpuallocator" in text:
            return "CPU"
    return None


def _to_user_error(e: BaseException):
    """The ``gr.Error`` for ``e``, or None when ``e`` is not an error a user should see."""
    import gradio as gr

    from pipelines.intake import ImageRejected

    kind = _memory_kind(e)
    if kind:
        free_memory()
        log.warning("out of %s memory in a request: %s", kind, str(e)[:200])
        return gr.Error(OOM_MESSAGE.format(what=kind), title="Out of memory")
    if isinstance(e, ImageRejected):
        return gr.Error(f"This photo can't be used: {e}", title="Photo refused")
    return None


def guard(fn: Callable) -> Callable:
    """Decorate a Gradio handler: out-of-memory becomes a "please retry" message (after freeing
    caches) and :class:`~pipelines.intake.ImageRejected` its specific message. Works on plain
    functions, generators and coroutines; keeps the signature (Gradio reads it)."""

    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except Exception as e:  # noqa: BLE001 - re-raised unless it is a user error
                err = _to_user_error(e)
                if err is None:
                    raise
                raise err from None

    elif inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                err = _to_user_error(e)
                if err is None:
                    raise
                raise err from None

    elif inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                err = _to_user_error(e)
                if err is None:
                    raise
                raise err from None

    else:

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                err = _to_user_error(e)
                if err is None:
                    raise
                raise err from None

    return wrapper


guard_memory = guard  # the name the design notes use

SHARE_ID_BYTES = 16  # 128 bits: not guessable, not enumerable
_SHARE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")


def new_share_id() -> str:
    """A fresh permalink id: 22 URL-safe characters from :func:`secrets.token_urlsafe` (128 bits)."""
    return secrets.token_urlsafe(SHARE_ID_BYTES)


def is_share_id(text: str) -> bool:
    """True when ``text`` has the exact shape of :func:`new_share_id` (so it is safe in a path)."""
    return bool(_SHARE_ID_RE.fullmatch(text or ""))


# --------------------------------------------------------------------------------------------
# Photo upload component
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _photo_input_class():
    import gradio as gr
    from gradio import component_meta

    # Gradio writes a .pyi stub next to the source of every component class it sees; this one
    # adds no events, so skip that (it would write app/security.pyi at run time).
    write_stub = component_meta.create_or_modify_pyi
    component_meta.create_or_modify_pyi = lambda *a, **k: None
    try:
        return _define_photo_input(gr)
    finally:
        component_meta.create_or_modify_pyi = write_stub


def _define_photo_input(gr):
    class PhotoInput(gr.Image):
        """``gr.Image`` for uploads that hands the handler the uploaded file's path *without*
        Gradio decoding it first (``gr.Image`` calls ``PIL.Image.open`` on every upload, so random
        bytes or a 200 MP bomb fail inside Gradio with a bare "Error"). The handler passes the
        path to :func:`pipelines.intake.load_image`, whose messages are specific.

        Same front-end widget as ``gr.Image`` (``is_template``); ``type`` is always "filepath".
        Base64 ``data:`` payloads are refused: clients upload files (``gradio_client.handle_file``).
        """

        is_template = True

        def __init__(self, value=None, **kwargs):
            kwargs["type"] = "filepath"
            kwargs.setdefault("image_mode", None)
            super().__init__(value, **kwargs)

        def get_config(self, cls=None):
            # Gradio reads a component's props from its class's __init__ signature; ours is
            # (value=None, **kwargs), so read them as gr.Image's or the page draws no widget.
            return super().get_config(cls or gr.Image)

        def preprocess(self, payload):
            if payload is None:
                return None
            if payload.url and payload.url.startswith("data:"):
                raise gr.Error("Please upload the photo as a file (base64 data URLs are not accepted).")
            if payload.path is None:
                raise gr.Error("The upload did not arrive; please try again.")
            return str(payload.path)

    return PhotoInput


def PhotoInput(*args, **kwargs):  # noqa: N802 - reads like the component class it builds
    """Build a :class:`PhotoInput` component (see ``_photo_input_class``); use instead of
    ``gr.Image(type="filepath")`` for every photo a person uploads."""
    return _photo_input_class()(*args, **kwargs)
