"""The app's own pieces that need no pipeline: drawing, HTML of products, input parsing, guards."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from app import api
from app.api import UserError


@dataclass
class _Item:  # the fields of pipelines.room.Item that drawing reads
    id: int
    label: str
    confidence: float
    mask: np.ndarray
    box: tuple


def _room(w=320, h=200):
    img = Image.new("RGB", (w, h), (200, 200, 200))
    m1 = np.zeros((h, w), bool)
    m1[100:180, 20:150] = True
    m2 = np.zeros((h, w), bool)
    m2[30:120, 200:260] = True
    return img, [_Item(0, "sofa", 0.9, m1, (20, 100, 150, 180)), _Item(1, "lamp", 0.7, m2, (200, 30, 260, 120))]


def test_draw_items_outlines_labels_and_highlights_the_selection():
    img, items = _room()
    plain = np.asarray(api.draw_items(img, items)).astype(int)
    chosen = np.asarray(api.draw_items(img, items, {0})).astype(int)
    base = np.asarray(img).astype(int)
    assert plain.shape == chosen.shape == base.shape
    # Outlines: pixels on each item's border changed; the middle of an unselected item did not.
    assert np.abs(plain[100, 60:100] - base[100, 60:100]).max() > 50
    assert np.abs(plain[140, 85] - base[140, 85]).max() == 0
    # Selected: its inside is tinted with its colour; the other item's inside is untouched.
    assert np.abs(chosen[140, 85] - base[140, 85]).max() > 30
    assert np.abs(chosen[75, 230] - base[75, 230]).max() == 0


def test_draw_items_rescales_masks_from_another_frame():
    img, items = _room()
    small = [_Item(i.id, i.label, i.confidence, i.mask[::2, ::2], i.box) for i in items]
    out = api.draw_items(img, small, {1})
    assert out.size == img.size


def test_draw_regions_tints_each_region():
    img = Image.new("RGB", (100, 100), (128, 128, 128))
    lips = np.zeros((100, 100), bool)
    lips[60:70, 30:70] = True
    out = np.asarray(api.draw_regions(img, {"lips": lips})).astype(int)
    assert out[65, 50, 0] > 150 and out[65, 50, 1] < 110  # reddish
    assert (out[10, 10] == 128).all()


def test_products_html_escapes_and_only_links_http():
    meta = {"backend": "composite", "description": "<script>alert(1)</script>", "products": [
        {"title": "<b>Sofa</b>", "brand": "X&Y", "category": "sofa", "price": 499.0, "currency": "EUR",
         "url": "javascript:alert(1)"},
        {"title": "Lamp", "brand": None, "category": "lamp", "price": 30.5, "currency": "EUR",
         "url": "https://shop.example/lamp"},
    ]}
    out = api.products_html(meta)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<b>Sofa</b>" not in out and "javascript:" not in out
    assert 'href="https://shop.example/lamp"' in out
    assert "529.50 EUR" in out  # total
    assert "composite (CPU)" in out


def test_price_total_per_currency_and_missing_prices():
    assert api.price_total([{"price": 10, "currency": "EUR"}, {"price": 2.5, "currency": "EUR"},
                            {"price": 3, "currency": "USD"}, {"price": None}]) == {"EUR": 12.5, "USD": 3.0}
    assert api.price_total([{"price": None}]) is None


@pytest.mark.parametrize("value, expected", [("2, 5", [2, 5]), ([3, "4"], [3, 4]), (0, [0]), ("", []), (None, []),
                                             ("1;1", [1])])
def test_parse_item_ids(value, expected):
    assert api.parse_item_ids(value) == expected


def test_parse_item_ids_says_what_is_wrong():
    with pytest.raises(UserError, match="whole numbers"):
        api.parse_item_ids("sofa")


def test_price_range_checks():
    assert api._price_range(0, 0) == (None, None)
    assert api._price_range("", 100) == (None, 100.0)
    with pytest.raises(UserError, match="above maximum"):
        api._price_range(50, 5)
    with pytest.raises(UserError, match="must be a number"):
        api._price_range("cheap", None)


@pytest.mark.parametrize("rows, bad", [
    ([{"image": "https://x.example/a.jpg"}], False),
    ([{"image": "sofa.jpg"}], False),
    ([{"title": "a/b"}, {"image": "/etc/secret.png"}], True),
    ([{"image": "../../photos/me.jpg"}], True),
    ([{"image": "file:///etc/x.jpg"}], True),
    ([{"image": "C:\\\\x.jpg"}], True),
])
def test_server_paths_in_uploaded_catalogues_are_found(rows, bad):
    assert (api._server_paths_in(rows) is not None) == bad


def test_photo_cache_and_limits(settings, tmp_path):
    ctx = api.AppContext(settings)
    p = tmp_path / "room.png"
    Image.new("RGB", (2048, 1024), (10, 20, 30)).save(p)
    pid, entry = ctx.photo(str(p), "room")
    assert max(entry.image.size) == settings.work_max_side  # resized to the working size
    pid2, entry2 = ctx.photo(str(p), "room")
    assert pid2 == pid and entry2 is entry  # same bytes: same cached analysis
    with pytest.raises(UserError, match="upload one first"):
        ctx.photo(None, "room")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(UserError, match="photo rejected"):
        ctx.photo(str(bad), "room")


def test_first_demo_run_serves_the_page_before_the_import(tmp_path, monkeypatch):
    """On a fresh data folder the demo import (~10 s) runs in the warm-up, not while the page is
    built; the first action that needs the catalogue runs it."""
    import catalog.demo
    from app.settings import Settings
    from app.ui import build_app

    calls = []

    def spy(settings, catalog=None, **kw):
        calls.append(settings.data_dir)
        return catalog  # the import itself is tested in test_catalog_*; here only *when* it runs

    monkeypatch.setattr(catalog.demo, "ensure_demo_catalog", spy)
    ctx = api.AppContext(Settings(data_dir=tmp_path / "data"), demo=True)
    assert ctx.catalog_if_ready() is None
    build_app(ctx.settings, demo=True, ctx=ctx, warm_up=False)
    assert calls == []  # the page did not wait for the import
    assert ctx.catalog is not None and calls == [tmp_path / "data"]  # the first action imports it
