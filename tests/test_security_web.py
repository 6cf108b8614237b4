"""The web layer under attack: a tiny Blocks hardened exactly as the real app (app.security),
served on 127.0.0.1, attacked with raw HTTP."""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import gradio as gr
import httpx
import psutil
import pytest
import torch

from app.security import PhotoInput, guard, harden, is_share_id, launch_kwargs, max_request_bytes, new_share_id
from app.settings import SettingsError, load_settings
from bench import attack_samples as A
from pipelines.intake import load_image

pytestmark = pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated")  # gradio's choice

QUEUE = 10
SLOW_S = 0.15


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("secweb")
    settings = load_settings(
        data_dir=data, port=0, queue_size=QUEUE, concurrency_per_model=1,
        max_upload_bytes=300_000, allowed_origins=["https://shop.example"],
    )
    calls = {"oom": 0, "memerr": 0}

    def slow(text):
        time.sleep(SLOW_S)
        return text.upper()

    def photo_size(path):
        img = load_image(path, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
        return f"{img.width}x{img.height}"

    def flaky_gpu(text):
        calls["oom"] += 1
        if calls["oom"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return f"ok {text}"

    def flaky_cpu(text):
        calls["memerr"] += 1
        if calls["memerr"] == 1:
            raise MemoryError()
        return f"ok {text}"

    with gr.Blocks() as blocks:
        t, o = gr.Textbox(), gr.Textbox()
        photo = PhotoInput()
        t.submit(guard(slow), t, o, api_name="slow")
        t.change(guard(flaky_gpu), t, o, api_name="flaky_gpu")
        t.blur(guard(flaky_cpu), t, o, api_name="flaky_cpu")
        photo.upload(guard(photo_size), photo, o, api_name="photo_size")
    harden(blocks, settings)
    blocks.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    yield blocks, settings
    blocks.close()


def _url(server) -> str:
    return server[0].local_url.rstrip("/")


def _raw_get(url: str, raw_path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET with the path sent byte for byte (httpx and browsers would normalise '..')."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", raw_path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _call(url: str, api: str, data: list, client: httpx.Client | None = None) -> tuple[int, str]:
    """Run an endpoint through the queue: POST /call/<api>, then read its event stream."""
    c = client or httpx.Client(timeout=30)
    r = c.post(f"{url}/gradio_api/call/{api}", json={"data": data})
    if r.status_code != 200:
        return r.status_code, r.text
    r2 = c.get(f"{url}/gradio_api/call/{api}/{r.json()['event_id']}")
    return r2.status_code, r2.text


def _upload(url: str, data: bytes, name: str = "photo.png") -> httpx.Response:
    return httpx.post(f"{url}/gradio_api/upload", files=[("files", (name, data, "image/png"))], timeout=30)


# --- path traversal ---------------------------------------------------------------------------

TRAVERSALS = [
    "/gradio_api/file=../../../../etc/passwd",                      # plain
    "/gradio_api/file=..%2f..%2f..%2f..%2fetc%2fpasswd",           # URL-encoded
    "/gradio_api/file=%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",    # URL-encoded, upper-case hex
    "/GRADIO_API/FILE=../../../../ETC/PASSWD",                      # upper-cased
    "/gradio_api/file=%252e%252e%252f%252e%252e%252fetc%252fpasswd",  # double-encoded
    "/gradio_api/file=/etc/passwd",                                  # absolute
    "/gradio_api/file=/ETC/PASSWD",
    "/gradio_api/file/../../../../etc/passwd",                      # deprecated route
    "/gradio_api/file=..\\..\\..\\etc\\passwd",                      # backslashes
    "/gradio_api/file=/etc/passwd%00.png",                          # NUL
    "/gradio_api/file=http://169.254.169.254/latest/meta-data/",    # server-side fetch
    "/assets/../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
]


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_path_traversal_is_refused(server, raw_path):
    status, body = _raw_get(_url(server), raw_path)
    assert status in (400, 403, 404), (status, body[:200])
    assert b"root:" not in body


def test_only_allowed_files_are_served(server):
    blocks, settings = server
    share = settings.shares_dir / "AbCdEfGhIjKlMnOpQrStUv"
    share.mkdir(parents=True, exist_ok=True)
    (share / "before.jpg").write_bytes(A.cmyk_jpeg())
    (settings.shares_dir / "shares.sqlite").write_bytes(b"SQLite format 3\x00 share ids...")
    (settings.data_dir / "secret.txt").write_text("not for you")
    url = _url(server)

    status, body = _raw_get(url, f"/gradio_api/file={share / 'before.jpg'}")
    assert status == 200 and body.startswith(b"\xff\xd8")
    for leaked in (settings.shares_dir / "shares.sqlite", settings.data_dir / "secret.txt"):
        status, body = _raw_get(url, f"/gradio_api/file={leaked}")
        assert status == 403, (leaked, status)
        assert b"share ids" not in body and b"not for you" not in body


def test_api_input_cannot_name_a_server_file(server):
    status, text = _call(_url(server), "photo_size", [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}])
    assert "root:" not in text
    assert status == 200 and "event: error" in text


# --- CORS -------------------------------------------------------------------------------------


def test_cross_origin_requests_get_no_cors_grant(server):
    url = _url(server)
    evil = {"Origin": "https://evil.example"}
    r = httpx.get(f"{url}/gradio_api/info", headers=evil)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = httpx.options(f"{url}/gradio_api/call/slow", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    post = httpx.post(f"{url}/gradio_api/call/slow", json={"data": ["x"]}, headers=evil)
    assert post.status_code == 403 and "access-control-allow-origin" not in post.headers
    # Localhost on another port is another origin (a local dev page must not drive the app).
    r = httpx.get(f"{url}/gradio_api/info", headers={"Origin": "http://localhost:9999"})
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{url}/gradio_api/info", headers={"Origin": "null"})
    assert "access-control-allow-origin" not in r.headers


def test_same_origin_and_configured_origins_are_granted(server):
    url = _url(server)
    r = httpx.get(f"{url}/gradio_api/info", headers={"Origin": url})
    assert r.headers.get("access-control-allow-origin") == url
    r = httpx.get(f"{url}/gradio_api/info", headers={"Origin": "https://shop.example"})
    assert r.headers.get("access-control-allow-origin") == "https://shop.example"
    pre = httpx.options(f"{url}/gradio_api/call/slow",
                        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == "https://shop.example"


def test_behind_a_proxy_foreign_origins_get_no_grant_unlike_gradio_default(server, tmp_path):
    """Gradio's own CORS grants ANY origin once the Host is not localhost (as behind a
    reverse proxy); ours does not. The control app shows the hole is real."""
    proxied = {"Host": "restyle.example.com", "Origin": "https://evil.example"}
    with gr.Blocks() as plain:
        gr.Textbox()
    plain.launch(prevent_thread_lock=True, quiet=True)
    try:
        r = httpx.get(f"{plain.local_url.rstrip('/')}/gradio_api/info", headers=proxied)
        assert r.headers.get("access-control-allow-origin") == "https://evil.example"  # gradio's hole
    finally:
        plain.close()
    r = httpx.get(f"{_url(server)}/gradio_api/info", headers=proxied)
    assert "access-control-allow-origin" not in r.headers
    same = {"Host": "restyle.example.com", "Origin": "https://restyle.example.com"}
    assert httpx.get(f"{_url(server)}/gradio_api/info", headers=same).headers.get(
        "access-control-allow-origin") == "https://restyle.example.com"


def test_security_headers_on_every_response(server):
    url = _url(server)
    for r in (httpx.get(f"{url}/"), httpx.get(f"{url}/gradio_api/info"), httpx.get(f"{url}/gradio_api/file=/etc/passwd")):
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "SAMEORIGIN"


# --- sizes ------------------------------------------------------------------------------------


def test_uploads_are_deleted_after_the_retention(server):
    from gradio.route_utils import delete_files_created_by_app

    blocks, settings = server
    assert blocks.delete_cache == (3600, 86_400)  # hourly sweep, 24 h retention (the defaults)
    path = Path(_upload(_url(server), A.cmyk_jpeg(), "face.jpg").json()[0])
    assert path.is_file()
    delete_files_created_by_app(blocks, 0)  # what the hourly sweep runs, with age 0
    assert not path.exists()


def test_upload_over_the_limit_is_refused(server):
    blocks, settings = server
    r = _upload(_url(server), b"\xff\xd8\xff" + b"\x00" * (settings.max_upload_bytes + 10))
    assert r.status_code == 413
    assert _upload(_url(server), A.cmyk_jpeg()).status_code == 200


def test_request_body_over_the_limit_is_refused(server):
    blocks, settings = server
    big = "A" * (max_request_bytes(settings) + 10)
    r = httpx.post(f"{_url(server)}/gradio_api/call/slow", json={"data": [big]}, timeout=30)
    assert r.status_code == 413


# --- bad photos through the server ----------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, expect",
    [
        ("bomb.png", A.png_bomb(), "60,000,000 pixels"),
        ("header_bomb.png", A.png_header_bomb(), "10,000,000,000 pixels"),
        ("truncated.jpg", A.truncated_jpeg(), "truncated"),
        ("random.png", A.random_bytes(), "not a recognised image"),
        ("eps.png", A.eps_file(), "EPS"),
        ("svg.png", A.svg_file(), "SVG"),
        ("empty.png", b"", "empty"),
    ],
)
def test_bad_photo_gets_specific_message_and_server_keeps_serving(server, name, data, expect):
    url = _url(server)
    up = _upload(url, data, name)
    assert up.status_code == 200, up.text
    t0 = time.perf_counter()
    status, text = _call(url, "photo_size", [{"path": up.json()[0], "meta": {"_type": "gradio.FileData"}}])
    elapsed = time.perf_counter() - t0
    assert status == 200 and "event: error" in text and expect in text, text
    assert elapsed < 1.0, elapsed  # the acceptance limit
    good = _upload(url, A.cmyk_jpeg())
    status, text = _call(url, "photo_size", [{"path": good.json()[0], "meta": {"_type": "gradio.FileData"}}])
    assert "320x240" in text


# --- memory -----------------------------------------------------------------------------------


@pytest.mark.parametrize("api, kind", [("flaky_gpu", "GPU"), ("flaky_cpu", "CPU")])
def test_out_of_memory_becomes_a_message_and_the_next_request_succeeds(server, api, kind):
    url = _url(server)
    status, text = _call(url, api, ["a"])
    assert status == 200 and "event: error" in text
    assert f"out of {kind} memory" in text and "retry" in text
    status, text = _call(url, api, ["b"])
    assert "event: complete" in text and "ok b" in text


# --- queue ------------------------------------------------------------------------------------


def _burst(url: str, n: int) -> list[tuple[int, float, str, httpx.Headers]]:
    """``n`` clients call /slow at the same instant, each on its own connection; each returns
    (status, seconds, text, headers of the first answer)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    pool = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5))

    def client(i):
        barrier.wait()
        t0 = time.perf_counter()
        r = pool.post(f"{url}/gradio_api/call/slow", json={"data": [f"c{i}"]})
        if r.status_code != 200:
            results[i] = (r.status_code, time.perf_counter() - t0, r.text, r.headers)
            return
        r2 = pool.get(f"{url}/gradio_api/call/slow/{r.json()['event_id']}")
        results[i] = (r2.status_code, time.perf_counter() - t0, r2.text, r.headers)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    pool.close()
    assert all(r is not None for r in results), "a client hung"
    return results


def test_50_clients_against_a_queue_of_10(server):
    url = _url(server)
    proc = psutil.Process()
    _burst(url, 30)  # warm-up: first-use allocations are not a leak
    rss0 = proc.memory_info().rss
    results = _burst(url, 50)
    rss1 = proc.memory_info().rss

    statuses = Counter(s for s, _, _, _ in results)
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 429}, statuses
    refused = [(t, text, h) for s, t, text, h in results if s == 429]
    served = [(t, text) for s, t, text, _ in results if s == 200]
    assert len(refused) >= 25 and len(served) >= QUEUE, statuses
    assert all("retry" in text and int(h["retry-after"]) > 0 for _, text, h in refused)
    assert max(t for t, _, _ in refused) < 2.0  # told fast, not after waiting in line
    for i, (s, _, text, _) in enumerate(results):
        if s == 200:
            assert f"C{i}" in text and "event: complete" in text, text
    assert rss1 - rss0 < 30 * 1024 * 1024, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB"
    # And afterwards the app serves normally.
    assert "event: complete" in _call(url, "slow", ["after"])[1]


def test_direct_run_routes_cannot_skip_the_queue(server):
    url = _url(server)
    for route in ("run", "api"):
        r = httpx.post(f"{url}/gradio_api/{route}/slow", json={"data": ["x"]})
        assert r.status_code == 404 and "join the queue" in r.text, (route, r.status_code, r.text)


# --- auth and ids -----------------------------------------------------------------------------


def test_non_loopback_host_requires_auth(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("RESTYLE_"):
            monkeypatch.delenv(k)
    for host in ("0.0.0.0", "192.168.1.20", "::"):
        with pytest.raises(SettingsError, match="RESTYLE_AUTH"):
            load_settings(data_dir=tmp_path, host=host)
    with pytest.raises(SettingsError, match="public link"):
        load_settings(data_dir=tmp_path, share=True)
    assert load_settings(data_dir=tmp_path, share=True, auth="alice:s3cret").share
    s = load_settings(data_dir=tmp_path, host="0.0.0.0", auth="alice:s3cret")
    kw = launch_kwargs(s)
    assert kw["auth"] == ("alice", "s3cret") and kw["server_name"] == "0.0.0.0"


def test_auth_protects_the_api(tmp_path):
    s = load_settings(data_dir=tmp_path, port=0, auth="alice:s3cret")
    with gr.Blocks() as blocks:
        t = gr.Textbox()
        t.submit(lambda x: x, t, t, api_name="echo")
    harden(blocks, s)
    blocks.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(s))
    try:
        url = blocks.local_url.rstrip("/")
        assert httpx.post(f"{url}/gradio_api/call/echo", json={"data": ["x"]}).status_code == 401
        with httpx.Client() as c:
            assert c.post(f"{url}/login", data={"username": "alice", "password": "wrong"}).status_code == 400
            assert c.post(f"{url}/login", data={"username": "alice", "password": "s3cret"}).status_code == 200
            assert c.post(f"{url}/gradio_api/call/echo", json={"data": ["x"]}).status_code == 200
    finally:
        blocks.close()


def test_share_ids_are_unguessable_and_path_safe():
    ids = {new_share_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(is_share_id(i) and len(i) == 22 for i in ids)
    for bad in ("../../etc", "abc", "A" * 23, "AbCdEfGhIjKlMnOpQrSt/v", ""):
        assert not is_share_id(bad)


# --- the real app ---------------------------------------------------------------------------


def test_real_app_launch_applies_the_hardening(tmp_path):
    """app.server.launch (what `restyle serve` runs) builds the real UI with every limit."""
    try:
        import app.ui  # noqa: F401 - written by the app engineer; skip only while it is absent
    except ImportError as e:
        pytest.skip(f"app.ui not importable yet: {e}")
    from app.server import launch

    s = load_settings(data_dir=tmp_path / "data", port=0, queue_size=7, max_upload_bytes=123_456)
    blocks = launch(s, prevent_thread_lock=True, quiet=True)
    try:
        url = blocks.local_url.rstrip("/")
        assert blocks.max_file_size == 123_456 and blocks._queue.max_size == 7
        r = httpx.get(f"{url}/gradio_api/info", headers={"Origin": "https://evil.example", "Host": "restyle.example.com"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
        for raw in TRAVERSALS[:5]:
            status, body = _raw_get(url, raw)
            assert status in (403, 404) and b"root:" not in body
        big = b"\xff\xd8\xff" + b"\x00" * 123_457
        assert _upload(url, big).status_code == 413
        # A hostile photo through the real room endpoint: a specific message, fast.
        for data, expect in ((A.png_header_bomb(), "10,000,000,000 pixels"), (A.svg_file(), "SVG")):
            up = _upload(url, data, "room.png")
            t0 = time.perf_counter()
            status, text = _call(url, "detect_items", [{"path": up.json()[0], "meta": {"_type": "gradio.FileData"}}])
            assert status == 200 and "event: error" in text and expect in text, text[:500]
            assert time.perf_counter() - t0 < 1.0
    finally:
        blocks.close()


# --- a real browser through the hardening ---------------------------------------------------

CHROMIUM = Path(os.environ.get("RESTYLE_CHROMIUM", "/usr/bin/chromium"))


@pytest.mark.slow  # ~7 s; tests/test_browser_e2e.py drives the full app through the same hardening
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (run `make browser`)")
def test_real_browser_works_through_strict_cors_and_guard(server, tmp_path):
    """The Gradio front end (same-origin fetches, SSE, uploads) still works behind StrictCORS and
    RequestGuard, and a page on another origin cannot drive the app."""
    sync_api = pytest.importorskip("playwright.sync_api")
    url = _url(server)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page()
            refused = []
            page.on("response", lambda r: refused.append(r.url) if r.status in (403, 429) else None)
            page.goto(url)
            box = page.locator("textarea").first
            box.fill("hello")
            box.press("Enter")  # the "slow" endpoint: queue join + SSE stream
            page.wait_for_function("() => [...document.querySelectorAll('textarea')].some(t => t.value === 'HELLO')",
                                   timeout=30_000)
            assert not refused, refused

            # A page on another origin (a data: URL is the opaque origin "null") tries to call the API.
            evil = browser.new_page()
            evil.goto("data:text/html,<h1>evil</h1>")
            result = evil.evaluate(
                """async (u) => { try { const r = await fetch(u + '/gradio_api/call/slow', {method: 'POST',
                   headers: {'Content-Type': 'application/json'}, body: JSON.stringify({data: ['x']})});
                   return 'read ' + r.status; } catch (e) { return 'blocked'; } }""", url)
            assert result == "blocked"
        finally:
            browser.close()
