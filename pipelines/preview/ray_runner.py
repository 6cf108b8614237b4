"""Run preview units on a Ray cluster: one :class:`PreviewWorker` actor per worker, each holding
its renderers (the models load once per actor), fed batches of units of the same scene.

The driver keeps every worker busy (two batches in flight each), commits outcomes as they
arrive (``ray.wait``: progress is reported and images reach the disk while the rest still
renders), retries a unit whose render raised or whose worker died, and reports it failed when its
attempts run out. Workers return images to the driver, so on a cluster nothing but the driver
writes to the run folder; scene photos and product cut-outs must be readable by the workers
(same machine, or a shared file system).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import defaultdict, deque
from typing import Callable

from pipelines.preview.engine import RendererFactory, RunWriter, UnitOutcome, execute_unit
from pipelines.preview.types import Scene, WorkUnit

log = logging.getLogger(__name__)

# Enough for a few batches of 1024-px images in flight; Ray's minimum is 75 MiB.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024


class NoWorkersLeft(RuntimeError):
    """Every worker died beyond its restarts: the rest of the run cannot go on."""


class _Worker:
    """Body of the Ray actor (kept a plain class so it can be tested without Ray)."""

    def __init__(self, renderer_factory: RendererFactory, index: int):
        self.name = f"ray:{socket.gethostname()}:{os.getpid()}:w{index}"
        self.renderers = renderer_factory()  # one set of models per worker, built once

    def render_batch(self, batch: list[tuple[WorkUnit, object, Scene]]) -> list[UnitOutcome]:
        return [execute_unit(self.renderers, unit, product, scene, self.name) for unit, product, scene in batch]

    def ping(self) -> str:
        return self.name


def _init_ray(address: str | None, num_workers: int) -> bool:
    """Connect to ``address`` or start a small local Ray; returns True when we started it."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(
            num_cpus=num_workers,
            include_dashboard=False,
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            logging_level=logging.WARNING,
        )
    return True


def _gpus_per_worker(requested: float | None, num_workers: int) -> float:
    """GPU workers when the cluster has GPUs: share them out evenly, at most one each."""
    import ray

    if requested is not None:
        return requested
    total = ray.cluster_resources().get("GPU", 0.0)
    return min(1.0, total / num_workers) if total else 0.0


def _make_batches(units: list[WorkUnit], batch_size: int) -> deque[list[WorkUnit]]:
    by_scene: dict[str, list[WorkUnit]] = defaultdict(list)
    for u in units:
        by_scene[u.scene_id].append(u)
    out: deque[list[WorkUnit]] = deque()
    for sid in sorted(by_scene):
        us = by_scene[sid]
        out.extend(us[i : i + batch_size] for i in range(0, len(us), batch_size))
    return out


def run_on_ray(
    todo: list[WorkUnit],
    products: dict,
    scenes: dict[str, Scene],
    writer: RunWriter,
    on_record: Callable[[dict], None],
    *,
    renderer_factory: RendererFactory,
    retries: int = 1,
    address: str | None = None,
    num_workers: int = 2,
    batch_size: int = 4,
    num_gpus_per_worker: float | None = None,
    max_restarts: int = 2,
    max_worker_losses: int = 3,
) -> None:
    """Render ``todo`` on Ray, committing each outcome through ``writer`` as it arrives.

    Two retry budgets: a unit whose render raised is tried ``retries`` more times (then reported
    failed with the renderer's reason); a unit lost because its worker died is dispatched again
    up to ``max_worker_losses`` times (a worker crash says nothing about the unit). A dead actor
    is restarted by Ray up to ``max_restarts`` times and gets work again once it answers a ping.

    Raises:
        ValueError: num_workers or batch_size below 1.
        NoWorkersLeft: all actors died for good (what finished so far is already on disk).
    """
    if num_workers < 1 or batch_size < 1:
        raise ValueError(f"num_workers and batch_size must be >= 1 (got {num_workers}, {batch_size})")
    import ray
    from ray.exceptions import ActorDiedError, RayError

    started = _init_ray(address, num_workers)
    try:
        gpus = _gpus_per_worker(num_gpus_per_worker, num_workers)
        Actor = ray.remote(_Worker).options(num_cpus=1, num_gpus=gpus, max_restarts=max_restarts, max_task_retries=0)
        actors = [Actor.remote(renderer_factory, i) for i in range(num_workers)]
        dispatched: dict[str, int] = defaultdict(int)
        render_failures: dict[str, int] = defaultdict(int)
        losses: dict[str, int] = defaultdict(int)
        queue = _make_batches(todo, batch_size)
        seen: dict[int, set[str]] = defaultdict(set)  # scenes each actor has analysed
        pending: dict = {}  # ObjectRef -> (actor index, batch or None for a ping)
        ready_actors = set(range(num_workers))  # actors that may take work now
        deaths: dict[int, int] = defaultdict(int)
        pings: dict[int, int] = defaultdict(int)
        dead: set[int] = set()

        def in_flight(ai: int) -> int:
            return sum(1 for a, _ in pending.values() if a == ai)

        def submit(ai: int) -> None:
            if not queue:
                return
            # Scene analysis is the costly part: keep each scene on one actor. Prefer a batch of a
            # scene this actor already analysed, then a scene no actor has started, and only
            # then help with another actor's scene (at the end of the run).
            claimed = set().union(*seen.values()) if seen else set()
            pick = next((i for i, b in enumerate(queue) if b[0].scene_id in seen[ai]), None)
            if pick is None:
                pick = next((i for i, b in enumerate(queue) if b[0].scene_id not in claimed), 0)
            batch = queue[pick]
            del queue[pick]
            seen[ai].add(batch[0].scene_id)
            for u in batch:
                dispatched[u.key] += 1
            payload = [(u, products[u.product_id], scenes[u.scene_id]) for u in batch]
            pending[actors[ai].render_batch.remote(payload)] = (ai, batch)

        def fill() -> None:
            for ai in sorted(ready_actors):
                while queue and in_flight(ai) < 2:
                    submit(ai)

        def give_up(unit: WorkUnit, outcome: UnitOutcome) -> None:
            on_record(writer.commit(outcome, attempts=dispatched[unit.key]))

        fill()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            ai, batch = pending.pop(ref)
            try:
                result = ray.get(ref)
            except RayError as e:
                reason = f"worker died: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
                if batch is None:  # a ping to a restarting actor
                    pings[ai] += 1
                    if isinstance(e, ActorDiedError) or pings[ai] > 240:
                        dead.add(ai)  # out of restarts (or never came back within ~2 min)
                    else:
                        time.sleep(0.5)
                        pending[actors[ai].ping.remote()] = (ai, None)
                elif ai in ready_actors:
                    deaths[ai] += 1
                    ready_actors.discard(ai)
                    log.warning("preview worker %d lost (%d): %s", ai, deaths[ai], reason)
                    if isinstance(e, ActorDiedError) or deaths[ai] > max_restarts:
                        dead.add(ai)
                    else:
                        pings[ai] = 0
                        pending[actors[ai].ping.remote()] = (ai, None)  # back to work once it answers
                for u in batch or []:
                    losses[u.key] += 1
                    if losses[u.key] <= max_worker_losses:
                        queue.appendleft([u])
                    else:
                        give_up(u, UnitOutcome(u, "failed", reason=reason, worker=f"ray:w{ai}"))
            else:
                if batch is None:
                    ready_actors.add(ai)  # restarted and answering
                else:
                    for out in result:
                        if out.status != "failed":
                            on_record(writer.commit(out, attempts=dispatched[out.unit.key]))
                            continue
                        render_failures[out.unit.key] += 1
                        if render_failures[out.unit.key] <= retries:
                            queue.appendleft([out.unit])
                        else:
                            give_up(out.unit, out)
            if len(dead) == num_workers:
                raise NoWorkersLeft(f"every preview worker died; {sum(len(b) for b in queue)} units not rendered (rerun to resume)")
            fill()
        for a in actors:
            ray.kill(a)
    finally:
        if started:
            ray.shutdown()
