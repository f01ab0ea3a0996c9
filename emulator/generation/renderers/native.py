"""Native text generation's shapes (reference §6): ``output`` as text or message choices, SSE chunk payloads.

Tool calls always answer in the message shape (the service needs ``message`` for tools).  Streams give each
step (incremental) or everything so far (cumulative); output tokens grow to the total; incremental streams end
with an empty chunk that carries the finish reason, as the service's do.  With n > 1 the choices take turns, one
choice (with its index) per chunk; a thinking answer streams each choice's reasoning then its answer in turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import zip_longest
from typing import Any

from emulator.generation.answer import Answer, Choice, Step, tool_call_objects
from emulator.generation.logprobs import logprobs_object

UNFINISHED = "null"
"""``finish_reason`` of every chunk but the last: the *string* "null" (reference §6.2)."""


def native_usage(
    answer: Answer, output_tokens: int | None = None, reasoning_tokens: int | None = None
) -> dict[str, Any]:
    output = answer.output_tokens if output_tokens is None else output_tokens
    usage: dict[str, Any] = {
        "input_tokens": answer.input_tokens,
        "output_tokens": output,
        "total_tokens": answer.input_tokens + output,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
    }
    if answer.thinks:
        usage["output_tokens_details"] = {
            "reasoning_tokens": answer.reasoning_tokens if reasoning_tokens is None else reasoning_tokens
        }
    return usage


def message(choice: Choice) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": choice.content}
    if choice.reasoning is not None:
        out["reasoning_content"] = choice.reasoning
    if choice.tool_calls:
        out["tool_calls"] = tool_call_objects(choice.tool_calls)
    return out


def message_format(answer: Answer, requested: bool) -> bool:
    return requested or answer.has_tool_calls


def native_output(answer: Answer, *, as_message: bool) -> dict[str, Any]:
    if not message_format(answer, as_message):
        first = answer.choices[0]
        return {"finish_reason": first.finish_reason, "text": first.content}
    choices = [_choice(message(c), c.finish_reason, i, answer.many) for i, c in enumerate(answer.choices)]
    for choice, c in zip(choices, answer.choices, strict=True):
        if c.logprobs is not None:
            choice["logprobs"] = logprobs_object(c.logprobs)
    return {"choices": choices}


def native_body(answer: Answer, *, as_message: bool) -> dict[str, Any]:
    return {"output": native_output(answer, as_message=as_message), "usage": native_usage(answer)}


def _choice(msg: dict[str, Any], finish: str, index: int, many: bool) -> dict[str, Any]:
    choice: dict[str, Any] = {"finish_reason": finish, "message": msg}
    if many:
        choice["index"] = index
    return choice


def native_chunks(answer: Answer, *, as_message: bool, incremental: bool) -> Iterator[dict[str, Any]]:
    """Chunk payloads (``output`` and ``usage``), one at a time."""
    as_message = message_format(answer, as_message)
    indexed = answer.many or answer.has_tool_calls  # the recorded tool-call streams number their choice
    sent = [0] * len(answer.choices)  # characters of each choice's content sent so far (for its logprobs)
    streams = [choice_chunks(answer, i, incremental=incremental) for i in range(len(answer.choices))]
    for index, msg, finish, output_tokens, reasoning_tokens in _in_turn(streams, sequential=answer.thinks):
        if as_message:
            choice = _choice(msg, finish, index, indexed)
            if answer.choices[index].logprobs is not None:
                choice["logprobs"] = _chunk_logprobs(answer.choices[index], msg, sent, index, incremental)
            output: dict[str, Any] = {"choices": [choice]}
        else:
            output = {"finish_reason": finish, "text": msg.get("content", "")}
        yield {"output": output, "usage": native_usage(answer, output_tokens, reasoning_tokens)}


def _chunk_logprobs(
    choice: Choice, msg: dict[str, Any], sent: list[int], index: int, incremental: bool
) -> dict[str, Any] | None:
    """The entries of the tokens this chunk carries: the delta's (incremental), or all so far (cumulative)."""
    text = msg.get("content") or ""
    if not incremental:
        return logprobs_object(choice.logprobs_of(0, len(text)))
    start = sent[index]
    sent[index] += len(text)
    return logprobs_object(choice.logprobs_of(start, start + len(text)))


ChunkPlan = tuple[int, dict[str, Any], str, int, int]
"""(choice index, message, finish reason, output tokens so far, reasoning tokens so far)"""


def _in_turn(streams: list[Iterator[ChunkPlan]], *, sequential: bool) -> Iterable[ChunkPlan]:
    if sequential:
        for stream in streams:
            yield from stream
        return
    for row in zip_longest(*streams):
        yield from (item for item in row if item is not None)


def choice_chunks(answer: Answer, index: int, *, incremental: bool) -> Iterator[ChunkPlan]:
    """One choice's chunks: the message of each step (or the message so far), lazily."""
    choice = answer.choices[index]
    so_far = _SoFar(choice)
    steps = choice.steps(even=answer.scripted)
    step = next(steps, None)
    sent = False
    while step is not None:
        following = next(steps, None)
        so_far.add(step)
        last = following is None and not incremental
        msg = so_far.delta(step) if incremental else so_far.message()
        yield index, msg, choice.finish_reason if last else UNFINISHED, step.output_tokens, step.reasoning_tokens
        step, sent = following, True
    if incremental or not sent:
        closing = so_far.closing(keep_reasoning=not answer.scripted) if incremental else so_far.message()
        yield index, closing, choice.finish_reason, choice.output_tokens, choice.reasoning_tokens


class _SoFar:
    """The message so far (cumulative streams), and each step's own message (incremental streams)."""

    def __init__(self, choice: Choice) -> None:
        self.choice = choice
        self.reasoning = ""
        self.content = ""
        self.arguments: list[str] = []

    def add(self, step: Step) -> None:
        if step.kind == "reasoning":
            self.reasoning += step.text
        elif step.kind == "content":
            self.content += step.text
        elif step.kind == "call":
            self.arguments.append("")
        else:
            self.arguments[step.call] += step.text

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.choice.reasoning is not None:
            out["reasoning_content"] = self.reasoning
        if self.arguments:
            calls = zip(self.choice.tool_calls, self.arguments, strict=False)
            out["tool_calls"] = [
                {"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": a}}
                for i, (c, a) in enumerate(calls)
            ]
        return out

    def delta(self, step: Step) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": step.text if step.kind == "content" else ""}
        if self.choice.reasoning is not None:
            out["reasoning_content"] = step.text if step.kind == "reasoning" else ""
        if step.kind == "call":
            call = self.choice.tool_calls[step.call]
            function = {"name": call.name, "arguments": ""}
            out["tool_calls"] = [{"index": step.call, "id": call.id, "type": "function", "function": function}]
        elif step.kind == "arguments":
            function = {"arguments": step.text}
            out["tool_calls"] = [{"index": step.call, "id": "", "type": "function", "function": function}]
        return out

    def closing(self, *, keep_reasoning: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": ""}
        if keep_reasoning and self.choice.reasoning is not None:
            out["reasoning_content"] = ""
        return out
