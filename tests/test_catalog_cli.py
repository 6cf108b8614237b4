"""`restyle catalog import | search | stats` end to end on a tiny catalogue (real bundled models)."""

import json

import pytest
from PIL import Image, ImageDraw

from app.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("RESTYLE_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("RESTYLE_DATA_DIR", str(tmp_path / "data"))
    for name, col in (("red.png", (200, 30, 30)), ("blue.png", (30, 50, 200))):
        im = Image.new("RGB", (160, 120), "white")
        ImageDraw.Draw(im).rectangle([30, 20, 130, 100], fill=col)
        im.save(tmp_path / name)
    (tmp_path / "shop.csv").write_text(
        "ref,label,type,cost,photo\n"
        "r1,Red velvet sofa,sofa,499,red.png\n"
        "b1,Blue lamp,lamp,cheap,blue.png\n"
        "b2,Blue wool rug,rug,129,blue.png\n")
    return tmp_path


def test_import_search_stats(env, capsys):
    rc = main(["catalog", "import", str(env / "shop.csv"), "--map", "ref=id", "label=title", "type=category",
               "cost=price", "photo=image", "--currency", "EUR"])
    out = capsys.readouterr().out
    assert rc == 0 and "inserted: 2" in out and "rejected: 1" in out and "row 2 (id b1): bad price 'cheap'" in out
    assert main(["catalog", "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["products"] == 2 and stats["categories"] == {"rug": 1, "sofa": 1}
    assert main(["catalog", "search", "--text", "sofa", "-k", "1", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"] == "r1" and hits[0]["currency"] == "EUR"
    assert main(["catalog", "search", "--image", str(env / "blue.png"), "--category", "rug"]) == 0
    assert "b2" in capsys.readouterr().out
    assert main(["catalog", "search", "--id", "r1", "--price-max", "200"]) == 0
    assert "b2" in capsys.readouterr().out
    assert main(["catalog", "search", "--id", "zzz"]) == 2
    assert "no product with id" in capsys.readouterr().err


def test_clear_errors(env, capsys):
    assert main(["catalog", "search", "--text", "sofa"]) == 2
    assert "catalogue is empty" in capsys.readouterr().err
    assert main(["catalog", "import", str(env / "shop.csv"), "--map", "ref"]) == 2
    assert "source_column=field" in capsys.readouterr().err
    assert main(["catalog", "import", str(env / "nope.csv")]) == 2
    assert "no such catalogue file" in capsys.readouterr().err
