"""The renderers that adapt the room and try-on pipelines: slot choice, pinned product, scene
analysis cached once per scene, and real renders on the demo rooms and real faces."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pipelines.preview.renderers import PinnedCatalog, PinnedSearch, SceneCache, pick_slot
from pipelines.preview.types import Scene


def _item(i, label, conf, area=100):
    return SimpleNamespace(id=i, label=label, confidence=conf, area=area)


def test_pick_slot_prefers_same_label_then_look_alikes():
    items = [_item(0, "table", 0.9), _item(1, "sofa", 0.4), _item(2, "sofa", 0.7), _item(3, "chair", 0.8)]
    assert pick_slot(items, "sofa").id == 2
    assert pick_slot(items, "armchair").id == 3  # no armchair: the chair's place
    assert pick_slot(items, "rug") is None
    assert pick_slot(items, None) is None


def test_pinned_search_and_catalog():
    base = SimpleNamespace(by_image=lambda *a, **k: ["real hit"], get=lambda pid: f"real {pid}", path=lambda rel: f"/cat/{rel}")
    s, c = PinnedSearch(base), PinnedCatalog(base)
    assert s.by_image("crop", k=10) == ["real hit"]  # nothing pinned: the labeller's votes still work
    prod = SimpleNamespace(id="new-1", category="sofa")
    s.product = c.product = prod
    hits = s.by_image("crop", k=30, filters=None)
    assert len(hits) == 1 and hits[0].product is prod and hits[0].score == 1.0
    assert s.by_text("anything")[0].product is prod
    assert c.get("new-1") is prod and c.get("old-2") == "real old-2"
    assert str(c.path("/abs/cut.png")) == "/abs/cut.png" and c.path("cutouts/x.png") == "/cat/cutouts/x.png"
    with pytest.raises(ValueError, match="no catalogue search"):
        PinnedSearch().by_image("crop")


def test_scene_cache_computes_once_per_scene():
    cache, calls = SceneCache(size=2), []
    scenes = [Scene(f"room-{i}", f"/x/{i}.jpg", "room") for i in range(3)]
    for s in [scenes[0], scenes[0], scenes[1], scenes[0], scenes[1]]:
        cache.get(s, lambda sc: calls.append(sc.id) or sc.id)
    assert calls == ["room-0", "room-1"]
    cache.get(scenes[2], lambda sc: calls.append(sc.id))  # evicts room-0 (least recently used)
    cache.get(scenes[0], lambda sc: calls.append(sc.id))
    assert calls == ["room-0", "room-1", "room-2", "room-0"]


def test_face_renderer_on_real_portraits(shared_data, settings):
    from catalog.products import Product

    from pipelines.preview.renderers import FaceRenderer
    from pipelines.preview.sources import discover_scenes

    fr = FaceRenderer.from_settings(settings)
    scene = discover_scenes(shared_data / "faces" / "cc0" / "images", "face", 1)[0]
    lip = Product(id="lip-red", title="Red", category="makeup", makeup_type="lipstick", shade_hex="#b0304a", finish="satin")
    res = fr.render(lip, scene, seed=3)
    assert res.status == "ok" and res.backend and res.fidelity["delta_e"] < 5 and res.fidelity["texture_corr"] > 0.5
    before = np.asarray(fr.analyse(scene)[0])
    changed = np.abs(np.asarray(res.image).astype(int) - before).sum(-1) > 0
    lips = fr.analyse(scene)[1].regions["lips"]
    assert changed[lips].mean() > 0.5 and changed[~lips].mean() < 0.05  # on the lips, not elsewhere
    again = fr.render(lip, scene, seed=3)
    assert np.array_equal(np.asarray(again.image), np.asarray(res.image))  # deterministic
    assert fr.cache.misses == 1


@pytest.mark.slow  # item detection on a demo room takes 5-15 s on 2 busy cores
def test_room_renderer_swaps_into_demo_room(settings, tmp_path):
    pytest.importorskip("catalog.search")
    from catalog.cutout import cut_out
    from catalog.products import Product
    from PIL import Image, ImageDraw

    from pipelines.intake import save_image
    from pipelines.preview.renderers import RoomRenderer
    from pipelines.preview.sources import DEFAULT_ROOMS, discover_scenes

    img = Image.new("RGB", (240, 160), "white")
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((20, 30, 220, 130), 14, fill=(150, 40, 40))
    for x in (30, 200):
        d.rectangle((x, 130, x + 10, 150), fill=(50, 30, 20))
    cut = cut_out(img)
    path = save_image(cut.image, tmp_path / "red-sofa.png")
    sofa = Product(id="new-red-sofa", title="Red sofa", category="sofa", image_path=str(path), cutout_path=str(path),
                   cutout_confidence=cut.confidence, cutout_flagged=False)
    rr = RoomRenderer.from_settings(settings)
    results = [rr.render(sofa, s, seed=1) for s in discover_scenes(DEFAULT_ROOMS, "room")]
    ok = [r for r in results if r.status == "ok"]
    assert ok, [r.reason for r in results]
    for r in results:
        assert r.status == "ok" or r.reason.startswith("no sofa in this room")
    assert all(r.fidelity["ssim_outside"] > 0.9 and r.slot["label"] in ("sofa", "armchair") for r in ok)
