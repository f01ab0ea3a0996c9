"""Shared steps of the dashboard tests: a tenant with a dataset and a job, and the API's view of a job's log."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import httpx

from emulator.tenants import tenant_for
from tests.conftest import DATASETS, upload

HP = {"n_epochs": 3, "batch_size": 2, "eval_steps": 1, "learning_rate": "2e-5"}
STEP_LINE = re.compile(r" - INFO - step (\d+)/\d+, epoch \d+/\d+, lr \S+, loss (\d+\.\d{4})$")
VAL_LINE = re.compile(r" - INFO - validation: step (\d+)/\d+, val_loss (\d+\.\d{4}), val_token_acc (\d+\.\d{4})$")


async def new_job(client: httpx.AsyncClient, **extra: Any) -> str:
    body = (await upload(client, DATASETS / "sft_basic.jsonl")).json()["data"]
    file_id = body["uploaded_files"][0]["file_id"]
    request = {"model": "qwen-turbo", "training_file_ids": [file_id], "hyper_parameters": HP, **extra}
    response = await client.post("/api/v1/fine-tunes", json=request)
    assert response.status_code == 200, response.text
    return str(response.json()["output"]["job_id"])


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    assert (await client.post("/_emulator/clock/advance", json={"seconds": seconds})).status_code == 200


async def api_logs(client: httpx.AsyncClient, job_id: str) -> list[str]:
    output = (await client.get(f"/api/v1/fine-tunes/{job_id}/logs", params={"offset": 1, "line": 1000})).json()
    return list(output["output"]["logs"])


async def api_status(client: httpx.AsyncClient, job_id: str) -> str:
    return str((await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]["status"])


async def tenant_id(client: httpx.AsyncClient) -> str:
    """The id the dashboard lists for this client's key (the home page must link to it)."""
    key = client.headers["Authorization"].removeprefix("Bearer ")
    tid = tenant_for(key, client.headers.get("X-DashScope-WorkSpace")).id
    assert f'href="/_emulator/dashboard/tenants/{tid}"' in (await client.get("/_emulator/")).text
    return tid


def metrics_from_log(lines: list[str]) -> dict[str, dict[int, str]]:
    """The chart's three series as the log prints them: {series: {step: value}}."""
    series: dict[str, dict[int, str]] = {"loss": {}, "val_loss": {}, "token_acc": {}}
    for line in lines:
        if m := STEP_LINE.search(line):
            series["loss"][int(m[1])] = m[2]
        elif m := VAL_LINE.search(line):
            series["val_loss"][int(m[1])] = m[2]
            series["token_acc"][int(m[1])] = m[3]
    return series


class Page(HTMLParser):
    """Just enough of a DOM for the assertions: chart points, log lines, badges, forms."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.points: dict[str, dict[int, str]] = {"loss": {}, "val_loss": {}, "token_acc": {}}
        self.log: list[str] = []
        self.badges: list[str] = []
        self.forms: list[dict[str, str]] = []
        self.hidden: list[tuple[str, str]] = []
        self.links: list[str] = []
        self._in_log = 0
        self._line: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "circle" and "data-series" in a:
            self.points[a["data-series"]][int(a["data-step"])] = a["data-value"]
        elif tag == "ol" and a.get("id") == "log":
            self._in_log = 1
        elif tag == "li" and self._in_log:
            self._line = []
        elif tag == "span" and "badge" in a.get("class", "").split():
            self.badges.append(a.get("data-status", ""))
        elif tag == "form":
            self.forms.append(a)
        elif tag == "input" and a.get("type") == "hidden":
            self.hidden.append((a.get("name", ""), a.get("value", "")))
        elif tag in ("a", "link", "script", "img") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._line is not None:
            self.log.append("".join(self._line))
            self._line = None
        elif tag == "ol" and self._in_log:
            self._in_log = 0

    def handle_data(self, data: str) -> None:
        if self._line is not None:
            self._line.append(data)
