"""The README's pictures of the page, taken from the real page with the tests' tooling:
`.venv/bin/python -m tests.page.screenshot docs` writes page.png (a box dragged on each digit
of models/example.png) and page-superpixels.png."""

import io
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image
from selenium import webdriver

from tests.page.browser import ROOT, Page, chromium, recorded_example
from tests.service.served import served


def save(driver: webdriver.Chrome, path: Path) -> None:
    """The window as a 256-colour PNG (a third of the size, no difference to the eye)."""
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot.quantize(256).save(path, optimize=True)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="page-screenshot-"))
    with served(scratch) as service, chromium(scratch / "profile") as driver:
        page = Page(driver, service.base)
        page.choose(ROOT / "models" / "example.png")
        for box in recorded_example()["boxes"]:
            page.drag_box(box)
            page.answer()
        save(driver, out / "page.png")
        page.press("clear")
        page.press("run-superpixels")
        page.answer()
        save(driver, out / "page-superpixels.png")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
