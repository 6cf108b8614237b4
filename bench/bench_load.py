"""Attack table: what restyle answers to each hostile input, and how long it takes.

Runs every attack case of issue 8 against (a) ``pipelines.intake.load_image`` and (b) a tiny
Blocks hardened exactly like the app (``app.security``) on 127.0.0.1, and, as the baseline in
the same run, against plain Pillow and a stock, unhardened Gradio app.

    .venv/bin/python -m bench.bench_load            # full run (about 30 s)
    .venv/bin/python -m bench.bench_load --quick    # smaller burst, no 12 MP photo
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import platform
import statistics
import tempfile
import threading
import time
import warnings
from collections import Counter
from urllib.parse import urlsplit

warnings.filterwarnings("ignore")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _short(text: str, n: int = 90) -> str:
    text = " ".join("".join(c if c.isprintable() else "?" for c in str(text)).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def intake_table(quick: bool) -> list[tuple[str, str, str, str, str]]:
    """(case, restyle answer, restyle time, plain Pillow answer, Pillow time)."""
    from PIL import Image

    from bench import attack_samples as A
    from pipelines.intake import ImageRejected, load_image

    cases = [
        ("PNG bomb, 60 MP in 58 kB", A.png_bomb()),
        ("PNG header bomb, 10 GP", A.png_header_bomb()),
        ("PNG zTXt bomb, 32 MB of text", A.png_text_bomb()),
        ("truncated JPEG", A.truncated_jpeg()),
        ("zero bytes", b""),
        ("random bytes (100 kB)", A.random_bytes()),
        ("EPS renamed .png", A.eps_file()),
        ("SVG renamed .png", A.svg_file()),
        ("CMYK JPEG", A.cmyk_jpeg()),
        ("16-bit grey PNG", A.png16_grey()),
        ("16-bit RGB PNG", A.png16_rgb()),
        ("animated WebP, 3 frames", A.animated_png(fmt="WEBP")),
    ]
    if not quick:
        cases.append(("12 MP phone JPEG, EXIF orient. 6 + GPS", A.phone_photo_exif6()))
    rows = []
    for name, data in cases:
        t0 = time.perf_counter()
        try:
            img = load_image(data)
            ours = f"accepted: {img.width}x{img.height} {img.mode}, metadata {'none' if not img.info else img.info}"
        except ImageRejected as e:
            ours = f"refused: {e}"
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im = Image.open(io.BytesIO(data))
                im.load()
                exif = "EXIF kept" if im.getexif() else "no EXIF"
                base = f"decoded {im.width}x{im.height} {im.mode}, {exif}"
        except Exception as e:  # noqa: BLE001 - the baseline's behaviour is what we report
            base = f"{type(e).__name__}: {e}"
        t_base = time.perf_counter() - t0
        rows.append((name, _short(ours), _ms(t_ours), _short(base, 60), _ms(t_base)))
    return rows


# --- web ------------------------------------------------------------------------------------


def _raw(url: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    p = urlsplit(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=30)
    try:
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data, time.perf_counter() - t0
    finally:
        conn.close()


def _call(client, url: str, api: str, data: list):
    t0 = time.perf_counter()
    r = client.post(f"{url}/gradio_api/call/{api}", json={"data": data})
    if r.status_code != 200:
        return r.status_code, r.text, time.perf_counter() - t0, r.headers
    r2 = client.get(f"{url}/gradio_api/call/{api}/{r.json()['event_id']}")
    return r2.status_code, r2.text, time.perf_counter() - t0, r.headers


def _event_text(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("data:"):
            return line[5:].strip()
    return text


def _build(settings, slow_s: float, hardened: bool):
    import gradio as gr

    from app.security import PhotoInput, guard, harden, launch_kwargs
    from pipelines.intake import load_image

    calls = {"oom": 0}

    def slow(text):
        time.sleep(slow_s)
        return text.upper()

    def photo_size(path):
        img = load_image(path, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
        return f"{img.width}x{img.height}"

    def flaky(text):
        calls["oom"] += 1
        if calls["oom"] == 1:
            raise MemoryError()
        return f"ok {text}"

    with gr.Blocks() as blocks:
        t, o = gr.Textbox(), gr.Textbox()
        photo = PhotoInput() if hardened else gr.Image(type="filepath")
        wrap = guard if hardened else (lambda f: f)
        t.submit(wrap(slow), t, o, api_name="slow")
        t.blur(wrap(flaky), t, o, api_name="flaky")
        photo.upload(wrap(photo_size), photo, o, api_name="photo_size")
    if hardened:
        harden(blocks, settings)
        blocks.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    else:
        # Stock Gradio as the app first launched it: queue size, share folder allowed, nothing else.
        blocks.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency_per_model)
        blocks.launch(prevent_thread_lock=True, quiet=True, allowed_paths=[str(settings.shares_dir.resolve())])
    return blocks


def _burst(url: str, n: int):
    import httpx

    barrier = threading.Barrier(n)
    out: list = [None] * n
    pool = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5))

    def one(i):
        barrier.wait()
        out[i] = _call(pool, url, "slow", [f"c{i}"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    return out


def web_table(settings, clients: int, slow_s: float, hardened: bool) -> list[tuple[str, str, str]]:
    import httpx
    import psutil

    from bench import attack_samples as A

    settings.shares_dir.mkdir(parents=True, exist_ok=True)
    (settings.shares_dir / "shares.sqlite").write_bytes(b"SQLite format 3\x00 (every share id is in here)")
    blocks = _build(settings, slow_s, hardened)
    url = blocks.local_url.rstrip("/")
    rows = []
    try:
        for label, path in [
            ("traversal, plain", "/gradio_api/file=../../../../etc/passwd"),
            ("traversal, URL-encoded", "/gradio_api/file=..%2f..%2f..%2f..%2fetc%2fpasswd"),
            ("traversal, upper-cased", "/GRADIO_API/FILE=%2E%2E%2F%2E%2E%2F%2E%2E%2FETC%2FPASSWD"),
            ("traversal, double-encoded", "/gradio_api/file=%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
            ("absolute path /etc/passwd", "/gradio_api/file=/etc/passwd"),
            ("share database", f"/gradio_api/file={settings.shares_dir.resolve() / 'shares.sqlite'}"),
            ("URL fetch via file route", "/gradio_api/file=http://169.254.169.254/latest/"),
        ]:
            status, _, body, dt = _raw(url, "GET", path)
            leak = " LEAKED" if (b"root:" in body or b"SQLite" in body) else ""
            rows.append((label, f"{status} {_short(body.decode('utf-8', 'replace'), 60)}{leak}", _ms(dt)))

        for label, headers in [
            ("CORS: GET from evil origin", {"Origin": "https://evil.example"}),
            ("CORS: GET from evil origin, proxied Host", {"Origin": "https://evil.example", "Host": "restyle.example.com"}),
        ]:
            status, h, _, dt = _raw(url, "GET", "/gradio_api/info", headers)
            rows.append((label, f"{status}, Access-Control-Allow-Origin: {h.get('access-control-allow-origin', 'none')}", _ms(dt)))
        status, h, _, dt = _raw(url, "OPTIONS", "/gradio_api/call/slow",
                                {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        rows.append(("CORS: preflight from evil origin", f"{status}, ACAO: {h.get('access-control-allow-origin', 'none')}", _ms(dt)))
        status, h, body, dt = _raw(url, "POST", "/gradio_api/call/slow",
                                   {"Origin": "https://evil.example", "Content-Type": "application/json"}, b'{"data":["x"]}')
        rows.append(("CSRF: POST from evil origin", f"{status} {_short(body.decode(), 50)}", _ms(dt)))

        with httpx.Client(timeout=60) as c:
            # The first request after a server starts pays one-off set-up (~0.05-1.5 s): its own row.
            up = c.post(f"{url}/gradio_api/upload", files=[("files", ("ok.jpg", A.cmyk_jpeg(), "image/jpeg"))]).json()[0]
            status, text, dt, _ = _call(c, url, "photo_size", [{"path": up, "meta": {"_type": "gradio.FileData"}}])
            rows.append(("first photo request after server start", f"{status} {_short(_event_text(text), 60)}", _ms(dt)))
            big = b"\xff\xd8\xff" + b"\x00" * (settings.max_upload_bytes + 1)
            t0 = time.perf_counter()
            r = c.post(f"{url}/gradio_api/upload", files=[("files", ("big.jpg", big, "image/jpeg"))])
            rows.append((f"upload over {settings.max_upload_bytes:,} B", f"{r.status_code} {_short(r.text, 60)}",
                         _ms(time.perf_counter() - t0)))
            for label, data in [("upload: PNG bomb 60 MP", A.png_bomb()), ("upload: random bytes", A.random_bytes()),
                                ("upload: SVG renamed .png", A.svg_file())]:
                up = c.post(f"{url}/gradio_api/upload", files=[("files", ("x.png", data, "image/png"))]).json()[0]
                status, text, dt, _ = _call(c, url, "photo_size", [{"path": up, "meta": {"_type": "gradio.FileData"}}])
                rows.append((label, f"{status} {_short(_event_text(text), 80)}", _ms(dt)))
            status, text, dt, _ = _call(c, url, "flaky", ["a"])
            rows.append(("MemoryError in a handler", f"{status} {_short(_event_text(text), 80)}", _ms(dt)))
            status, text, dt, _ = _call(c, url, "flaky", ["b"])
            rows.append(("  ... next request", f"{status} {_short(_event_text(text), 60)}", _ms(dt)))

        with httpx.Client(timeout=60) as c:
            t0 = time.perf_counter()
            r = c.post(f"{url}/gradio_api/run/slow", json={"data": ["x"]})
            rows.append(("POST /run/slow (skips the queue?)", f"{r.status_code} {_short(r.text, 70)}",
                         _ms(time.perf_counter() - t0)))

        proc = psutil.Process()
        _burst(url, min(clients, 20))  # warm-up
        rss0 = proc.memory_info().rss
        res = _burst(url, clients)
        rss1 = proc.memory_info().rss
        counts = Counter(s for s, *_ in res)
        busy = [dt for s, _, dt, _ in res if s not in (200,)]
        served = [dt for s, _, dt, _ in res if s == 200]
        retry_after = {h.get("retry-after") for s, _, _, h in res if s != 200}
        rows.append((
            f"{clients} clients vs queue {settings.queue_size}",
            f"statuses {dict(sorted(counts.items()))}; Retry-After {sorted(r for r in retry_after if r) or 'none'}; "
            f"RSS {(rss1 - rss0) / 2**20:+.1f} MiB",
            f"refused p50 {_ms(statistics.median(busy)) if busy else '-'}, max {_ms(max(busy)) if busy else '-'}; "
            f"served max {_ms(max(served)) if served else '-'}",
        ))
    finally:
        blocks.close()
    return rows


def _print(title: str, header: tuple, rows: list) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    print(f"\n{title}")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(x).ljust(w) for x, w in zip(r, widths)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 clients, no 12 MP photo")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--queue", type=int, default=10)
    ap.add_argument("--slow", type=float, default=0.15, help="seconds each queued call takes")
    ap.add_argument("--no-baseline", action="store_true", help="skip the stock Gradio run")
    args = ap.parse_args(argv)
    if args.quick:
        args.clients = min(args.clients, 20)

    from app.settings import load_settings

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    _print("Image intake: restyle load_image vs plain Pillow (baseline)",
           ("case", "restyle answer", "time", "Pillow Image.open+load", "time"), intake_table(args.quick))
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=tmp, port=0, queue_size=args.queue, concurrency_per_model=1,
                                 max_upload_bytes=2_000_000)
        _print("Web: hardened app (app.security)", ("case", "answer", "time"),
               web_table(settings, args.clients, args.slow, hardened=True))
        if not args.no_baseline:
            _print("Web baseline: stock Gradio, same handlers, queue size and share folder set, nothing else",
                   ("case", "answer", "time"), web_table(settings, args.clients, args.slow, hardened=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
