"""The requests whose answers the golden files hold: every protocol, stream mode, thinking mode and reply source.

``cases()`` is a pure function of ``SEED``: the capture script (run once against the code before the generation
pipeline, see ``capture.py``) and the property test build the very same list.  A case is a request plus the
response rule to post first (None: the model's own answer).
"""

from __future__ import annotations

import random
from typing import Any

SEED = 20261207
NATIVE = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
OPENAI = "/compatible-mode/v1/chat/completions"
SSE = {"X-DashScope-SSE": "enable"}

PROMPTS = (
    "How do I learn Python programming quickly?",
    "What is the weather like in Hangzhou today?",
    "请介绍一下杭州的西湖。",
    "Summarise the report in two sentences.",
    "你好",
)
TEXT_MODELS = ("qwen-max", "qwen-plus", "qwen3-8b", "qwen-turbo")
VISION_MODELS = ("qwen-vl-max", "qwen3-vl-8b-thinking", "qwen3.5-27b")
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["location"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}},
}
_WORDS = "alpha beta gamma delta the model answers with care 你好 世界 天气 很好 今天 杭州".split()


def _text(rng: random.Random, low: int = 0, high: int = 30) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(low, high))]
    chinese = rng.random() < 0.3
    return ("" if chinese else " ").join(words)


def _rule(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(("content", "reasoning", "tools", "content+tools", "usage", "empty", "finish"))
    rule: dict[str, Any] = {}
    if kind in ("content", "reasoning", "usage", "finish", "content+tools"):
        rule["content"] = _text(rng, 1)
    if kind == "empty":
        rule["content"] = ""
    if kind == "reasoning":
        rule["reasoning_content"] = _text(rng, 1)
    if kind in ("tools", "content+tools"):
        rule["tool_calls"] = [
            {"name": rng.choice(("get_current_weather", "get_time")), "arguments": {"location": _text(rng, 1, 4)}}
            for _ in range(rng.randint(1, 2))
        ]
    if kind == "usage":
        rule["usage"] = {"input_tokens": rng.randint(1, 500), "output_tokens": rng.randint(1, 500)}
    if kind == "finish":
        rule["finish_reason"] = "length"
    return rule


def _messages(rng: random.Random, prompt: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": "You are a helpful assistant."})
    messages.append({"role": "user", "content": prompt})
    return messages


def _sampling(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rng.random() < 0.6:
        out["max_tokens"] = rng.choice((5, 20, 60, 120))
    if rng.random() < 0.5:
        out["seed"] = rng.randint(0, 1000)
    if rng.random() < 0.2:
        out["temperature"] = rng.choice((0.0, 0.5, 1.5))
    if rng.random() < 0.15:
        out["stop"] = rng.choice(("the", ["a", "。"]))
    return out


def _tools(rng: random.Random, scripted: bool) -> dict[str, Any]:
    if rng.random() < 0.6:
        return {}
    out: dict[str, Any] = {"tools": [WEATHER, TIME][: rng.randint(1, 2)]}
    choice = rng.choice(("auto", "none", "required", "forced", None))
    if choice == "forced":
        out["tool_choice"] = {"type": "function", "function": {"name": "get_current_weather"}}
    elif choice is not None:
        out["tool_choice"] = choice
    return out


def _thinking(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.25:
        return {"enable_thinking": True}
    if roll < 0.4:
        return {"enable_thinking": False}
    if roll < 0.5:
        return {"enable_thinking": True, "thinking_budget": rng.choice((5, 40))}
    return {}


def _native(rng: random.Random) -> dict[str, Any]:
    parameters = {**_sampling(rng), **_thinking(rng), **_tools(rng, False)}
    if rng.random() < 0.6:
        parameters["result_format"] = "message"
        if rng.random() < 0.3:
            parameters["n"] = 2
    if rng.random() < 0.7:
        parameters["incremental_output"] = rng.random() < 0.6
    prompt = rng.choice(PROMPTS)
    given: dict[str, Any] = {"messages": _messages(rng, prompt)} if rng.random() < 0.85 else {"prompt": prompt}
    body = {"model": rng.choice(TEXT_MODELS), "input": given, "parameters": parameters}
    return {"path": NATIVE, "body": body, "headers": SSE if rng.random() < 0.6 else {}}


def _multimodal(rng: random.Random) -> dict[str, Any]:
    parameters = {**_sampling(rng), **_thinking(rng)}
    if rng.random() < 0.7:
        parameters["incremental_output"] = rng.random() < 0.6
    content: list[dict[str, Any]] = [{"text": rng.choice(PROMPTS)}]
    if rng.random() < 0.7:
        content.insert(0, {"image": f"https://cdn.example.com/pics/{rng.choice(('dog', 'cat'))}.jpg"})
    body = {
        "model": rng.choice(VISION_MODELS),
        "input": {"messages": [{"role": "user", "content": content}]},
        "parameters": parameters,
    }
    return {"path": MULTIMODAL, "body": body, "headers": SSE if rng.random() < 0.6 else {}}


def _openai(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"model": rng.choice(TEXT_MODELS), **_sampling(rng), **_tools(rng, False)}
    thinking = _thinking(rng)
    body.update(thinking)
    prompt = rng.choice(PROMPTS)
    messages = _messages(rng, prompt)
    if rng.random() < 0.2:
        body["model"] = rng.choice(("qwen-vl-max", "qwen3.5-27b"))
        messages[-1]["content"] = [
            {"type": "image_url", "image_url": {"url": "https://cdn.example.com/pics/dog.jpg"}},
            {"type": "text", "text": prompt},
        ]
    body["messages"] = messages
    if rng.random() < 0.3:
        body["n"] = 2
    if rng.random() < 0.6:
        body["stream"] = True
        if rng.random() < 0.5:
            body["stream_options"] = {"include_usage": True}
    return {"path": OPENAI, "body": body, "headers": {}}


def cases(count: int = 600) -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    out = []
    for number in range(count):
        case = rng.choice((_native, _multimodal, _openai))(rng)
        case["rule"] = _rule(rng) if rng.random() < 0.4 else None
        case["id"] = number
        out.append(case)
    return out
