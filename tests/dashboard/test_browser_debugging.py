"""The debugging pages in a real browser (Debian's Chromium through Selenium, as ``test_browser``): Requests, one
request, Rules, a deployment and the job's checkpoints, each opened on a live server with real traffic from two
tenants (``sk-alice``, ``sk-bob``) and screenshotted into test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator.tenants import tenant_for
from emulator.testing import EmulatorServer
from tests.dashboard.helpers import HP
from tests.dashboard.test_browser import SCREENSHOT, SFT, browser  # noqa: F401 - the fixture

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHAT = "/compatible-mode/v1/chat/completions"
NATIVE = "/api/v1/services/aigc/text-generation/generation"
SHOTS = SCREENSHOT.parent


@pytest.fixture
def world() -> Iterator[tuple[EmulatorServer, dict[str, str]]]:
    """Alice trains, deploys and chats (one chat aimed at by a fault, one streamed); Bob lists files; one rule
    is never used."""
    with EmulatorServer(time_scale=0.0, seed=7) as server:
        server.control(
            "POST", "/_emulator/faults", {"path": CHAT, "status": 429, "code": "Throttling", "after": 1, "times": 1}
        )
        server.respond(contains="forecast", content="Sunny.")  # never matched: the app asks about the weather
        server.respond(path="/api/v1/fine-tunes/*/logs", method="GET", after=5, body={"output": {"logs": []}})
        with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-alice"}, timeout=10) as alice:
            up = alice.post("/api/v1/files", files={"files": (SFT.name, SFT.read_bytes())}).json()
            file_id = up["data"]["uploaded_files"][0]["file_id"]
            job = alice.post(
                "/api/v1/fine-tunes",
                json={"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": HP},
            )
            job_id = job.json()["output"]["job_id"]
            server.run_until(job_id, "SUCCEEDED", api_key="sk-alice")
            deployment = alice.post("/api/v1/deployments", json={"model_name": f"qwen-turbo-{job_id}", "capacity": 2})
            name = deployment.json()["output"]["deployed_model"]
            server.advance(3600)
            for _ in range(2):  # polled twice: the logs rule (after 5) matched, never hit
                alice.get(f"/api/v1/fine-tunes/{job_id}/logs")
            for text in ("the weather in Hangzhou?", "and tomorrow?"):
                alice.post(CHAT, json={"model": "qwen-plus", "messages": [{"role": "user", "content": text}]})
            alice.post(
                NATIVE,
                headers={"X-DashScope-SSE": "enable"},
                json={"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "stream"}]}},
            )
        with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sk-bob"}, timeout=10) as bob:
            bob.get("/api/v1/files")
        yield server, {"job": job_id, "deployment": name}


def _shot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SHOTS / f"dashboard-{name}.png"))


def test_the_debugging_pages_in_a_real_browser(
    world: tuple[EmulatorServer, dict[str, str]],
    browser: Any,  # noqa: F811 - the fixture of test_browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server, made = world
    browser.set_window_size(1440, 1300)

    # Requests: newest first; two tenants, two labels, no key
    browser.get(f"{server.url}/_emulator/dashboard/requests")
    labels = {c.text for c in browser.find_elements(By.CSS_SELECTOR, "#requests-table td.tenant-label")}
    alice, bob = tenant_for("sk-alice", None).key_hint, tenant_for("sk-bob", None).key_hint
    assert labels == {alice, bob} and alice != bob
    assert "sk-alice" not in browser.page_source and "sk-bob" not in browser.page_source
    picker = {o.text for o in Select(browser.find_element(By.ID, "f-tenant")).options}
    assert {alice, bob} <= picker
    seqs = [
        int(r.get_attribute("data-seq")) for r in browser.find_elements(By.CSS_SELECTOR, "#requests-table tr[data-seq]")
    ]
    assert seqs == sorted(seqs, reverse=True)
    _shot(browser, "requests")

    # find a request by its path, then open it
    box = browser.find_element(By.ID, "f-path")
    box.send_keys("chat/completions")
    box.submit()
    rows = browser.find_elements(By.CSS_SELECTOR, "#requests-table tr[data-seq]")
    assert [r.get_attribute("data-path") for r in rows] == [CHAT, CHAT]
    assert [r.get_attribute("data-status") for r in rows] == ["429", "200"]
    _shot(browser, "requests-filtered")
    rows[1].find_element(By.CSS_SELECTOR, "a.request-link").click()
    assert browser.find_element(By.ID, "request-title").text == f"POST {CHAT}"
    near = [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".near-miss")]
    assert "fault-1" in near[0] and "after" in near[0]
    assert "response-1" in near[1] and "contains 'forecast'" in near[1]
    assert "the weather in Hangzhou?" in browser.find_element(By.ID, "request-body").text
    assert "chat.completion" in browser.find_element(By.ID, "answer-body").text
    _shot(browser, "request")

    # the streamed answer's frames
    browser.get(f"{server.url}/_emulator/dashboard/requests?path={NATIVE}")
    browser.find_element(By.CSS_SELECTOR, "#requests-table a.request-link").click()
    frames = browser.find_elements(By.CSS_SELECTOR, "#sse-frames li")
    assert len(frames) >= 2 and "result" in frames[-1].text
    _shot(browser, "request-sse")

    # Rules: hits, left, the idle rule marked; delete it from the page
    browser.get(f"{server.url}/_emulator/dashboard/rules")
    states = {
        r.get_attribute("data-rule"): r.get_attribute("data-state")
        for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-rule]")
    }
    assert states == {"fault-1": "spent", "response-1": "never matched", "response-2": "matched, never hit"}
    _shot(browser, "rules")
    browser.find_element(By.CSS_SELECTOR, "button[aria-label='Delete response-1']").click()
    assert "Rule response-1 deleted." in _flash(browser)
    assert [r["id"] for r in server.responses()] == ["response-2"]

    # the deployment: history, capacity, served model; scale it
    browser.get(f"{server.url}/_emulator/")
    browser.find_element(By.CSS_SELECTOR, f"a[href$='/deployments/{made['deployment']}']").click()
    assert browser.find_element(By.ID, "served-model").text == f"qwen-turbo-{made['job']}"
    history = [b.get_attribute("data-status") for b in browser.find_elements(By.CSS_SELECTOR, "#status-history .badge")]
    assert history == ["PENDING", "DEPLOYING", "RUNNING"]
    assert browser.find_element(By.ID, "ready-capacity").text == "2/2"
    _shot(browser, "deployment")
    capacity = browser.find_element(By.ID, "scale-capacity")
    capacity.clear()
    capacity.send_keys("3")
    capacity.submit()
    assert "scaling to 3" in _flash(browser)
    assert browser.find_element(By.ID, "ready-capacity").text == "2/3"

    # the job: checkpoints beside the loss chart
    browser.get(f"{server.url}/_emulator/dashboard/jobs/{made['job']}")
    checkpoints = browser.find_elements(By.CSS_SELECTOR, "#checkpoints-table tr[data-checkpoint]")
    assert checkpoints and "final" in checkpoints[0].text
    browser.execute_script("document.getElementById('chart-heading').scrollIntoView()")
    _shot(browser, "job-checkpoints")


def _flash(driver: Any) -> str:
    """The confirmation of a form just posted: the click returns before the next page has loaded (its first
    action imports the dashboard's forms and the control plane), so wait for it, bounded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    found = WebDriverWait(driver, 30).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".flash-ok"))
    )
    return str(found.text)
