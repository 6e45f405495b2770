"""/docs (Swagger UI) and /redoc (ReDoc) in a real browser render every route of the OpenAPI
document from files the service serves itself: no request leaves the loopback."""

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.page.browser import WAIT_S, console_errors, requested_hosts
from tests.service.served import Served

LOOPBACK = {"127.0.0.1"}


def summaries(service: Served) -> set[str]:
    document = httpx.get(f"{service.base}/openapi.json", timeout=30).json()
    return {op["summary"] for ops in document["paths"].values() for op in ops.values()}


def test_swagger_ui_shows_every_route_without_a_cdn(
    driver: webdriver.Chrome, service: Served
) -> None:
    requested_hosts(driver)  # what earlier pages asked for is not this page's
    driver.get(f"{service.base}/docs")
    WebDriverWait(driver, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    paths = {
        element.get_attribute("data-path")
        for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    document = httpx.get(f"{service.base}/openapi.json", timeout=30).json()
    assert paths == set(document["paths"])
    tags = {element.text for element in driver.find_elements(By.CSS_SELECTOR, ".opblock-tag")}
    assert {tag["name"] for tag in document["tags"]} <= {t.split("\n")[0] for t in tags}
    assert "default" not in tags
    assert requested_hosts(driver) <= LOOPBACK
    assert console_errors(driver) == []


def test_redoc_shows_every_route_without_a_cdn(driver: webdriver.Chrome, service: Served) -> None:
    requested_hosts(driver)
    driver.get(f"{service.base}/redoc")
    expected = summaries(service)
    WebDriverWait(driver, WAIT_S).until(
        lambda d: all(summary in d.find_element(By.TAG_NAME, "body").text for summary in expected)
    )
    assert requested_hosts(driver) <= LOOPBACK
    assert console_errors(driver) == []
