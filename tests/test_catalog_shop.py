"""Shop-the-look scoring: dense windows over one feature map, masked product vectors, per-category z."""

import numpy as np
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
