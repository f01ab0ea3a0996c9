"""Rules a test can aim: ``after``/``times`` on faults and response rules on any endpoint, answers for any
endpoint (``path``), paths that can never match refused, and near misses in the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.rules.faults import load_rules as load_faults
from tests.conftest import AppFactory, assert_error, client_for, upload

pytestmark = pytest.mark.anyio

NATIVE = "/api/v1/services/aigc/text-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
LINE = b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'


async def post(client: httpx.AsyncClient, url: str, **body: Any) -> dict[str, Any]:
    response = await client.post(url, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def native(client: httpx.AsyncClient, text: str = "hi") -> httpx.Response:
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": text}]}}
    return await client.post(NATIVE, json=body)


async def chat(client: httpx.AsyncClient, text: str = "hi", model: str = "qwen-plus") -> httpx.Response:
    return await client.post(CHAT, json={"model": model, "messages": [{"role": "user", "content": text}]})


async def new_job(client: httpx.AsyncClient) -> str:
    uploaded = await upload(client, ("train.jsonl", LINE * 20), purpose="fine-tune")
    file_id = uploaded.json()["data"]["uploaded_files"][0]["file_id"]
    created = await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [file_id]})
    assert created.status_code == 200, created.text
    return str(created.json()["output"]["job_id"])


async def journal(client: httpx.AsyncClient, **query: Any) -> list[dict[str, Any]]:
    return (await client.get("/_emulator/requests", params=query)).json()["requests"]  # type: ignore[no-any-return]


async def test_the_second_poll_of_a_fine_tune_answers_500(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    rule = await post(
        client, "/_emulator/faults", path="/api/v1/fine-tunes/*", method="GET", status=500, after=1, times=1
    )
    assert rule["remaining"] == 1 and rule["after"] == 1 and rule["times"] == 1
    statuses = [(await client.get(f"/api/v1/fine-tunes/{job_id}")).status_code for _ in range(4)]
    assert statuses == [200, 500, 200, 200]
    [listed] = (await client.get("/_emulator/faults")).json()["faults"]
    assert (listed["matched"], listed["hits"], listed["remaining"]) == (4, 1, 0)  # spent, still listed
    entries = await journal(client, path=f"/api/v1/fine-tunes/{job_id}")
    assert [e["fault"] for e in reversed(entries)] == [None, rule["id"], None, None]
    first, spent = entries[-1], entries[0]
    assert first["near_misses"] == [
        {
            "rule": rule["id"],
            "failed": "after",
            "reason": "after: matching call 1 of the 1 let through first",
        }
    ]
    assert [m["failed"] for m in spent["near_misses"]] == ["times"]


async def test_the_third_chat_call_is_a_429_on_both_protocols(client: httpx.AsyncClient) -> None:
    await post(client, "/_emulator/faults", path="/compatible-mode/v1/*", status=429, after=2, times=1)
    assert [(await chat(client)).status_code for _ in range(4)] == [200, 200, 429, 200]
    [struck] = await journal(client, status=429)
    assert struck["fault"] == "fault-1" and struck["model"] == "qwen-plus"  # the body no handler read is kept
    assert struck["answer_body"]["error"]["code"] == "rate_limit_exceeded"
    await client.delete("/_emulator/faults")
    await post(client, "/_emulator/faults", path=NATIVE, status=429, code="Throttling", after=2, times=2)
    answers = [await native(client) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429, 200]
    assert_error(answers[2], 429, "Throttling")


async def test_count_and_times_differ_only_in_what_stays_listed(client: httpx.AsyncClient) -> None:
    await post(client, "/_emulator/faults", path="/api/v1/files", method="GET", count=1)
    await post(client, "/_emulator/faults", path="/api/v1/files", method="GET", times=1, status=502)
    assert [(await client.get("/api/v1/files")).status_code for _ in range(3)] == [503, 502, 200]
    listed = (await client.get("/_emulator/faults")).json()["faults"]
    assert [(r["times"], r["hits"], r["remaining"]) for r in listed] == [(1, 1, 0)]


@pytest.mark.parametrize(
    "path",
    ["/v1/chat/completions", "/api/v2/files", "/api/v1x*", "/compatible-mode/v2/*", "/chat/*", "/api/v1files"],
)
async def test_a_path_that_can_never_match_is_refused_with_the_prefixes(client: httpx.AsyncClient, path: str) -> None:
    body = assert_error(await client.post("/_emulator/faults", json={"path": path}), 400, "InvalidParameter")
    assert "can never match" in body["message"]
    assert "/api/v1" in body["message"] and "/compatible-mode/v1" in body["message"]
    refused = await client.post("/_emulator/responses", json={"path": path, "body": {}})
    assert "can never match" in assert_error(refused, 400, "InvalidParameter")["message"]


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/*", "/api/*", "/*", "/compatible-mode/v1/chat/completions"])
async def test_reachable_paths_are_taken(client: httpx.AsyncClient, path: str) -> None:
    await post(client, "/_emulator/faults", path=path, status=500, method="PATCH")


async def test_a_sequence_of_answers_for_a_fine_tune(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    running = {"request_id": "r", "output": {"job_id": job_id, "status": "RUNNING"}}
    rule = await post(
        client,
        "/_emulator/responses",
        path="/api/v1/fine-tunes/*",
        method="GET",
        replies=[
            {"body": running},
            {"error": {"status": 500, "code": "InternalError", "message": "boom"}},
            {"passthrough": True},
        ],
    )
    assert rule["path"] == "/api/v1/fine-tunes/*" and rule["remaining"] is None
    url = f"/api/v1/fine-tunes/{job_id}"
    first = await client.get(url)
    assert first.status_code == 200 and first.json() == running
    assert first.headers["x-request-id"]
    assert assert_error(await client.get(url), 500, "InternalError")["message"] == "boom"
    real = await client.get(url)
    assert real.json()["output"]["status"] in ("PENDING", "QUEUING", "RUNNING") and real.json() != running
    entries = await journal(client, path=url)
    assert [e["rule"] for e in entries] == [rule["id"]] * 3
    assert entries[-1]["answer_body"] == running  # the journal keeps the answer too
    assert (await client.get("/api/v1/files")).status_code == 200  # another path: untouched


async def test_an_endpoint_rule_with_after_times_and_a_model(client: httpx.AsyncClient) -> None:
    await post(
        client,
        "/_emulator/responses",
        path=CHAT,
        model="qwen-max*",
        after=1,
        times=1,
        body={"id": "canned", "choices": []},
        status=202,
    )
    answers = [await chat(client, model="qwen-max") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 202, 200]
    assert answers[1].json() == {"id": "canned", "choices": []}
    other = await chat(client, model="qwen-plus")
    assert other.status_code == 200
    [entry] = await journal(client, limit=1)
    assert entry["model"] == "qwen-plus"
    assert [m["failed"] for m in entry["near_misses"]] == ["model"]  # the only rule of the family came close


async def test_generation_rules_take_after_and_times(client: httpx.AsyncClient) -> None:
    rule = await post(client, "/_emulator/responses", contains="weather", content="Sunny.", after=1, times=2)
    texts = []
    for _ in range(4):
        response = await chat(client, "the weather?")
        texts.append(response.json()["choices"][0]["message"]["content"])
    assert texts[0] != "Sunny." and texts[1:3] == ["Sunny.", "Sunny."] and texts[3] != "Sunny."
    [listed] = (await client.get("/_emulator/responses")).json()["responses"]
    assert (listed["matched"], listed["hits"], listed["remaining"]) == (4, 2, 0)
    assert listed["id"] == rule["id"]


async def test_a_generation_near_miss_names_the_condition(client: httpx.AsyncClient) -> None:
    await post(client, "/_emulator/responses", model="qwen-max", content="max")
    await post(client, "/_emulator/responses", contains="weather", content="Sunny.")
    response = await native(client, "what is the time")
    assert response.status_code == 200
    [entry] = await journal(client, limit=1)
    assert entry["rule"] is None
    [miss] = entry["near_misses"]
    assert miss["rule"] == "response-2" and miss["failed"] == "contains"
    assert "'weather'" in miss["reason"] and "what is the time" in miss["reason"]


async def test_a_fault_near_miss_names_the_closest_rule(client: httpx.AsyncClient) -> None:
    await post(client, "/_emulator/faults", path="/api/v1/fine-tunes/*/cancel", status=500)
    await post(client, "/_emulator/faults", path="/api/v1/fine-tunes", method="POST", model="qwen-max", status=500)
    await post(client, "/_emulator/faults", path="/api/v1/files", method="DELETE", status=500)
    listed = await client.get("/api/v1/fine-tunes")
    assert listed.status_code == 200
    [entry] = await journal(client, limit=1)
    assert entry["fault"] is None
    [miss] = entry["near_misses"]
    assert miss["rule"] == "fault-2" and miss["failed"] == "method"
    assert miss["reason"] == "method GET, the rule wants POST"
    created = await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": ["x"]})
    assert created.status_code != 500
    [entry] = await journal(client, limit=1)
    assert entry["near_misses"] == [
        {
            "rule": "fault-2",
            "failed": "model",
            "reason": "model 'qwen-turbo', the rule wants 'qwen-max'",
        }
    ]
    assert entry["model"] == "qwen-turbo"
    await client.get("/api/v1/deployments")  # no rule of that family: no near miss
    [entry] = await journal(client, limit=1)
    assert entry["near_misses"] == []


async def test_endpoint_rules_validate_their_shape(client: httpx.AsyncClient) -> None:
    bad = [
        {"path": CHAT, "content": "hi"},
        {"path": CHAT, "contains": "x", "body": {}},
        {"body": {}},
        {"method": "GET", "content": "x"},
        {"path": CHAT, "status": 200},
        {"path": CHAT, "body": {}, "error": {"status": 500}},
    ]
    for rule in bad:
        assert_error(await client.post("/_emulator/responses", json=rule), 400, "InvalidParameter")


async def test_the_rule_files_take_the_new_fields(tmp_path: Path, app_factory: AppFactory) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"path": "/api/v1/files", "method": "GET", "status": 500, "after": 1, "times": 1}]))
    responses = tmp_path / "responses.json"
    responses.write_text(
        json.dumps(
            [{"path": "/api/v1/deployments", "method": "GET", "replies": [{"body": {"x": 1}}, {"passthrough": True}]}]
        )
    )
    app = await app_factory(faults_file=faults, responses_file=responses)
    async with client_for(app) as client:
        assert [(await client.get("/api/v1/files")).status_code for _ in range(3)] == [200, 500, 200]
        assert (await client.get("/api/v1/deployments")).json() == {"x": 1}
        assert "output" in (await client.get("/api/v1/deployments")).json()
    unreachable = tmp_path / "bad.json"
    unreachable.write_text(json.dumps([{"path": "/v1/files"}]))
    with pytest.raises(ValueError, match="can never match: faults apply to requests under /api/v1 or"):
        load_faults(unreachable)
