"""Demo faces: drawn by our own code, found by the face mesh, usable end to end without any
shared data (so the app can show try-on before an upload)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.tryon.demo_faces import DEMO_FACES, draw_face

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "faces"


@pytest.mark.parametrize("i", range(len(DEMO_FACES)))
def test_demo_face_assets_are_reproduced_by_our_code(i):
    name, skin, lips, iris, hair = DEMO_FACES[i]
    stored = np.asarray(Image.open(ASSETS / name).convert("RGB"), np.int16)
    drawn = np.asarray(draw_face(skin, lips, iris, hair, seed=i), np.int16)
    assert stored.shape == drawn.shape
    assert np.abs(stored - drawn).mean() < 1.0


@pytest.fixture(scope="module")
def pipe():
    from app.settings import load_settings
    from pipelines.tryon import TryOnPipeline
    from tests.test_tryon_pipeline import get_dummy_catalog

    return TryOnPipeline.from_settings(load_settings(), get_dummy_catalog())


def test_demo_faces_are_found_and_ordered_by_tone(pipe):
    monks, itas = [], []
    for name, *_ in DEMO_FACES:
        img = Image.open(ASSETS / name)
        a = pipe.analyze(img)
        assert len(a.faces) == 1, name
        assert a.regions["lips"].sum() > 300 and a.regions["eyeshadow"].sum() > 300
        monks.append(a.tone.monk)
        itas.append(a.tone.ita)
    # light, medium, deep: lighter skin has a larger ITA and a smaller Monk level.
    assert itas == sorted(itas, reverse=True), itas
    assert monks == sorted(monks) and monks[0] < monks[-1], monks


def test_demo_face_looks_render(pipe):
    from pipelines.tryon import LookRequest

    img = Image.open(ASSETS / DEMO_FACES[2][0])
    a = pipe.analyze(img)
    ls = pipe.looks(img, a, LookRequest(n=4, opacity=1.0, product_types=["lipstick"]))
    assert len(ls.looks) == 4
    for lk in ls.looks:
        fid = next(iter(lk.fidelity.values()))
        assert fid["delta_e"] < 1.5 and fid["texture_corr"] > 0.5, fid


def test_several_faces_all_or_largest(pipe):
    a_img = Image.open(ASSETS / DEMO_FACES[0][0])
    b_img = Image.open(ASSETS / DEMO_FACES[2][0]).resize((384, 384))
    both = Image.new("RGB", (512 + 384, 512), (200, 200, 200))
    both.paste(a_img, (0, 0))
    both.paste(b_img, (512, 64))
    all_ = pipe.analyze(both, faces="all")
    assert len(all_.faces) == 2 and "2 faces" in all_.message
    assert all_.faces[0].area > all_.faces[1].area  # largest first
    largest = pipe.analyze(both, faces="largest")
    assert len(largest.faces) == 1
    # Lips of both faces in "all", only the left (larger) one in "largest".
    assert all_.regions["lips"][:, 512:].any() and not largest.regions["lips"][:, 512:].any()
