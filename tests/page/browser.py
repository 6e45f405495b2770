"""Debian's chromium, driven through its chromedriver by selenium, on the page at `/` of a
real service: what a person does (choose an image, drag a box, press a mode) and what they
then see (the status, the regions' table, the raw JSON, the picture's pixels)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Headless, and none of the background connections a closed network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]
ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "service" / "region_api" / "openapi_example.json"
WAIT_S = 60


def recorded_example() -> dict[str, Any]:
    """models/example.png's digits, their boxes, and the shipped model's answer on them."""
    example: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return example


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A fresh browser on its own profile folder, logging the console and the network."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def requested_hosts(driver: webdriver.Chrome) -> set[str]:
    """The hosts of every request the pages made since the last call (data: URLs have none)."""
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("data:", "blob:")):
                hosts.add(urlsplit(url).hostname or url)
    return hosts


class Page:
    """The page at `base`/ in `driver`."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.answers_seen = 0
        driver.get(f"{base}/")
        self.wait_for(lambda: not self.text("model").startswith("loading"))

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def wait_for(self, condition: Any) -> None:
        WebDriverWait(self.driver, WAIT_S).until(lambda _: condition())

    def text(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)

    @property
    def phase(self) -> str:
        return str(self.js("return document.body.dataset.phase"))

    def choose(self, image: Path) -> None:
        self.driver.find_element(By.ID, "file").send_keys(str(image))
        self.wait_for(lambda: image.name in self.text("status"))

    def drag_box(self, box: list[float]) -> None:
        """Press at (x1, y1) and release at (x2, y2), in image pixels."""
        shown = self.js("return document.getElementById('canvas').getBoundingClientRect()")
        scale = shown["width"] / self.js("return document.getElementById('canvas').width")
        canvas = self.driver.find_element(By.ID, "canvas")

        def offset(x: float, y: float) -> tuple[int, int]:  # from the canvas's centre
            return round(x * scale - shown["width"] / 2), round(y * scale - shown["height"] / 2)

        x1, y1, x2, y2 = box
        actions = ActionChains(self.driver)
        actions.move_to_element_with_offset(canvas, *offset(x1, y1)).click_and_hold()
        actions.move_to_element_with_offset(canvas, *offset((x1 + x2) / 2, (y1 + y2) / 2))
        actions.move_to_element_with_offset(canvas, *offset(x2, y2)).release().perform()

    def press(self, button_id: str) -> None:
        self.driver.find_element(By.ID, button_id).click()

    def answer(self) -> dict[str, Any]:
        """The raw JSON the page shows, once the page has drawn the next answer."""
        self.wait_for(lambda: self.answers() > self.answers_seen)
        self.answers_seen = self.answers()
        shown: dict[str, Any] = json.loads(self.text("json"))
        assert self.phase == "done", shown
        return shown

    def answers(self) -> int:
        return int(self.js("return document.body.dataset.answers || 0"))

    def tags(self) -> list[str]:
        """The labels shown over the picture."""
        return [str(tag.text) for tag in self.driver.find_elements(By.CSS_SELECTOR, "#tags .tag")]

    def table_labels(self) -> list[str]:
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#regions tbody tr")
        return [str(row.get_attribute("data-label")) for row in rows]

    def picture(self) -> np.ndarray:
        """The canvas as shown: (height, width, RGB) in image pixels."""
        flat = self.js(
            "const c = document.getElementById('canvas');"
            "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)"
        )
        height, width = self.js("const c = document.getElementById('canvas');"
                                "return [c.height, c.width]")  # fmt: skip
        return np.asarray(flat, np.uint8).reshape(height, width, 4)[..., :3]
