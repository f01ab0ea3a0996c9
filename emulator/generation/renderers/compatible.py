"""OpenAI-compatible chat completion shapes (reference §7.1): ``chat.completion`` and its chunk stream.

Streams: a role chunk, one delta per step (a tool call's first delta names it, the next ones carry argument
pieces), a finish chunk, per choice (choices take turns); then the usage chunk (``choices: []``) when
``stream_options.include_usage`` asked for it.  A thinking answer (reference §5.3) streams ``reasoning_content``
pieces with ``content: null`` first, then the answer with ``reasoning_content: null``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from emulator.generation.answer import Answer, Choice, Step
from emulator.generation.logprobs import logprobs_object
from emulator.generation.renderers.native import message


def compatible_usage(answer: Answer) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
    }
    if answer.thinks:
        usage["completion_tokens_details"] = {"reasoning_tokens": answer.reasoning_tokens}
    return usage


def compatible_body(answer: Answer, head: dict[str, Any]) -> dict[str, Any]:
    choices = [
        {"index": i, "message": message(c), "finish_reason": c.finish_reason, "logprobs": logprobs_object(c.logprobs)}
        for i, c in enumerate(answer.choices)
    ]
    return {
        **head,
        "object": "chat.completion",
        "choices": choices,
        "usage": compatible_usage(answer),
        "system_fingerprint": None,
    }


def compatible_chunks(answer: Answer, head: dict[str, Any], *, include_usage: bool) -> Iterator[dict[str, Any]]:
    base: dict[str, Any] = {**head, "object": "chat.completion.chunk", "system_fingerprint": None}
    if include_usage:
        base["usage"] = None
    streams = [_choice_chunks(answer, i) for i in range(len(answer.choices))]
    for row in zip_longest(*streams):
        for choice in row:
            if choice is not None:
                yield {**base, "choices": [choice]}
    if include_usage:
        yield {**base, "choices": [], "usage": compatible_usage(answer)}


def _choice_chunks(answer: Answer, index: int) -> Iterator[dict[str, Any]]:
    choice = answer.choices[index]
    role = (
        {"content": None, "role": "assistant", "reasoning_content": ""}
        if answer.thinks
        else {"role": "assistant", "content": ""}
    )
    yield {"index": index, "delta": role, "finish_reason": None, "logprobs": None}
    sent = 0
    for step in choice.steps(even=answer.scripted):
        logprobs = None
        if step.kind == "content" and choice.logprobs is not None:
            logprobs = logprobs_object(choice.logprobs_of(sent, sent + len(step.text)))
            sent += len(step.text)
        yield {"index": index, "delta": _delta(answer, choice, step), "finish_reason": None, "logprobs": logprobs}
    finish: dict[str, Any] = {"index": index, "delta": {}, "finish_reason": choice.finish_reason}
    if not answer.scripted:
        finish["logprobs"] = None
    yield finish


def _delta(answer: Answer, choice: Choice, step: Step) -> dict[str, Any]:
    if step.kind == "reasoning":
        return {"content": None, "reasoning_content": step.text}
    if step.kind == "content":
        return {"content": step.text, "reasoning_content": None} if answer.thinks else {"content": step.text}
    call = choice.tool_calls[step.call]
    if step.kind == "call":
        function = {"name": call.name, "arguments": ""}
        return {
            "content": None,
            "tool_calls": [{"index": step.call, "id": call.id, "type": "function", "function": function}],
        }
    return {"content": None, "tool_calls": [{"index": step.call, "function": {"arguments": step.text}}]}


def compatible_frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
