"""The permalink store: unguessable ids, complete-or-absent shares, reopening after a restart."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.share import ShareNotFound, ShareStore


def _img(seed: int, size=(64, 48)) -> Image.Image:
    """A smooth gradient with a colour of its own (JPEG keeps it within a few levels)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 200, 3)
    ramp = np.linspace(0, 55, size[0])[None, :, None]
    return Image.fromarray((base[None, None, :] + ramp + np.zeros((size[1], 1, 1))).astype(np.uint8))


def test_create_and_reopen_after_restart(tmp_path):
    store = ShareStore(tmp_path / "shares")
    results = [(_img(i), {"description": f"result {i}", "products": [{"id": f"p{i}", "price": 10.0 * i}]})
               for i in range(3)]
    share = store.create("room", _img(99), results, {"backend": "composite"})
    assert len(share.id) == 22
    store.close()

    reopened = ShareStore(tmp_path / "shares").get(share.id)  # a new process would do exactly this
    assert reopened.kind == "room"
    assert reopened.info == {"backend": "composite"}
    assert [r.meta["description"] for r in reopened.results] == ["result 0", "result 1", "result 2"]
    assert reopened.before.is_file() and all(r.image.is_file() for r in reopened.results)
    # The images are the results (JPEG, so compare loosely), in order, at their size.
    for (orig, _), r in zip(results, reopened.results):
        back = np.asarray(Image.open(r.image).convert("RGB"), dtype=np.float32)
        assert back.shape == (48, 64, 3)
        assert np.abs(back - np.asarray(orig, dtype=np.float32)).mean() < 3
    json.dumps(reopened.to_dict())


def test_ids_are_unique_and_not_sequential(tmp_path):
    store = ShareStore(tmp_path)
    ids = {store.create("face", _img(0), [(_img(1), {})]).id for _ in range(20)}
    assert len(ids) == 20
    assert len(store) == 20


@pytest.mark.parametrize("bad", ["", "abc", "../../etc/passwd", "A" * 21 + "/", "x" * 23])
def test_malformed_ids_are_refused(tmp_path, bad):
    with pytest.raises(ShareNotFound, match="not a share id"):
        ShareStore(tmp_path).get(bad)


def test_unknown_id_says_so(tmp_path):
    with pytest.raises(ShareNotFound, match="no shared result"):
        ShareStore(tmp_path).get("A" * 22)


def test_bad_input_leaves_nothing_behind(tmp_path):
    store = ShareStore(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        store.create("car", _img(0), [(_img(1), {})])
    with pytest.raises(ValueError, match="empty"):
        store.create("room", _img(0), [])
    with pytest.raises(ValueError, match="JSON"):
        store.create("room", _img(0), [(_img(1), {"x": object()})])
    assert len(store) == 0
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []
