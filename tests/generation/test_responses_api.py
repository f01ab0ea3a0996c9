"""The Responses API in-process: create (plain, streamed, tools, previous_response_id), retrieve, delete,
input_items, per tenant, the documented errors, and the emulator's machinery (rules, journal, faults) seeing it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import AppFactory, client_for
from tests.control.test_responses import native_events

pytestmark = pytest.mark.anyio

PATH = "/compatible-mode/v1/responses"
LEGACY = "/api/v2/apps/protocols/compatible-mode/v1/responses"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(PATH, json={"model": "qwen-plus", **body})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def text_of(response: dict[str, Any]) -> str:
    return "".join(part["text"] for item in response["output"] if item["type"] == "message" for part in item["content"])


async def test_a_string_input_answers_a_message(client: httpx.AsyncClient) -> None:
    body = await create(client, input="Tell me about Hangzhou", instructions="Be brief")
    assert body["object"] == "response" and body["status"] == "completed" and body["id"].startswith("resp_")
    [item] = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant" and item["id"].startswith("msg_")
    assert text_of(body) and body["instructions"] == "Be brief"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["x_details"][0]["x_billing_type"] == "response_api"


async def test_the_stream_follows_the_documented_sequence(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, json={"model": "qwen-plus", "input": "Hello", "stream": True})
    events = native_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all(data["type"] == kind for kind, data in events)
    assert events[0][1]["response"]["status"] == "queued" and "[DONE]" not in response.text
    final = events[-1][1]["response"]
    deltas = "".join(data["delta"] for kind, data in events if kind == "response.output_text.delta")
    assert deltas == text_of(final)
    stored = (await client.get(f"{PATH}/{final['id']}")).json()
    assert stored == final


async def test_a_tool_loop_with_previous_response_id(client: httpx.AsyncClient) -> None:
    first = await create(client, input="What is the weather in Hangzhou?", tools=[WEATHER])
    [call] = first["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather"
    assert json.loads(call["arguments"]) == {"city": "Hangzhou"} and call["call_id"].startswith("call_")
    output = {"type": "function_call_output", "call_id": call["call_id"], "output": "31 degrees, humid"}
    second = await create(client, input=[output], previous_response_id=first["id"], tools=[WEATHER])
    assert "31 degrees, humid" in text_of(second) and second["previous_response_id"] == first["id"]
    items = (await client.get(f"{PATH}/{second['id']}/input_items", params={"order": "asc"})).json()
    assert [i["type"] for i in items["data"]] == ["message", "function_call", "function_call_output"]
    assert items["id"] == second["id"] and items["created_at"] > 10**12 and items["has_more"] is False


async def test_the_same_loop_resent_as_items(client: httpx.AsyncClient) -> None:
    """What openai-agents does without previous_response_id: every earlier item in ``input``."""
    first = await create(client, input=[{"role": "user", "content": "Weather in Shanghai?"}], tools=[WEATHER])
    output = {"type": "function_call_output", "call_id": first["output"][0]["call_id"], "output": "rainy"}
    user = {"role": "user", "content": [{"type": "input_text", "text": "Weather in Shanghai?"}]}
    second = await create(client, input=[user, *first["output"], output], tools=[WEATHER], store=False)
    assert "rainy" in text_of(second)
    assert (await client.get(f"{PATH}/{second['id']}")).status_code == 404, "store: false is never kept"


async def test_retrieve_delete_and_input_items_paging(client: httpx.AsyncClient) -> None:
    messages = [{"role": "user", "content": f"message {n}"} for n in range(5)]
    body = await create(client, input=messages)
    page = (await client.get(f"{PATH}/{body['id']}/input_items", params={"limit": 2})).json()
    assert [i["content"][0]["text"] for i in page["data"]] == ["message 4", "message 3"] and page["has_more"]
    rest = (await client.get(f"{PATH}/{body['id']}/input_items", params={"after": page["last_id"]})).json()
    assert [i["content"][0]["text"] for i in rest["data"]] == ["message 2", "message 1", "message 0"]
    deleted = await client.delete(f"{PATH}/{body['id']}")
    assert deleted.json() == {"id": body["id"], "object": "response.deleted", "deleted": True}
    for response in (await client.get(f"{PATH}/{body['id']}"), await client.delete(f"{PATH}/{body['id']}")):
        assert response.status_code == 404
        assert response.json()["error"] == {
            "message": f"Response with id '{body['id']}' not found.",
            "type": "InvalidParameter",
            "code": "InvalidParameter",
        }


async def test_per_tenant_and_the_legacy_path(app_factory: AppFactory) -> None:
    app = await app_factory()
    async with client_for(app) as a, client_for(app, "sk-test-tenant-b") as b:
        body = await create(a, input="hi")
        assert (await b.get(f"{PATH}/{body['id']}")).status_code == 404
        assert (await a.get(f"{LEGACY}/{body['id']}")).json()["id"] == body["id"]
        legacy = await a.post(LEGACY, json={"model": "qwen-plus", "input": "hi"})
        assert legacy.status_code == 200 and legacy.json()["object"] == "response"


@pytest.mark.parametrize(
    "body,message",
    [
        ({"input": "hi"}, "[400] missing_required_parameter: Missing required parameter: 'model'."),
        ({"model": "qwen-plus"}, "[400] missing_required_parameter: Missing required parameter: 'input'."),
        (
            {"model": "qwen-plus", "input": "hi", "max_output_tokens": 1},
            "Invalid 'max_output_tokens': must be greater than or equal to 16, got 1.",
        ),
        ({"model": "nope-model", "input": "hi"}, "Unsupported model: 'nope-model'"),
        (
            {"model": "qwen-plus", "input": "hi", "previous_response_id": "resp_x"},
            "Not found previous_response_id: resp_x",
        ),
    ],
)
async def test_errors_are_flat_envelopes(client: httpx.AsyncClient, body: dict[str, Any], message: str) -> None:
    response = await client.post(PATH, json=body)
    assert response.status_code == 400
    assert response.json() == {
        "request_id": response.headers["x-request-id"],
        "code": "InvalidParameter",
        "message": message,
    }
    streamed = await client.post(PATH, json={**body, "stream": True})
    [(kind, data)] = native_events(streamed)
    assert kind == "response.failed" and data["response"]["error"] == {"code": "InvalidParameter", "message": message}


async def test_rules_journal_and_stream_faults_see_it(client: httpx.AsyncClient) -> None:
    rule = (await client.post("/_emulator/responses", json={"contains": "scripted", "content": "From a rule."})).json()
    body = await create(client, input="a scripted question")
    assert text_of(body) == "From a rule."
    entry = (await client.get("/_emulator/requests", params={"limit": 1})).json()["requests"][0]
    assert entry["path"] == PATH and entry["rule"] == rule["id"]
    fault = {"path": PATH, "after_chunks": 3, "status": 500, "code": "InternalError", "count": 1}
    assert (await client.post("/_emulator/faults", json=fault)).status_code == 200
    events = native_events(await client.post(PATH, json={"model": "qwen-plus", "input": "hi", "stream": True}))
    assert [kind for kind, _ in events][-1] == "response.failed" and len(events) == 4


async def test_answers_are_what_the_openapi_document_says(client: httpx.AsyncClient) -> None:
    """The Responses operations are documented with models (``responses_schemas``): real answers — a message, a
    function call, a thinking model's reasoning, a stored one, its input items, a deletion — validate against
    them, and every key they carry is a documented field."""
    from pydantic import BaseModel

    from emulator.app import operations
    from emulator.generation import responses_schemas as schemas
    from emulator.openapi import build_document, model_class

    def conforms(model: type[BaseModel], body: dict[str, Any]) -> None:
        model.model_validate(body)
        assert set(body) <= set(model.model_fields), set(body) - set(model.model_fields)

    called = await create(client, input="What is the weather in Hangzhou?", tools=[WEATHER], tool_choice="required")
    schemas.ResponseCreateRequest.model_validate({"model": "qwen-plus", "input": "hi", "tools": [WEATHER]})
    thought = await create(client, input="Why is the sky blue?", enable_thinking=True)
    message = await create(
        client, input=[{"role": "user", "content": "hello"}], instructions="Be brief", temperature=0.5
    )
    for body in (called, thought, message):
        conforms(schemas.ResponseObject, body)
        for item in body["output"]:
            item_model = {"message": schemas.MessageItem, "function_call": schemas.FunctionCallItem}.get(
                item["type"], schemas.ReasoningItem
            )
            conforms(item_model, item)
    assert {item["type"] for body in (called, thought, message) for item in body["output"]} == {
        "function_call",
        "reasoning",
        "message",
    }
    conforms(schemas.ResponseObject, (await client.get(f"{PATH}/{message['id']}")).json())
    conforms(schemas.ResponseInputItems, (await client.get(f"{PATH}/{message['id']}/input_items")).json())
    conforms(schemas.ResponseDeleted, (await client.delete(f"{PATH}/{message['id']}")).json())

    documented = {(op.method, op.path): op for op in operations() if op.tag == "responses"}
    assert len(documented) == 8  # four operations, each also on the legacy path
    for op in documented.values():
        assert op.response is not None and model_class(op.response).__module__ == schemas.__name__
    doc = build_document(list(documented.values()))
    create_doc = doc["paths"][PATH]["post"]
    assert create_doc["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ResponseCreateRequest")
    assert {"ResponseObject", "ResponseDeleted", "ResponseInputItems", "FunctionCallItem"} <= set(
        doc["components"]["schemas"]
    )
