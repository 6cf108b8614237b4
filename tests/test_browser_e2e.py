"""End to end in a real browser: Playwright driving Debian's Chromium (``make browser`` installs it).

Room: upload the demo room, click an item to select it, make combinations, click one, see its
products, open its permalink in a new page and see the same result. Face: the same with looks,
on a phone-sized screen. Screenshots land in tests/artifacts/ (look at them).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from app_helpers import demo_photo, pick_item, shared_demo_app

CHROMIUM = Path(os.environ.get("RESTYLE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (run `make browser`)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    return shared_demo_app(tmp_path_factory)[1]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    user_data = tmp_path_factory.mktemp("chromium-profile")  # fresh profile for every run
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(user_data), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                                   headless=True, viewport=DESKTOP)
        ctx.set_default_timeout(120_000)  # the first results on a cold 2-core CPU take a while
        yield ctx
        ctx.close()
    shutil.rmtree(user_data, ignore_errors=True)


def _click_image_at(page, selector: str, x: float, y: float) -> None:
    """Click pixel (x, y) of the image shown in ``selector`` (object-fit: contain)."""
    img = page.locator(f"{selector} img").first
    box = img.bounding_box()
    nw, nh = img.evaluate("el => [el.naturalWidth, el.naturalHeight]")
    scale = min(box["width"] / nw, box["height"] / nh)
    ox, oy = (box["width"] - nw * scale) / 2, (box["height"] - nh * scale) / 2
    img.click(position={"x": ox + x * scale, "y": oy + y * scale})


def _wait_for_results(page, gallery: str) -> int:
    """Wait until the result grid is filled (or an error pop-up says why not); the number shown."""
    page.wait_for_function(
        f"() => document.querySelectorAll('{gallery} img').length > 0 || document.querySelector('.toast-body')")
    toast = page.locator(".toast-body")
    if toast.count():
        pytest.fail(f"the app said: {toast.first.inner_text()}")
    page.wait_for_timeout(500)
    return page.locator(f"{gallery} img").count()


def _products_text(page, selector: str) -> str:
    page.wait_for_function(f"() => document.querySelector('{selector}')?.innerText.includes('Rendered with')")
    return page.locator(selector).inner_text()


def _open_share_and_compare(browser, href: str, index: int, expected: str, shot: Path, viewport=DESKTOP) -> None:
    page = browser.new_page()
    page.set_viewport_size(viewport)
    page.goto(href)
    page.wait_for_selector("#shared-gallery img")
    assert not page.locator("#studios").is_visible(), "a permalink opens read-only, without the studios"
    page.locator("#shared-gallery img").nth(index).click()
    page.wait_for_function(
        "(want) => document.querySelector('#shared-products')?.innerText.trim() === want", arg=expected.strip())
    page.screenshot(path=str(shot), full_page=True)
    page.close()


def test_room_flow(server, browser, artifacts_dir):
    from gradio_client import Client, handle_file

    room = demo_photo("rooms")
    # Where to click: the largest detected item, at a pixel inside its mask (asked through the API).
    _, info = Client(server, verbose=False).predict(handle_file(str(room)), api_name="/detect_items")
    item = pick_item(info["items"])

    page = browser.new_page()
    page.goto(server)
    page.wait_for_selector("#room-photo")
    page.screenshot(path=str(artifacts_dir / "e2e_room_0_start.png"), full_page=True)
    page.locator("#room-photo input[type=file]").set_input_files(str(room))
    page.wait_for_function("() => document.querySelector('#room-status')?.innerText.includes('Found')")

    x0, y0, x1, y1 = item["box"]
    selected = page.locator("#room-selected textarea, #room-selected input").first
    for fx, fy in [(0.5, 0.5), (0.4, 0.6), (0.6, 0.4), (0.5, 0.7), (0.3, 0.5), (0.7, 0.5)]:
        _click_image_at(page, "#room-items", x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy)
        page.wait_for_function("(el) => el.value.trim() !== ''", arg=selected.element_handle())
        if selected.input_value().strip() == str(item["id"]):
            break
        selected.fill("")  # clicked a neighbouring item: unselect it and try another point
    else:
        pytest.fail(f"no click inside item {item} selected it")
    page.screenshot(path=str(artifacts_dir / "e2e_room_1_selected.png"), full_page=True)

    page.locator("#room-go").click()
    shown = _wait_for_results(page, "#room-gallery")
    assert 3 <= shown <= 20
    page.screenshot(path=str(artifacts_dir / "e2e_room_2_grid.png"), full_page=True)
    page.locator("#room-gallery img").nth(2).click()
    page.wait_for_function(f"() => document.body.innerText.includes('Result 3 of {shown}')")
    products = _products_text(page, "#room-products")
    assert re.search(r"Total|No catalogue product", products), products
    assert "Rendered with" in products
    page.screenshot(path=str(artifacts_dir / "e2e_room_3_result.png"), full_page=True)

    href = page.locator("#room-share a").get_attribute("href")
    assert href and "?share=" in href
    _open_share_and_compare(browser, href, 2, products, artifacts_dir / "e2e_room_4_permalink.png")

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts_dir / "e2e_room_5_phone.png"), full_page=True)
    page.close()


def test_face_flow_on_a_phone(server, browser, artifacts_dir):
    face = demo_photo("faces")
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    page.goto(server)
    page.wait_for_selector("#room-photo")
    page.get_by_role("tab", name="Makeup").click()
    page.locator("#face-photo input[type=file]").set_input_files(str(face))
    page.wait_for_function("() => document.querySelector('#face-tone')?.innerText.includes('Monk')")
    tone = page.locator("#face-tone").inner_text()
    assert re.search(r"Monk \d+", tone) and "confidence" in tone
    page.locator("#face-go").click()
    shown = _wait_for_results(page, "#face-gallery")
    assert shown == 20, "the demo catalogue has enough shades for 20 looks"
    page.locator("#face-gallery img").nth(1).click()
    page.wait_for_function("() => document.body.innerText.includes('Result 2 of 20')")
    products = _products_text(page, "#face-products")
    assert "Total" in products and "Rendered with" in products
    page.screenshot(path=str(artifacts_dir / "e2e_face_phone.png"), full_page=True)
    # Nothing sticks out sideways on a phone, and no result is clipped out of the grid.
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 2, f"page is {overflow}px wider than the phone screen"
    clipped = page.evaluate("(w) => [...document.querySelectorAll('#face-gallery img')]"
                            ".filter(im => im.getBoundingClientRect().right > w).length", PHONE["width"])
    assert clipped == 0, f"{clipped} results lie outside the phone screen"

    href = page.locator("#face-share a").get_attribute("href")
    _open_share_and_compare(browser, href, 1, products, artifacts_dir / "e2e_face_permalink_phone.png", PHONE)
    page.close()
