"""The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium (never a downloaded browser).

A job made through the real dashscope SDK (2.0.2) on a live server with a frozen clock; the job page must show
what the API says (status, log, the chart's points), follow the log live, ask before cancelling, and change
status when its own "advance" button is clicked.  The last view is saved as test-artifacts/dashboard-job.png.

`make test` installs chromium and chromium-driver when they are missing and sets EMULATOR_REQUIRE_SDK=1, so a
missing browser fails the run there; a bare `pytest` skips with the reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.testing import EmulatorServer
from tests.contract.conftest import SDK_VENVS, Sdk
from tests.dashboard.helpers import HP, metrics_from_log

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("EMULATOR_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EMULATOR_CHROMEDRIVER", "/usr/bin/chromedriver"))
SCREENSHOT = ROOT / "test-artifacts" / "dashboard-job.png"
SFT = ROOT / "fixtures" / "datasets" / "sft_basic.jsonl"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1440,1900",
    "--force-device-scale-factor=1",
)
WAIT = 10.0

pytestmark = [pytest.mark.live, pytest.mark.contract, pytest.mark.browser]


def _unavailable(message: str) -> None:
    if os.environ.get("EMULATOR_REQUIRE_SDK"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0, seed=11) as live:
        yield live


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        _unavailable(
            f"Debian's chromium / chromium-driver missing at {CHROMIUM}, {CHROMEDRIVER} "
            "(make test installs them: apt-get install chromium chromium-driver)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="dashboard-chromium-") as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()


def _create_job(sdk: Sdk) -> str:
    if not (SDK_VENVS / sdk.version / "bin" / "python").exists():
        _unavailable(f"dashscope {sdk.version} venv missing at {SDK_VENVS / sdk.version} (make test builds it)")
    return str(
        sdk.python(f"""
        up = dashscope.Files.upload(file_path={str(SFT)!r}, purpose='fine_tune')
        file_id = up.output['uploaded_files'][0]['file_id']
        job = dashscope.FineTunes.call(model='qwen-turbo', training_file_ids=[file_id], hyper_parameters={HP!r})
        assert job.status_code == 200, job
        print(json.dumps(job.output['job_id']))
    """)
    )


def _dom_log(driver: Any) -> list[str]:
    return list(driver.execute_script("return [...document.querySelectorAll('#log li')].map(li => li.textContent)"))


def _dom_points(driver: Any) -> dict[str, dict[int, str]]:
    points: dict[str, dict[int, str]] = {"loss": {}, "val_loss": {}, "token_acc": {}}
    script = (
        "return [...document.querySelectorAll('#chart circle[data-series]')]"
        ".map(c => [c.dataset.series, c.dataset.step, c.dataset.value])"
    )
    for series, step, value in driver.execute_script(script):
        points[series][int(step)] = value
    return points


def _status(driver: Any) -> str:
    return str(driver.execute_script("return document.querySelector('#job-status .badge').dataset.status"))


def test_job_page_in_a_real_browser(server: EmulatorServer, browser: Any) -> None:
    sdk = Sdk("2.0.2", server, api_key="sk-browser-test")
    job_id = _create_job(sdk)
    with httpx.Client(base_url=server.api_base, headers={"Authorization": f"Bearer {sdk.api_key}"}, timeout=10) as api:
        _drive(server, browser, job_id, api)


def _drive(server: EmulatorServer, browser: Any, job_id: str, api: httpx.Client) -> None:
    from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    def api_logs() -> list[str]:
        return list(api.get(f"/fine-tunes/{job_id}/logs", params={"offset": 1, "line": 1000}).json()["output"]["logs"])

    def api_status() -> str:
        return str(api.get(f"/fine-tunes/{job_id}").json()["output"]["status"])

    server.control("POST", "/_emulator/clock/advance", {"seconds": 62})  # data check, model load, a few steps
    assert api_status() == "RUNNING"
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException, JavascriptException))

    browser.get(f"{server.url}/_emulator/dashboard/jobs/{job_id}")
    assert _status(browser) == "RUNNING"
    logs = api_logs()
    assert _dom_log(browser) == logs
    assert _dom_points(browser) == metrics_from_log(logs) and metrics_from_log(logs)["loss"]

    # Live: the page follows the job's stream; a clock move from outside appears without a reload.
    wait.until(lambda d: d.find_element(By.ID, "log-live").is_displayed())
    browser.execute_script("window.__sameDocument = true")
    server.control("POST", "/_emulator/clock/advance", {"seconds": 3})
    logs = api_logs()
    wait.until(lambda d: _dom_log(d) == logs)
    wait.until(lambda d: _dom_points(d) == metrics_from_log(logs))
    assert browser.execute_script("return window.__sameDocument") is True and _status(browser) == "RUNNING"

    # Destructive controls ask first: dismissing the dialog leaves the job alone.
    browser.find_element(By.CSS_SELECTOR, "form[action$='/cancel'] button[type=submit]").click()
    alert = wait.until(expected_conditions.alert_is_present())
    assert job_id in alert.text
    alert.dismiss()
    assert api_status() == "RUNNING" and _status(browser) == "RUNNING"

    # The page's own "advance" control moves the clock a day: the job finishes and the page says so.
    browser.find_element(By.CSS_SELECTOR, "button[data-advance='86400']").click()
    wait.until(lambda d: _status(d) == "SUCCEEDED")
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert api_status() == "SUCCEEDED"
    logs = api_logs()
    assert _dom_log(browser) == logs and logs[-1].endswith("##FT_COMPLETE##")
    assert _dom_points(browser) == metrics_from_log(logs) and len(metrics_from_log(logs)["loss"]) == 48
    assert "2024-10-13" in browser.find_element(By.CSS_SELECTOR, ".topbar-clock").text  # a day later

    browser.execute_script("window.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))


NARROW = 1280  # a laptop: no table may scroll sideways at this width
OVERFLOW = (  # the tables whose wrapper scrolls sideways
    "return [...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1)"
    ".map(w => w.querySelector('table').id || w.closest('section').getAttribute('aria-labelledby'))"
)


def _make_world(server: EmulatorServer) -> tuple[str, str]:
    """Two tenants; a short job (2 steps) that finishes, its deployment, a long job left RUNNING."""
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-browser-a"}, timeout=10) as api:
        file_id = api.post("/api/v1/files", files={"files": (SFT.name, SFT.read_bytes())}).json()["data"]
        file_id = file_id["uploaded_files"][0]["file_id"]
        short = api.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]})
        short_id = short.json()["output"]["job_id"]
        server.run_until(short_id, "SUCCEEDED", api_key="sk-browser-a")
        api.post("/api/v1/deployments", json={"model_name": f"qwen-turbo-{short_id}", "capacity": 2})
        long = {"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": HP}
        long_id = api.post("/api/v1/fine-tunes", json=long).json()["output"]["job_id"]
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-browser-b"}, timeout=10) as other:
        other.get("/api/v1/files", headers={"X-DashScope-WorkSpace": "ws-blue"})
    server.advance(62)
    return short_id, long_id


def test_landing_page_tables_and_a_short_chart_at_1280(server: EmulatorServer, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    short_id, long_id = _make_world(server)
    browser.set_window_size(NARROW, 1000)
    assert browser.execute_script("return window.innerWidth") <= NARROW
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)

    browser.get(f"{server.url}/_emulator/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#recent-jobs tbody tr[data-job]")
    assert [r.get_attribute("data-job") for r in rows] == [long_id, short_id]
    assert [r.get_attribute("data-status") for r in rows] == ["RUNNING", "SUCCEEDED"]
    assert browser.find_elements(By.CSS_SELECTOR, "#recent-deployments tbody tr[data-deployment]")
    assert browser.save_screenshot(str(SCREENSHOT.with_name("dashboard-home-1280.png")))
    assert browser.execute_script(OVERFLOW) == []

    rows[0].find_element(By.CSS_SELECTOR, "a[href*='/dashboard/tenants/']").click()
    assert browser.find_element(By.ID, "jobs-table").is_displayed()
    assert browser.save_screenshot(str(SCREENSHOT.with_name("dashboard-tenant-1280.png")))
    assert browser.execute_script(OVERFLOW) == []

    browser.set_window_size(NARROW, 1400)  # tall enough for the chart's step axis
    browser.get(f"{server.url}/_emulator/dashboard/jobs/{short_id}")
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#chart .tick-x")]
    assert ticks == ["0", "1", "2"], ticks
    assert browser.save_screenshot(str(SCREENSHOT.with_name("dashboard-short-job-1280.png")))
    assert browser.execute_script(OVERFLOW) == []
