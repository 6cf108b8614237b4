"""Shared fixtures: settings in a temporary data folder, the real-data folder (skipped when
absent), and tiny random-weight model components for every model path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RESTYLE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real photos and catalogues); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings whose data folder is a fresh temporary directory."""
    for k in list(os.environ):
        if k.startswith("RESTYLE_"):
            monkeypatch.delenv(k)
    from app.settings import load_settings

    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and images for a person to look at."""
    d = REPO / "tests" / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures(...)``): CI
    machines are shared, and one thread was faster than two on two busy cores."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

