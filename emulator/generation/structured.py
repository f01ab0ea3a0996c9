"""Structured output (reference 2026-apps §1): ``response_format`` ``json_object`` and ``json_schema``.

The answer is JSON text in ``content`` (one line), streamed like any text, so
the chunks join to the same JSON.  ``json_schema`` answers an instance of the schema, built by the generator
tool-call arguments use (``synth.toolargs``); ``json_object`` answers an instance of a JSON schema the messages
carry (what instructor's and LangChain's JSON modes put in a system message), else ``{"answer": <the model's
prose>}``.  The service's 400s: ``json_object`` without the word "json" in a system/user message; JSON mode with
thinking on (models before Qwen3.7); a model that does not support the format ("Unknown format ...", the
service's wording for a type it does not take).  A schema is bounded (``MAX_SCHEMA_NODES``) before any work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.catalog import structured_output_formats
from emulator.errors import InvalidParameter
from emulator.synth.text import content_text
from emulator.synth.toolargs import INSTANCE_BUDGET, SchemaTooComplex, json_instance, schema_size

ALGO = "<400> InternalError.Algo.InvalidParameter: "
NEEDS_JSON_WORD = (
    ALGO + "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
)
NOT_WITH_THINKING = ALGO + "Json mode response is not supported when enable_thinking is true"
MAX_SCHEMA_NODES = 4000
"""Nodes a ``json_schema`` (or a schema embedded in the messages) may have: generation stays far under 50 ms."""
MAX_SCAN = 64 * 1024
"""Characters of a message searched for an embedded schema."""
_KEYWORD_ROLES = ("system", "developer", "user")
_THINKING_JSON = ("qwen3.7", "qwen3.8")
"""Models that answer JSON with thinking on (reasoning first, JSON in ``content``; reference §1.2)."""


@dataclass(frozen=True)
class OutputFormat:
    kind: str
    """``json_object`` or ``json_schema``"""
    name: str = ""
    schema: Any = None
    strict: bool = False


def unknown_format(kind: object) -> InvalidParameter:
    return InvalidParameter(
        "Unknown format of response_format, response_format should be a dict, includes 'type' and an optional key "
        f"'json_schema'. The response_format type from user is {kind}.",
        param="response_format",
    )


def output_format(response_format: Mapping[str, Any] | None, prefix: str = "") -> OutputFormat | None:
    """The requested format (None for text); the 400s for a malformed or oversized one."""
    if response_format is None:
        return None
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json_object")
    if kind != "json_schema":
        raise unknown_format(kind)
    spec = response_format.get("json_schema")
    where = f"{prefix}response_format.json_schema"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("schema", {}), Mapping):
        raise InvalidParameter(f'{where} must be {{"name": ..., "schema": {{...}}}}.', param=where)
    schema = spec.get("schema", {})
    if schema_size(schema, MAX_SCHEMA_NODES) > MAX_SCHEMA_NODES:
        raise InvalidParameter(f"{where}.schema is too large: at most {MAX_SCHEMA_NODES} nodes.", param=where)
    strict = spec.get("strict", response_format.get("strict", False))  # inside json_schema, or beside it (§4 Q2)
    name = spec.get("name")
    return OutputFormat("json_schema", name if isinstance(name, str) else "", dict(schema), strict is True)


def check_format(fmt: OutputFormat, model: str, messages: Sequence[Mapping[str, Any]], *, thinks: bool) -> None:
    """What the service refuses for this model and these messages."""
    if fmt.kind not in structured_output_formats(model):
        raise unknown_format(fmt.kind)
    if thinks and not model.lower().startswith(_THINKING_JSON):
        raise InvalidParameter(NOT_WITH_THINKING)
    if fmt.kind == "json_object" and not any(
        m.get("role") in _KEYWORD_ROLES and "json" in content_text(m.get("content")).lower() for m in messages
    ):
        raise InvalidParameter(NEEDS_JSON_WORD)


def instance(fmt: OutputFormat, messages: Sequence[Mapping[str, Any]], seed: int, prose: str | None) -> Any:
    """The JSON value the model answers; ``prose`` is its plain answer (for ``json_object`` without a schema)."""
    schema = fmt.schema if fmt.kind == "json_schema" else embedded_schema(messages)
    if schema is None:
        return {"answer": prose or ""}
    try:
        return json_instance(schema, seed, salt=fmt.name)
    except SchemaTooComplex:
        raise InvalidParameter(
            f"response_format.json_schema.schema is too complex: an instance needs more than {INSTANCE_BUDGET} "
            "schema visits ($ref/allOf fan-out).",
            param="response_format",
        ) from None


def json_text(value: Any) -> str:
    """One line, as OpenAI-style structured answers come (the native 2024 recording's pretty-printing was that
    model's choice; either parses the same, and a shorter answer streams in fewer chunks)."""
    return json.dumps(value, ensure_ascii=False)


def embedded_schema(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The largest JSON schema (an object with ``properties``) written into a system or user message, if any."""
    best: dict[str, Any] | None = None
    decoder = json.JSONDecoder()
    for message in messages:
        if message.get("role") not in _KEYWORD_ROLES:
            continue
        text = content_text(message.get("content"))[:MAX_SCAN]
        start = text.find("{")
        tries = 0
        while start != -1 and tries < 64:
            tries += 1
            try:
                value, end = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if _is_schema(value) and (best is None or end - start > len(json.dumps(best))):
                best = value
            start = text.find("{", end)
    return best


def _is_schema(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("properties"), dict)
        and schema_size(value, MAX_SCHEMA_NODES) <= MAX_SCHEMA_NODES
    )
