"""Fault rules in-process: matching, the error envelope, latency, counts, probability under --seed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulator.control.schemas import FaultRuleSpec
from emulator.ids import Ids
from emulator.rules.faults import FaultRules, load_rules
from tests.conftest import AppFactory, assert_error, client_for

pytestmark = pytest.mark.anyio

LINE = b'{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'


async def add(client: httpx.AsyncClient, **rule: Any) -> dict[str, Any]:
    response = await client.post("/_emulator/faults", json=rule)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_rule_answers_its_error_in_the_native_envelope(client: httpx.AsyncClient) -> None:
    rule = await add(
        client,
        method="POST",
        path="/api/v1/fine-tunes",
        status=429,
        code="Throttling",
        message="Slow down.",
        retry_after=2,
    )
    assert rule["id"].startswith("fault-") and rule["hits"] == 0 and rule["status"] == 429
    response = await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": ["x"]})
    body = assert_error(response, 429, "Throttling")
    assert body["message"] == "Slow down."
    assert response.headers["retry-after"] == "2"
    assert (await client.get("/api/v1/fine-tunes")).status_code == 200  # another method
    listed = (await client.get("/_emulator/faults")).json()["faults"]
    assert [(r["id"], r["hits"], r["matched"]) for r in listed] == [(rule["id"], 1, 1)]


async def test_globs_defaults_and_the_openai_shape(client: httpx.AsyncClient) -> None:
    await add(client, path="/api/v1/fine-tunes/*")
    assert (await client.get("/api/v1/fine-tunes")).status_code == 200  # the glob needs something after the slash
    body = assert_error(await client.get("/api/v1/fine-tunes/ft-1/logs"), 503, "ServiceUnavailable")
    assert "unavailable" in body["message"]
    await client.delete("/_emulator/faults")
    await add(client, path="/compatible-mode/v1/*", status=429)
    response = await client.post("/compatible-mode/v1/chat/completions", json={"model": "qwen-turbo", "messages": []})
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "rate_limit_error"
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_count_expires_the_rule(client: httpx.AsyncClient) -> None:
    await add(client, path="/api/v1/files", method="GET", status=500, count=2)
    assert [(await client.get("/api/v1/files")).status_code for _ in range(3)] == [500, 500, 200]
    assert (await client.get("/_emulator/faults")).json()["faults"] == []


async def test_latency_only_delays_then_answers_normally(client: httpx.AsyncClient) -> None:
    await add(client, path="/api/v1/files", latency_ms=25)
    started = time.perf_counter()
    response = await client.get("/api/v1/files")
    assert time.perf_counter() - started >= 0.025  # wall time: latency exists to trip client timeouts
    assert response.status_code == 200 and response.json()["data"]["total"] == 0
    assert (await client.get("/_emulator/faults")).json()["faults"][0]["hits"] == 1


async def test_latency_then_the_error(client: httpx.AsyncClient) -> None:
    await add(client, path="/api/v1/files", latency_ms=10, status=429)
    started = time.perf_counter()
    assert (await client.get("/api/v1/files")).status_code == 429
    assert time.perf_counter() - started >= 0.01


async def test_tenant_matches_the_key_or_the_tenant_id(app: Starlette) -> None:
    async with client_for(app, "key-a") as a, client_for(app, "key-b") as b:
        await add(a, path="/api/v1/files", tenant="key-a", status=403)
        assert_error(await a.get("/api/v1/files"), 403, "AccessDenied")
        assert (await b.get("/api/v1/files")).status_code == 200
        assert (await a.get("/api/v1/files", headers={"X-DashScope-WorkSpace": "ws1"})).status_code == 403
        await a.delete("/_emulator/faults")
        tenant_b = (await b.get("/_emulator/requests?tenant=key-b&limit=1")).json()["requests"][0]["tenant"]
        await add(a, path="/api/v1/files", tenant=tenant_b, status=403)
        assert (await a.get("/api/v1/files")).status_code == 200
        assert (await b.get("/api/v1/files")).status_code == 403


async def test_model_matches_the_json_body_which_still_reaches_the_handler(client: httpx.AsyncClient) -> None:
    await add(client, method="POST", path="/api/v1/fine-tunes", model="qwen-max", status=400, code="Custom.Code")
    assert_error(
        await client.post("/api/v1/fine-tunes", json={"model": "qwen-max", "training_file_ids": ["f"]}),
        400,
        "Custom.Code",
    )
    # another model: the body was read to look, and replayed to the handler, which sees it whole
    other = await client.post("/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": ["nope"]})
    assert_error(other, 400, "InvalidParameter")
    assert "nope" in other.json()["message"]
    big = {"model": "qwen-turbo", "training_file_ids": ["nope"], "pad": "x" * 300_000}
    assert "nope" in (await client.post("/api/v1/fine-tunes", json=big)).json()["message"]
    # multipart bodies are never read for a model
    upload = await client.post("/api/v1/files", files=[("files", ("a.jsonl", LINE))])
    assert upload.status_code == 200


async def test_faults_never_touch_the_control_plane(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/_emulator/faults", json={"path": "/_emulator/health"}), 400, "InvalidParameter")
    await add(client, path="/*", status=500)
    assert (await client.get("/_emulator/health")).status_code == 200
    assert (await client.get("/api/v1/files")).status_code == 500


async def test_delete_one_and_all(client: httpx.AsyncClient) -> None:
    first = await add(client, path="/api/v1/files", status=500)
    await add(client, path="/api/v1/fine-tunes", status=500)
    assert (await client.delete(f"/_emulator/faults/{first['id']}")).json() == {"removed": 1}
    assert_error(await client.delete(f"/_emulator/faults/{first['id']}"), 404, "NotFound")
    assert (await client.get("/api/v1/files")).status_code == 200
    assert (await client.delete("/_emulator/faults")).json() == {"removed": 1}
    assert (await client.get("/api/v1/fine-tunes")).status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {},
        {"path": "api/v1"},
        {"path": "/api/v1/x", "status": 200},
        {"path": "/api/v1/x", "bogus": 1},
        {"path": "/api/v1/x", "probability": 1.5},
        {"path": "/api/v1/x", "method": "FETCH"},
        {"path": "/api/v1/x", "count": 0},
    ],
)
async def test_bad_rules_are_400(client: httpx.AsyncClient, rule: dict[str, Any]) -> None:
    assert_error(await client.post("/_emulator/faults", json=rule), 400, "InvalidParameter")


async def _hits(app_factory: AppFactory, seed: int | None) -> list[int]:
    app = await app_factory(seed=seed)
    async with client_for(app) as client:
        await add(client, path="/api/v1/files", status=503, probability=0.5)
        return [(await client.get("/api/v1/files")).status_code for _ in range(40)]


async def test_probability_is_reproducible_under_a_seed(app_factory: AppFactory) -> None:
    first = await _hits(app_factory, 11)
    assert first == await _hits(app_factory, 11)
    assert 5 < first.count(503) < 35
    assert first != await _hits(app_factory, 12)


async def test_a_whole_reset_returns_to_the_file_rules(tmp_path: Path, app_factory: AppFactory) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text(json.dumps([{"path": "/api/v1/files", "method": "GET", "status": 429, "count": 1}]))
    app = await app_factory(faults_file=rules)
    async with client_for(app) as client:
        assert (await client.get("/api/v1/files")).status_code == 429
        assert (await client.get("/api/v1/files")).status_code == 200
        await add(client, path="/api/v1/fine-tunes", status=500)
        await client.post("/_emulator/reset", json={"api_key": "someone"})  # a tenant reset keeps the rules
        assert len((await client.get("/_emulator/faults")).json()["faults"]) == 1
        await client.post("/_emulator/reset")
        faults = (await client.get("/_emulator/faults")).json()["faults"]
        assert [(f["path"], f["hits"]) for f in faults] == [("/api/v1/files", 0)]
        assert (await client.get("/api/v1/files")).status_code == 429


def test_load_rules_reports_the_bad_entry(tmp_path: Path) -> None:
    bad = tmp_path / "faults.json"
    bad.write_text(json.dumps([{"path": "/api/v1/files"}, {"path": "/api/v1/x", "status": 99}]))
    with pytest.raises(ValueError, match=r"1\.status"):
        load_rules(bad)
    with pytest.raises(ValueError, match="cannot read"):
        load_rules(tmp_path / "missing.json")


def test_the_empty_list_is_the_fast_path() -> None:
    rules = FaultRules(Ids(1), [FaultRuleSpec(path="/api/v1/a")])
    assert rules.rules
    rules.clear()
    assert rules.rules == []
