"""Response rules in-process: CRUD, matching, and each protocol's shape (plain and streaming)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.__main__ import cli
from emulator.control.schemas import ResponseRuleSpec
from emulator.errors import InvalidParameter
from emulator.generation.replies import chat_view, native_scripted_response, script
from emulator.generation.schemas import SamplingFields
from emulator.rules.responses import MAX_RULES, ResponseRules
from tests.conftest import AppFactory, client_for

pytestmark = pytest.mark.anyio

NATIVE = "/api/v1/services/aigc/text-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
SSE = {"X-DashScope-SSE": "enable"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 3},
            },
            "required": ["location", "unit"],
        },
    },
}


async def rule(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/_emulator/responses", json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def native(client: httpx.AsyncClient, text: str, *, stream: bool = False, **parameters: Any) -> httpx.Response:
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": text}]}, "parameters": parameters}
    return await client.post(NATIVE, json=body, headers=SSE if stream else {})


async def chat(client: httpx.AsyncClient, text: str, **body: Any) -> httpx.Response:
    body.setdefault("model", "qwen-plus")
    body.setdefault("messages", [{"role": "user", "content": text}])
    return await client.post(CHAT, json=body)


def native_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = block.split("\n")
        event = next(line[len("event:") :] for line in lines if line.startswith("event:"))
        events.append((event, json.loads(next(line[5:] for line in lines if line.startswith("data:")))))
    return events


def openai_events(response: httpx.Response) -> list[Any]:
    blocks = response.text.strip().split("\n\n")
    return [json.loads(b[len("data: ") :]) if b != "data: [DONE]" else "[DONE]" for b in blocks]


async def test_crud_and_hit_counts(client: httpx.AsyncClient) -> None:
    first = await rule(client, contains="hello", content="Hi there!")
    second = await rule(client, model="qwen-*", content="fallback")
    assert first["id"] != second["id"] and first["hits"] == 0
    assert (await native(client, "say hello")).json()["output"]["text"] == "Hi there!"
    assert (await native(client, "anything")).json()["output"]["text"] == "fallback"
    listed = (await client.get("/_emulator/responses")).json()["responses"]
    assert [(r["id"], r["hits"]) for r in listed] == [(first["id"], 1), (second["id"], 1)]
    assert (await client.delete(f"/_emulator/responses/{first['id']}")).json() == {"removed": 1}
    missing = await client.delete(f"/_emulator/responses/{first['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    assert (await client.delete("/_emulator/responses")).json() == {"removed": 1}
    assert (await native(client, "say hello")).json()["output"]["text"] != "Hi there!"
    await rule(client, content="x")
    await client.post("/_emulator/reset")
    assert (await client.get("/_emulator/responses")).json()["responses"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"contains": "x"},
        {"content": "a", "error": {"status": 400}},
        {"content": "a", "replies": [{"content": "b"}]},
        {"regex": "(", "content": "a"},
        {"content": "a", "count": 0},
        {"tool_calls": [{"name": ""}]},
        {"content": "a", "surprise": 1},
        {"error": {"status": 200}},
    ],
)
async def test_bad_rules_are_400(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/_emulator/responses", json=body)
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter", response.text


async def test_matching_fields(client: httpx.AsyncClient) -> None:
    await rule(client, tenant="sk-someone-else", content="not me")
    await rule(client, regex=r"^order \d+$", content="regex")
    await rule(client, model="qwen-max", content="max only")
    await rule(client, tools="get_weather", content="weather offered")
    await rule(client, tools=True, content="some tools")
    await rule(client, tenant="sk-test-tenant-a", count=1, content="mine once")
    assert (await native(client, "order 42")).json()["output"]["text"] == "regex"
    assert (await native(client, "anything", tools=[WEATHER])).json()["output"]["text"] == "weather offered"
    other = {**WEATHER, "function": {**WEATHER["function"], "name": "other"}}
    assert (await native(client, "anything", tools=[other])).json()["output"]["text"] == "some tools"
    assert (await native(client, "anything")).json()["output"]["text"] == "mine once"
    assert "mine once" not in (await native(client, "anything")).json()["output"]["text"]
    rules = (await client.get("/_emulator/responses")).json()["responses"]
    assert [r["content"] for r in rules] == ["not me", "regex", "max only", "weather offered", "some tools"]


async def test_replies_sequence_and_errors(client: httpx.AsyncClient) -> None:
    await rule(
        client,
        replies=[
            {"error": {"status": 429, "code": "Throttling", "message": "Requests rate limit exceeded."}},
            {"content": "second"},
            {"content": "last"},
        ],
    )
    throttled = await native(client, "q")
    assert throttled.status_code == 429 and throttled.json()["code"] == "Throttling"
    assert throttled.json()["message"] == "Requests rate limit exceeded."
    assert [(await native(client, "q")).json()["output"]["text"] for _ in range(3)] == ["second", "last", "last"]
    await client.delete("/_emulator/responses")
    await rule(
        client,
        error={
            "status": 400,
            "code": "DataInspectionFailed",
            "message": "Input data may contain inappropriate content.",
        },
    )
    refused = await chat(client, "q")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "DataInspectionFailed"
    assert refused.json()["error"]["type"] == "invalid_request_error"


async def test_native_shapes_plain(client: httpx.AsyncClient) -> None:
    await rule(client, content="Sunny, 22 degrees.", reasoning_content="Look it up.", usage={"output_tokens": 9})
    text = (await native(client, "weather?")).json()
    assert text["output"] == {"finish_reason": "stop", "text": "Sunny, 22 degrees."}
    assert text["usage"]["output_tokens"] == 9 and text["usage"]["total_tokens"] == text["usage"]["input_tokens"] + 9
    message = (await native(client, "weather?", result_format="message")).json()["output"]["choices"][0]
    assert message == {
        "finish_reason": "stop",
        "message": {"role": "assistant", "content": "Sunny, 22 degrees.", "reasoning_content": "Look it up."},
    }


async def test_native_stream_incremental_and_cumulative(client: httpx.AsyncClient) -> None:
    await rule(client, content="The weather in Hangzhou is sunny today, 22 degrees.")
    events = native_events(await native(client, "q", stream=True, result_format="message", incremental_output=True))
    assert {e for e, _ in events} == {"result"} and len(events) > 3
    pieces = [d["output"]["choices"][0]["message"]["content"] for _, d in events]
    assert "".join(pieces) == "The weather in Hangzhou is sunny today, 22 degrees." and pieces[-1] == ""
    finishes = [d["output"]["choices"][0]["finish_reason"] for _, d in events]
    assert finishes[:-1] == ["null"] * (len(events) - 1) and finishes[-1] == "stop"
    tokens = [d["usage"]["output_tokens"] for _, d in events]
    assert tokens == sorted(tokens) and len({d["request_id"] for _, d in events}) == 1
    cumulative = native_events(await native(client, "q", stream=True))
    texts = [d["output"]["text"] for _, d in cumulative]
    assert texts[-1] == "The weather in Hangzhou is sunny today, 22 degrees."
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    assert cumulative[-1][1]["output"]["finish_reason"] == "stop"


async def test_native_tool_calls_plain_and_streamed(client: httpx.AsyncClient) -> None:
    await rule(client, tool_calls=[{"name": "get_weather", "arguments": {"location": "杭州", "unit": "celsius"}}])
    plain = (await native(client, "q", tools=[WEATHER])).json()["output"]["choices"][0]
    call = plain["message"]["tool_calls"][0]
    assert plain["finish_reason"] == "tool_calls" and plain["message"]["content"] == ""
    assert call["type"] == "function" and call["id"].startswith("call_") and call["index"] == 0
    assert json.loads(call["function"]["arguments"]) == {"location": "杭州", "unit": "celsius"}
    streamed = native_events(
        await native(client, "q", stream=True, tools=[WEATHER], result_format="message", incremental_output=True)
    )
    calls = [c for _, d in streamed for c in d["output"]["choices"][0]["message"].get("tool_calls", [])]
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""} and calls[0]["id"].startswith("call_")
    assert all("name" not in c["function"] for c in calls[1:]) and len(calls) > 2
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"location": "杭州", "unit": "celsius"}
    assert streamed[-1][1]["output"]["choices"][0]["finish_reason"] == "tool_calls"
    cumulative = native_events(await native(client, "q", stream=True, tools=[WEATHER], result_format="message"))
    final = cumulative[-1][1]["output"]["choices"][0]
    assert final["finish_reason"] == "tool_calls"
    assert json.loads(final["message"]["tool_calls"][0]["function"]["arguments"])["location"] == "杭州"


async def test_openai_content_tool_calls_and_stream(client: httpx.AsyncClient) -> None:
    await rule(client, contains="weather", tool_calls=[{"name": "get_weather", "arguments": {"location": "Hangzhou"}}])
    await rule(client, content="Hello from the rule", reasoning_content="thinking")
    plain = (await chat(client, "hi")).json()
    assert plain["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello from the rule",
        "reasoning_content": "thinking",
    }
    assert plain["object"] == "chat.completion" and plain["usage"]["total_tokens"] > 0
    called = (await chat(client, "weather?", tools=[WEATHER])).json()["choices"][0]
    assert called["finish_reason"] == "tool_calls"
    assert json.loads(called["message"]["tool_calls"][0]["function"]["arguments"]) == {"location": "Hangzhou"}
    events = openai_events(
        await chat(client, "weather?", tools=[WEATHER], stream=True, stream_options={"include_usage": True})
    )
    assert events[-1] == "[DONE]" and events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] > 0
    deltas = [c["choices"][0]["delta"] for c in events[:-2]]
    assert deltas[0]["role"] == "assistant"
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"location": "Hangzhou"}
    assert events[-3]["choices"][0]["finish_reason"] == "tool_calls"


async def test_forced_tool_choice_without_a_rule(client: httpx.AsyncClient) -> None:
    forced = {"type": "function", "function": {"name": "get_weather"}}
    first = (await chat(client, "weather?", tools=[WEATHER], tool_choice=forced)).json()["choices"][0]
    again = (await chat(client, "weather?", tools=[WEATHER], tool_choice=forced)).json()["choices"][0]
    arguments = json.loads(first["message"]["tool_calls"][0]["function"]["arguments"])
    assert first["finish_reason"] == "tool_calls" and set(arguments) >= {"location", "unit"}
    assert arguments["unit"] in ("celsius", "fahrenheit") and 1 <= arguments.get("days", 1) <= 3
    assert (
        again["message"]["tool_calls"][0]["function"]["arguments"]
        == first["message"]["tool_calls"][0]["function"]["arguments"]
    )
    native_forced = (await native(client, "q", tools=[WEATHER], tool_choice=forced)).json()["output"]
    assert native_forced["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    auto = (await chat(client, "weather?", tools=[WEATHER], tool_choice="auto")).json()["choices"][0]
    assert auto["finish_reason"] == "stop" and "tool_calls" not in auto["message"]


async def test_tool_call_round_trip(client: httpx.AsyncClient) -> None:
    await rule(client, after_tool_result=True, content="It is sunny in Hangzhou.")
    await rule(client, tools="get_weather", tool_calls=[{"name": "get_weather", "arguments": {"location": "Hangzhou"}}])
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Hangzhou?"}]
    call = (await chat(client, "", messages=messages, tools=[WEATHER])).json()["choices"][0]["message"]
    messages += [
        {"role": "assistant", "content": None, "tool_calls": call["tool_calls"]},
        {"role": "tool", "tool_call_id": call["tool_calls"][0]["id"], "content": '{"sky": "sunny"}'},
    ]
    answer = (await chat(client, "", messages=messages, tools=[WEATHER])).json()["choices"][0]
    assert answer["message"]["content"] == "It is sunny in Hangzhou." and answer["finish_reason"] == "stop"


async def test_the_journal_names_the_rule_and_keeps_unserved_bodies(client: httpx.AsyncClient) -> None:
    first = await rule(client, contains="scripted", content="yes")
    await native(client, "scripted please")
    await native(client, "not this one")
    entries = (await client.get("/_emulator/requests")).json()["requests"]
    assert [e["rule"] for e in entries] == [None, first["id"]]
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "a picture"}]}}
    unserved = await client.post("/api/v1/services/aigc/video-generation/video-synthesis", json=body)
    assert unserved.status_code == 404
    entry = (await client.get("/_emulator/requests", params={"limit": 1})).json()["requests"][0]
    assert entry["status"] == 404 and entry["body"] == body and entry["body_size"] == len(unserved.request.content)
    big = await client.post("/api/v1/not-emulated", content=b"x" * (200 * 1024))
    entry = (await client.get("/_emulator/requests", params={"limit": 1})).json()["requests"][0]
    assert big.status_code == 404 and entry["body"] is None and 64 * 1024 < entry["body_size"] <= 200 * 1024
    wrong_method = await client.put("/api/v1/files", json={"a": 1})
    entry = (await client.get("/_emulator/requests", params={"limit": 1})).json()["requests"][0]
    assert wrong_method.status_code == 405 and entry["body"] == {"a": 1}


async def test_the_hook_serves_a_multimodal_endpoint(app_factory: AppFactory) -> None:
    """The way the multimodal endpoint plugs in: a protocol-neutral view, then the native renderer with parts."""

    async def multimodal(request: Request) -> Response:
        body = await request.json()
        messages = body["input"]["messages"]
        params = SamplingFields.model_validate({"tools": body["parameters"].get("tools")})
        stream = request.headers.get("x-dashscope-sse") == "enable"
        view = chat_view(
            request,
            model=body["model"],
            base_model=None,
            context_window=8192,
            messages=messages,
            fields=params,
            stream=stream,
        )
        scripted = script(request, view)
        assert scripted is not None
        return native_scripted_response(
            request, scripted, messages, message_format=False, incremental=True, stream=stream, multimodal=True
        )

    app = await app_factory()
    app.router.routes.insert(0, Route(MULTIMODAL, multimodal, methods=["POST"]))
    async with client_for(app) as client:
        await rule(client, contains="picture", content="A beach.")
        await rule(client, tools=True, tool_calls=[{"name": "get_weather", "arguments": {"location": "Hangzhou"}}])
        parts = [{"image": "https://example.com/a.png"}, {"text": "What is in this picture?"}]
        body = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": parts}]}, "parameters": {}}
        plain = (await client.post(MULTIMODAL, json=body)).json()["output"]["choices"][0]
        assert plain["message"] == {"role": "assistant", "content": [{"text": "A beach."}]}
        events = native_events(await client.post(MULTIMODAL, json=body, headers=SSE))
        contents = [d["output"]["choices"][0]["message"]["content"] for _, d in events]
        assert contents == [[{"text": "A beach."}], []]
        tools = {**body, "input": {"messages": [{"role": "user", "content": [{"text": "weather"}]}]}}
        tools["parameters"] = {"tools": [WEATHER]}
        called = (await client.post(MULTIMODAL, json=tools)).json()["output"]["choices"][0]
        assert called["finish_reason"] == "tool_calls" and called["message"]["content"] == []


def test_the_rule_store_is_bounded() -> None:
    rules = ResponseRules()
    for _ in range(MAX_RULES):
        rules.add(ResponseRuleSpec(content="x"))
    with pytest.raises(InvalidParameter, match="already 1000"):
        rules.add(ResponseRuleSpec(content="x"))
    assert rules.clear() == MAX_RULES and rules.add(ResponseRuleSpec(content="y")).id == f"response-{MAX_RULES + 1}"


FIXTURE_RULES = Path(__file__).resolve().parents[2] / "fixtures" / "responses.json"


async def test_rules_of_a_responses_file_answer_from_the_start_and_come_back_after_a_reset(
    app_factory: AppFactory,
) -> None:
    app = await app_factory(responses_file=FIXTURE_RULES)
    async with client_for(app) as client:
        listed = (await client.get("/_emulator/responses")).json()["responses"]
        assert len(listed) == len(json.loads(FIXTURE_RULES.read_text()))
        refused = await native(client, "tell me about the forbidden topic")
        assert refused.status_code == 400 and refused.json()["code"] == "DataInspectionFailed"
        pong = (await chat(client, "ping")).json()
        assert pong["choices"][0]["message"]["content"] == "pong"
        await client.delete("/_emulator/responses")
        assert (await client.get("/_emulator/responses")).json()["responses"] == []
        assert (await client.post("/_emulator/reset", json={})).status_code == 200
        again = (await client.get("/_emulator/responses")).json()["responses"]
        assert len(again) == len(listed) and all(r["hits"] == 0 for r in again)


def test_a_bad_responses_file_stops_the_cli_with_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.json"
    bad.write_text('[{"content": "hi", "colour": "blue"}]')
    result = CliRunner().invoke(cli, ["serve", "--responses", str(bad), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "--responses" in result.output and "colour" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("pattern", "prompt"),
    [
        ("weather.*tomorrow", "weather " * 24_000),  # 192 KB: quadratic backtracking, 3-7 s on the loop before
        ("(a+)+$", "a" * 26 + "b"),  # exponential in re
        ("(x|x)*y", "x" * 30),
    ],
)
async def test_a_rule_regex_costs_a_request_a_bounded_time(
    client: httpx.AsyncClient, pattern: str, prompt: str
) -> None:
    """Issue 24: a slow regex is no match once the request's regex time is spent; the loop is never held long."""
    await rule(client, regex=pattern, content="matched")
    started = time.perf_counter()
    response = await native(client, prompt)
    assert time.perf_counter() - started < 2.0
    assert response.status_code == 200, response.text
    assert (await native(client, "weather tomorrow a" if "weather" in pattern else "aaa")).status_code == 200


async def test_a_prompt_past_the_context_window_is_refused_before_any_rule_looks_at_it(
    client: httpx.AsyncClient,
) -> None:
    created = await rule(client, contains="x", content="scripted")
    body = {"model": "qwen-max", "input": {"messages": [{"role": "user", "content": "x" * 140_000}]}}
    refused = await client.post(NATIVE, json=body)
    assert refused.status_code == 400 and "Range of input length" in refused.json()["message"]
    listing = (await client.get("/_emulator/responses")).json()["responses"]
    assert [r["hits"] for r in listing if r["id"] == created["id"]] == [0]


def test_the_rule_store_is_bounded_in_bytes() -> None:
    """Issue 24: 1,000 rules of 100 replies of 1M characters each (~14 MB a rule) fitted the count cap."""
    from emulator.rules.responses import MAX_RULE_BYTES, MAX_RULES_BYTES

    rules = ResponseRules()
    big = "x" * 1_000_000
    with pytest.raises(InvalidParameter, match=f"at most {MAX_RULE_BYTES}"):
        rules.add(ResponseRuleSpec(replies=[{"content": big}, {"content": big}, {"content": big}]))
    added = 0
    with pytest.raises(InvalidParameter, match=f"more than {MAX_RULES_BYTES} bytes"):
        for _ in range(MAX_RULES):
            rules.add(ResponseRuleSpec(content=big, reasoning_content=big))
            added += 1
    assert added == MAX_RULES_BYTES // 2_000_100
    assert rules.clear() == added and rules.add(ResponseRuleSpec(content=big)).id.startswith("response-")
