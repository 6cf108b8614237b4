"""The preview engine on a local Ray (2 CPUs, small object store): same manifest as in-process,
progress streamed, failures retried then reported, a dead worker's units redone, resume."""

from __future__ import annotations

import pytest

from pipelines.preview import manifest as mf
from pipelines.preview.engine import PreviewRunner
from pipelines.preview.types import stable_view
from tests.preview_helpers import make_products, make_renderers, make_scenes

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray for the module. Its workers always fail product p004 and die the first
    time they render p001 (the crash marker lives in the returned folder)."""
    crash_dir = tmp_path_factory.mktemp("crash")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 1024 * 1024,
        logging_level="ERROR",
        runtime_env={"env_vars": {"PREVIEW_TEST_FAIL": "p004", "PREVIEW_TEST_CRASH_DIR": str(crash_dir)}},
    )
    yield crash_dir
    ray.shutdown()


def test_ray_matches_in_process_despite_failures_and_a_dead_worker(tmp_path, monkeypatch, local_ray):
    scenes = make_scenes(tmp_path / "scenes", n_rooms=3, n_faces=2)
    products = make_products(8, makeup=2)
    products[2].category = "lamp"
    monkeypatch.setenv("PREVIEW_TEST_FAIL", "p004")  # the same failure in-process
    local = PreviewRunner(tmp_path / "local", make_renderers, retries=1).run(products, scenes)
    progress = []
    remote = PreviewRunner(tmp_path / "ray", make_renderers, retries=1, progress=lambda d, t, r: progress.append(r)).run(
        products, scenes, executor="ray", num_workers=2, batch_size=3
    )
    assert (local_ray / "crashed").exists()  # a worker process really died mid-run
    assert (remote.ok, remote.skipped, remote.failed) == (local.ok, local.skipped, local.failed) == (6 * 3 + 2 * 2, 3, 3)
    a = [stable_view(r) for r in mf.load_manifest(tmp_path / "local")]
    b = [stable_view(r) for r in mf.load_manifest(tmp_path / "ray")]
    assert a == b  # identical apart from timings and which worker ran what
    assert len(progress) == remote.total == len(mf.read_journal(tmp_path / "ray"))  # each unit once
    assert all(r["runtime"]["worker"].startswith("ray:") for r in progress if r["status"] == "ok")
    failed = [r for r in progress if r["status"] == "failed"]
    assert {r["product_id"] for r in failed} == {"p004"} and all(r["runtime"]["attempts"] >= 2 for r in failed)
    assert all("cannot render p004" in r["reason"] for r in failed)
    redone = {r["product_id"] for r in progress if r["runtime"]["attempts"] > 1 and r["status"] == "ok"}
    assert "p001" in redone  # the crashed batch was rendered again


@pytest.mark.slow  # two more runs, each starting its actors (~15 s on 2 busy cores)
def test_ray_resume_retries_only_failed_units(tmp_path, local_ray):
    (local_ray / "crashed").touch()  # no worker crash in this test, even when it runs alone
    scenes = make_scenes(tmp_path / "scenes", n_rooms=2)
    products = make_products(6)
    first = PreviewRunner(tmp_path / "ray", make_renderers, retries=0).run(products, scenes, executor="ray", batch_size=3)
    assert (first.ok, first.failed) == (10, 2)
    by_worker: dict[str, set] = {}
    for r in mf.read_journal(tmp_path / "ray"):
        by_worker.setdefault(r["runtime"]["worker"].rsplit(":", 1)[-1], set()).add(r["scene_id"])
    # Both actors worked, each on its own scene (a scene is analysed by one worker only).
    assert sorted(map(len, by_worker.values())) == [1, 1] and len(set().union(*by_worker.values())) == 2
    again = PreviewRunner(tmp_path / "ray", make_renderers, retries=0).run(products, scenes, executor="ray")
    assert (again.already_done, again.rendered, again.failed) == (10, 0, 2)
    assert len(mf.read_journal(tmp_path / "ray")) == 12 + 2
