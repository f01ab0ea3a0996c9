"""The multimodal endpoint's shapes (reference §1): ``message.content`` is a list of ``{"text": ..}`` parts, usage
the 2025 superset (``input_tokens_details``/``output_tokens_details``/``prompt_tokens_details`` and the legacy
``image_tokens``).

A model's answer streams as the 2025 recordings do: incremental chunks end with ``"content": []`` and the finish
reason; cumulative chunks carry the whole text so far; a thinking model streams its ``reasoning_content`` first
(``content: []``), and the key is absent once the answer starts (§5.2).  A scripted answer keeps the native
message shapes with its text as parts, and the plain native usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from emulator.generation.answer import Answer, Choice
from emulator.generation.renderers.native import UNFINISHED, native_body, native_chunks


def multimodal_usage(answer: Answer, output_tokens: int | None = None, reasoning: int | None = None) -> dict[str, Any]:
    output = answer.output_tokens if output_tokens is None else output_tokens
    reasoning = answer.reasoning_tokens if reasoning is None else reasoning
    media = {f"{kind}_tokens": tokens for kind, tokens in answer.media_tokens.items()}
    text_in = answer.input_tokens - sum(answer.media_tokens.values())
    output_details: dict[str, int] = {"text_tokens": output - reasoning}
    if answer.thinks:
        output_details["reasoning_tokens"] = reasoning
    return {
        "input_tokens": answer.input_tokens,
        "output_tokens": output,
        "total_tokens": answer.input_tokens + output,
        "input_tokens_details": {"text_tokens": text_in, **media},
        "output_tokens_details": output_details,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
        **media,
    }


def _message(text: str | None, reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": [{"text": text}] if text else []}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return message


def multimodal_body(answer: Answer) -> dict[str, Any]:
    if answer.scripted:
        body = native_body(answer, as_message=True)
        if answer.rule_id is not None:  # a response rule's answer: the native usage, as rules have always had
            return {**body, "output": _as_parts(body["output"], answer)}
        return {"output": _as_parts(body["output"], answer), "usage": multimodal_usage(answer)}
    choices = []
    for index, c in enumerate(answer.choices):
        choice: dict[str, Any] = {"finish_reason": c.finish_reason, "message": _message(c.content, c.reasoning)}
        if answer.many:
            choice["index"] = index
        choices.append(choice)
    return {"output": {"choices": choices}, "usage": multimodal_usage(answer)}


def multimodal_chunks(answer: Answer, *, incremental: bool) -> Iterator[dict[str, Any]]:
    if answer.scripted:
        for chunk in native_chunks(answer, as_message=True, incremental=incremental):
            usage = chunk["usage"]
            if answer.rule_id is None:  # the model's own tool calls: the multimodal usage (recorded)
                details = usage.get("output_tokens_details") or {}
                usage = multimodal_usage(answer, usage["output_tokens"], details.get("reasoning_tokens", 0))
            yield {"output": _as_parts(chunk["output"], answer), "usage": usage}
        return
    plans = [_plan(answer, c, incremental) for c in answer.choices]
    for row in zip_longest(*plans):
        for index, item in enumerate(row):
            if item is None:
                continue
            message, finish, output_tokens, reasoning_tokens = item
            choice: dict[str, Any] = {"message": message, "finish_reason": finish}
            if answer.many:
                choice["index"] = index
            yield {"output": {"choices": [choice]}, "usage": multimodal_usage(answer, output_tokens, reasoning_tokens)}


def _plan(answer: Answer, choice: Choice, incremental: bool) -> Iterator[tuple[dict[str, Any], str, int, int]]:
    """(message, finish_reason, output tokens so far, reasoning tokens so far) per chunk of one choice."""
    text = ""
    steps = choice.steps(even=False)
    step = next(steps, None)
    sent = False
    while step is not None:
        following = next(steps, None)
        if step.kind == "reasoning":
            yield _message(None, step.text), UNFINISHED, step.output_tokens, step.reasoning_tokens
        else:
            text += step.text
            last = following is None  # the last piece carries the finish reason (recorded: cnblogs multimodal-*-sse)
            message = _message(step.text if incremental else text)
            yield message, choice.finish_reason if last else UNFINISHED, step.output_tokens, step.reasoning_tokens
            sent = True
        step = following
    if not sent:
        closing = _message(None) if incremental else _message(text)
        yield closing, choice.finish_reason, choice.output_tokens, choice.reasoning_tokens


def _as_parts(output: dict[str, Any], answer: Answer) -> dict[str, Any]:
    """A native message's content as parts; the model's own tool calls number their choice only when there are
    several (the recorded multimodal tool-call streams carry no ``index``, unlike the text endpoint's)."""
    keep_index = answer.many or answer.rule_id is not None
    choices = [
        {
            **{k: v for k, v in c.items() if k != "index" or keep_index},
            "message": {**c["message"], "content": [{"text": t}] if (t := c["message"]["content"]) else []},
        }
        for c in output.get("choices", [])
    ]
    return {**output, "choices": choices}
