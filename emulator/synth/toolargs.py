"""Arguments for a function call, generated from the function's JSON schema: a pure, deterministic function.

When a request forces a tool (``tool_choice`` naming a function) and no response rule answers it, the emulator
calls that function with arguments built here.  They validate against the schema for the common vocabulary of
tool definitions: ``type`` (one or a list), ``properties``/``required``/``additionalProperties``, ``items`` /
``prefixItems`` / ``minItems`` / ``maxItems`` / ``uniqueItems``, ``enum``, ``const``, ``default``, string
``minLength``/``maxLength``/``format`` (date, date-time, time, email, uri, uuid), number ``minimum``/``maximum``/
exclusive bounds/``multipleOf``, ``anyOf``/``oneOf`` (the first branch), ``allOf`` (merged) and local ``$ref``s.
``pattern`` is not honoured (a word is given).  Every optional property is filled too, so arguments look like
what a model would send, down to ``OPTIONAL_DEPTH`` levels; recursion stops at ``MAX_DEPTH``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
from typing import Any

MAX_DEPTH = 6
MAX_ITEMS = 3
OPTIONAL_DEPTH = 3
ITEMS_CAP = 64
"""A hostile ``minItems`` / ``minLength`` cannot make a huge value: arrays and strings stop here."""
LENGTH_CAP = 4096
BUDGET = 20_000
"""Schema nodes visited at most per call: ``$ref``/``allOf`` fan-out cannot blow up exponentially."""
MERGE_WORK = 100_000
"""Keys ``allOf`` merging may copy per call (a few tens of ms): many ``$ref``s to big schemas stop merging there."""
_WORDS = ("alpha", "hangzhou", "beijing", "shanghai", "report", "weather", "today", "sample", "value", "delta")
_FORMATS = {
    "date": "2024-10-12",
    "date-time": "2024-10-12T11:55:00+08:00",
    "time": "11:55:00",
    "email": "user@example.com",
    "uri": "https://example.com/resource",
    "url": "https://example.com/resource",
    "uuid": "0b6a4e8f-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
}
_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")


def tool_arguments(name: str, schema: Any, seed: int = 0) -> dict[str, Any]:
    """The arguments object of a call to ``name``: always an object, ``{}`` for a schema without properties."""
    digest = hashlib.sha256(json.dumps([seed, name, schema], sort_keys=True, default=str).encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    value = _Generator(schema if isinstance(schema, dict) else {}, rng).value(schema, 0)
    return value if isinstance(value, dict) else {}


class _Generator:
    def __init__(self, root: dict[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.budget = BUDGET
        self.merge_work = MERGE_WORK

    def value(self, schema: Any, depth: int) -> Any:
        self.budget -= 1
        if not isinstance(schema, dict) or self.budget <= 0:
            return {} if depth == 0 else "value"
        schema = self._resolve(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self.rng.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self.value(schema[key][0], depth + 1)
        kind = _kind(schema)
        if "default" in schema and kind not in ("object", "array"):
            return schema["default"]
        return getattr(self, f"_{kind}")(schema, depth)

    def _resolve(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        self.budget -= 1
        if self.budget <= 0:
            return schema
        ref = schema.get("$ref")
        if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")) and depth < MAX_DEPTH:
            target: Any = self.root
            for part in filter(None, ref[2:].split("/")):
                target = target.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(target, dict) else None
            if isinstance(target, dict):
                return self._resolve({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if self.budget <= 0 or self.merge_work <= 0:
                    break
                if isinstance(part, dict):
                    merged = _merge(merged, self._resolve(part, depth + 1))
                    self.merge_work -= _size(merged)  # a merge copies what it holds: charged, so allOf stays linear
            return merged
        return schema

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if not isinstance(properties, dict) or depth >= MAX_DEPTH:
            properties = {}
        given = schema.get("required")
        required = [r for r in given if isinstance(r, str)] if isinstance(given, list) else []
        shallow = depth < OPTIONAL_DEPTH  # deeper down only the required properties: recursive schemas end
        out = {key: self.value(sub, depth + 1) for key, sub in properties.items() if shallow or key in required}
        for key in required:
            if key not in out:  # required but undescribed: anything goes unless additionalProperties says otherwise
                extra = schema.get("additionalProperties")
                out[key] = self.value(extra, depth + 1) if isinstance(extra, dict) else "value"
        return out

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        given = schema.get("prefixItems")
        prefix: list[Any] = given if isinstance(given, list) else []
        low = min(max(_int(schema.get("minItems"), 0), 1 if depth < MAX_DEPTH else 0), ITEMS_CAP)
        high = min(max(_int(schema.get("maxItems"), MAX_ITEMS), 0), ITEMS_CAP)
        size = max(min(low, high), len(prefix) if high >= len(prefix) else high)
        items = schema.get("items", {})
        out = [self.value(prefix[i] if i < len(prefix) else items, depth + 1) for i in range(size)]
        if schema.get("uniqueItems"):
            out = _unique(out, items, size)
        return out

    def _string(self, schema: dict[str, Any], depth: int) -> str:
        fmt = schema.get("format")
        text = _FORMATS.get(fmt, self.rng.choice(_WORDS)) if isinstance(fmt, str) else self.rng.choice(_WORDS)
        low = min(_int(schema.get("minLength"), 0), LENGTH_CAP)
        high = schema.get("maxLength")
        while len(text) < low:
            text += "x" * (low - len(text))
        if isinstance(high, int) and len(text) > high:
            text = text[: max(high, low)]
        return text

    def _integer(self, schema: dict[str, Any], depth: int) -> int:
        low, high = _bounds(schema, integer=True)
        step = schema.get("multipleOf")
        if isinstance(step, int) and not isinstance(step, bool) and step > 0:
            first = -(-int(low) // step) * step if low is not None else 0  # integer division: bounds may be 10**400
            if high is not None and first > high:
                first = int(high) // step * step
            return first
        if low is None and high is None:
            return self.rng.randint(1, 100)
        if low is None:
            return int(min(high if high is not None else 100, 100))
        if high is None:
            return int(low) + self.rng.randint(0, 10)
        return self.rng.randint(int(low), int(high)) if low <= high else int(low)  # unsatisfiable: anything

    def _number(self, schema: dict[str, Any], depth: int) -> float | int:
        if "multipleOf" in schema:
            return self._integer({**schema, "multipleOf": schema["multipleOf"]}, depth)
        low, high = _bounds(schema, integer=False)
        if low is None and high is None:
            return round(self.rng.uniform(1, 100), 2)
        if isinstance(low, int) and isinstance(high, int):
            return (low + high) // 2  # exact for bounds past the float range (an integer is a JSON number)
        if low is None:
            return _below(high)
        if high is None:
            return _above(low)
        low, high = _as_float(low), _as_float(high)
        middle = low / 2 + high / 2  # (high - low) overflows to inf for ±1e308
        return middle if low <= middle <= high else low

    def _boolean(self, schema: dict[str, Any], depth: int) -> bool:
        return self.rng.random() < 0.5

    def _null(self, schema: dict[str, Any], depth: int) -> None:
        return None


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        given = [k for k in kind if k in _TYPES]
        kind = next((k for k in given if k != "null"), given[0] if given else None)
    if kind in _TYPES:
        return str(kind)
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _as_float(value: float | int) -> float:
    """A bound as a float, an int past the float range clamped to the largest float of its sign."""
    return float(max(min(value, sys.float_info.max), -sys.float_info.max))


def _below(high: float | int | None) -> float | int:
    """A number at most ``high``: one less, in the type that holds it (an int past the float range stays exact)."""
    if high is None:
        return 1.0
    if isinstance(high, int):
        return high - 1
    return high - 1.0 if high - 1.0 != high else high  # 1e308 - 1.0 == 1e308: the bound itself


def _above(low: float | int) -> float | int:
    if isinstance(low, int):
        return low + 1
    return low + 1.0 if math.isfinite(low + 1.0) else low


def _bounds(schema: dict[str, Any], *, integer: bool) -> tuple[float | int | None, float | int | None]:
    """Inclusive bounds; exclusive ones move by one (integers) or a small step (numbers).

    An integer bound is kept as an int, however large (``10**400`` is valid JSON but no float): arithmetic on it
    stays exact and never overflows.
    """
    lows = [schema.get("minimum"), _shift(schema.get("exclusiveMinimum"), 1, integer)]
    highs = [schema.get("maximum"), _shift(schema.get("exclusiveMaximum"), -1, integer)]
    low = max((v for v in lows if _finite(v)), default=None)
    high = min((v for v in highs if _finite(v)), default=None)
    if integer:
        low = _ceil(low) if low is not None else None
        high = _floor(high) if high is not None else None
    return low, high


def _ceil(value: float | int) -> int:
    return value if isinstance(value, int) else math.ceil(value)


def _floor(value: float | int) -> int:
    return value if isinstance(value, int) else math.floor(value)


def _finite(value: Any) -> bool:
    """A number JSON can carry: any int (however large), a finite float (NaN and infinities bound nothing)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _shift(value: Any, direction: int, integer: bool) -> Any:
    """The first value inside an exclusive bound: one step in, or the next float where a step is lost."""
    if not _finite(value):
        return None
    if integer or (isinstance(value, int) and abs(value) > 2**53):
        return (
            value + direction
            if isinstance(value, int)
            else (math.floor(value) + 1 if direction > 0 else math.ceil(value) - 1)
        )
    moved = value + direction * 1e-6
    if moved == value:
        moved = math.nextafter(value, direction * math.inf)
    return moved if math.isfinite(moved) else None


def _size(schema: dict[str, Any]) -> int:
    properties = schema.get("properties")
    required = schema.get("required")
    return (
        len(schema)
        + (len(properties) if isinstance(properties, dict) else 0)
        + (len(required) if isinstance(required, list) else 0)
    )


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = {**left, **right}
    if isinstance(left.get("properties"), dict) and isinstance(right.get("properties"), dict):
        merged["properties"] = {**left["properties"], **right["properties"]}
    if isinstance(left.get("required"), list) and isinstance(right.get("required"), list):
        merged["required"] = list(
            dict.fromkeys(r for r in (*left["required"], *right["required"]) if isinstance(r, str))
        )
    return merged


def _unique(values: list[Any], items: Any, size: int) -> list[Any]:
    """Distinct items: enums give their distinct members, strings and numbers get a counter."""
    out: list[Any] = []
    seen: set[str] = set()
    enum = items.get("enum") if isinstance(items, dict) else None
    candidates = [*values, *(enum if isinstance(enum, list) else [])]
    for value in candidates:
        key = json.dumps(value, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out[: max(size, 1)] if out else out
