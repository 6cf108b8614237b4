"""Helpers shared by the app tests: launching the real app in the test process, on a free port."""

from __future__ import annotations

import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_demo_catalog(data_dir: Path) -> None:
    """Put the imported demo catalogue into ``data_dir``.

    Importing it (drawing, cut-outs, embeddings) takes tens of seconds on 2 cores, so it is
    imported once into tests/artifacts/cache/demo-data-<fingerprint> and copied from there. The
    folder is named after the demo's fingerprint (its rows and drawn assets), so a changed demo
    gets a fresh cache and older ones are removed. The app (demo=True) also runs ``ensure_demo_catalog`` on
    the copy, which re-imports it when anything else changed (e.g. the embedding models): a stale
    cache costs time, never correctness.
    """
    import shutil

    from app.settings import load_settings
    from catalog.demo import ASSETS_DIR, _demo_fingerprint, ensure_demo_catalog

    root = REPO / "tests" / "artifacts" / "cache"
    cache = root / f"demo-data-{_demo_fingerprint(ASSETS_DIR)[:16]}"
    if not (cache / "catalog" / "catalog.sqlite").is_file():
        for old in root.glob("demo-data*"):
            if old != cache:
                shutil.rmtree(old, ignore_errors=True)
        ensure_demo_catalog(load_settings(data_dir=cache)).close()
    # The app's own ensure_demo_catalog (demo=True) then checks the copy and re-imports if stale.
    shutil.copytree(cache / "catalog", Path(data_dir) / "catalog")


def launch_demo_app(data_dir: Path):
    """The real app (demo catalogue, CPU defaults) via app.server.launch; returns (blocks, url)."""
    from app.server import launch
    from app.settings import load_settings

    seed_demo_catalog(data_dir)
    settings = load_settings(data_dir=data_dir, port=free_port(), num_combinations=20)
    blocks = launch(settings, demo=True, prevent_thread_lock=True, quiet=True)
    return blocks, blocks.local_url, settings


_SHARED: dict = {}


def shared_demo_app(tmp_path_factory):
    """One demo app per test process, shared by the API and browser tests (launching it and
    loading its models is most of their time). Closed when the process exits."""
    if "app" not in _SHARED:
        import atexit

        _SHARED["app"] = launch_demo_app(tmp_path_factory.mktemp("app") / "data")
        atexit.register(_SHARED["app"][0].close)
    return _SHARED["app"]


def demo_photo(kind: str) -> Path:
    """A demo room or face made by the project (assets/rooms, assets/faces): the living room
    (the README's example, so its analysis is shared) or the first face."""
    folder = REPO / "assets" / kind
    photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    if not photos:
        raise FileNotFoundError(f"no demo photo in {folder}: the {kind} pipeline's demo assets are missing")
    return next((p for p in photos if p.stem == "living"), photos[0])


def pick_item(items: list[dict]) -> dict:
    """The item a person would most likely pick: the most confident sofa, else the biggest item."""
    sofas = [i for i in items if i["label"] == "sofa"]
    return max(sofas, key=lambda i: i["confidence"]) if sofas else max(items, key=lambda i: i["area"])
