"""Test helpers for the preview engine: small scenes, products and a cheap renderer.

``SwatchRenderer`` is a real (tiny) renderer, used to test the engine's scheduling, journaling,
resume and Ray paths without the room/face models: it paints the product's colour into the
scene's central box, deterministically, and can be told to be slow or to fail.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pipelines.intake import load_image, save_image
from pipelines.preview.engine import RendererSet
from pipelines.preview.types import PreviewResult, Scene


class SwatchProduct:
    """The fields of catalog.products.Product that the engine reads."""

    def __init__(self, id, color_hex="#aa3344", category="sofa", makeup_type=None, title=None, cutout_confidence=0.9):
        self.id = id
        self.title = title or f"Product {id}"
        self.category = category
        self.makeup_type = makeup_type
        self.color_hex = color_hex
        self.shade_hex = color_hex if makeup_type else None
        self.price = 10.0
        self.currency = "EUR"
        self.brand = "test"
        self.cutout_path = None if makeup_type else "/nonexistent/cutout.png"
        self.image_path = None
        self.cutout_confidence = cutout_confidence
        self.cutout_flagged = cutout_confidence < 0.5


class SwatchRenderer:
    """Paints ``product.color_hex`` into the middle of the scene with seeded noise.

    Env knobs (read per call, so they reach Ray workers and CLI subprocesses):
    PREVIEW_TEST_SLEEP seconds per unit; PREVIEW_TEST_FAIL comma list of product ids that always
    raise; PREVIEW_TEST_FLAKY_DIR a folder: the first attempt of each unit raises (leaves a marker);
    PREVIEW_TEST_CRASH_DIR a folder: the process dies the first time it renders product p001.
    Products whose category is "lamp" do not fit (skipped), like a room with no lamp.
    """

    def __init__(self, kind: str = "room"):
        self.kind = kind
        self.analysed: dict[str, int] = {}

    def accepts(self, product) -> bool:
        return bool(product.makeup_type) == (self.kind == "face")

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        time.sleep(float(os.environ.get("PREVIEW_TEST_SLEEP", "0")))
        if product.id in os.environ.get("PREVIEW_TEST_FAIL", "").split(","):
            raise RuntimeError(f"cannot render {product.id}")
        crash = os.environ.get("PREVIEW_TEST_CRASH_DIR")
        if crash and product.id == "p001":
            marker = Path(crash) / "crashed"
            if not marker.exists():
                marker.touch()
                os._exit(1)  # the whole worker process dies, as on an out-of-memory kill
        flaky = os.environ.get("PREVIEW_TEST_FLAKY_DIR")
        if flaky:
            marker = Path(flaky) / f"{product.id}--{scene.id}"
            if not marker.exists():
                marker.touch()
                raise RuntimeError("transient failure")
        if product.category == "lamp":
            return PreviewResult(status="skipped", reason="no lamp in this room (found: sofa)")
        self.analysed[scene.id] = self.analysed.get(scene.id, 0) + 1
        img = np.asarray(load_image(scene.path)).astype(np.float32)
        h, w = img.shape[:2]
        hexc = product.color_hex or "#808080"
        rgb = np.array([int(hexc[i : i + 2], 16) for i in (1, 3, 5)], np.float32)
        noise = np.random.default_rng(seed).normal(0, 6, (h // 2, w // 2, 1))
        img[h // 4 : h // 4 + h // 2, w // 4 : w // 4 + w // 2] = np.clip(rgb + noise, 0, 255)
        fidelity = {"ssim_outside": 1.0, "product_similarity": [0.3 if product.id.endswith("9") else 0.8]}
        return PreviewResult(status="ok", image=Image.fromarray(img.astype(np.uint8)), backend="swatch-test", fidelity=fidelity,
                             description=f"{product.id} painted into {scene.id}", slot={"box": [w // 4, h // 4, w // 4 + w // 2, h // 4 + h // 2]})


def make_renderers(settings=None) -> RendererSet:
    """``--renderer tests.preview_helpers:make_renderers``."""
    return RendererSet([SwatchRenderer("room"), SwatchRenderer("face")])


def make_scenes(folder: Path, n_rooms: int = 3, n_faces: int = 0, size=(96, 64)) -> list[Scene]:
    folder = Path(folder)
    scenes = []
    rng = np.random.default_rng(0)
    for kind, n in (("room", n_rooms), ("face", n_faces)):
        d = folder / f"{kind}s"
        for i in range(n):
            arr = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
            p = save_image(Image.fromarray(arr), d / f"{kind}{i}.png")
            scenes.append(Scene(id=f"{kind}-{kind}{i}", path=p.resolve(), kind=kind))
    return scenes


def make_products(n: int, makeup: int = 0) -> list[SwatchProduct]:
    out = [SwatchProduct(f"p{i:03d}", color_hex=f"#{(i * 37) % 256:02x}{(i * 91) % 256:02x}{(i * 53) % 256:02x}") for i in range(n)]
    out += [SwatchProduct(f"m{i:03d}", color_hex="#b0304a", category="lipstick", makeup_type="lipstick") for i in range(makeup)]
    return out
