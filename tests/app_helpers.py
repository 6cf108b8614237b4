"""Helpers shared by the app tests: launching the real app in the test process, on a free port."""

from __future__ import annotations

import socket
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_demo_app(data_dir: Path):
    """The real app (demo catalogue, CPU defaults) via app.server.launch; returns (blocks, url)."""
    from app.server import launch
    from app.settings import load_settings

    settings = load_settings(data_dir=data_dir, port=free_port(), num_combinations=20)
    blocks = launch(settings, demo=True, prevent_thread_lock=True, quiet=True)
    return blocks, blocks.local_url, settings


def demo_photo(kind: str) -> Path:
    """The first demo room or face made by the project (assets/rooms, assets/faces)."""
    folder = REPO / "assets" / kind
    photos = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    if not photos:
        raise FileNotFoundError(f"no demo photo in {folder}: the {kind} pipeline's demo assets are missing")
    return photos[0]
