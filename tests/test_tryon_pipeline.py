"""The try-on pipeline end to end: analysis, looks, errors. Real photos come from shared_data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from pipelines.tryon import LookRequest, TryOnPipeline
from pipelines.tryon.pipeline import _combinations


@dataclass
class Shade:
    """Stands in for catalog.products.Product: the documented makeup fields only."""

    id: str
    title: str
    brand: str
    makeup_type: str
    shade_hex: str
    shade_name: str
    finish: str = "satin"
    price: float | None = 12.0
    currency: str = "USD"
    url: str = "https://example.com/p"
    category: str = "makeup"

    def ref(self) -> dict:
        return {k: getattr(self, k) for k in ("id", "title", "brand", "category", "price", "currency", "url", "shade_hex", "shade_name")}


class ListCatalog:
    def __init__(self, products):
        self.products = {p.id: p for p in products}

    def list(self, category=None, makeup_type=None):
        return [p for p in self.products.values() if makeup_type in (None, p.makeup_type)]

    def get(self, pid):
        return self.products.get(pid)


def get_dummy_catalog() -> ListCatalog:
    ps = [Shade(f"lip-{i}", "Velvet Lip", "Acme", "lipstick", h, n, f, 10.0 + i)
          for i, (h, n, f) in enumerate([("#C41E3A", "Ruby", "satin"), ("#5B2A42", "Plum", "matte"), ("#E8A0A0", "Petal", "gloss"),
                                         ("#B5533C", "Brick", "satin"), ("#8B3A62", "Berry", "shimmer")])]
    ps += [Shade(f"eye-{i}", "Duo", "Acme", "eyeshadow", h, n, "shimmer", 20.0) for i, (h, n) in enumerate([("#6B4E71", "Violet"), ("#8C6A4F", "Taupe"), ("#3E4A61", "Navy")])]
    ps += [Shade(f"blush-{i}", "Glow", "Other", "blush", h, n, "satin", 30.0) for i, (h, n) in enumerate([("#E07A7A", "Rose"), ("#D9825B", "Peach")])]
    ps += [Shade(f"fdn-{i}", "Skin Tint", "Acme", "foundation", h, n, "satin", 25.0) for i, (h, n) in enumerate([("#F3D9C4", "Fair"), ("#C8956C", "Medium"), ("#7A4E32", "Deep")])]
    return ListCatalog(ps)


@pytest.fixture(scope="module")
def pipe():
    from app.settings import load_settings

    return TryOnPipeline.from_settings(load_settings(), get_dummy_catalog())


@pytest.fixture(scope="module")
def portrait(shared_data):
    return Image.open(shared_data / "faces" / "cc0" / "images" / "001.jpg").convert("RGB")


@pytest.fixture(scope="module")
def analysis(pipe, portrait):
    return pipe.analyze(portrait)


def test_analysis_finds_face_regions_skin_and_tone(analysis, portrait):
    a = analysis
    assert len(a.faces) == 1 and a.size == portrait.size
    assert a.faces[0].landmarks.shape == (478, 2)
    for k in ("lips", "mouth", "eyes", "brows", "eyeshadow", "cheeks", "face_skin"):
        assert a.regions[k].shape == (portrait.height, portrait.width) and a.regions[k].dtype == bool
        assert a.regions[k].sum() > 50, k
    assert not (a.regions["lips"] & a.regions["mouth_interior"]).any()  # teeth excluded
    assert not (a.skin_mask & a.regions["eyes"]).any()
    # All visible skin reaches beyond the face (neck).
    assert (a.skin_mask & ~a.regions["face_oval"]).sum() > 0.05 * a.skin_mask.sum()
    t = a.tone
    assert 1 <= t.monk <= 10 and 0 <= t.confidence <= 1 and t.undertone in ("warm", "neutral", "cool")
    assert t.swatch_hex.startswith("#") and len(t.swatch_hex) == 7
    assert "face" in a.message and a.backend.startswith("mediapipe-face-mesh")
    assert a.to_dict()["tone"]["monk"] == t.monk


def test_looks_have_products_prices_links_backend(pipe, analysis, portrait):
    ls = pipe.looks(portrait, analysis, LookRequest(n=6, seed=0))
    assert len(ls.looks) == 6
    combos = {tuple(p["id"] for p in lk.products) for lk in ls.looks}
    assert len(combos) == 6  # distinct
    for lk in ls.looks:
        assert lk.image.size == portrait.size and lk.backend == "lab-transfer-cpu"
        assert {p["makeup_type"] for p in lk.products} == {"lipstick", "eyeshadow", "blush"}
        assert all(p["price"] and p["url"] for p in lk.products)
        assert np.abs(np.asarray(lk.image, np.int16) - np.asarray(portrait, np.int16)).max() > 20
        lips = analysis.regions["lips"]
        # Nothing changes far from the face.
        far = np.zeros_like(lips)
        far[:, :20] = True
        assert np.array_equal(np.asarray(lk.image)[far], np.asarray(portrait)[far])
    d = ls.to_dict()
    assert len(d["looks"]) == 6 and d["backend"] == "lab-transfer-cpu" and d["tone"]["monk"] == analysis.tone.monk
    # Same seed, same looks.
    again = pipe.looks(portrait, analysis, LookRequest(n=6, seed=0))
    assert [lk.description for lk in again.looks] == [lk.description for lk in ls.looks]


def test_lipstick_fidelity_on_the_photo(pipe, analysis, portrait):
    ls = pipe.looks(portrait, analysis, LookRequest(product_types=["lipstick"], n=5, opacity=1.0))
    for lk in ls.looks:
        fid = next(iter(lk.fidelity.values()))
        assert fid["delta_e"] < 1.5, (lk.description, fid)
        assert fid["texture_corr"] > 0.8, (lk.description, fid)


def test_all_shades_of_one_product_and_tone_override(pipe, analysis, portrait):
    ls = pipe.looks(portrait, analysis, LookRequest(product_id="lip-0", n=20))
    assert len(ls.looks) == 5 and all(len(lk.products) == 1 for lk in ls.looks)
    assert {lk.products[0]["shade_name"] for lk in ls.looks} == {"Ruby", "Plum", "Petal", "Brick", "Berry"}
    f_light = pipe.looks(portrait, analysis, LookRequest(product_types=["foundation"], n=1, tone_override=1))
    f_dark = pipe.looks(portrait, analysis, LookRequest(product_types=["foundation"], n=1, tone_override=10))
    assert f_light.tone.monk == 1 and f_light.tone.user_corrected
    assert f_light.looks[0].products[0]["shade_name"] == "Fair"
    assert f_dark.looks[0].products[0]["shade_name"] == "Deep"


def test_filters_and_bad_requests(pipe, analysis, portrait):
    ls = pipe.looks(portrait, analysis, LookRequest(product_types=["lipstick"], price_max=11.5, n=5))
    assert {lk.products[0]["id"] for lk in ls.looks} == {"lip-0", "lip-1"}
    assert "only 2 looks" in ls.message
    with pytest.raises(ValueError, match="product_types"):
        pipe.looks(portrait, analysis, LookRequest(product_types=["mascara"]))
    with pytest.raises(ValueError, match="Monk level"):
        pipe.looks(portrait, analysis, LookRequest(tone_override=0))
    with pytest.raises(ValueError, match="no blush shades"):
        pipe.looks(portrait, analysis, LookRequest(product_types=["blush"], brand="Acme"))
    with pytest.raises(ValueError, match="no product with id"):
        pipe.looks(portrait, analysis, LookRequest(product_id="nope"))
    with pytest.raises(ValueError, match="n must be"):
        pipe.looks(portrait, analysis, LookRequest(n=0))


def test_no_face_says_so_and_still_finds_skin(pipe):
    # A hand-like blob of skin colour on a plain background: no face, some skin.
    img = np.full((240, 320, 3), (60, 90, 120), np.uint8)
    yy, xx = np.mgrid[0:240, 0:320]
    blob = ((yy - 120) / 70.0) ** 2 + ((xx - 160) / 100.0) ** 2 < 1
    img[blob] = (205, 160, 130)
    a = pipe.analyze(img)
    assert a.faces == [] and "no face" in a.message
    with pytest.raises(ValueError, match="no face"):
        pipe.render(img, a, [get_dummy_catalog().get("lip-0")])


def test_bad_images_are_rejected_clearly(pipe):
    with pytest.raises(ValueError, match="JPEG, PNG"):
        pipe.analyze(b"definitely not an image")
    with pytest.raises(ValueError, match="too small"):
        pipe.analyze(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        pipe.analyze(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="faces must be"):
        pipe.analyze(np.zeros((64, 64, 3), np.uint8), faces="biggest")


def test_combinations_are_distinct_best_first_and_seeded():
    ranked = [list("abcd"), list("xyz"), list("12")]
    c = _combinations(ranked, 10, seed=0)
    assert c[0] == ["a", "x", "1"] and len({tuple(x) for x in c}) == 10
    assert c == _combinations(ranked, 10, seed=0)
    assert len(_combinations(ranked, 100, seed=0)) == 24
