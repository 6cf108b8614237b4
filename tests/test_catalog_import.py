"""Import: every bad row reported with its number and reason, good rows land, re-import upserts,
an interrupted import completes, URLs are guarded."""

import csv
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from catalog.embeddings import ImageEmbedder
from catalog.fetch import FetchRefused, check_url, fetch_bytes
from catalog.importer import CatalogImporter, parse_mapping, read_table
from catalog.store import Catalog


class CountingText:
    """A real MiniLM embedder would do; this deterministic tiny one keeps the test fast and counts calls."""

    backend, model_name, dim = "test-text", "test-text:v1", 8

    def __init__(self):
        self.calls = 0

    def embed(self, texts):
        self.calls += len(texts)
        out = np.array([[hash((t, i)) % 997 for i in range(8)] for t in texts], np.float32) + 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def product_png(path, color):
    im = Image.new("RGB", (120, 90), (255, 255, 255))
    ImageDraw.Draw(im).rectangle([20, 15, 100, 80], fill=color)
    im.save(path)


@pytest.fixture
def folder(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i, col in enumerate([(200, 40, 40), (40, 160, 60), (30, 60, 200), (90, 90, 90)]):
        product_png(imgs / f"p{i}.png", col)
    (imgs / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 10)
    (imgs / "drawing.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    return tmp_path


ROWS = [
    # sku, name, kind, cost, hex, picture
    ("A1", "Red sofa", "sofa", "499", "#cc2222", "p0.png"),          # row 1 ok
    ("A2", "Green chair", "chair", "abc", "#22aa44", "p1.png"),      # row 2 bad price
    ("A3", "Blue lamp", "lamp", "59.90", "#12345", "p2.png"),        # row 3 malformed hex
    ("A4", "Grey rug", "rug", "", "", "p3.png"),                     # row 4 ok, no price
    ("A1", "Red sofa again", "sofa", "450", "#cc2222", "p0.png"),   # row 5 duplicate id
    ("A6", "Lost table", "table", "100", "", "missing.png"),         # row 6 missing image
    ("A7", "Broken shelf", "shelf", "80", "", "corrupt.jpg"),        # row 7 corrupt image
    ("A8", "Vector storage", "storage", "80", "", "drawing.svg"),     # row 8 not a photo
    ("A9", "Green lamp", "lamp", "35", "", "p1.png"),                # row 9 ok
]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sku", "name", "kind", "cost", "hex", "picture"])
        w.writerows(rows)
    return path


MAP = {"sku": "id", "name": "title", "kind": "category", "cost": "price", "hex": "color_hex", "picture": "image"}


def make_importer(settings, **kw):
    cat = Catalog.open(settings)
    img = ImageEmbedder(**ImageEmbedder.get_dummy_components())
    return CatalogImporter(cat, img, CountingText(), batch_size=kw.pop("batch_size", 3), workers=1, **kw)


def test_bad_rows_reported_good_rows_land(settings, folder):
    path = write_csv(folder / "cat.csv", ROWS)
    imp = make_importer(settings)
    rep = imp.import_file(path, images_dir=folder / "imgs", mapping=MAP, preset="none")
    rejected = {r.row: r.reason for r in rep.rejected}
    assert set(rejected) == {2, 3, 5, 6, 7, 8}
    assert "bad price" in rejected[2]
    assert "malformed hex" in rejected[3]
    assert "duplicate id" in rejected[5] and "row 1" in rejected[5]
    assert "missing image" in rejected[6]
    assert "corrupt" in rejected[7]
    assert "SVG" in rejected[8]
    assert sorted(rep.inserted) == ["A1", "A4", "A9"]
    cat = imp.catalog
    assert len(cat) == 3 and cat.get("A4").price is None and cat.get("A1").price == 499.0
    p = cat.get("A1")
    assert (cat.root / p.cutout_path).is_file() and (cat.root / p.image_path).is_file()
    assert Image.open(cat.root / p.cutout_path).mode == "RGBA"
    assert p.color_hex == "#cc2222" and cat.get("A9").color_hex is not None  # measured from the photo
    ids, vecs = cat.get_embeddings("image", imp.image_model)
    assert ids == ["A1", "A4", "A9"] and vecs.shape == (3, 1280)
    text = rep.summary()
    assert "rejected: 6" in text and "row 3 (id A3): color_hex: malformed hex" in text


def test_reimport_is_an_upsert(settings, folder):
    path = write_csv(folder / "cat.csv", ROWS)
    imp = make_importer(settings)
    imp.import_file(path, images_dir=folder / "imgs", mapping=MAP, preset="none")
    calls = imp.text_embedder.calls
    rep = imp.import_file(path, images_dir=folder / "imgs", mapping=MAP, preset="none")
    assert sorted(rep.unchanged) == ["A1", "A4", "A9"] and not rep.inserted and not rep.updated
    assert imp.text_embedder.calls == calls and rep.embedded == 0  # nothing re-embedded
    changed = [r if r[0] != "A9" else ("A9", "Green lamp XL", "lamp", "39", "", "p1.png") for r in ROWS]
    changed.append(("B1", "New chair", "chair", "20", "", "p2.png"))
    rep = imp.import_file(write_csv(folder / "cat.csv", changed), images_dir=folder / "imgs", mapping=MAP, preset="none")
    assert rep.updated == ["A9"] and rep.inserted == ["B1"]
    assert len(imp.catalog) == 4 and imp.catalog.get("A9").title == "Green lamp XL"
    ids, _ = imp.catalog.get_embeddings("text", "test-text:v1")
    assert ids == ["A1", "A4", "A9", "B1"]


def test_interrupted_import_completes_on_rerun(settings, folder):
    rows = [(f"C{i}", f"Chair {i}", "chair", str(10 + i), "", f"p{i % 4}.png") for i in range(7)]
    path = write_csv(folder / "c.csv", rows)
    imp = make_importer(settings, batch_size=2)
    real = imp.image_embedder.embed
    calls = {"n": 0}

    def dying(images):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(images)

    imp.image_embedder.embed = dying
    with pytest.raises(KeyboardInterrupt):
        imp.import_file(path, images_dir=folder / "imgs", mapping=MAP, preset="none")
    assert len(imp.catalog) == 4  # two whole batches committed, the third rolled back
    assert len(imp.catalog.get_embeddings("image", imp.image_model)[0]) == 4
    imp.image_embedder.embed = real
    rep = imp.import_file(path, images_dir=folder / "imgs", mapping=MAP, preset="none")
    assert len(rep.unchanged) == 4 and len(rep.inserted) == 3
    assert imp.catalog.ids() == sorted(f"C{i}" for i in range(7))
    assert len(imp.catalog.get_embeddings("image", imp.image_model)[0]) == 7


def test_json_and_parquet_and_mapping_errors(settings, folder, tmp_path):
    import pandas as pd

    records = [{"id": "J1", "title": "Oak table", "category": "table", "price": 120, "image": "p0.png"},
               {"id": "J2", "title": "Pink blush", "category": "makeup", "makeup_type": "blush", "shade_hex": "#e8a0a8"}]
    (tmp_path / "c.json").write_text(json.dumps({"products": records}))
    imp = make_importer(settings)
    rep = imp.import_file(tmp_path / "c.json", images_dir=folder / "imgs")
    assert sorted(rep.inserted) == ["J1", "J2"] and not rep.rejected
    assert imp.catalog.get("J2").image_path is None  # makeup needs no photo
    pd.DataFrame([{"ref": "Q1", "label": "Shelf", "category": "shelf", "image": "p2.png"}]).to_parquet(tmp_path / "c.parquet")
    rep = imp.import_file(tmp_path / "c.parquet", images_dir=folder / "imgs", mapping={"ref": "id", "label": "title"})
    assert rep.inserted == ["Q1"]
    with pytest.raises(ValueError, match="does not have"):
        imp.import_file(tmp_path / "c.parquet", mapping={"nope": "id"})
    with pytest.raises(ValueError, match="not a product field"):
        parse_mapping(["a=b"])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        read_table(tmp_path / "bad.json")


def test_makeup_preset_reports_malformed_hex(settings, tmp_path):
    header = "product_id,brand,product_name,product_type,category,price,currency,colour_name,hex,hex_valid,product_link,image_link\n"
    body = ("1,acme,Matte Lip,lipstick,,9.5,USD,Red,#B22222,True,https://x.example/1,\n"
            "1,acme,Matte Lip,lipstick,,9.5,USD,Bad,gray7,False,https://x.example/1,\n"
            "2,acme,Liner,eyeliner,,5,USD,Black,#000000,True,https://x.example/2,\n"
            "3,acme,Shimmer Shadow,eyeshadow,palette,12,,Gold,#D4AF37,True,https://x.example/3,https://img.example/3.jpg\n")
    (tmp_path / "shades_flat.csv").write_text(header + body)
    imp = make_importer(settings)
    rep = imp.import_file(tmp_path / "shades_flat.csv")
    assert rep.preset == "makeup_api"
    assert {r.row for r in rep.rejected} == {2, 3}
    assert "malformed hex" in rep.rejected[0].reason and "not supported" in rep.rejected[1].reason
    red = imp.catalog.get("mua-1-red")
    assert red.makeup_type == "lipstick" and red.finish == "matte" and red.shade_hex == "#b22222" and red.price == 9.5
    gold = imp.catalog.get("mua-3-gold")
    assert gold.finish == "shimmer" and gold.currency is None
    assert any("network access is off" in w.reason for w in rep.warnings)  # image URL not fetched


def test_url_guard():
    for url in ("http://127.0.0.1/x.jpg", "http://10.0.0.5/a.png", "http://169.254.169.254/latest", "http://[::1]/a",
                "http://localhost/a.jpg"):
        with pytest.raises(FetchRefused, match="private or local"):
            check_url(url)
    for url in ("file:///etc/passwd", "ftp://example.com/a.jpg"):
        with pytest.raises(FetchRefused, match="only http"):
            check_url(url)
    with pytest.raises(FetchRefused, match="network access is off"):
        fetch_bytes("https://example.com/a.jpg", allow_network=False, max_bytes=100)
