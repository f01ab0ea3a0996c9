"""Tool use without scripting: a deterministic stand-in for a model's choice to call a function.

The policy (``docs/structured-output-and-tools.md``; turned off by ``--no-tool-policy``, when only a forced
``tool_choice`` calls):

* ``tool_choice: "none"`` never calls; a function object always calls that function.
* After tool results (the conversation ends with ``tool`` messages) the model answers in prose that quotes them.
* ``"auto"`` (or no ``tool_choice``): a tool is *relevant* when the last user message shares words with its name
  (2 points a word), or its description and parameter names (1 point a word) and scores at least 2.  The most
  relevant tool is called; with ``parallel_tool_calls: true`` every relevant tool is.  No relevant tool: prose.
* ``"required"`` calls the most relevant tool (the first one when none relates).

Arguments are drawn from the message where the schema allows (an enum value it names, a number it gives, a quoted
phrase, a place after "in"/"for"/"at", a proper noun, the whole message for query-like strings) and generated
from the schema otherwise (``synth.toolargs``), so they validate against it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.synth.text import content_text
from emulator.synth.tokens import is_chinese

NAME_WEIGHT = 2
RELEVANT = 2
MAX_RESULT_CHARS = 2000
"""Characters of each tool result quoted in the final answer."""
_WORD_RE = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+|[\u4e00-\u9fff]")
_STOP = frozenset(
    "a an the of in on at to for from by with and or is are be was what whats which who how when where why do does "
    "can could would should please me my i you your it its this that get set fetch call use tool function "
    "return returns value values given some any tell show find give need want like about there here today now".split()
)
_QUERY_NAMES = ("query", "q", "question", "prompt", "text", "input", "message", "content", "search", "keywords")
_PLACE_NAMES = ("location", "city", "place", "region", "country", "address", "destination")
_QUOTED_RE = re.compile(r"\"([^\"]{1,200})\"|'([^']{1,200})'|“([^”]{1,200})”")
_PLACE_RE = re.compile(r"\b(?:in|for|at|to|near|from)\s+([A-Z][\w\-]*(?:\s+[A-Z][\w\-]*)*)")
_PROPER_RE = re.compile(r"\b[A-Z][a-z][\w\-]*")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?]\s+)$")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class ToolResult:
    name: str
    content: str


def words(text: str) -> set[str]:
    """Lower-case content words (camelCase and snake_case split; each CJK character a word)."""
    return {w.lower() for w in _WORD_RE.findall(text)} - _STOP


def relevance(tool: Mapping[str, Any], asked: set[str]) -> int:
    function = tool.get("function")
    if not isinstance(function, Mapping):
        return 0
    name = words(str(function.get("name", "")))
    described = words(str(function.get("description") or ""))
    parameters = function.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    if isinstance(properties, Mapping):
        for key, spec in list(properties.items())[:64]:
            described |= words(str(key))
            if isinstance(spec, Mapping):
                described |= words(str(spec.get("description") or ""))
    return NAME_WEIGHT * len(name & asked) + len((described - name) & asked)


def choose(
    tools: Sequence[Mapping[str, Any]], tool_choice: object, last_user: str, *, parallel: bool
) -> list[Mapping[str, Any]]:
    """The function definitions the model calls (``auto`` or ``required``), most relevant first."""
    functions = [t for t in tools if isinstance(t.get("function"), Mapping)]
    if not functions or tool_choice == "none":
        return []
    asked = words(last_user)
    scored = sorted(((relevance(t, asked), i) for i, t in enumerate(functions)), key=lambda p: (-p[0], p[1]))
    chosen = [functions[i] for score, i in scored if score >= RELEVANT]
    if tool_choice == "required" and not chosen:
        chosen = [functions[scored[0][1]]]
    return chosen if parallel else chosen[:1]


def tool_results(messages: Sequence[Mapping[str, Any]]) -> list[ToolResult]:
    """The tool messages that end the conversation, named after the calls they answer."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    out: list[ToolResult] = []
    for message in reversed(messages):
        if message.get("role") not in ("tool", "function"):
            break
        name = message.get("name") or names.get(str(message.get("tool_call_id")), "tool")
        out.append(ToolResult(str(name), content_text(message.get("content"))[:MAX_RESULT_CHARS]))
    return out[::-1]


def answer_from_results(results: Sequence[ToolResult], question: str) -> str:
    """The prose a model writes once its tools answered: it uses (quotes) each result."""
    if is_chinese(question):
        parts = [f"根据 {r.name} 的结果：{r.content.strip()}" for r in results]
        return "；".join(parts) + "。"
    parts = [f"According to {r.name}: {r.content.strip()}" for r in results]
    return " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)


def drawn_arguments(parameters: Any, message: str, generated: dict[str, Any]) -> dict[str, Any]:
    """``generated`` (valid for the schema) with the top-level values the message gives put in their place."""
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    if not isinstance(properties, Mapping):
        return generated
    out = dict(generated)
    numbers = [float(n) for n in _NUMBER_RE.findall(message)]
    for key, spec in list(properties.items())[:64]:
        if not isinstance(spec, Mapping):
            continue
        value = _from_message(str(key), spec, message, numbers)
        if value is not None:
            out[key] = value
    return out


def _from_message(key: str, spec: Mapping[str, Any], message: str, numbers: list[float]) -> Any:
    enum = spec.get("enum")
    if isinstance(enum, list):
        lowered = message.lower()
        return next((v for v in enum if isinstance(v, str) and v and v.lower() in lowered), None)
    kind = spec.get("type")
    if kind in ("integer", "number") and numbers:
        value = numbers[0]
        if kind == "integer" and not value.is_integer():
            return None
        value_out: float | int = int(value) if kind == "integer" else value
        low, high = spec.get("minimum"), spec.get("maximum")
        if isinstance(low, int | float) and value_out < low or isinstance(high, int | float) and value_out > high:
            return None
        return value_out
    if kind != "string" or "format" in spec or "pattern" in spec:
        return None
    text = _string_for(key.lower(), message)
    if text is None:
        return None
    low, high = spec.get("minLength"), spec.get("maxLength")
    if isinstance(low, int) and len(text) < low or isinstance(high, int) and len(text) > high:
        return None
    return text


def _string_for(key: str, message: str) -> str | None:
    quoted = _QUOTED_RE.search(message)
    if quoted is not None:
        return next(g for g in quoted.groups() if g)
    if any(part in key for part in _PLACE_NAMES):
        place = _PLACE_RE.search(message)
        return place.group(1) if place is not None else None
    if key in _QUERY_NAMES or key.endswith(("query", "question", "text")):
        return message.strip()[:500] or None
    if "name" in key:
        return _proper_noun(message)
    return None


def _proper_noun(message: str) -> str | None:
    """The first capitalised word that does not start a sentence."""
    for match in _PROPER_RE.finditer(message[:2000]):
        if not _SENTENCE_START_RE.search(message[: match.start()]) and match.group(0).lower() not in _STOP:
            return match.group(0)
    return None
