"""One real service (`python -m service` on a free loopback port) and one browser for the
page's tests."""

from collections.abc import Iterator

import pytest
from selenium import webdriver

from tests.page.browser import chromium
from tests.service.served import Served, served


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield browser
