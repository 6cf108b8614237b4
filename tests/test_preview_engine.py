"""The preview engine in-process: planning, journaling, resume, retries, reports."""

from __future__ import annotations

import json
import threading

import pytest

from pipelines.preview import manifest as mf
from pipelines.preview.engine import PreviewRunner, RunLocked, plan_units
from pipelines.preview.types import stable_view, unit_seed
from tests.preview_helpers import make_products, make_renderers, make_scenes


@pytest.fixture
def scenes(tmp_path):
    return make_scenes(tmp_path / "scenes", n_rooms=3, n_faces=2)


def test_plan_matches_products_to_scene_kinds(scenes):
    products = make_products(4, makeup=2)
    units = plan_units(products, scenes)
    assert len(units) == 4 * 3 + 2 * 2
    assert all((u.product_id.startswith("m")) == u.scene_id.startswith("face") for u in units)
    assert units == plan_units(list(reversed(products)), list(reversed(scenes)))  # order-free
    assert units[0].seed == unit_seed(units[0].product_id, units[0].scene_id)
    assert len({u.seed for u in units}) == len(units)
    assert plan_units(products, scenes, base_seed=1)[0].seed != units[0].seed


def test_run_writes_images_manifest_and_reports(tmp_path, scenes, monkeypatch):
    monkeypatch.setenv("PREVIEW_TEST_FAIL", "p002")
    products = make_products(5, makeup=1)
    products[3].category = "lamp"  # fits no room
    progress = []
    runner = PreviewRunner(tmp_path / "run", make_renderers, retries=1, progress=lambda d, t, r: progress.append((d, t, r["unit"])))
    s = runner.run(products, scenes)
    assert s.total == 5 * 3 + 1 * 2
    assert (s.ok, s.skipped, s.failed) == (3 * 3 + 2, 3, 3)
    assert [d for d, _, _ in progress] == list(range(1, s.total + 1))
    records = mf.load_manifest(tmp_path / "run")
    assert [(r["product_id"], r["scene_id"]) for r in records] == sorted((r["product_id"], r["scene_id"]) for r in records)
    for r in records:
        if r["status"] == "ok":
            assert (tmp_path / "run" / r["image"]).is_file() and (tmp_path / "run" / r["thumb"]).is_file()
            assert r["backend"] == "swatch-test" and len(r["image_sha256"]) == 64
        else:
            assert r["image"] is None and r["reason"]
    failed = [r for r in records if r["status"] == "failed"]
    assert {r["product_id"] for r in failed} == {"p002"}
    assert all(r["runtime"]["attempts"] == 2 and "cannot render p002" in r["reason"] for r in failed)
    skipped = [r for r in records if r["status"] == "skipped"]
    assert {r["product_id"] for r in skipped} == {"p003"} and "no lamp" in skipped[0]["reason"]
    # Coverage: the failing product and the lamp that fits nowhere need attention; flags carried.
    cov = json.loads((tmp_path / "run" / "coverage.json").read_text())
    attention = {e["product_id"]: e["reasons"] for e in cov["entries"] if e["needs_attention"]}
    assert set(attention) == {"p002", "p003"}
    assert "fits none of the template scenes" in attention["p003"]
    html = s.contact_sheet.read_text()
    assert html.count("<section class=") == 6
    assert "thumbs/p000/room-room0.jpg" in html and "/tmp" not in html.split("<body>")[1]


def test_low_fidelity_and_poor_cutout_are_flagged(tmp_path, scenes):
    products = make_products(10)
    products[4].cutout_confidence, products[4].cutout_flagged = 0.3, True
    PreviewRunner(tmp_path / "run", make_renderers).run(products, scenes)
    records = {r["unit"]: r for r in mf.load_manifest(tmp_path / "run")}
    flags9 = records["p009::room-room0"]["flags"]
    assert any("product looks unlike its catalogue photo" in f for f in flags9)
    assert records["p000::room-room0"]["flags"] == []
    assert any("cut-out flagged" in f for f in records["p004::room-room0"]["flags"])
    cov = json.loads((tmp_path / "run" / "coverage.json").read_text())
    attention = [e["product_id"] for e in cov["entries"] if e["needs_attention"]]
    assert attention == ["p004", "p009"]  # listed first
    by_id = {e["product_id"]: e for e in cov["entries"]}
    assert by_id["p009"]["mean_fidelity"]["product_similarity"] == 0.3  # per-product lists count too
    assert "product_similarity 0.3" in (tmp_path / "run" / "contact_sheet.html").read_text()
    assert cov["entries"][0]["product_id"] in ("p004", "p009")


def test_resume_skips_finished_units_and_retries_failed(tmp_path, scenes, monkeypatch):
    products = make_products(4)
    monkeypatch.setenv("PREVIEW_TEST_FAIL", "p001")
    first = PreviewRunner(tmp_path / "run", make_renderers, retries=0).run(products, scenes)
    assert (first.ok, first.failed) == (9, 3)
    lines_before = len(mf.read_journal(tmp_path / "run"))
    monkeypatch.delenv("PREVIEW_TEST_FAIL")
    second = PreviewRunner(tmp_path / "run", make_renderers, retries=0).run(products, scenes)
    assert (second.already_done, second.rendered, second.ok, second.failed) == (9, 3, 12, 0)
    journal = mf.read_journal(tmp_path / "run")
    assert len(journal) == lines_before + 3  # only the failed units were redone
    third = PreviewRunner(tmp_path / "run", make_renderers).run(products, scenes)
    assert third.already_done == third.total == 12 and third.rendered == 0
    assert len(mf.read_journal(tmp_path / "run")) == len(journal)


def test_torn_journal_line_and_lost_image_are_redone(tmp_path, scenes):
    products = make_products(2)
    run = tmp_path / "run"
    PreviewRunner(run, make_renderers).run(products, scenes)
    before = {r["unit"]: stable_view(r) for r in mf.load_manifest(run)}
    journal = (run / mf.JOURNAL).read_bytes().splitlines(keepends=True)
    # A kill mid-write leaves half a line; an image can be lost with its line intact.
    (run / mf.JOURNAL).write_bytes(b"".join(journal[:-1]) + journal[-1][:25])
    lost = mf.read_journal(run)[0]
    (run / lost["image"]).unlink()
    s = PreviewRunner(run, make_renderers).run(products, scenes)
    assert s.rendered == 2 and s.ok == 6
    assert {r["unit"]: stable_view(r) for r in mf.load_manifest(run)} == before  # same renders
    assert (run / mf.JOURNAL).read_bytes().endswith(b"\n")
    assert all(line.endswith(b"\n") and json.loads(line) for line in (run / mf.JOURNAL).read_bytes().splitlines(keepends=True))


def test_transient_failures_are_retried(tmp_path, scenes, monkeypatch):
    monkeypatch.setenv("PREVIEW_TEST_FLAKY_DIR", str(tmp_path))
    s = PreviewRunner(tmp_path / "run", make_renderers, retries=1).run(make_products(2), scenes)
    assert (s.ok, s.failed) == (6, 0)
    assert all(r["runtime"]["attempts"] == 2 for r in mf.load_manifest(tmp_path / "run"))


def test_bad_inputs_are_refused(tmp_path, scenes):
    runner = PreviewRunner(tmp_path / "run", make_renderers)
    with pytest.raises(ValueError, match="no products"):
        runner.run([], scenes)
    with pytest.raises(ValueError, match="no scenes"):
        runner.run(make_products(1), [])
    with pytest.raises(ValueError, match="duplicate product ids: p000"):
        runner.run(make_products(1) * 2, scenes)
    with pytest.raises(ValueError, match="executor"):
        runner.run(make_products(1), scenes, executor="spark")
    with pytest.raises(ValueError, match="retries"):
        PreviewRunner(tmp_path / "run", make_renderers, retries=-1)


def test_one_run_per_folder(tmp_path, scenes, monkeypatch):
    monkeypatch.setenv("PREVIEW_TEST_SLEEP", "0.05")
    run = tmp_path / "run"
    t = threading.Thread(target=lambda: PreviewRunner(run, make_renderers).run(make_products(4), scenes))
    t.start()
    try:
        for _ in range(100):
            if (run / ".lock").exists() and mf.read_journal(run):
                break
            threading.Event().wait(0.02)
        with pytest.raises(RunLocked):
            PreviewRunner(run, make_renderers).run(make_products(4), scenes)
    finally:
        t.join()
