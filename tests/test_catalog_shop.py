"""Shop-the-look scoring: dense windows over one feature map, masked product vectors, per-category z."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from catalog.embeddings import ImageEmbedder
from catalog.shop import RoomWindows, product_vectors, room_windows, score_products


def test_windows_boxes_and_vectors():
    e = ImageEmbedder(**ImageEmbedder.get_dummy_components())
    room = Image.new("RGB", (320, 200), (180, 170, 160))
    ImageDraw.Draw(room).rectangle([40, 60, 140, 180], fill=(40, 60, 120))
    win = room_windows(e, room, long_side=256, scales=(1.0, 0.5), boxes=[(40, 60, 140, 180)], flip=True)
    assert win.vectors.shape[1] == 1280 and len(win.boxes) == len(win.vectors)
    assert np.allclose(np.linalg.norm(win.vectors, axis=1), 1, atol=1e-5) and np.isfinite(win.vectors).all()
    assert (0, 0, 320, 200) in win.boxes and (40, 60, 140, 180) in win.boxes
    for x0, y0, x1, y1 in win.boxes:
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 200
    cut = Image.new("RGBA", (80, 100), (0, 0, 0, 0))
    ImageDraw.Draw(cut).rectangle([10, 10, 70, 90], fill=(40, 60, 120, 255))
    masked, plain = product_vectors(e, [cut, cut], both=True)
    assert masked.shape == plain.shape == (2, 1280) and np.allclose(masked[0], masked[1])


def test_score_products_per_category():
    wins = RoomWindows(np.eye(4, dtype=np.float32), [(0, 0, 1, 1)] * 4)
    prods = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0.2, 0.1], [0, 0, 0.1, 0.2]], np.float32)
    raw = score_products(wins, prods)
    assert np.allclose(raw, [1, 0.9, 0.2, 0.2])
    z = score_products(wins, prods, ["sofa", "sofa", "rug", "rug"])
    # Each category is centred: the best rug now ranks with the best sofa.
    assert np.isclose(z[0], -z[1]) and z[0] > 0 and np.isclose(z[:2].mean(), 0) and np.isclose(z[2:].mean(), 0)


def test_score_cells_mean_of_best_matches_and_fusion():
    from catalog.shop import ProductCells, score_cells, score_fused

    room_cells = np.eye(4, dtype=np.float32)[:3]  # the room shows directions 0, 1, 2 (not 3)
    wins = RoomWindows(room_cells.copy(), [(0, 0, 1, 1)] * 3, room_cells)
    # product 0: cells 0 and 1 (both in the room) -> 1; product 1: cells 0 and 3 -> (1 + 0) / 2;
    # product 2: one cell between 2 and 3 -> cos 45 deg.
    c = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0.7071, 0.7071]], np.float32)
    cells = ProductCells(c, np.array([0, 0, 1, 1, 2]), 3)
    s = score_cells(wins, cells, chunk=2)  # chunking must not change the result
    assert np.allclose(s, [1.0, 0.5, 0.7071], atol=1e-4)
    # Pooled vectors tie (all 1.0 on some window): the cell score breaks the tie.
    prods = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], np.float32)
    f = score_fused(wins, prods, cells, cell_weight=0.5)
    assert f.shape == (3,) and np.argsort(-f)[0] == 0 and f[1] < f[2]
    with pytest.raises(ValueError):
        score_cells(RoomWindows(room_cells, [(0, 0, 1, 1)] * 3), cells)


def test_cells_find_the_pasted_product():
    from catalog.shop import product_cells, score_cells

    e = ImageEmbedder(**ImageEmbedder.get_dummy_components())

    def cutout(col):
        im = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
        ImageDraw.Draw(im).rectangle([5, 5, 115, 115], fill=col + (255,))
        return im

    prods = [cutout((220, 20, 20)), cutout((20, 200, 40)), cutout((20, 20, 220))]
    speck = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(speck).rectangle([55, 55, 60, 60], fill=(0, 0, 0, 255))
    cells = product_cells(e, prods + [speck])
    assert cells.vectors.shape[1] == 1280 and len(cells.vectors) == len(cells.owner) and cells.n == 4
    assert np.allclose(np.linalg.norm(cells.vectors, axis=1), 1, atol=1e-5)
    assert set(cells.owner.tolist()) == {0, 1, 2, 3} and (cells.owner == 3).sum() == 2  # min_cells for a speck
    assert (cells.owner == 0).sum() > 20  # a product filling its photo keeps most of its 7x7 cells
    for k, p in enumerate(prods):
        room = Image.new("RGB", (448, 320), (150, 140, 130))
        room.paste(p.convert("RGB").resize((224, 224)), (150, 60), p.resize((224, 224)))
        s = score_cells(room_windows(e, room, long_side=448, scales=(1.0,), flip=False), cells)
        assert s.shape == (4,) and int(np.argmax(s[:3])) == k


def test_cell_colours_tell_colour_variants_apart():
    from catalog.shop import ProductCells, product_cells, score_cells, score_fused

    e = ImageEmbedder(**ImageEmbedder.get_dummy_components())
    red = Image.new("RGBA", (100, 160), (0, 0, 0, 0))
    ImageDraw.Draw(red).rectangle([10, 10, 90, 150], fill=(210, 30, 30, 255))
    cells = product_cells(e, [red])
    # Lab of the product's own pixels: the white studio background and the letterbox are left out.
    assert cells.colours.shape == (len(cells.vectors), 3) and (cells.colours[:, 1] > 40).all()
    room = Image.new("RGB", (320, 192), (30, 40, 200))
    win = room_windows(e, room, long_side=320, scales=(1.0,), flip=True)
    assert win.cell_colours.shape == (len(win.cells), 3) and (win.cell_colours[:, 2] < -40).all()  # blue: b < 0
    # Two variants with the same shape features, one red, one blue: only colour separates them.
    v = np.tile(win.cells[:1], (2, 1))
    variants = ProductCells(v, np.array([0, 1]), 2, np.array([cells.colours[0], win.cell_colours[0]]))
    plain = score_cells(win, variants)
    assert np.isclose(plain[0], plain[1])
    col = score_cells(win, variants, colour_weight=0.008)
    assert col[1] > col[0] + 0.3 and np.isclose(col[1], plain[1], atol=1e-5)  # blue matches blue
    prods = np.tile(win.vectors[:1], (2, 1))
    f = score_fused(win, prods, variants, colour_weight=0.008)
    assert f[1] > f[0]
    with pytest.raises(ValueError):
        score_cells(win, ProductCells(v, np.array([0, 1]), 2), colour_weight=0.008)
