"""Structural comparison of two answers: status, error code, content type, key paths and value types, enum
values, id and time formats, SSE framing, incremental or not, the final event. Values never count otherwise:
ids, times, generated text and token counts differ by nature.

A ``Difference`` names a path (``$.output.choices[].finish_reason``, ``events[-1].data.usage``, ``status``), a kind
and both sides; ``Difference.key`` (``kind:path``) is what a deliberate-difference list names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Keys whose values are a closed set: they must match exactly.
ENUM_KEYS = frozenset(
    {
        "status",
        "task_status",
        "finish_reason",
        "object",
        "role",
        "type",
        "purpose",
        "training_type",
        "result_format",
        "code",
        "event",
        "action_type",
        "plan",
        "charge_type",
        "deployed_model_status",
    }
)
# ``code`` is an error code only where an error sits (the body, an error object, a failed upload)
_CODE_PATH = re.compile(r"(^\$|data|error|\])\.code$")
# Objects whose keys are data, not structure (model output, user maps): only their type counts.
FREE_KEYS = frozenset({"kv_result", "logit_bias", "metadata", "arguments", "properties", "extra"})
# Keys whose values are identifiers or times: their format must match (uuid, prefixed, digits, date forms).
_ID_KEY = re.compile(r"(^|_)(id|ids)$|^request_id$")
_TIME_KEY = re.compile(r"(^|_)(time|at|date|created|modified|gmt_create|gmt_modified)$|^created$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_HEX32 = re.compile(r"^[0-9a-f]{32}$", re.IGNORECASE)


@dataclass(frozen=True)
class Difference:
    path: str
    kind: str
    recorded: Any = None
    replayed: Any = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.path}"

    def __str__(self) -> str:
        return f"{self.kind} at {self.path}: recorded {self.recorded!r}, emulator {self.replayed!r}"


# ------------------------------------------------------------------------------------------------ value shapes


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def id_format(value: Any) -> str:
    """The shape of an identifier: ``uuid``, ``hex32``, ``digits``, or its literal prefix and the classes of the
    rest (``ft-D-X``, ``file-fe-X``, ``batch_uuid``)."""
    if not isinstance(value, str):
        return type_name(value)
    if _UUID.match(value):
        return "uuid"
    if _HEX32.match(value):
        return "hex32"
    if value.isdigit():
        return "digits"
    match = re.match(r"^([A-Za-z][A-Za-z]*(?:[-_][A-Za-z]+)*[-_])(.*)$", value)
    if match:
        return match.group(1) + id_format(match.group(2)).replace("string", "X")
    return "X"


def time_format(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return type_name(value)
    if isinstance(value, int | float):
        return "epoch-ms" if value > 10**11 else "epoch-s"
    if not isinstance(value, str):
        return type_name(value)
    shape = re.sub(r"\d", "9", value)
    shape = re.sub(r"\.9+", ".9", shape)  # fractional digits vary
    return shape


# ---------------------------------------------------------------------------------------------------- compare


def compare_json(recorded: Any, replayed: Any, path: str = "$") -> list[Difference]:
    """Key paths, types, enum values and id/time formats of ``replayed`` against ``recorded``."""
    out: list[Difference] = []
    _walk(recorded, replayed, path, None, out)
    return out


def _walk(recorded: Any, replayed: Any, path: str, key: str | None, out: list[Difference]) -> None:
    rt, pt = type_name(recorded), type_name(replayed)
    if rt != pt:
        out.append(Difference(path, "type", rt, pt))
        return
    if isinstance(recorded, Mapping):
        if key in FREE_KEYS:
            return
        for k in recorded:
            if k not in replayed:
                out.append(Difference(f"{path}.{k}", "missing", type_name(recorded[k]), None))
            else:
                _walk(recorded[k], replayed[k], f"{path}.{k}", k, out)
        for k in replayed:
            if k not in recorded:
                out.append(Difference(f"{path}.{k}", "extra", None, type_name(replayed[k])))
        return
    if isinstance(recorded, list):
        if recorded and not replayed:
            out.append(Difference(f"{path}[]", "empty", len(recorded), 0))
        elif recorded and replayed:
            # the first items of each side describe the element structure
            _walk(recorded[0], replayed[0], f"{path}[]", key, out)
        return
    if key is not None:
        _leaf(recorded, replayed, path, key, out)


def _leaf(recorded: Any, replayed: Any, path: str, key: str, out: list[Difference]) -> None:
    if key == "code" and not _CODE_PATH.search(path):
        return
    if key in ENUM_KEYS and isinstance(recorded, str) and recorded != replayed:
        out.append(Difference(path, "value", recorded, replayed))
    elif _ID_KEY.search(key) and id_format(recorded) != id_format(replayed):
        out.append(Difference(path, "id-format", id_format(recorded), id_format(replayed)))
    elif _TIME_KEY.search(key) and time_format(recorded) != time_format(replayed):
        out.append(Difference(path, "time-format", time_format(recorded), time_format(replayed)))


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def compare_answer(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> list[Difference]:
    """Two answers in the corpus's response format (``status``, ``headers``, ``json`` | ``text`` | ``events``)."""
    out: list[Difference] = []
    rs, ps = int(recorded["status"]), int(replayed["status"])
    if (rs != ps) if rs >= 300 or ps >= 300 else False:
        out.append(Difference("status", "status", rs, ps))
    rct = media_type(recorded.get("headers", {}).get("content-type"))
    pct = media_type(replayed.get("headers", {}).get("content-type"))
    if rct and rct != pct:
        out.append(Difference("content-type", "content-type", rct, pct))
    if "events" in recorded:
        if "events" not in replayed:
            out.append(Difference("events", "not-a-stream", len(recorded["events"]), pct))
            return out
        out += compare_events(recorded["events"], replayed["events"])
        return out
    if "json" in recorded:
        if "json" not in replayed:
            out.append(Difference("$", "type", type_name(recorded["json"]), "non-json"))
            return out
        out += compare_json(recorded["json"], replayed["json"])
    return out


def _data_events(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in events if "data" in e]


def compare_events(recorded: Sequence[Mapping[str, Any]], replayed: Sequence[Mapping[str, Any]]) -> list[Difference]:
    out: list[Difference] = []
    rec, rep = _data_events(recorded), _data_events(replayed)
    if not rep:
        out.append(Difference("events", "empty", len(rec), 0))
        return out
    # framing: which fields frames carry, the event names, the HTTP_STATUS comment
    r_fields, p_fields = _frame_fields(rec), _frame_fields(rep)
    if r_fields != p_fields:
        out.append(Difference("events[].fields", "framing", sorted(r_fields), sorted(p_fields)))
    r_names, p_names = {e.get("event") for e in rec}, {e.get("event") for e in rep}
    if r_names != p_names:
        out.append(Difference("events[].event", "value", sorted(map(str, r_names)), sorted(map(str, p_names))))
    r_status, p_status = _status_comments(rec), _status_comments(rep)
    if r_status != p_status:
        out.append(Difference("events[].comments", "framing", sorted(r_status), sorted(p_status)))
    if (len(rec) > 1) != (len(rep) > 1):
        out.append(Difference("events", "frame-count", len(rec), len(rep)))
    r_inc, p_inc = incremental(rec), incremental(rep)
    if r_inc is not None and p_inc is not None and r_inc != p_inc:
        out.append(Difference("events[].text", "incremental", r_inc, p_inc))
    # the first and the final frame's data, whole; every key path any frame carries
    out += compare_json(rec[0].get("data"), rep[0].get("data"), "events[0].data")
    if len(rec) > 1 and len(rep) > 1:
        out += compare_json(rec[-1].get("data"), rep[-1].get("data"), "events[-1].data")
    r_paths, p_paths = _all_paths(rec), _all_paths(rep)
    for p in sorted(r_paths - p_paths):
        if not any(d.path == "events[0].data" + p[1:] or d.path == "events[-1].data" + p[1:] for d in out):
            out.append(Difference("events[*].data" + p[1:], "missing", "present", None))
    return out


def _frame_fields(events: Sequence[Mapping[str, Any]]) -> set[str]:
    return {k for e in events for k in e if k in ("id", "event", "data")}


def _status_comments(events: Sequence[Mapping[str, Any]]) -> set[str]:
    return {c.split("/")[0] for e in events for c in e.get("comments", ()) if c.startswith("HTTP_STATUS")}


def _all_paths(events: Sequence[Mapping[str, Any]]) -> set[str]:
    paths: set[str] = set()
    for event in events:
        paths.update(_paths(event.get("data"), "$"))
    return paths


def _paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield f"{path}.{k}"
            yield from _paths(v, f"{path}.{k}")
    elif isinstance(value, list):
        for item in value:
            yield from _paths(item, f"{path}[]")


def frame_text(data: Any) -> str | None:
    """The generated text a frame carries (native text, native message, OpenAI delta), or None."""
    if not isinstance(data, Mapping):
        return None
    output = data.get("output")
    if isinstance(output, Mapping):
        if isinstance(output.get("text"), str):
            return str(output["text"])
        choices = output.get("choices")
    else:
        choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message") or choices[0].get("delta") or {}
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return None


def incremental(events: Sequence[Mapping[str, Any]]) -> bool | None:
    """True when each frame carries only new text, False when each repeats all text so far (cumulative), None
    when the stream has too little text to tell."""
    texts = [t for t in (frame_text(e.get("data")) for e in events) if t]
    if len(texts) < 3:
        return None
    grows = sum(1 for a, b in zip(texts, texts[1:], strict=False) if b.startswith(a) and len(b) > len(a))
    return grows < (len(texts) - 1) / 2
