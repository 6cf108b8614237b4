"""The preview engine: plan (product, scene) units, render those not done yet, journal each one.

Both executors share everything but the dispatch: :func:`execute_unit` renders one unit wherever
it runs (this process or a Ray worker) and :class:`RunWriter` commits its outcome in the driver
(image and thumbnail written atomically, then one fsynced journal line). That is why an
in-process run and a Ray run of the same work produce identical manifests.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import numpy as np
from PIL import Image

from pipelines.intake import save_image
from pipelines.preview import manifest as mf
from pipelines.preview.fidelity import cutout_problem, render_flags
from pipelines.preview.types import PreviewResult, Scene, WorkUnit, make_record, unit_seed

THUMB_SIDE = 320


class Renderer(Protocol):
    """Renders one product into one scene. Implementations cache per-scene analysis (item
    detection, face analysis) so each scene is analysed once per worker."""

    kind: str  # the scene kind it renders into: "room" or "face"

    def accepts(self, product) -> bool:
        """Whether this renderer handles the product at all (furniture vs makeup)."""

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        """Render ``product`` into ``scene``; "skipped" with a reason when it does not fit."""


class RendererSet:
    """The renderers of one worker: picks the one whose kind matches the scene."""

    def __init__(self, renderers: Sequence[Renderer]):
        self.renderers = list(renderers)

    def for_scene(self, product, scene: Scene) -> Renderer | None:
        for r in self.renderers:
            if r.kind == scene.kind and r.accepts(product):
                return r
        return None

    def render(self, product, scene: Scene, *, seed: int) -> PreviewResult:
        r = self.for_scene(product, scene)
        if r is None:
            return PreviewResult(status="skipped", reason=f"no renderer for this product in a {scene.kind} scene")
        return r.render(product, scene, seed=seed)


# A picklable zero-argument callable that builds a worker's renderers (sent to Ray workers).
RendererFactory = Callable[[], RendererSet]


def product_scene_kind(product) -> str:
    """Makeup goes on faces, everything else into rooms."""
    return "face" if getattr(product, "makeup_type", None) else "room"


def plan_units(products: Iterable, scenes: Iterable[Scene], base_seed: int = 0) -> list[WorkUnit]:
    """Every (product, scene) pair of matching kind, ordered by scene then product (so a worker
    meets the same scene in a row and its analysis cache stays warm)."""
    products = list(products)
    units = [
        WorkUnit(p.id, s.id, unit_seed(p.id, s.id, base_seed))
        for s in sorted(scenes, key=lambda s: s.id)
        for p in sorted(products, key=lambda p: p.id)
        if product_scene_kind(p) == s.kind
    ]
    return units


@dataclass
class UnitOutcome:
    """A unit's result as it travels back to the driver (picklable)."""

    unit: WorkUnit
    status: str  # "ok" | "skipped" | "failed"
    image: Image.Image | None = None
    backend: str = ""
    fidelity: dict = field(default_factory=dict)
    flags: list = field(default_factory=list)
    description: str = ""
    reason: str | None = None
    slot: dict | None = None
    render_s: float = 0.0
    worker: str = ""


def _jsonable(value: Any) -> Any:
    """Fidelity figures come as numpy scalars/arrays too: make them JSON values (floats rounded
    so tiny float noise does not make two identical runs differ)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return round(v, 6) if np.isfinite(v) else None
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if value is None or isinstance(value, str):
        return value
    return str(value)


def seed_global_rngs(seed: int) -> None:
    """Seed the process-wide generators that pipeline code may draw from without a seed of its
    own (OpenCV's cv::theRNG, e.g. cv2.ml.EM's initialisation; numpy's and Python's global ones;
    torch's when loaded). A render then depends only on its unit, not on what the worker did
    before: the same manifest in-process and on any number of Ray workers."""
    import random
    import sys

    seed = int(seed) & 0x7FFFFFFF
    random.seed(seed)
    np.random.seed(seed)
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        cv2.setRNGSeed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def execute_unit(renderers: RendererSet, unit: WorkUnit, product, scene: Scene, worker: str = "") -> UnitOutcome:
    """Render one unit; an exception becomes a "failed" outcome with the reason (never raised)."""
    t0 = time.perf_counter()
    seed_global_rngs(unit.seed)
    try:
        res = renderers.render(product, scene, seed=unit.seed)
        if res.status == "ok" and res.image is None:
            raise ValueError("renderer returned status ok without an image")
    except Exception as e:  # noqa: BLE001 - any renderer failure is reported, the run goes on
        return UnitOutcome(unit, "failed", reason=f"{type(e).__name__}: {e}", render_s=time.perf_counter() - t0, worker=worker)
    img = res.image.convert("RGB") if res.image is not None else None
    return UnitOutcome(
        unit,
        res.status,
        image=img,
        backend=res.backend,
        fidelity=_jsonable(res.fidelity),
        flags=list(res.flags),
        description=res.description,
        reason=res.reason,
        slot=_jsonable(res.slot) if res.slot is not None else None,
        render_s=time.perf_counter() - t0,
        worker=worker,
    )


def pixel_sha256(img: Image.Image) -> str:
    """Hash of the decoded pixels (size + RGB bytes): equal renders hash equal whatever the encoder."""
    a = np.asarray(img.convert("RGB"))
    return hashlib.sha256(f"{a.shape}".encode() + a.tobytes()).hexdigest()


class RunWriter:
    """Commits outcomes into a run folder: image + thumbnail first, then the journal line."""

    def __init__(self, run_dir: Path, products: dict, scenes: dict[str, Scene]):
        self.run_dir = Path(run_dir)
        self.products = products
        self.scenes = scenes
        self.journal = mf.Journal(self.run_dir)

    def commit(self, out: UnitOutcome, attempts: int, queued_s: float | None = None) -> dict:
        unit, scene = out.unit, self.scenes[out.unit.scene_id]
        product = self.products[unit.product_id]
        t0 = time.perf_counter()
        sha = None
        flags = list(out.flags)
        if out.status == "ok":
            save_image(out.image, self.run_dir / unit.image_relpath())
            thumb = out.image.copy()
            thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
            save_image(thumb, self.run_dir / unit.thumb_relpath(), quality=85)
            sha = pixel_sha256(out.image)
            flags += [f for f in render_flags(out.fidelity) if f not in flags]
            problem = cutout_problem(product)
            if problem:
                flags.append(problem)
        record = make_record(
            unit,
            scene,
            status=out.status,
            backend=out.backend,
            fidelity=out.fidelity,
            flags=flags,
            description=out.description,
            reason=out.reason,
            slot=out.slot,
            image_sha256=sha,
            timings={"render_s": round(out.render_s, 4), "write_s": round(time.perf_counter() - t0, 4)},
            runtime={"worker": out.worker, "attempts": attempts, "finished_at": round(time.time(), 3)},
        )
        self.journal.append(record)
        return record

    def close(self) -> None:
        self.journal.close()


class RunLocked(RuntimeError):
    """Another process is running a preview into the same folder."""


@dataclass
class RunSummary:
    run_dir: Path
    total: int  # units planned
    already_done: int  # skipped because an earlier run finished them
    rendered: int  # units finished now with status ok
    skipped: int  # does not fit (all runs)
    failed: int  # failed after every retry (all runs)
    ok: int  # images in the manifest (all runs)
    elapsed_s: float
    executor: str
    contact_sheet: Path | None = None
    coverage: Path | None = None

    @property
    def units_per_s(self) -> float:
        done_now = self.total - self.already_done
        return done_now / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict:
        d = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}
        d["units_per_s"] = round(self.units_per_s, 3)
        return d


ProgressFn = Callable[[int, int, dict], None]


class PreviewRunner:
    """Runs a preview into ``run_dir``, resumably.

    Args:
        run_dir: the run folder (created). Running again into it resumes.
        renderer_factory: picklable zero-argument callable returning a :class:`RendererSet`;
            called once in this process (local) or once per Ray worker.
        retries: extra attempts for a unit whose render raised, before it is reported failed.
        progress: called as ``progress(finished, total, record)`` after each committed unit.
    """

    def __init__(self, run_dir: Path, renderer_factory: RendererFactory, *, retries: int = 1, progress: ProgressFn | None = None):
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.run_dir = Path(run_dir)
        self.renderer_factory = renderer_factory
        self.retries = retries
        self.progress = progress

    def check_inputs(self, products: Sequence, scenes: Sequence[Scene]) -> None:
        if not products:
            raise ValueError("no products to preview")
        if not scenes:
            raise ValueError("no scenes to preview in: give a folder of room or face photos")
        ids = [p.id for p in products]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate product ids: {', '.join(dup[:5])}")
        sids = [s.id for s in scenes]
        dup = sorted({i for i in sids if sids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate scene ids (two photos with the same name?): {', '.join(dup[:5])}")

    def run(
        self,
        products: Sequence,
        scenes: Sequence[Scene],
        *,
        base_seed: int = 0,
        executor: str = "local",
        ray_address: str | None = None,
        num_workers: int = 2,
        batch_size: int = 4,
        num_gpus_per_worker: float | None = None,
        report: bool = True,
        options: dict | None = None,
    ) -> RunSummary:
        """Render every unit not done yet, then write manifest.json (and the reports).

        Raises:
            ValueError: no products / scenes, duplicate ids, unknown executor.
            RunLocked: another process holds this run folder.
        """
        self.check_inputs(products, scenes)
        if executor not in ("local", "ray"):
            raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.run_dir / ".lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RunLocked(f"another preview is running into {self.run_dir}") from None
        try:
            return self._run_locked(products, scenes, base_seed, executor, ray_address, num_workers, batch_size, num_gpus_per_worker, report, options)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def _run_locked(self, products, scenes, base_seed, executor, ray_address, num_workers, batch_size, num_gpus_per_worker, report, options) -> RunSummary:
        t0 = time.perf_counter()
        units = plan_units(products, scenes, base_seed)
        products_by_id = {p.id: p for p in products}
        scenes_by_id = {s.id: s for s in scenes}
        mf.write_json_atomic(
            self.run_dir / mf.RUN_INFO,
            {
                "products": sorted(products_by_id),
                "scenes": [s.to_dict() for s in sorted(scenes, key=lambda s: s.id)],
                "base_seed": base_seed,
                "units": len(units),
                "options": options or {},
                "host": socket.gethostname(),
                "platform": platform.platform(),
                "pid": os.getpid(),
            },
        )
        done = mf.done_units(self.run_dir)
        todo = [u for u in units if u.key not in done]
        writer = RunWriter(self.run_dir, products_by_id, scenes_by_id)
        finished = len(units) - len(todo)

        def on_record(rec: dict) -> None:
            nonlocal finished
            finished += 1
            if self.progress:
                self.progress(finished, len(units), rec)

        try:
            if todo:
                if executor == "local":
                    self._run_local(todo, products_by_id, scenes_by_id, writer, on_record)
                else:
                    from pipelines.preview.ray_runner import run_on_ray

                    run_on_ray(
                        todo, products_by_id, scenes_by_id, writer, on_record,
                        renderer_factory=self.renderer_factory, retries=self.retries,
                        address=ray_address, num_workers=num_workers, batch_size=batch_size,
                        num_gpus_per_worker=num_gpus_per_worker,
                    )
        finally:
            writer.close()
        records = mf.finalize(self.run_dir, [u.key for u in units])
        by_key = {r["unit"]: r for r in records}
        rendered_now = sum(1 for u in todo if by_key.get(u.key, {}).get("status") == "ok")
        summary = RunSummary(
            run_dir=self.run_dir,
            total=len(units),
            already_done=len(units) - len(todo),
            rendered=rendered_now,
            skipped=sum(r["status"] == "skipped" for r in records),
            failed=sum(r["status"] == "failed" for r in records),
            ok=sum(r["status"] == "ok" for r in records),
            elapsed_s=time.perf_counter() - t0,
            executor=executor,
        )
        if report:
            from pipelines.preview.report import write_reports

            summary.contact_sheet, summary.coverage = write_reports(self.run_dir, records, products_by_id, scenes_by_id)
        return summary

    def _run_local(self, todo, products_by_id, scenes_by_id, writer: RunWriter, on_record) -> None:
        renderers = self.renderer_factory()
        worker = f"local:{os.getpid()}"
        for unit in todo:
            product, scene = products_by_id[unit.product_id], scenes_by_id[unit.scene_id]
            for attempt in range(1, self.retries + 2):
                out = execute_unit(renderers, unit, product, scene, worker)
                if out.status != "failed":
                    break
            on_record(writer.commit(out, attempts=attempt))
