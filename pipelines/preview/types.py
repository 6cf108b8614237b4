"""Plain data types of a preview run: scenes, work units, render results and manifest records.

A preview run renders every product into every template scene where it fits. One (product, scene)
pair is a :class:`WorkUnit`; its outcome is one manifest record (a JSON object, see
:func:`make_record`). Records are identical across executors (in-process or Ray) except for the
``timings`` and ``runtime`` fields, which hold what naturally varies between runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image

SceneKind = Literal["room", "face"]
Status = Literal["ok", "skipped", "failed"]

# Record fields that vary between runs of the same work; everything else must be identical.
VOLATILE_FIELDS = ("timings", "runtime")


def slug(text: str, max_len: int = 60) -> str:
    """A file-name-safe form of ``text``; a short hash is appended when characters were dropped,
    so two different ids never share a file name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:max_len] or "x"
    if s != text:
        s += "-" + hashlib.sha1(text.encode()).hexdigest()[:6]
    return s


def unit_seed(product_id: str, scene_id: str, base_seed: int = 0) -> int:
    """Deterministic seed of one unit: the same on every machine, executor and retry."""
    h = hashlib.sha256(f"{base_seed}|{product_id}|{scene_id}".encode()).hexdigest()
    return int(h[:8], 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class Scene:
    """A template photo that products are previewed in.

    Attributes:
        id: stable id, ``"<kind>-<file stem>"`` (file-name safe).
        path: the photo on disk (read through ``pipelines.intake.load_image`` by the renderer).
        kind: "room" (furniture goes in) or "face" (makeup goes on).
    """

    id: str
    path: Path
    kind: SceneKind

    def to_dict(self) -> dict:
        return {"id": self.id, "path": str(self.path), "kind": self.kind}


@dataclass(frozen=True)
class WorkUnit:
    """One product in one scene, with its deterministic seed."""

    product_id: str
    scene_id: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.product_id}::{self.scene_id}"

    def image_relpath(self) -> str:
        return f"images/{slug(self.product_id)}/{slug(self.scene_id)}.jpg"

    def thumb_relpath(self) -> str:
        return f"thumbs/{slug(self.product_id)}/{slug(self.scene_id)}.jpg"


@dataclass
class PreviewResult:
    """What a renderer returns for one product in one scene.

    Attributes:
        status: "ok" (``image`` holds the render) or "skipped" (the product does not fit this
            scene; ``reason`` says why, e.g. "no sofa in this room (found: table, lamp)").
        image: RGB render, same size as the scene photo after the pipeline's resizing; None when
            skipped.
        backend: name of the backend that rendered it (e.g. "composite", "mediapipe+lab").
        fidelity: figures from the pipeline (e.g. SSIM outside the edit, CIEDE2000 of a shade).
        flags: human-readable fidelity problems (filled by the engine from ``fidelity``).
        description: one line about what was done ("sofa swapped into item 3").
    """

    status: Literal["ok", "skipped"]
    image: Image.Image | None = None
    backend: str = ""
    fidelity: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    description: str = ""
    reason: str | None = None
    slot: dict[str, Any] | None = None  # the item / region the product went into


def make_record(
    unit: WorkUnit,
    scene: Scene,
    *,
    status: Status,
    backend: str = "",
    fidelity: dict | None = None,
    flags: list[str] | None = None,
    description: str = "",
    reason: str | None = None,
    slot: dict | None = None,
    image_sha256: str | None = None,
    timings: dict | None = None,
    runtime: dict | None = None,
) -> dict:
    """One manifest line. ``image``/``thumb`` paths are relative to the run folder."""
    ok = status == "ok"
    return {
        "unit": unit.key,
        "product_id": unit.product_id,
        "scene_id": unit.scene_id,
        "scene_kind": scene.kind,
        "seed": unit.seed,
        "status": status,
        "reason": reason,
        "backend": backend,
        "description": description,
        "slot": slot,
        "fidelity": fidelity or {},
        "flags": flags or [],
        "image": unit.image_relpath() if ok else None,
        "thumb": unit.thumb_relpath() if ok else None,
        "image_sha256": image_sha256,
        "timings": timings or {},
        "runtime": runtime or {},
    }


def stable_view(record: dict) -> dict:
    """``record`` without the fields that legitimately vary between runs (for comparisons)."""
    return {k: v for k, v in record.items() if k not in VOLATILE_FIELDS}
