"""The renderers, driven by any answer (scripted or generated): every protocol's stream rebuilds its plain body,
token counts grow to the total, and chunks come lazily."""

from __future__ import annotations

import json
from itertools import islice
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.generation.answer import Answer, Choice, scripted_answer, split_text
from emulator.generation.renderers.compatible import compatible_body, compatible_chunks
from emulator.generation.renderers.multimodal import multimodal_body, multimodal_chunks
from emulator.generation.renderers.native import UNFINISHED, native_body, native_chunks
from emulator.generation.renderers.responses import ResponseHead, responses_body, responses_events
from emulator.rules.scripted import Scripted, ToolCall
from emulator.synth.tokens import count_tokens

TEXT = st.text(alphabet=st.sampled_from('ab 你好,.{}"\n'), max_size=60)
CALLS = st.lists(
    st.builds(
        lambda i, name, args: ToolCall(f"call_{i}", name, args),
        st.integers(0, 99),
        st.sampled_from(["get_weather", "search"]),
        st.dictionaries(st.sampled_from(["city", "q", "n"]), st.one_of(TEXT, st.integers())),
    ),
    max_size=2,
)
HEAD = {"id": "chatcmpl-x", "created": 1, "model": "qwen-plus"}


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    if draw(st.booleans()):
        scripted = Scripted(
            content=draw(st.none() | TEXT),
            reasoning_content=draw(st.none() | TEXT),
            tool_calls=tuple(draw(CALLS)),
            finish_reason=draw(st.sampled_from(["stop", "length", "tool_calls"])),
            output_tokens=draw(st.none() | st.integers(0, 500)),
        )
        return scripted_answer("qwen-plus", scripted, [{"role": "user", "content": "hi"}])
    thinks = draw(st.booleans())
    choices = []
    for _ in range(draw(st.integers(1, 3))):
        text, thought = draw(TEXT), draw(TEXT) if thinks else ""
        spent = count_tokens(thought)
        choices.append(
            Choice(
                content=text,
                finish_reason=draw(st.sampled_from(["stop", "length"])),
                output_tokens=count_tokens(text) + spent,
                content_pieces=tuple(split_text(text)),
                reasoning=thought if thinks else None,
                reasoning_pieces=tuple(split_text(thought)),
                reasoning_tokens=spent,
            )
        )
    return Answer("qwen-plus", tuple(choices), 9, thinks=thinks)


def _arguments(calls: list[dict[str, Any]]) -> dict[int, str]:
    joined: dict[int, str] = {}
    for call in calls:
        joined[call["index"]] = joined.get(call["index"], "") + call["function"]["arguments"]
    return joined


@given(answer=answers(), incremental=st.booleans(), as_message=st.booleans())
@settings(max_examples=150, deadline=None)
def test_native_streams_rebuild_the_body(answer: Answer, incremental: bool, as_message: bool) -> None:
    as_message = as_message or answer.many  # the endpoint refuses n > 1 in the text format
    body = native_body(answer, as_message=as_message)
    chunks = list(native_chunks(answer, as_message=as_message, incremental=incremental))
    assert chunks[-1]["usage"]["output_tokens"] == body["usage"]["output_tokens"] or answer.many
    if "choices" not in body["output"]:
        texts = [c["output"]["text"] for c in chunks]
        assert ("".join(texts) if incremental else texts[-1]) == body["output"]["text"]
        assert chunks[-1]["output"]["finish_reason"] == body["output"]["finish_reason"]
        return
    for index, expected in enumerate(body["output"]["choices"]):
        mine = [c["output"]["choices"][0] for c in chunks if c["output"]["choices"][0].get("index", 0) == index]
        messages = [c["message"] for c in mine]
        content = "".join(m["content"] for m in messages) if incremental else messages[-1]["content"]
        assert content == expected["message"]["content"]
        assert mine[-1]["finish_reason"] == expected["finish_reason"]
        assert all(c["finish_reason"] == UNFINISHED for c in mine[:-1])
        if "tool_calls" in expected["message"]:
            got = [t for m in messages for t in m.get("tool_calls", [])]
            wanted = _arguments(expected["message"]["tool_calls"])
            assert (_arguments(got) if incremental else _arguments(messages[-1]["tool_calls"])) == wanted


@given(answer=answers(), include_usage=st.booleans())
@settings(max_examples=150, deadline=None)
def test_compatible_streams_rebuild_the_body(answer: Answer, include_usage: bool) -> None:
    body = compatible_body(answer, HEAD)
    chunks = list(compatible_chunks(answer, HEAD, include_usage=include_usage))
    assert (chunks[-1]["usage"] == body["usage"]) if include_usage else all("usage" not in c for c in chunks)
    for expected in body["choices"]:
        deltas = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["index"] == expected["index"]]
        assert "".join(d["delta"].get("content") or "" for d in deltas) == expected["message"]["content"]
        reasoning = "".join(d["delta"].get("reasoning_content") or "" for d in deltas)
        assert reasoning == (expected["message"].get("reasoning_content") or "")
        calls = [t for d in deltas for t in d["delta"].get("tool_calls", [])]
        assert _arguments(calls) == _arguments(expected["message"].get("tool_calls", []))
        assert deltas[-1]["finish_reason"] == expected["finish_reason"]


@given(answer=answers(), incremental=st.booleans())
@settings(max_examples=100, deadline=None)
def test_multimodal_streams_rebuild_the_body(answer: Answer, incremental: bool) -> None:
    body = multimodal_body(answer)
    chunks = list(multimodal_chunks(answer, incremental=incremental))
    for index, expected in enumerate(body["output"]["choices"]):
        mine = [c["output"]["choices"][0] for c in chunks if c["output"]["choices"][0].get("index", 0) == index]
        parts = [p["text"] for c in mine for p in c["message"]["content"]] if incremental else None
        text = "".join(parts) if parts is not None else "".join(p["text"] for p in mine[-1]["message"]["content"])
        assert text == "".join(p["text"] for p in expected["message"]["content"])


@given(answer=answers())
@settings(max_examples=100, deadline=None)
def test_responses_events_rebuild_the_body(answer: Answer) -> None:
    head = ResponseHead("resp_1", 1, "qwen-plus", tuple(f"msg_{n:04d}" for n in range(8)), {"tools": []})
    body = responses_body(answer, head)
    events = list(responses_events(answer, head))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["response"] == body and events[0]["type"] == "response.created"
    for item in body["output"]:
        if item["type"] == "message":
            deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
            assert "".join(deltas) == item["content"][0]["text"]
        if item["type"] == "function_call":
            pieces = [e["delta"] for e in events if e.get("item_id") == item["id"] and "arguments.delta" in e["type"]]
            assert json.loads("".join(pieces)) == json.loads(item["arguments"])


def test_cumulative_streams_are_lazy() -> None:
    """A long cumulative stream's first chunks come without building the others (each would hold the text so far)."""
    text = "word " * 200_000
    choice = Choice(text, "stop", count_tokens(text), content_pieces=tuple(split_text(text)))
    answer = Answer("qwen-plus", (choice,), 9, scripted=True)
    first = list(islice(native_chunks(answer, as_message=True, incremental=False), 3))
    assert first[2]["output"]["choices"][0]["message"]["content"] == "word " * 6
