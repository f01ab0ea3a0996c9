"""The guard and the admin token in a real browser (Debian's Chromium, headless): the dashboard's sign-in works
and its controls then work; a page on another port of 127.0.0.1 (same site, other origin) that posts forms to
the emulator, with the dashboard's cookie in the browser, changes nothing."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import EmulatorServer, free_port
from tests.dashboard.test_browser import WAIT, browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.live, pytest.mark.contract, pytest.mark.browser]
TOKEN = "browser-admin-token"
KEY = "sk-browser-secret-key"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0, seed=3, admin_token=TOKEN) as live:
        yield live


@pytest.fixture
def attacker(tmp_path: Path, server: EmulatorServer) -> Iterator[str]:
    """A page on another loopback port whose forms post to the emulator as soon as it loads."""
    target = server.url
    (tmp_path / "evil.html").write_text(f"""<!doctype html><html><body>
<iframe name="sink"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="plain" method="post" target="sink" enctype="text/plain" action="{target}/_emulator/clock/advance">
<input name='{{"seconds": 86400, "x": "' value='"}}'></form>
<form id="dash" method="post" target="sink2" action="{target}/_emulator/dashboard/actions/clock/advance">
<input name="seconds" value="86400"><input name="next" value="/_emulator/"></form>
<form id="api" method="post" target="sink3" enctype="text/plain" action="{target}/api/v1/fine-tunes">
<input name='{{"model": "qwen-turbo", "x": "' value='"}}'></form>
<script>for (const id of ['plain', 'dash', 'api']) document.getElementById(id).submit();
setTimeout(() => document.title = 'sent', 1500);</script></body></html>""")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/evil.html"
    finally:
        httpd.shutdown()
        thread.join(10)
        httpd.server_close()


def test_sign_in_then_controls_and_no_cross_site_post(server: EmulatorServer, browser: Any, attacker: str) -> None:  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    server.api("GET", "/api/v1/files", api_key=KEY)  # the tenant exists
    browser.get(f"{server.url}/_emulator/")
    assert browser.find_elements(By.NAME, "token") and "sk-b" not in browser.page_source
    browser.find_element(By.NAME, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "form[action$='/dashboard/login'] button[type=submit]").click()
    wait.until(lambda d: "Signed in" in d.page_source)
    assert "Tenants" in browser.page_source and not browser.find_elements(By.NAME, "token")

    before = server.clock()["now"]
    browser.find_element(By.CSS_SELECTOR, "button[data-advance='3600']").click()
    wait.until(lambda d: "Clock advanced" in d.page_source)
    assert server.clock()["now"] == before + 3600

    browser.get(attacker)  # same site (127.0.0.1), another origin; the browser holds the dashboard's cookie
    wait.until(lambda d: d.title == "sent")
    assert server.clock()["now"] == before + 3600
    # the journal (public paths) shows the browser did send the API post, and that it was refused
    [sent] = server.requests(method="POST", path="/api/v1/fine-tunes")
    assert sent["status"] == 403 and sent["headers"]["origin"] == attacker.rsplit("/", 1)[0]
