"""The room pipeline on real photos from ../shared/data (skipped when the folder is absent):
an IKEA room (detect, erase, rearrange, swap with real IKEA products) and a 12-MP phone photo."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from pipelines.room import ClassicalSegmenter, CombinationRequest, RoomPipeline
from pipelines.room.labels import FurnitureLabeler

ROOM = "ikea-a-small-living-room-ready-for-whiling-the-afternoon-away__1364309460486-s4.jpg"
SOFA_BOX = (285, 335, 935, 690)  # the beige sofa, drawn by hand on the 1024x765 photo
STOOL_BOX = (360, 515, 535, 715)  # the white stool in front of it


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def ikea(shared_data):
    return shared_data / "ikea"


@pytest.fixture(scope="module")
def embedders():
    from catalog.embeddings import ImageEmbedder

    return ImageEmbedder(), ImageEmbedder(size=128)


@pytest.fixture(scope="module")
def sofa_catalogue(ikea, embedders, tmp_path_factory):
    """Six real IKEA sofas imported through the catalogue importer (cut-outs, vectors, index)."""
    from app.settings import load_settings
    from catalog.importer import CatalogImporter, RowMapper, detect_preset
    from catalog.search import CatalogSearch
    from catalog.store import Catalog

    rows = [r for r in csv.DictReader(open(ikea / "catalogue.csv")) if r["category"] == "sofa"][:6]
    settings = load_settings(data_dir=tmp_path_factory.mktemp("ikea") / "data")
    cat = Catalog.open(settings)
    cols = list(rows[0])
    report = CatalogImporter(cat, embedders[0], None).import_rows(rows, RowMapper(cols, None, detect_preset(cols)),
                                                                  base_dir=ikea)
    assert report.accepted == 6, report.summary()
    return cat, CatalogSearch(cat, embedders[0], settings=settings)


@pytest.fixture(scope="module")
def room_and_analysis(ikea, embedders, sofa_catalogue):
    cat, search = sofa_catalogue
    pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedders[0]), search=search, catalog=cat,
                        embedder=embedders[0], similarity_embedder=embedders[1])
    img = pipe.prepare(ikea / "rooms" / ROOM)
    return pipe, img, pipe.detect_items(img)


def test_detect_on_a_real_room(room_and_analysis):
    pipe, img, a = room_and_analysis
    assert a.size == img.size and 3 <= len(a.items) <= 12
    assert all(it.mask.shape == (img.height, img.width) for it in a.items)
    assert 0.2 * img.height < a.horizon_y < 0.75 * img.height


def test_erase_rearrange_swap_on_a_real_room(room_and_analysis, sofa_catalogue):
    pipe, img, a = room_and_analysis
    sofa = pipe.refine_item(img, a, box=SOFA_BOX, label="sofa")
    x0, y0, x1, y1 = sofa.box
    assert x1 - x0 > 0.6 * (SOFA_BOX[2] - SOFA_BOX[0])  # the whole sofa, not one cushion
    before = np.asarray(img)

    erase = pipe.combinations(img, a, CombinationRequest(mode="erase", item_ids=[sofa.id])).combinations[0]
    out = np.asarray(erase.image)
    assert np.array_equal(out[~erase.edited_mask], before[~erase.edited_mask])
    # The sofa is gone: its pixels changed a lot on average.
    assert np.abs(out.astype(int) - before.astype(int)).sum(2)[sofa.mask].mean() > 40

    stool = pipe.refine_item(img, a, box=STOOL_BOX, label="table")
    target = (820, 745)
    moves = pipe.combinations(img, a, CombinationRequest(mode="rearrange", item_ids=[stool.id], target=target, n=4, seed=2))
    assert len(moves.combinations) >= 3  # at the target, turned around, and without it (at least)
    assert moves.combinations[0].edited_mask[target[1] - 5, target[0]]  # it stands at the target now
    for c in moves.combinations:
        assert c.fidelity["ssim_outside"] > 0.99

    swaps = pipe.combinations(img, a, CombinationRequest(mode="swap_similar", item_ids=[sofa.id], n=6))
    assert len(swaps.combinations) == 6
    from pipelines.room.pipeline import _rendered_crop

    own_best = 0
    for c in swaps.combinations:
        assert c.products[0]["category"] == "sofa" and c.products[0]["title"]
        assert c.fidelity["ssim_outside"] > 0.99
        assert 0.0 < c.fidelity["product_similarity"][0] <= 1.0
        # Recognisably itself after harmonisation: the rendered sofa looks more like its own
        # catalogue photo than like the other sofas' photos.
        pid, cov, (ox, oy) = c._placed[0]
        h, w = cov.shape
        v = pipe.similarity_embedder.embed([_rendered_crop(np.asarray(c.image)[oy:oy + h, ox:ox + w], cov)])[0]
        sims = {q: float(v @ pipe._product_vecs[q]) for q in pipe._product_vecs}
        assert sims[pid] == pytest.approx(c.fidelity["product_similarity"][0], abs=1e-3)
        own_best += sims[pid] >= sorted(sims.values())[-2]  # first or second of the six
    assert own_best >= 5


@pytest.mark.slow
def test_twelve_megapixel_phone_photo(shared_data, embedders):
    path = shared_data / "rooms_large" / "bedroom_4032x3024.jpg"
    pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedders[0]), embedder=embedders[0])
    a = pipe.detect_items(path)
    assert max(a.size) == 1024 and a.items
    c = pipe.combinations(path, a, CombinationRequest(mode="erase", item_ids=[a.items[0].id])).combinations[0]
    assert c.image.size == a.size
    assert Image.open(path).size == (4032, 3024)
