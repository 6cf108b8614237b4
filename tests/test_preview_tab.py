"""The Previews tab's actions: a new product from the upload form, its previews across the
template scenes, the zipped contact sheet; and the tab mounts in a Blocks."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

from app.previews_tab import PreviewTabError, preview_product, product_from_upload
from tests.preview_helpers import make_renderers, make_scenes


def _sofa_photo(path):
    img = Image.new("RGB", (200, 140), "white")
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((20, 40, 180, 110), 12, fill=(40, 90, 160))
    d.rectangle((30, 110, 40, 125), fill=(60, 40, 20))
    d.rectangle((160, 110, 170, 125), fill=(60, 40, 20))
    img.save(path)
    return str(path)


def test_upload_form_makes_a_product_with_a_cutout(settings, tmp_path):
    p = product_from_upload(settings, _sofa_photo(tmp_path / "sofa.png"), title="Blue sofa", category="sofa", price=499)
    assert p.id.startswith("upload-") and p.category == "sofa" and p.price == 499
    cut = Image.open(p.cutout_path)
    alpha = np.asarray(cut)[..., 3]
    assert cut.mode == "RGBA" and alpha[75, 100] == 255 and alpha[5, 5] == 0  # sofa kept, background gone
    assert p.cutout_confidence is not None
    again = product_from_upload(settings, _sofa_photo(tmp_path / "sofa2.png"), title="Blue sofa", category="sofa", price=499)
    assert again.id == p.id  # same photo, same product: a rerun resumes
    lip = product_from_upload(settings, None, title="Red", category=None, makeup_type="lipstick", shade_hex="#b0304a")
    assert lip.makeup_type == "lipstick" and lip.shade_hex == "#b0304a"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"title": ""}, "title"),
        ({"title": "X", "category": None}, "category"),
        ({"title": "X", "category": "sofa", "image": False}, "photo"),
        ({"title": "X", "category": None, "makeup_type": "lipstick", "shade_hex": None}, "shade"),
        ({"title": "X", "category": None, "makeup_type": "lipstick", "shade_hex": "#zzzzzz"}, "hex"),
    ],
)
def test_upload_form_errors_say_what_to_fix(settings, tmp_path, kwargs, message):
    kwargs = dict(kwargs)
    image = _sofa_photo(tmp_path / "s.png") if kwargs.pop("image", True) else None
    kwargs.setdefault("category", "sofa")
    with pytest.raises(PreviewTabError, match=message):
        product_from_upload(settings, image, **kwargs)


def test_preview_product_gallery_and_zip(settings, tmp_path):
    scenes = make_scenes(tmp_path / "scenes", n_rooms=3, n_faces=1)
    p = product_from_upload(settings, _sofa_photo(tmp_path / "sofa.png"), title="Blue sofa", category="sofa")
    p = p.model_copy(update={"color_hex": "#2a5aa0"})
    seen = []
    out = preview_product(settings, p, scenes, make_renderers, progress=lambda d, t: seen.append((d, t)))
    assert len(out["gallery"]) == 3 and seen[-1] == (3, 3)
    assert all(cap.startswith("room-") for _, cap in out["gallery"])
    assert "Blue sofa" in out["summary_html"] and "swatch-test" in out["summary_html"]
    with zipfile.ZipFile(out["zip"]) as z:
        names = z.namelist()
    assert "contact_sheet.html" in names and sum(n.startswith("thumbs/") for n in names) == 3
    lip = product_from_upload(settings, None, title="Red", category=None, makeup_type="lipstick", shade_hex="#b0304a")
    lip = lip.model_copy(update={"color_hex": "#b0304a"})
    assert len(preview_product(settings, lip, scenes, make_renderers)["gallery"]) == 1
    with pytest.raises(PreviewTabError, match="No template face photos"):
        preview_product(settings, lip, [s for s in scenes if s.kind == "room"], make_renderers)


def test_tab_mounts(settings, tmp_path):
    import gradio as gr

    from app.api import AppContext
    from app.previews_tab import build_previews_tab

    ctx = AppContext(settings)
    with gr.Blocks() as demo:
        build_previews_tab(ctx, renderer_factory=make_renderers, scenes=make_scenes(tmp_path / "s", 1))
    ids = {getattr(c, "elem_id", None) for c in demo.blocks.values()}
    assert {"preview-product", "preview-run", "preview-gallery", "preview-sheet"} <= ids
