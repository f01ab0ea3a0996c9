"""The debugging pages in-process: Requests (filters, one request), Rules (and their forms), a deployment, the
job's checkpoints, and tenant labels that tell keys apart without showing them."""

from __future__ import annotations

import html as htmllib
import re

import httpx
import pytest
from starlette.applications import Starlette

from emulator.tenants import tenant_for
from tests.conftest import API_KEY, client_for
from tests.dashboard.helpers import advance, new_job

pytestmark = pytest.mark.anyio

CHAT = "/compatible-mode/v1/chat/completions"
NATIVE = "/api/v1/services/aigc/text-generation/generation"


def seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page)]


async def test_requests_newest_first_and_filtered(app: Starlette, client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/files")
    await client.post(CHAT, json={"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]})
    await client.get("/api/v1/fine-tunes/ft-nope")  # a 404
    async with client_for(app, "sk-bob") as bob:
        await bob.get("/api/v1/files")
    page = (await client.get("/_emulator/dashboard/requests")).text
    assert seqs(page) == [4, 3, 2, 1]
    assert tenant_for("sk-bob", None).key_hint in page and tenant_for(API_KEY, None).key_hint in page
    assert "sk-bob" not in page and API_KEY not in page
    by_status = (await client.get("/_emulator/dashboard/requests", params={"status": "404"})).text
    assert seqs(by_status) == [3]
    by_path = (await client.get("/_emulator/dashboard/requests", params={"path": "chat/completions"})).text
    assert seqs(by_path) == [2]  # a fragment finds the path containing it
    by_model = (await client.get("/_emulator/dashboard/requests", params={"model": "qwen-*"})).text
    assert seqs(by_model) == [2]
    bob_id = tenant_for("sk-bob", None).id
    by_tenant = (await client.get("/_emulator/dashboard/requests", params={"tenant": bob_id, "method": "GET"})).text
    assert seqs(by_tenant) == [4]
    bad = await client.get("/_emulator/dashboard/requests", params={"status": "abc"})
    assert bad.status_code == 200 and "Status must be a number" in bad.text


async def test_one_request_shows_both_sides_and_who_answered(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/faults", json={"path": CHAT, "status": 429, "after": 1, "times": 1})
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hello there"}]}
    assert (await client.post(CHAT, json=body)).status_code == 200
    assert (await client.post(CHAT, json=body)).status_code == 429
    first = htmllib.unescape((await client.get("/_emulator/dashboard/requests/1")).text)
    assert "hello there" in first and '"object": "chat.completion"' in first  # sent and got, pretty
    assert "Near miss:" in first and "fault-1" in first and "after" in first
    assert "content-type" in first and "x-request-id" in first  # the answer's headers
    assert API_KEY not in first and tenant_for(API_KEY, None).key_hint in first
    second = htmllib.unescape((await client.get("/_emulator/dashboard/requests/2")).text)
    assert "a fault rule struck this request" in second and "rate_limit_exceeded" in second
    gone = await client.get("/_emulator/dashboard/requests/99")
    assert gone.status_code == 404


async def test_an_sse_answer_shows_its_frames(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/responses", json={"contains": "stream", "content": "one two three"})
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "stream please"}]}}
    response = await client.post(NATIVE, json=body, headers={"X-DashScope-SSE": "enable"})
    assert response.status_code == 200
    page = htmllib.unescape((await client.get("/_emulator/dashboard/requests/1")).text)
    assert 'id="sse-frames"' in page and "Server-sent events" in page
    assert "response-1" in page and '"finish_reason":"stop"' in page.replace(": ", ":")
    entry = (await client.get("/_emulator/requests")).json()["requests"][0]
    assert entry["frames"] and all("data" in f for f in entry["frames"])


async def test_rules_page_marks_idle_rules_and_its_forms_work(client: httpx.AsyncClient) -> None:
    await client.post("/_emulator/faults", json={"path": "/api/v1/files", "method": "GET", "status": 500, "times": 1})
    await client.post("/_emulator/responses", json={"contains": "never", "content": "x"})
    assert (await client.get("/api/v1/files")).status_code == 500
    page = (await client.get("/_emulator/dashboard/rules")).text
    assert re.search(r'data-rule="fault-1" data-state="spent"', page)
    assert re.search(r'data-rule="response-1" data-state="never matched"', page)
    added = await client.post(
        "/_emulator/dashboard/actions/rules/add",
        data={"kind": "fault", "rule": '{"path": "/api/v1/deployments", "status": 503}', "next": "/_emulator/"},
    )
    assert added.status_code == 303 and "fault-2" in added.headers["location"]
    refused = await client.post(
        "/_emulator/dashboard/actions/rules/add", data={"kind": "fault", "rule": '{"path": "/v1/chat"}'}
    )
    assert "can never match" in refused.headers["location"].replace("+", " ").replace("%20", " ")
    assert "fault-2" in (await client.get("/_emulator/faults")).text
    deleted = await client.post("/_emulator/dashboard/actions/rules/fault/fault-2/delete", data={})
    assert deleted.status_code == 303 and "fault-2" not in (await client.get("/_emulator/faults")).text
    asked = await client.post("/_emulator/dashboard/actions/rules/response/clear", data={})
    assert asked.status_code == 200 and "Remove every response rule?" in asked.text  # confirmation without JS
    await client.post("/_emulator/dashboard/actions/rules/response/clear", data={"confirmed": "yes"})
    assert (await client.get("/_emulator/responses")).json()["responses"] == []


async def test_deployment_page_and_its_actions(client: httpx.AsyncClient) -> None:
    job = await new_job(client)
    await advance(client, 3600)
    created = await client.post("/api/v1/deployments", json={"model_name": f"qwen-turbo-{job}", "capacity": 2})
    name = created.json()["output"]["deployed_model"]
    await advance(client, 3600)
    tenant = tenant_for(API_KEY, None).id
    url = f"/_emulator/dashboard/tenants/{tenant}/deployments/{name}"
    page = (await client.get(url)).text
    assert 'id="status-history"' in page and page.count('data-status="') >= 3  # PENDING, DEPLOYING, RUNNING
    assert f"qwen-turbo-{job}" in page and "2/2" in page
    actions = f"/_emulator/dashboard/actions/tenants/{tenant}/deployments/{name}"
    scaled = await client.post(f"{actions}/scale", data={"capacity": "3", "next": url})
    assert scaled.status_code == 303
    assert (await client.get(f"/api/v1/deployments/{name}")).json()["output"]["capacity"] == 3
    await client.post(f"{actions}/status", data={"status": "FAILED", "message": "boom", "confirmed": "yes"})
    assert (await client.get(f"/api/v1/deployments/{name}")).json()["output"]["status"] == "FAILED"
    assert "boom" in (await client.get(url)).text
    await client.post(f"{actions}/delete", data={"confirmed": "yes"})
    assert (await client.get(f"/api/v1/deployments/{name}")).json()["output"]["status"] == "DELETING"
    assert (await client.get(f"/_emulator/dashboard/tenants/{tenant}/deployments/nope")).status_code == 404


async def test_job_page_lists_checkpoints_and_exports(client: httpx.AsyncClient) -> None:
    job = await new_job(client)
    await advance(client, 3600)
    listed = (await client.get(f"/api/v1/fine-tunes/{job}/checkpoints")).json()["output"]
    names = [c["checkpoint"] for c in listed]
    assert len(names) >= 2
    exported = await client.get(f"/api/v1/fine-tunes/{job}/export/{names[1]}", params={"model_name": "my-early"})
    assert exported.status_code == 200, exported.text
    await advance(client, 600)
    page = (await client.get(f"/_emulator/dashboard/jobs/{job}")).text
    assert 'id="checkpoints-table"' in page and "1 exported" in page, page[page.find("checkpoints-title") :][:1500]
    assert re.findall(r'data-checkpoint="([^"]+)"', page) == names
    assert "my-early" in page
