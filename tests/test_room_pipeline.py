"""RoomPipeline end to end on the CPU default (classical proposals + EfficientNet-Lite0 labels,
composite rendering), plus the SAM and diffusion components with tiny random weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.intake import ImageRejected
from pipelines.room import ClassicalSegmenter, CombinationRequest, RoomPipeline
from pipelines.room.demo import render_demo_product
from pipelines.room.labels import FurnitureLabeler, proposal_crop
from pipelines.room.types import ROOM_LABELS
from tests.room_helpers import box_iou

ROOMS = Path(__file__).resolve().parents[1] / "assets" / "rooms"




pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def embedder():
    from catalog.embeddings import ImageEmbedder

    return ImageEmbedder()  # the bundled EfficientNet-Lite0 ImageNet weights (the CPU default)


@pytest.fixture(scope="module")
def small_embedder():
    from catalog.embeddings import ImageEmbedder

    return ImageEmbedder(size=128)  # what from_settings uses for the product-similarity figure


@pytest.fixture(scope="module")
def pipe(embedder):
    return RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedder), embedder=embedder)


@pytest.fixture(scope="module")
def living():
    img = Image.open(ROOMS / "living.jpg")
    truth = json.loads((ROOMS / "rooms.json").read_text())["living.jpg"]
    return img, truth


@pytest.fixture(scope="module")
def analysis(pipe, living):
    return pipe.detect_items(living[0])


def fresh(analysis):
    """A copy of the analysis (tests that add items must not leak into others)."""
    import copy

    a = copy.copy(analysis)
    a.items = list(analysis.items)
    a.__dict__.pop("_cache", None)
    return a


# ---------------------------------------------------------------- detection
def test_detect_items_on_demo_room(analysis, living):
    img, truth = living
    assert analysis.size == img.size and analysis.backend.startswith("proposals+")
    assert 3 <= len(analysis.items) <= 12
    confs = [it.confidence for it in analysis.items]
    assert confs == sorted(confs, reverse=True)
    for it in analysis.items:
        assert it.label in ROOM_LABELS and 0 <= it.confidence <= 1
        assert it.mask.shape == (img.height, img.width) and it.mask.dtype == bool and it.mask.any()
    # The drawn furniture is found (box IoU > 0.5), and some of it under its right name.
    found = [g for g in truth if any(box_iou(it.box, g["box"]) > 0.5 for it in analysis.items)]
    named = [g for g in truth if any(box_iou(it.box, g["box"]) > 0.5 and it.label == g["label"] for it in analysis.items)]
    assert len(found) >= 3, [g["label"] for g in found]
    assert len(named) >= 1
    json.dumps(analysis.to_dict())  # serialisable for the API
    assert 0.25 * img.height < analysis.horizon_y < 0.55 * img.height
    assert analysis.floor_mask[-5:, img.width - 60].all()  # the bottom right corner is bare floor


def test_item_at(pipe, analysis):
    it = analysis.items[0]
    ys, xs = np.nonzero(it.mask)
    hit = pipe.item_at(analysis, (int(xs[len(xs) // 2]), int(ys[len(ys) // 2])))
    assert hit is not None and hit.mask[int(ys[len(ys) // 2]), int(xs[len(xs) // 2])]
    assert pipe.item_at(analysis, (-5, 3)) is None


def test_refine_item_with_box_adds_an_item(pipe, analysis, living):
    img, truth = living
    a = fresh(analysis)
    sofa = next(g["box"] for g in truth if g["label"] == "sofa")
    box = (sofa[0] - 10, sofa[1] - 10, sofa[2] + 10, sofa[3] + 10)
    item = pipe.refine_item(img, a, box=box)
    assert item.id == max(i.id for i in analysis.items) + 1 and a.items[-1] is item
    assert box_iou(item.box, sofa) > 0.7 and item.source == "grabcut"
    assert item not in analysis.items
    with pytest.raises(ValueError, match="points"):
        pipe.refine_item(img, a)


def test_large_photo_goes_through_intake_limits(pipe):
    big = Image.new("RGB", (4000, 3000), (180, 170, 160))
    assert max(pipe.prepare(big).size) == 1024
    strict = RoomPipeline(ClassicalSegmenter(), max_image_pixels=1_000_000)
    with pytest.raises(ImageRejected, match="over the limit"):
        strict.detect_items(big)


# ---------------------------------------------------------------- erase and rearrange
def test_erase_changes_only_the_item_region(pipe, analysis, living):
    img = living[0]
    item = analysis.items[0]
    cs = pipe.combinations(img, fresh(analysis), CombinationRequest(mode="erase", item_ids=[item.id]))
    assert cs.backend == "composite" and len(cs.combinations) == 1 and cs.message
    c = cs.combinations[0]
    before, after = np.asarray(cs.before), np.asarray(c.image)
    assert np.array_equal(before[~c.edited_mask], after[~c.edited_mask])
    assert c.fidelity["ssim_outside"] > 0.99
    assert (np.abs(before.astype(int) - after.astype(int)).sum(2)[item.mask] > 30).mean() > 0.3
    assert c.products == [] and "Removed" in c.description
    json.dumps(cs.to_dict())


def test_rearrange_to_target_and_proposed_layouts(pipe, analysis, living):
    img = living[0]
    # Move the smallest floor-standing item found, so free floor exists.
    item = min(analysis.items, key=lambda it: it.area)
    W, H = analysis.size
    target = (W // 5, int(H * 0.93))
    req = CombinationRequest(mode="rearrange", item_ids=[item.id], target=target, n=6, seed=1)
    cs = pipe.combinations(img, fresh(analysis), req)
    assert 2 <= len(cs.combinations) <= 6
    first = cs.combinations[0]
    assert f"({target[0]}, {target[1]})" in first.description
    # The moved item now stands at the target: pixels just above the target changed.
    diff = np.abs(np.asarray(first.image).astype(int) - np.asarray(cs.before).astype(int)).sum(2)
    assert diff[target[1] - 8: target[1], target[0] - 4: target[0] + 4].mean() > 10 or first.edited_mask[target[1] - 3, target[0]]
    images = [np.asarray(c.image).tobytes() for c in cs.combinations]
    assert len(set(images)) == len(images)  # distinct
    again = pipe.combinations(img, fresh(analysis), req)
    assert [np.asarray(c.image).tobytes() for c in again.combinations] == images  # deterministic per seed
    for c in cs.combinations:
        assert c.fidelity["ssim_outside"] > 0.99


@pytest.mark.parametrize(
    "req, message",
    [
        (CombinationRequest(mode="paint", item_ids=[0]), "unknown mode"),
        (CombinationRequest(mode="erase", item_ids=[]), "at least one item"),
        (CombinationRequest(mode="erase", item_ids=[999]), "no item with id 999"),
        (CombinationRequest(mode="erase", item_ids=[0, 0]), "repeat"),
        (CombinationRequest(mode="swap_text", item_ids=[0], text=" "), "needs a text"),
        (CombinationRequest(mode="swap_similar", item_ids=[0]), "catalogue search index"),
        (CombinationRequest(mode="rearrange", item_ids=[0], target=(99999, 1)), "outside"),
        (CombinationRequest(mode="erase", item_ids=[0], n=0), "between 1 and 100"),
    ],
)
def test_bad_requests(pipe, analysis, living, req, message):
    with pytest.raises(ValueError, match=message):
        pipe.combinations(living[0], analysis, req)


def test_other_photo_is_refused(pipe, analysis):
    with pytest.raises(ValueError, match="not the analysed one"):
        pipe.combinations(Image.new("RGB", (300, 300)), analysis, CombinationRequest(mode="erase", item_ids=[0]))


# ---------------------------------------------------------------- swaps with a real catalogue
@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, embedder):
    """A real catalogue (engineer A's store, importer, index and search) of products we draw."""
    from app.settings import load_settings
    from catalog.importer import CatalogImporter
    from catalog.search import CatalogSearch
    from catalog.store import Catalog

    root = tmp_path_factory.mktemp("room_catalog")
    settings = load_settings(data_dir=root / "data")
    rows = []
    colours = [(150, 60, 50), (60, 120, 80), (200, 190, 170), (40, 40, 45), (90, 110, 170)]
    for label in ("sofa", "table", "lamp", "plant"):
        for i, col in enumerate(colours):
            path = root / f"{label}{i}.png"
            render_demo_product(label, col, seed=i).save(path)
            rows.append({"id": f"{label}-{i}", "title": f"Test {label} {i}", "category": label, "price": 100 + 10 * i,
                         "currency": "EUR", "url": f"https://example.com/{label}/{i}", "image": str(path)})
    cat = Catalog.open(settings)
    report = CatalogImporter(cat, embedder, None).import_rows(rows, base_dir=root)
    assert report.accepted == len(rows), report.summary()
    return cat, CatalogSearch(cat, embedder, settings=settings)


def test_catalogue_votes_from_the_classifier_pass_match_search_by_image(embedder, catalogue, living):
    """The labeller reuses its classification pass for the catalogue votes (one network pass per
    crop instead of two): the votes must be those of ``search.by_image`` on each crop."""
    cat, search = catalogue
    img = np.asarray(living[0].convert("RGB"))
    proposals = ClassicalSegmenter().propose(img)[:10]
    labeler = FurnitureLabeler(embedder, search=search)
    crops = [proposal_crop(img, p.mask, p.box) for p in proposals]
    probs, vecs = embedder.classify_and_embed(crops)
    assert np.allclose(probs, embedder.classify(crops), atol=1e-5)
    assert np.allclose(vecs, embedder.embed(crops), atol=1e-5)
    fast = labeler.label(img, proposals)
    labeler.classifier = _ClassifyOnly(embedder)  # no classify_and_embed: votes via by_image per crop
    slow = labeler.label(img, proposals)
    assert [w for w, *_ in fast] == [w for w, *_ in slow]
    assert np.allclose([c for _, c, _ in fast], [c for _, c, _ in slow], atol=1e-4)


class _ClassifyOnly:
    def __init__(self, embedder):
        self.classify = embedder.classify


def _swap_drawn_sofa(pipe, analysis, living, n):
    """``swap_similar`` on the demo living room's sofa, selected by its drawn box."""
    img, truth = living
    a = fresh(analysis)
    sofa = next(g["box"] for g in truth if g["label"] == "sofa")
    item = pipe.refine_item(img, a, box=(sofa[0] - 10, sofa[1] - 10, sofa[2] + 10, sofa[3] + 10), label="sofa")
    return pipe.combinations(img, a, CombinationRequest(mode="swap_similar", item_ids=[item.id], n=n, seed=0))


def test_swap_similar_twenty_combinations(embedder, small_embedder, catalogue, analysis, living, artifacts_dir):
    cat, search = catalogue
    pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedder), search=search, catalog=cat, embedder=embedder,
                        similarity_embedder=small_embedder)
    cs = _swap_drawn_sofa(pipe, analysis, living, n=20)
    # 5 sofas, all symmetric: their mirrors would repeat the same pictures, so 5 combinations and
    # the message says why there are fewer than 20.
    assert len(cs.combinations) == 5
    assert cs.message == "only 5 matching products in the catalogue (import a larger catalogue for more)"
    assert len({c.products[0]["id"] for c in cs.combinations}) == 5
    scores = [c.score for c in cs.combinations]
    assert scores == sorted(scores, reverse=True)
    for c in cs.combinations:
        assert c.backend == "composite" and len(c.products) == 1
        p = c.products[0]
        assert p["category"] == "sofa" and p["url"].startswith("https://example.com/") and p["price"] >= 100
        assert c.fidelity["ssim_outside"] > 0.99
        assert len(c.fidelity["product_similarity"]) == 1 and c.fidelity["product_similarity"][0] > 0.5
        assert np.array_equal(np.asarray(c.image)[~c.edited_mask], np.asarray(cs.before)[~c.edited_mask])
        assert "render" in c.timings and c.seed >= 0
    assert len({np.asarray(c.image).tobytes() for c in cs.combinations}) == 5
    sheet = Image.new("RGB", (512 * 4, 342))
    for i, im in enumerate([cs.before] + [c.image for c in cs.combinations[:3]]):
        sheet.paste(im.resize((512, 342)), (512 * i, 0))
    sheet.save(artifacts_dir / "room_swap_demo.png")  # for a person to look at


def test_swap_on_the_demo_catalogue_gives_twenty_distinct_sofas(embedder, small_embedder, analysis, living, tmp_path):
    """The app's demo catalogue has 20 sofas: "swap with similar products" with the default N=20
    fills the grid with 20 different products, none of them mirrored."""
    from app_helpers import seed_demo_catalog

    from app.settings import load_settings
    from catalog.search import CatalogSearch
    from catalog.store import Catalog

    seed_demo_catalog(tmp_path / "data")  # the imported demo catalogue (cached across runs)
    settings = load_settings(data_dir=tmp_path / "data")
    cat = Catalog.open(settings)
    search = CatalogSearch(cat, embedder, settings=settings)
    pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedder), search=search, catalog=cat, embedder=embedder,
                        similarity_embedder=small_embedder)
    cs = _swap_drawn_sofa(pipe, analysis, living, n=20)
    ids = [c.products[0]["id"] for c in cs.combinations]
    assert len(ids) == 20 and len(set(ids)) == 20 and cs.message == "", (ids, cs.message)
    assert all(i.startswith("demo-sofa-") for i in ids)
    assert not any("mirrored" in c.description for c in cs.combinations)
    assert len({np.asarray(c.image).tobytes() for c in cs.combinations}) == 20
    cat.close()


def test_swap_two_slots_mixes_products(embedder, small_embedder, catalogue, analysis, living):
    cat, search = catalogue
    pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedder), search=search, catalog=cat, embedder=embedder,
                        similarity_embedder=small_embedder)
    img, truth = living
    a = fresh(analysis)
    boxes = {g["label"]: g["box"] for g in truth}
    s = pipe.refine_item(img, a, box=boxes["sofa"], label="sofa")
    lamp = pipe.refine_item(img, a, box=boxes["lamp"], label="lamp")
    req = CombinationRequest(mode="swap_category", item_ids=[s.id, lamp.id], n=8, price_max=130)
    cs = pipe.combinations(img, a, req)
    assert len(cs.combinations) == 8
    pairs = {tuple(p["id"] for p in c.products) for c in cs.combinations}
    assert len(pairs) == 8
    for c in cs.combinations:
        assert [p["category"] for p in c.products] == ["sofa", "lamp"]
        assert all(p["price"] <= 130 for p in c.products)


# ---------------------------------------------------------------- model components, tiny weights
def test_sam_segmenter_and_diffusion_refiner_plug_in(tmp_path):
    from pipelines.diffusion import RoomDiffusionRenderer
    from pipelines.diffusion.components import random_components
    from pipelines.sam import SamSegmenter, build_sam_tiny

    torch.manual_seed(0)
    ckpt = tmp_path / "sam_tiny.pth"
    torch.save(build_sam_tiny(img_size=64).state_dict(), ckpt)
    sam = SamSegmenter.from_checkpoint(ckpt, "tiny", "cpu", points_per_side=4, pred_iou_thresh=0.0,
                                       stability_score_thresh=0.0, min_area_frac=0.0)
    refiner = RoomDiffusionRenderer.from_components(random_components("sd15", "tiny", seed=0), "sd15",
                                                    resolution=64, min_crop=16, max_batch=2)
    pipe = RoomPipeline(sam, None, refiner=refiner, work_max_side=128, segmentation_backend="sam",
                        refine_kwargs={"num_inference_steps": 2})
    room = Image.open(ROOMS / "living.jpg")
    a = pipe.detect_items(room)
    assert a.backend == "sam" and a.items and max(a.size) == 128
    item = pipe.refine_item(room, a, points=[(64, 60)])
    assert item.mask.shape == (a.size[1], a.size[0])
    cs = pipe.combinations(room, a, CombinationRequest(mode="rearrange", item_ids=[item.id], n=2, seed=3))
    assert cs.backend == "controlnet-inpaint-sd15"
    for c in cs.combinations:
        assert c.backend == "controlnet-inpaint-sd15" and "refine" in c.timings
        assert np.array_equal(np.asarray(c.image)[~c.edited_mask], np.asarray(cs.before)[~c.edited_mask])


def test_from_settings_cpu_default(settings):
    """What the app and the previews call: CPU default backends, an empty catalogue."""
    from app.settings import load_settings

    settings = load_settings(data_dir=settings.data_dir, work_max_side=320)  # small: a fast test
    pipe = RoomPipeline.from_settings(settings)
    assert pipe.work_max_side == 320
    assert pipe.generation_backend == "composite"
    assert pipe.segmentation_backend == "proposals+efficientnet-lite0"
    assert isinstance(pipe.segmenter, ClassicalSegmenter)
    room = Image.open(ROOMS / "dining.jpg")
    a = pipe.detect_items(room)
    assert a.items and a.backend == "proposals+efficientnet-lite0"
    with pytest.raises(ValueError, match="cannot search the catalogue"):
        pipe.combinations(room, a, CombinationRequest(mode="swap_similar", item_ids=[a.items[0].id], n=2))
