"""The room pipeline's parts on synthetic images and the demo rooms: segmentation (proposals and
prompts), erase fill, geometry, compositing, labels."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipelines.room.composite import Sprite, contact_shadow, fit_standing, harmonise, paste, room_light
from pipelines.room.demo import render_demo_room
from pipelines.room.fill import fill_hole, hole_for_item
from pipelines.room.geometry import estimate_horizon, perspective_scale
from pipelines.room.labels import IMAGENET_TO_ROOM, fold_probs, proposal_crop
from pipelines.room.segment import ClassicalSegmenter
from pipelines.room.types import MaskProposal
from tests.room_helpers import box_iou

ROOMS = Path(__file__).resolve().parents[1] / "assets" / "rooms"




@pytest.fixture(scope="module")
def living():
    img = np.asarray(Image.open(ROOMS / "living.jpg").convert("RGB"))
    truth = {d["label"]: d["box"] for d in json.loads((ROOMS / "rooms.json").read_text())["living.jpg"]}
    return img, truth


@pytest.fixture(scope="module")
def proposals(living):
    return ClassicalSegmenter().propose(living[0])


def get_wall_floor_image(seed: int = 0, size=(240, 160)):
    """A wall (textured) over a floor with planks, a dark skirting line between them, and a
    block "item" standing on the floor. Returns (image with item, image without, item mask)."""
    w, h = size
    rng = np.random.default_rng(seed)
    clean = np.zeros((h, w, 3), np.float32)
    clean[: h // 2] = (200, 205, 190)
    clean[h // 2:] = (150, 110, 70)
    clean[h // 2 - 3: h // 2] = (60, 60, 60)  # skirting
    clean[h // 2:, ::12] *= 0.75  # planks
    clean += rng.normal(0, 4, clean.shape)
    clean = np.clip(clean, 0, 255).astype(np.uint8)
    with_item = clean.copy()
    mask = np.zeros((h, w), bool)
    mask[h // 3: h * 3 // 4, w // 3: w // 2] = True
    with_item[mask] = (40, 70, 160)
    return with_item, clean, mask


# ---------------------------------------------------------------- segmentation
def test_demo_room_ground_truth_matches_the_drawing():
    img, items = render_demo_room("living")
    assert img.size == (1024, 683)
    assert {d["label"] for d in items} >= {"sofa", "rug", "lamp", "plant", "table"}
    # The committed asset is this generator's output.
    committed = np.asarray(Image.open(ROOMS / "living.jpg").convert("RGB"), dtype=np.int16)
    assert np.abs(committed - np.asarray(img, dtype=np.int16)).mean() < 3  # JPEG noise only


def test_proposals_find_the_demo_furniture(living, proposals):
    img, truth = living
    assert proposals and all(isinstance(p, MaskProposal) for p in proposals)
    for p in proposals:
        assert p.mask.shape == img.shape[:2] and p.mask.dtype == bool and 0 <= p.score <= 1
        ys, xs = np.nonzero(p.mask)
        assert p.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    best = {k: max(box_iou(p.box, b) for p in proposals) for k, b in truth.items()}
    assert best["sofa"] > 0.8 and best["rug"] > 0.8, best
    assert sum(v > 0.5 for v in best.values()) >= 3, best


def test_proposal_masks_follow_edges(living, proposals):
    """The mask outline of the sofa proposal lies on strong colour edges of the photo."""
    img, truth = living
    sofa = max(proposals, key=lambda p: box_iou(p.box, truth["sofa"]))
    outline = cv2.morphologyEx(sofa.mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    from pipelines.room.segment import edge_magnitude

    e = edge_magnitude(img)
    assert e[outline].mean() > 3 * e.mean()


def test_proposals_are_deterministic(living):
    seg = ClassicalSegmenter(max_proposals=10)
    a, b = seg.propose(living[0]), seg.propose(living[0])
    assert [p.box for p in a] == [p.box for p in b]
    assert all(np.array_equal(p.mask, q.mask) for p, q in zip(a, b))


def test_box_prompt_selects_the_sofa(living):
    img, truth = living
    x0, y0, x1, y1 = truth["sofa"]
    p = ClassicalSegmenter().from_prompts(img, box=(x0 - 12, y0 - 12, x1 + 12, y1 + 12))
    assert p.source == "grabcut" and p.mask.shape == img.shape[:2]
    assert box_iou(p.box, truth["sofa"]) > 0.75


def test_click_prompt_selects_the_lamp_shade_or_lamp(living):
    img, truth = living
    x0, y0, x1, y1 = truth["lamp"]
    click = ((x0 + x1) // 2, y0 + 30)  # on the shade
    p = ClassicalSegmenter().from_prompts(img, points=[click], point_labels=[1])
    assert p.mask[click[1], click[0]]
    # Stays on the lamp: within its box (with slack), not the wall around it.
    assert box_iou(p.box, truth["lamp"]) > 0.2 and p.mask.mean() < 0.05


def test_negative_click_removes_region(living):
    img, truth = living
    x0, y0, x1, y1 = truth["sofa"]
    box = (x0 - 12, y0 - 12, x1 + 12, y1 + 12)
    neg = ((x0 + x1) // 2, (y0 + y1) // 2 + 20)
    p = ClassicalSegmenter().from_prompts(img, points=[neg], point_labels=[0], box=box)
    assert not p.mask[neg[1], neg[0]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "give a box or at least one positive point"),
        ({"points": [(5000, 3)]}, "outside"),
        ({"points": [(5, 3)], "point_labels": [1, 0]}, "point_labels has 2 entries"),
        ({"box": (10, 10, 12, 200)}, "smaller than 4x4"),
        ({"box": (1, 2, 3)}, "box must be"),
    ],
)
def test_prompt_errors(kwargs, message):
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=message):
        ClassicalSegmenter().from_prompts(img, **kwargs)


@pytest.mark.parametrize("image", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32), np.zeros((8, 64, 3), np.uint8)])
def test_bad_images(image):
    with pytest.raises(ValueError):
        ClassicalSegmenter().propose(image)


# ---------------------------------------------------------------- erase
def test_fill_continues_wall_floor_and_skirting():
    with_item, clean, mask = get_wall_floor_image()
    hole = hole_for_item(mask, grow=0.01, shadow=0.0)
    out = fill_hole(with_item, hole, seed=0)
    assert np.array_equal(out[~hole], with_item[~hole])  # outside: exactly unchanged
    err = np.abs(out.astype(int) - clean.astype(int))[hole].mean()
    telea = cv2.inpaint(with_item, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    err_telea = np.abs(telea.astype(int) - clean.astype(int))[hole].mean()
    assert err < 12 and err < err_telea, (err, err_telea)
    # The skirting line (dark) continues through the hole.
    h, w = mask.shape
    cols = np.flatnonzero(hole[h // 2 - 2])
    assert out[h // 2 - 2, cols].mean() < 90
    # Sharp, not smeared: the planks' contrast survives inside the hole.
    rows = slice(h // 2 + 5, h * 3 // 4 - 5)
    inside = out[rows][:, hole[h // 2 + 10]].astype(float)
    assert inside[..., 0].std() > 0.5 * clean[rows, ~hole[h // 2 + 10]][..., 0].std()


def test_fill_does_not_copy_avoided_items_and_is_deterministic():
    with_item, clean, mask = get_wall_floor_image()
    h, w = mask.shape
    other = np.zeros_like(mask)
    other[h // 3: h * 3 // 4, w // 2 + 4: w // 2 + 30] = True
    img = with_item.copy()
    img[other] = (250, 0, 0)  # a red neighbour
    hole = hole_for_item(mask, grow=0.01, shadow=0.0)
    out = fill_hole(img, hole, avoid=other, seed=3)
    red = (out[..., 0] > 200) & (out[..., 1] < 60)
    assert not red[hole].any()
    assert np.array_equal(out, fill_hole(img, hole, avoid=other, seed=3))


def test_fill_errors():
    img = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="whole photo"):
        fill_hole(img, np.ones((20, 20), bool))
    with pytest.raises(ValueError, match="hole is"):
        fill_hole(img, np.ones((10, 20), bool))


# ---------------------------------------------------------------- geometry, compositing, labels
@pytest.mark.parametrize("kind", ["living", "bedroom", "dining"])
def test_horizon_of_demo_rooms(kind):
    img, _ = render_demo_room(kind)
    y = estimate_horizon(np.asarray(img))
    assert abs(y - 0.4 * img.height) < 0.12 * img.height  # drawn with the vanishing point at 0.4 H


def test_perspective_scale():
    assert perspective_scale(400, 400, 200) == pytest.approx(1.0)
    assert perspective_scale(400, 600, 200) == pytest.approx(2.0)
    assert perspective_scale(400, 300, 200) == pytest.approx(0.5)


def test_fit_standing_keeps_aspect_and_area():
    w, h = fit_standing((300, 100), (0, 0, 200, 120))
    assert abs(w / h - 3.0) < 0.05
    assert 0.8 < (w * h) / (200 * 120) < 1.25 or w <= 250


def test_paste_and_shadow():
    canvas = np.full((50, 60, 3), 200.0, np.float32)
    sprite = Sprite(np.zeros((10, 10, 3), np.float32), np.ones((10, 10), np.float32))
    cov = paste(canvas, sprite, 55, 5)  # partly outside: clipped, no error
    assert cov.sum() == 50 and canvas[5:15, 55:60].max() == 0
    before = canvas.copy()
    contact_shadow(canvas, 20, 40, 20)
    assert canvas[40, 20, 0] < before[40, 20, 0] and np.array_equal(canvas[:20, :], before[:20, :])


def test_harmonise_keeps_product_colour_and_follows_room_light():
    rgb = np.zeros((20, 20, 3), np.float32)
    rgb[:] = (40, 90, 200)  # a blue product
    sprite = Sprite(rgb, np.ones((20, 20), np.float32))
    dark_room = np.full((100, 100, 3), 40, np.uint8)
    out = harmonise(sprite, room_light(dark_room, (40, 40, 60, 60)))
    lab0 = cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2LAB).astype(float)
    lab1 = cv2.cvtColor(out.rgb.astype(np.uint8), cv2.COLOR_RGB2LAB).astype(float)
    assert lab1[..., 0].mean() < lab0[..., 0].mean()  # darker in a dark room
    assert np.abs(lab1[..., 1:].mean((0, 1)) - lab0[..., 1:].mean((0, 1))).max() < 6  # still the same blue


def test_imagenet_map_names():
    from catalog.embeddings import imagenet_categories

    names = imagenet_categories()
    assert names[831] == "studio couch" and names[846] == "table lamp" and names[741] == "prayer rug"
    probs = np.zeros((1, 1000), np.float32)
    probs[0, 831] = 0.5
    probs[0, 765] = 0.2
    folded = fold_probs(probs)[0]
    assert folded["sofa"] == pytest.approx(0.5) and folded["armchair"] == pytest.approx(0.2)
    assert set(IMAGENET_TO_ROOM.values()) <= {"sofa", "armchair", "chair", "table", "bed", "lamp", "rug", "shelf",
                                              "storage", "cushion", "plant", "curtain"}


def test_proposal_crop_is_square_catalogue_like():
    img = np.zeros((100, 200, 3), np.uint8)
    mask = np.zeros((100, 200), bool)
    mask[20:60, 50:150] = True
    img[mask] = (200, 30, 30)
    crop = np.asarray(proposal_crop(img, mask, (50, 20, 150, 60), size=64))
    assert crop.shape == (64, 64, 3)
    assert crop[0, 0].min() > 240  # letterbox is white
    assert tuple(crop[32, 32]) == pytest.approx((200, 30, 30), abs=12)


# ---------------------------------------------------------------- mirrored swap fillers
def _demo_cutout(pid: str) -> Image.Image:
    """A demo product's cut-out, as the importer makes it (RGBA)."""
    from catalog.cutout import cut_out
    from catalog.demo import ASSETS_DIR

    return cut_out(Image.open(ASSETS_DIR / f"{pid}.png").convert("RGB")).image


def test_mirror_difference_tells_symmetric_products_from_asymmetric_ones():
    """The threshold for offering a mirrored product (MIRROR_MIN_DIFFERENCE), on the demo
    catalogue's cut-outs: symmetric drawings stay below it (a pendant lamp lit from the left is
    the closest, ~0.045), asymmetric ones (a desk with drawers on one side, leafy plants, a rug
    whose stripes swap colours) are well above it."""
    from pipelines.room.pipeline import MIRROR_MIN_DIFFERENCE, mirror_difference

    def diff(pid):
        return mirror_difference(Sprite.from_rgba(_demo_cutout(pid)))

    symmetric = [f"demo-sofa-{i}" for i in range(1, 21)] + [
        "demo-armchair-2", "demo-armchair-3", "demo-chair-1", "demo-chair-4", "demo-table-2", "demo-lamp-1", "demo-lamp-3"]
    asymmetric = ["demo-table-3", "demo-plant-1", "demo-plant-2", "demo-rug-1"]
    sym = {pid: diff(pid) for pid in symmetric}
    asym = {pid: diff(pid) for pid in asymmetric}
    assert max(sym.values()) < MIRROR_MIN_DIFFERENCE, sym
    assert max(v for k, v in sym.items() if "sofa" in k) < MIRROR_MIN_DIFFERENCE / 2, sym
    assert min(asym.values()) > 1.2 * MIRROR_MIN_DIFFERENCE, asym
    # A perfectly symmetric picture scores 0; a picture and its mirror score the same.
    rgb = np.zeros((40, 60, 3), np.float32)
    rgb[:, :30] = (200, 40, 40)
    rgb[:, 30:] = rgb[:, :30][:, ::-1]
    assert mirror_difference(Sprite(rgb, np.ones((40, 60), np.float32))) < 1e-6
    desk = Sprite.from_rgba(_demo_cutout("demo-table-3"))
    assert mirror_difference(desk.flipped()) == pytest.approx(mirror_difference(desk), abs=1e-6)


def test_swap_fills_the_grid_with_mirrors_only_of_asymmetric_products(tmp_path):
    """Too few products for N combinations: a symmetric product is not repeated mirrored (it
    would be the same picture twice); an asymmetric one is; the message says how many there are."""
    from types import SimpleNamespace

    from pipelines.room.pipeline import RoomPipeline
    from pipelines.room.types import CombinationRequest

    def product(pid, category):
        path = tmp_path / f"{pid}.png"
        _demo_cutout(pid).save(path)
        return SimpleNamespace(id=pid, category=category, cutout_path=str(path), cutout_flagged=False)

    class Search:  # the catalogue's answer to any query: these products, best first
        def __init__(self, products):
            self.products = products

        def by_image(self, crop, k, filters):
            return [SimpleNamespace(product=p, score=1.0 - 0.01 * i) for i, p in enumerate(self.products[:k])]

    mask = np.zeros((60, 80), bool)
    mask[20:50, 10:70] = True
    arr = np.full((60, 80, 3), 200, np.uint8)

    def plan(label, products, n=20):
        item = SimpleNamespace(id=0, label=label, mask=mask, box=(10, 20, 70, 50))
        analysis = SimpleNamespace(get=lambda i: item)
        pipe = RoomPipeline(None, search=Search(products))
        plans, message = pipe._plan_swaps(arr, analysis, CombinationRequest(mode="swap_similar", item_ids=[0], n=n))
        return [(pl["swaps"][0][1].id, pl["swaps"][0][3]) for pl in plans], message

    sofas = [product(f"demo-sofa-{i}", "sofa") for i in (1, 2, 5)]
    got, message = plan("sofa", sofas)
    assert got == [("demo-sofa-1", False), ("demo-sofa-2", False), ("demo-sofa-5", False)]  # no mirrored repeats
    assert message == "only 3 matching products in the catalogue (import a larger catalogue for more)"
    got, message = plan("sofa", sofas, n=2)
    assert got == [("demo-sofa-1", False), ("demo-sofa-2", False)] and message == ""

    tables = [product("demo-table-3", "table"), product("demo-table-1", "table")]  # a desk (drawers on the right)
    got, message = plan("table", tables)
    assert got == [("demo-table-3", False), ("demo-table-1", False), ("demo-table-3", True)]
    assert message == ("only 2 matching products in the catalogue, 1 of them also shown mirrored "
                       "(import a larger catalogue for more)")


class _FixedClassifier:
    """Returns the same ImageNet probabilities for every crop."""

    def __init__(self, probs: dict[int, float]):
        self.row = np.zeros(1000, np.float32)
        for i, p in probs.items():
            self.row[i] = p
        self.row[999] = 1.0 - self.row.sum()  # the rest on a class no room word uses (toilet tissue)

    def classify(self, images):
        return np.tile(self.row, (len(images), 1))


def _proposal_at(y0, y1, shape=(200, 300)):
    m = np.zeros(shape, bool)
    m[y0:y1, 100:200] = True
    return MaskProposal.from_mask(m, 0.9, "test")


@pytest.mark.parametrize("probs, wall_label", [
    ({782: 0.4, 851: 0.2, 894: 0.1}, "object"),  # screen + television: a framed picture, not a wardrobe
    ({904: 0.3, 905: 0.2, 894: 0.1}, "object"),  # window screen + shade: a window
    ({894: 0.5, 846: 0.1}, "lamp"),  # "wardrobe" on the wall is not storage; the lamp remains
])
def test_wall_rules_reject_windows_and_pictures(probs, wall_label):
    from pipelines.room.labels import FurnitureLabeler

    img = np.full((200, 300, 3), 200, np.uint8)
    lab = FurnitureLabeler(_FixedClassifier(probs))
    on_wall, on_floor = _proposal_at(20, 80), _proposal_at(100, 190)
    (w_label, _, w_scores), (f_label, _, _) = lab.label(img, [on_wall, on_floor], horizon_y=90.0)
    assert w_label == wall_label
    assert (w_scores == {}) == (wall_label == "object")
    assert f_label != "object"  # standing on the floor, the same looks keep a furniture label
    # Without the horizon (a prompted selection) or with the rules off, nothing is rejected.
    assert lab.label(img, [on_wall])[0][0] != "object"
    assert FurnitureLabeler(_FixedClassifier(probs), rules=False).label(img, [on_wall], horizon_y=90.0)[0][0] != "object"


def test_plate_rack_is_not_a_shelf():
    assert 729 not in IMAGENET_TO_ROOM  # fires on chair backs, window bars and tiles
    probs = np.zeros((1, 1000), np.float32)
    probs[0, 729] = 0.9
    assert sum(fold_probs(probs)[0].values()) == 0
