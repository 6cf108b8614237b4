"""Product validation: normalisation and specific errors."""

import pytest
from pydantic import ValidationError

from catalog.products import Product, hex_to_rgb, normalize_hex


def test_hex_normalised_and_malformed_rejected():
    assert normalize_hex("ABC") == "#aabbcc"
    assert normalize_hex(" #A1b2C3 ") == "#a1b2c3"
    for bad in ("gray7", "#12345", "#F7E2D1,#673E2C", ""):
        with pytest.raises(ValueError, match="malformed hex"):
            normalize_hex(bad)
    assert hex_to_rgb("#ff8000") == (255, 128, 0)


def test_product_fields_validated():
    p = Product(id="x1", title="  Grey   sofa ", category="Sofa", price="1.299,00".replace(".", ""),
                currency="eur", color_hex="#ABC", style_tags="Modern; cosy")
    assert p.title == "Grey sofa" and p.category == "sofa" and p.price == 1299.0 and p.currency == "EUR"
    assert p.color_hex == "#aabbcc" and p.style_tags == ["modern", "cosy"]
    assert p.ref()["id"] == "x1" and set(p.ref()) == {"id", "title", "brand", "category", "price", "currency",
                                                      "url", "shade_hex", "shade_name"}


@pytest.mark.parametrize("field,value,message", [
    ("price", "abc", "bad price"),
    ("price", -3, "bad price"),
    ("price", float("inf"), "bad price"),
    ("url", "javascript:alert(1)", "only http"),
    ("currency", "euros", "3-letter"),
    ("color_hex", "#zzzzzz", "malformed hex"),
])
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValidationError, match=message):
        Product(id="a", title="t", category="c", **{field: value})


def test_makeup_needs_supported_type_and_shade():
    p = Product(id="l1", title="Lip", category="makeup", makeup_type="Lipsticks", shade_hex="c00", finish="Glossy")
    assert p.makeup_type == "lipstick" and p.finish == "gloss" and p.is_makeup
    with pytest.raises(ValidationError, match="not supported"):
        Product(id="l2", title="Liner", category="makeup", makeup_type="eyeliner", shade_hex="#000000")
    with pytest.raises(ValidationError, match="no shade hex"):
        Product(id="l3", title="Lip", category="makeup", makeup_type="lipstick")


def test_missing_required_fields():
    with pytest.raises(ValidationError, match="missing id"):
        Product(id="", title="t", category="c")
    with pytest.raises(ValidationError, match="missing title"):
        Product(id="a", title=None, category="c")
