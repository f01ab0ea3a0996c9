"""The Responses API's shapes (reference 2026-apps §3): the ``response`` object and its event stream.

Output items: a ``reasoning`` item when the model thought, a ``message`` with one ``output_text`` part when it
said something, a ``function_call`` per call.  The stream (§3.4, §4 Q6/Q9): ``response.created`` (queued),
``response.in_progress``, then per item ``output_item.added`` → its deltas (``reasoning_text``,
``content_part.added`` + ``output_text``, ``function_call_arguments``) → their ``done`` events →
``output_item.done``, and ``response.completed`` (or ``response.incomplete``) with the whole object.  Every event
carries ``type`` and ``sequence_number`` from 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emulator.generation.answer import Answer, Choice, arguments_json


@dataclass(frozen=True)
class ResponseHead:
    """What the response object says besides its output: ids, and the request's echoed fields."""

    id: str
    created_at: int
    model: str
    item_ids: tuple[str, ...]
    """Ids for the output items, in order (``msg_``/``fc_`` + a uuid); at least as many as items."""
    echo: dict[str, Any]


def output_items(answer: Answer, head: ResponseHead) -> list[dict[str, Any]]:
    choice = answer.choices[0]
    items: list[dict[str, Any]] = []
    ids = iter(head.item_ids)
    if choice.reasoning:
        text = choice.reasoning
        items.append({"id": next(ids), "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
    if choice.content or not choice.tool_calls:
        items.append(_message(next(ids), choice.content, "completed"))
    for call in choice.tool_calls:
        items.append(_call(f"fc_{next(ids)[4:]}", call.id, call.name, arguments_json(call), "completed"))
    return items


def _message(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def _call(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def responses_usage(answer: Answer) -> dict[str, Any]:
    total = answer.input_tokens + answer.output_tokens
    return {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": answer.cached_tokens},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": total,
        "x_details": [
            {
                "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens,
                "total_tokens": total,
                "x_billing_type": "response_api",
            }
        ],
    }


def status_of(answer: Answer) -> str:
    return "incomplete" if answer.choices[0].finish_reason == "length" else "completed"


def response_object(
    head: ResponseHead, *, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": head.id,
        "object": "response",
        "created_at": head.created_at,
        "model": head.model,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "output": output,
        **head.echo,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def responses_body(answer: Answer, head: ResponseHead) -> dict[str, Any]:
    status = status_of(answer)
    return response_object(head, status=status, output=output_items(answer, head), usage=responses_usage(answer))


def failed_body(head: ResponseHead, code: str, message: str) -> dict[str, Any]:
    body = response_object(head, status="failed", output=[], usage=None)
    body["error"] = {"code": code, "message": message}
    return body


def responses_events(answer: Answer, head: ResponseHead) -> Iterator[dict[str, Any]]:
    """The stream's event payloads, lazily, numbered by ``sequence_number``."""
    number = 0
    for event in _events(answer, head):
        yield {"type": event.pop("type"), "sequence_number": number, **event}
        number += 1


def _events(answer: Answer, head: ResponseHead) -> Iterator[dict[str, Any]]:
    yield {"type": "response.created", "response": response_object(head, status="queued", output=[], usage=None)}
    yield {
        "type": "response.in_progress",
        "response": response_object(head, status="in_progress", output=[], usage=None),
    }
    choice = answer.choices[0]
    items = output_items(answer, head)
    for index, item in enumerate(items):
        yield from _item_events(choice, item, index)
    status = status_of(answer)
    body = response_object(head, status=status, output=items, usage=responses_usage(answer))
    yield {"type": "response.incomplete" if status == "incomplete" else "response.completed", "response": body}


def _item_events(choice: Choice, item: dict[str, Any], index: int) -> Iterator[dict[str, Any]]:
    item_id, kind = item["id"], item["type"]
    where = {"item_id": item_id, "output_index": index}
    if kind == "reasoning":
        yield {"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": []}}
        for piece in choice.reasoning_pieces:
            yield {"type": "response.reasoning_text.delta", **where, "content_index": 0, "delta": piece}
        yield {"type": "response.reasoning_text.done", **where, "content_index": 0, "text": choice.reasoning or ""}
    elif kind == "message":
        yield {
            "type": "response.output_item.added",
            "output_index": index,
            "item": _message(item_id, None, "in_progress"),
        }
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield {"type": "response.content_part.added", **where, "content_index": 0, "part": part}
        for piece in choice.content_pieces:
            yield {"type": "response.output_text.delta", **where, "content_index": 0, "delta": piece, "logprobs": []}
        text = choice.content
        yield {"type": "response.output_text.done", **where, "content_index": 0, "text": text, "logprobs": []}
        yield {"type": "response.content_part.done", **where, "content_index": 0, "part": {**part, "text": text}}
    else:
        added = _call(item_id, item["call_id"], item["name"], "", "in_progress")
        yield {"type": "response.output_item.added", "output_index": index, "item": added}
        arguments = item["arguments"]
        for start in range(0, len(arguments), 12):
            yield {"type": "response.function_call_arguments.delta", **where, "delta": arguments[start : start + 12]}
        yield {"type": "response.function_call_arguments.done", **where, "name": item["name"], "arguments": arguments}
    yield {"type": "response.output_item.done", "output_index": index, "item": item}
