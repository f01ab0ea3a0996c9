"""The answer to a generation request, before any protocol shape: one type whatever the source.

A response rule, a tool call the request forced, a fine-tune's memory or a base model's synthetic text all end up
as an ``Answer``: choices with text, reasoning, tool calls, token counts, finish reasons (and room for logprobs and
structured content), which the renderers (``generation.renderers``) turn into each protocol's bytes.

Two flags keep the shapes each source always had: ``scripted`` answers (rules, forced calls) spread their token
count evenly over the streamed steps and keep the scripted-reply details of each protocol; ``thinks`` marks a
model's own reasoning, which every protocol reports in its usage and streams in its thinking shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from emulator.errors import InvalidParameter
from emulator.rules.scripted import Scripted, ToolCall
from emulator.synth.text import MESSAGE_OVERHEAD_TOKENS, Reply, content_text
from emulator.synth.tokens import count_tokens, is_chinese

ARGUMENT_PIECE = 12
"""Characters of a tool call's JSON arguments per streamed step."""
_WORDS_RE = re.compile(r"\S+\s*|\s+")

StepKind = Literal["reasoning", "content", "call", "arguments"]


@dataclass(frozen=True, slots=True)
class Step:
    """One streamed step of a choice: reasoning text, content text, a tool call's start or a piece of its
    arguments, with the output (and reasoning) tokens spent once it is sent."""

    kind: StepKind
    text: str
    call: int
    output_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True)
class TokenLogprob:
    """One output token with its log probability and the runners-up (``top``: (token, logprob) pairs)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Choice:
    content: str
    finish_reason: str
    output_tokens: int
    """This choice's output tokens, reasoning included."""
    content_pieces: tuple[str, ...] = ()
    reasoning: str | None = None
    reasoning_pieces: tuple[str, ...] = ()
    reasoning_tokens: int = 0
    tool_calls: tuple[ToolCall, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None
    parsed: Any = None
    """Structured content (a ``response_format`` answer's JSON value), None otherwise."""

    def logprobs_of(self, start: int, end: int) -> tuple[TokenLogprob, ...]:
        """The entries of the tokens that start in characters [start, end) of ``content``."""
        if not self.logprobs:
            return ()
        out, offset = [], 0
        for entry in self.logprobs:
            if start <= offset < end:
                out.append(entry)
            offset += len(entry.token)
            if offset >= end:
                break
        return tuple(out)

    def step_count(self) -> int:
        calls = sum(1 + -(-len(arguments_json(c)) // ARGUMENT_PIECE) for c in self.tool_calls)
        return len(self.reasoning_pieces) + len(self.content_pieces) + calls

    def steps(self, *, even: bool) -> Iterator[Step]:
        """Lazily, in order; ``even`` spreads ``output_tokens`` evenly (scripted answers), else each step counts
        the text sent so far (a model's answer: the reasoning first, then the answer on top of it)."""
        total, count = self.output_tokens, max(self.step_count(), 1)
        number = 0

        def spent(counted: int, reasoning: int) -> tuple[int, int]:
            return (total * number // count, 0) if even else (counted, reasoning)

        so_far = ""
        for piece in self.reasoning_pieces:
            number += 1
            so_far += piece
            tokens = count_tokens(so_far) if not even else 0
            yield Step("reasoning", piece, 0, *spent(tokens, tokens))
        text = ""
        for piece in self.content_pieces:
            number += 1
            text += piece
            tokens = self.reasoning_tokens + count_tokens(text) if not even else 0
            yield Step("content", piece, 0, *spent(tokens, self.reasoning_tokens))
        for index, call in enumerate(self.tool_calls):
            number += 1
            yield Step("call", "", index, *spent(total, self.reasoning_tokens))
            arguments = arguments_json(call)
            for start in range(0, len(arguments), ARGUMENT_PIECE):
                number += 1
                yield Step("arguments", arguments[start : start + ARGUMENT_PIECE], index, *spent(total, 0))


@dataclass(frozen=True)
class Answer:
    model: str
    choices: tuple[Choice, ...]
    input_tokens: int
    scripted: bool = False
    thinks: bool = False
    media_tokens: Mapping[str, int] = field(default_factory=dict)
    """Input tokens spent on images/videos/audio, by kind (included in ``input_tokens``)."""
    rule_id: str | None = None
    cached_tokens: int = 0

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int:
        return sum(c.reasoning_tokens for c in self.choices)

    @property
    def many(self) -> bool:
        return len(self.choices) > 1

    @property
    def has_tool_calls(self) -> bool:
        return any(c.tool_calls for c in self.choices)


# --------------------------------------------------------------------------------------------- sources


def scripted_answer(model: str, scripted: Scripted, messages: Iterable[Mapping[str, Any]]) -> Answer:
    """A rule's reply or a forced call: tokens counted from its text unless the rule states them."""
    content = scripted.content or ""
    reasoning = scripted.reasoning_content
    counted = count_tokens((reasoning or "") + content) + sum(
        count_tokens(c.name + arguments_json(c)) for c in scripted.tool_calls
    )
    choice = Choice(
        content=content,
        finish_reason=scripted.finish_reason,
        output_tokens=scripted.output_tokens if scripted.output_tokens is not None else counted,
        content_pieces=tuple(split_text(content)),
        reasoning=reasoning,
        reasoning_pieces=tuple(split_text(reasoning or "")),
        tool_calls=scripted.tool_calls,
    )
    given = scripted.input_tokens
    return Answer(
        model,
        (choice,),
        given if given is not None else input_tokens(messages),
        scripted=True,
        rule_id=scripted.rule_id,
    )


def generated_answer(
    model: str,
    replies: Sequence[Reply],
    reasoning: Sequence[Reply],
    input_tokens: int,
    media_tokens: Mapping[str, int],
) -> Answer:
    """The model's own replies, with each choice's reasoning when it thought (``reasoning`` empty otherwise)."""
    thinks = bool(reasoning)
    choices = []
    for index, reply in enumerate(replies):
        thought = reasoning[index] if thinks else None
        spent = thought.output_tokens if thought is not None else 0
        choices.append(
            Choice(
                content=reply.text,
                finish_reason=reply.finish_reason,
                output_tokens=reply.output_tokens + spent,
                content_pieces=reply.pieces,
                reasoning=thought.text if thought is not None else None,
                reasoning_pieces=thought.pieces if thought is not None else (),
                reasoning_tokens=spent,
            )
        )
    return Answer(model, tuple(choices), input_tokens, thinks=thinks, media_tokens=dict(media_tokens))


# --------------------------------------------------------------------------------------------- shared pieces


def incremental_output(answer: Answer, requested: bool | None, *, thinking_default: bool) -> bool:
    """Whether a stream sends deltas: a thinking answer streams only incrementally (reference §5.2).  The
    multimodal endpoint takes an absent ``incremental_output`` as true for it (``thinking_default``); native text
    generation asks for it explicitly."""
    if not answer.thinks:
        return bool(requested)
    if requested is False or (requested is None and not thinking_default):
        raise InvalidParameter(
            'The incremental_output parameter must be "true" when enable_thinking is true',
            param="parameters.incremental_output",
        )
    return True


def input_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Counted as ``synth.text`` counts a generated reply's input: text tokens plus the chat template's overhead."""
    return sum(count_tokens(content_text(m.get("content"))) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def arguments_json(call: ToolCall) -> str:
    return json.dumps(call.arguments, ensure_ascii=False, separators=(", ", ": "))


def tool_call_objects(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [
        {"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments_json(c)}}
        for i, c in enumerate(calls)
    ]


def split_text(text: str) -> list[str]:
    """Streamed pieces: 3 characters of Chinese, or 2 words with their spaces, a piece."""
    if not text:
        return []
    if is_chinese(text):
        return [text[i : i + 3] for i in range(0, len(text), 3)]
    words = _WORDS_RE.findall(text)
    return ["".join(words[i : i + 2]) for i in range(0, len(words), 2)]
