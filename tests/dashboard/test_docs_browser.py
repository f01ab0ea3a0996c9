"""``/docs`` in a real browser (Debian's headless Chromium): Swagger UI renders every operation of the OpenAPI 3.1
document, from files the package ships (the page would stay blank if it fetched anything from the internet), and
an operation opens.  The view is saved as test-artifacts/docs.png; ``GET /`` as test-artifacts/home.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.testing import EmulatorServer
from tests.dashboard.test_browser import ROOT, WAIT, browser  # noqa: F401 - the Chromium fixture

pytestmark = [pytest.mark.live, pytest.mark.browser]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0) as live:
        yield live


def test_docs_render_every_operation(server: EmulatorServer, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    document = httpx.get(server.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    expected = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    browser.get(server.url + "/docs")
    WebDriverWait(browser, WAIT).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
    rendered = set(
        map(
            tuple,
            browser.execute_script(
                "return [...document.querySelectorAll('.opblock')].map(b => ["
                "b.querySelector('.opblock-summary-method').textContent.trim(),"
                "b.querySelector('.opblock-summary-path').dataset.path])"
            ),
        )
    )
    assert rendered == expected
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Unable to render this definition" not in body
    assert "dashscope-emulator" in browser.find_element(By.CSS_SELECTOR, ".info .title").text

    first = browser.find_element(By.CSS_SELECTOR, ".opblock .opblock-summary-control")
    first.click()
    WebDriverWait(browser, WAIT).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".opblock-body"))
    )
    assert browser.find_elements(By.CSS_SELECTOR, ".opblock-body .responses-wrapper")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "docs.png"))


def test_home_page_links_everything(server: EmulatorServer, browser: Any) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    text = browser.find_element(By.TAG_NAME, "body").text
    assert f"DASHSCOPE_HTTP_BASE_URL={server.url}/api/v1" in text
    assert f"OPENAI_BASE_URL={server.url}/compatible-mode/v1" in text
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.TAG_NAME, "a")}
    assert links["Dashboard"] == server.url + "/_emulator/" and links["API reference"] == server.url + "/docs"
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "home.png"))
    browser.get(links["API reference"])
    assert browser.title == "dashscope-emulator API"
