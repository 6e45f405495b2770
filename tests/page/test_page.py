"""The page at `/` in a real browser against the real service: a box drawn with the mouse on
the 4 of models/example.png is labelled "4"; proposals and superpixels are drawn; what the page
shows is what the region API answers; the console stays free of errors."""

from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from selenium import webdriver

from tests.page.browser import ROOT, Page, console_errors, recorded_example
from tests.service.served import Served

EXAMPLE_IMAGE = ROOT / "models" / "example.png"


def bare_image() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLE_IMAGE).convert("RGB"))


def api_answer(service: Served, **fields: str) -> dict[str, Any]:
    """The region API's answer to the request the page sends, without its timings."""
    files = {"image": (EXAMPLE_IMAGE.name, EXAMPLE_IMAGE.read_bytes(), "image/png")}
    answer = httpx.post(f"{service.base}/classify-regions", files=files, data=fields, timeout=60)
    assert answer.status_code == 200, answer.text
    return without_timing(answer.json())


def without_timing(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "timing_ms"}


def drawn(picture: np.ndarray) -> np.ndarray:
    """Where the page drew over the image: pixels that differ from the bare one."""
    return (picture != bare_image()).any(axis=2)


def outline(box: list[float], shape: tuple[int, ...]) -> np.ndarray:
    """The pixels a box's border passes through, clipped to the image. The page strokes the
    border centred on the box's edges, so whatever the line's width at the page's zoom (under
    a pixel when the image is shown larger than it is) and whatever the fractions of the box,
    the pixel holding each edge's coordinate is painted."""
    height, width = shape[:2]
    x1, x2 = (min(int(np.floor(v)), width - 1) for v in (box[0], box[2]))
    y1, y2 = (min(int(np.floor(v)), height - 1) for v in (box[1], box[3]))
    border = np.zeros(shape[:2], bool)
    border[y1 : y2 + 1, [x1, x2]] = True
    border[[y1, y2], x1 : x2 + 1] = True
    return border


@pytest.fixture
def page(driver: webdriver.Chrome, service: Served) -> Page:
    shown = Page(driver, service.base)
    shown.choose(EXAMPLE_IMAGE)
    assert (shown.picture() == bare_image()).all()  # the image as it is, pixel for pixel
    return shown


def test_a_box_drawn_on_the_4_is_labelled_4(page: Page, service: Served) -> None:
    example = recorded_example()
    four = example["boxes"][example["digits"].index("4")]
    page.drag_box(four)
    shown = page.answer()
    [region] = shown["regions"]
    assert region["label"] == "4" and page.table_labels() == ["4"]
    assert page.tags() == [f"4 {region['score']:.2f}"]  # over the picture
    assert np.abs(np.subtract(region["box"], four)).max() <= 1  # the drag, to a pixel
    boxes = f"[{region['box']}]"
    assert without_timing(shown) == api_answer(service, mode="boxes", top_k="3", boxes=boxes)
    picture = page.picture()
    assert drawn(picture)[outline(region["box"], picture.shape)].mean() > 0.5
    assert console_errors(page.driver) == []


def test_proposals_are_drawn_as_answered(page: Page) -> None:
    page.press("run-proposals")
    shown = page.answer()
    assert shown["mode"] == "proposals" and shown["regions"]
    assert page.table_labels() == [region["label"] for region in shown["regions"]]
    assert len(page.tags()) == len(shown["regions"])  # proposals are never background
    picture = page.picture()
    changed = drawn(picture)
    for region in shown["regions"]:
        assert 0 <= region["score"] <= 1
        assert changed[outline(region["box"], picture.shape)].mean() > 0.5, region
    assert console_errors(page.driver) == []


def test_superpixels_are_drawn_with_their_masks(page: Page, service: Served) -> None:
    page.press("run-superpixels")
    shown = page.answer()
    assert without_timing(shown) == api_answer(service, mode="superpixels", top_k="3")
    assert page.table_labels() == [region["label"] for region in shown["regions"]]
    changed = drawn(page.picture())
    background = httpx.get(f"{service.base}/v1/model").json()
    background_label = background["classes"][background["background_class"]]
    for region in shown["regions"]:
        mask = coco_mask.decode(region["mask"]).astype(bool)
        if region["label"] == background_label:
            assert changed[mask].any(), region["index"]  # its outline
        else:
            assert changed[mask].mean() > 0.9, region["index"]  # filled
    assert console_errors(page.driver) == []
