"""Tool-call arguments from a JSON schema: any schema of objects/arrays/enums/strings/numbers/booleans gives
arguments that validate, and the same (seed, name, schema) gives the same arguments."""

from __future__ import annotations

import math
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.synth.toolargs import tool_arguments

NAMES = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)


def _scalar() -> st.SearchStrategy[dict[str, Any]]:
    strings = st.builds(
        lambda low, extra, fmt: {
            "type": "string",
            **({"minLength": low} if low else {}),
            **({"maxLength": low + extra} if extra is not None else {}),
            **({"format": fmt} if fmt else {}),
        },
        st.integers(0, 20),
        st.none() | st.integers(0, 10),
        st.none() | st.sampled_from(["date", "date-time", "email", "uri", "uuid"]),
    )
    integers = st.builds(
        lambda low, span, step, exclusive: {
            "type": "integer",
            **({"minimum": low} if low is not None else {}),
            **({"maximum": low + span + (step or 1)} if low is not None and span is not None else {}),
            **({"multipleOf": step} if step else {}),
            **({"exclusiveMinimum": low - 1} if exclusive and low is not None else {}),
        },
        st.none() | st.integers(-1000, 1000),
        st.none() | st.integers(0, 50),
        st.none() | st.integers(1, 7),
        st.booleans(),
    )
    numbers = st.builds(
        lambda low, span, exclusive: {
            "type": "number",
            **({"exclusiveMinimum" if exclusive else "minimum": low} if low is not None else {}),
            **({"maximum": low + span} if low is not None and span is not None else {}),
        },
        st.none() | st.floats(-1e6, 1e6, allow_nan=False),
        st.none() | st.floats(0.5, 1e3),
        st.booleans(),
    )
    enums = st.lists(
        st.one_of(st.text(max_size=8), st.integers(), st.booleans()), min_size=1, max_size=5, unique_by=repr
    ).map(lambda values: {"enum": values})
    return st.one_of(
        strings, integers, numbers, enums, st.just({"type": "boolean"}), st.just({"type": ["string", "null"]})
    )


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.dictionaries(NAMES, children, max_size=5).flatmap(
        lambda props: st.builds(
            lambda required, closed: {
                "type": "object",
                "properties": props,
                "required": required,
                **({"additionalProperties": False} if closed else {}),
            },
            st.lists(st.sampled_from(sorted(props)), unique=True) if props else st.just([]),
            st.booleans(),
        )
    )
    arrays = st.builds(
        lambda items, low, extra: {"type": "array", "items": items, "minItems": low, "maxItems": low + extra},
        children,
        st.integers(0, 3),
        st.integers(0, 3),
    )
    return st.one_of(objects, arrays)


SCHEMAS = st.recursive(_scalar(), _extend, max_leaves=12)
TOOL_SCHEMAS = st.dictionaries(NAMES, SCHEMAS, max_size=4).map(
    lambda props: {"type": "object", "properties": props, "required": sorted(props)}
)


@settings(max_examples=100, deadline=None)
@given(schema=TOOL_SCHEMAS, name=NAMES, seed=st.integers(0, 2**32))
def test_arguments_validate_against_their_schema(schema: dict[str, Any], name: str, seed: int) -> None:
    arguments = tool_arguments(name, schema, seed)
    jsonschema.validate(arguments, schema, cls=jsonschema.Draft202012Validator)
    assert tool_arguments(name, schema, seed) == arguments


def test_required_fields_types_and_enums() -> None:
    schema = {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "detailed": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "required": ["location", "unit"],
    }
    args = tool_arguments("get_weather", schema)
    assert isinstance(args["location"], str) and args["location"]
    assert args["unit"] in ("celsius", "fahrenheit")
    assert 1 <= args["days"] <= 7 and isinstance(args["detailed"], bool) and len(args["tags"]) >= 2


def test_refs_all_of_and_odd_schemas() -> None:
    schema = {
        "type": "object",
        "$defs": {"city": {"type": "object", "properties": {"name": {"const": "Hangzhou"}}, "required": ["name"]}},
        "properties": {"where": {"$ref": "#/$defs/city"}, "both": {"allOf": [{"type": "integer"}, {"minimum": 5}]}},
        "required": ["where", "both"],
    }
    args = tool_arguments("f", schema)
    assert args["where"] == {"name": "Hangzhou"} and args["both"] >= 5
    jsonschema.validate(args, schema)
    assert tool_arguments("f", None) == {} and tool_arguments("f", {"type": "string"}) == {}
    looping = {"type": "object", "properties": {"next": {"$ref": "#"}}}
    jsonschema.validate(tool_arguments("f", looping), looping)


def test_hostile_schemas_stay_small_and_fast() -> None:
    fan_out = {"type": "object", "allOf": [{"$ref": "#"}] * 50, "properties": {"a": {"$ref": "#"}}}
    tool_arguments("f", fan_out)  # bounded by the visit budget, not 50**6 resolutions
    huge = {
        "type": "object",
        "properties": {
            "many": {"type": "array", "items": {"type": "string", "minLength": 10**9}, "minItems": 10**9},
            "odd": {"type": "array", "minItems": "3", "maxItems": None},
        },
        "required": ["many", "odd"],
    }
    args = tool_arguments("f", huge)
    assert len(args["many"]) <= 64 and all(len(s) <= 4096 for s in args["many"])
    infinite = {"type": "object", "properties": {"n": {"type": "integer", "minimum": float("inf")}}}
    assert isinstance(tool_arguments("f", infinite)["n"], int)
    nan = {"type": "object", "properties": {"x": {"type": "number", "maximum": float("nan"), "multipleOf": True}}}
    assert isinstance(tool_arguments("f", nan)["x"], int | float)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null", "#", "#/properties"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "properties",
                    "required",
                    "items",
                    "enum",
                    "minimum",
                    "maxItems",
                    "minItems",
                    "$ref",
                    "allOf",
                    "anyOf",
                    "minLength",
                    "maxLength",
                    "multipleOf",
                    "const",
                    "default",
                    "format",
                    "prefixItems",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(schema=JSON)
def test_any_json_as_a_schema_gives_an_object(schema: Any) -> None:
    assert isinstance(tool_arguments("f", schema), dict)


HUGE = st.one_of(
    st.integers(-(10**400), 10**400),
    st.sampled_from([10**400, -(10**400), 2**1100, -(2**1100), 1e308, -1e308, 1.7976931348623157e308]),
    st.sampled_from([-1.7976931348623157e308, 5e-324, -5e-324, 0, 0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)


@st.composite
def _bounded(draw: st.DrawFn) -> dict[str, Any]:
    """A number/integer schema with bounds anywhere JSON can put them (10**400 is valid JSON, no float)."""
    kind = draw(st.sampled_from(["integer", "number"]))
    a, b = sorted([draw(HUGE), draw(HUGE)])
    if kind == "integer" and math.ceil(a) > math.floor(b):  # no integer inside: make room for one
        b = math.ceil(a) + 2
    if kind == "number" and a == b:
        b = a + 1 if isinstance(a, int) else (a + 1.0 if abs(a) < 1e300 else a)
    schema: dict[str, Any] = {"type": kind}
    if draw(st.booleans()):
        schema["minimum"] = a
    if draw(st.booleans()):
        schema["maximum"] = b
    if kind == "integer" and draw(st.booleans()):
        schema["multipleOf"] = draw(st.integers(1, 9))
        if "minimum" in schema and "maximum" in schema and int(b) - int(a) < 20:
            del schema["maximum"]
    return {"type": "object", "properties": {"x": schema}, "required": ["x"]}


@settings(max_examples=300, deadline=None)
@given(schema=_bounded())
def test_huge_bounds_give_finite_values_inside_them(schema: dict[str, Any]) -> None:
    """Issue 24: ``minimum: 10**400`` answered 500 (OverflowError); ``±1e308`` gave Infinity (no JSON, outside)."""
    import json

    arguments = tool_arguments("f", schema)
    json.dumps(arguments, allow_nan=False)  # finite: a JSON document
    jsonschema.validate(arguments, schema, cls=jsonschema.Draft202012Validator)


@settings(max_examples=25, deadline=None)
@given(
    refs=st.integers(1, 3000),
    width=st.integers(1, 120),
    defs=st.integers(1, 40),
    nested=st.booleans(),
)
def test_large_all_of_with_many_refs_is_bounded_in_time(refs: int, width: int, defs: int, nested: bool) -> None:
    """``allOf`` over many ``$ref``s merged every part into a growing copy (cubic: seconds for 57 KB)."""
    import time

    table = {
        f"d{i}": {
            "type": "object",
            "properties": {f"p{i}_{j}": {"type": "integer", "minimum": j} for j in range(width)},
            "required": [f"p{i}_{j}" for j in range(width)],
            **({"allOf": [{"$ref": f"#/$defs/d{(i + k) % defs}"} for k in range(1, 4)]} if nested else {}),
        }
        for i in range(defs)
    }
    schema = {"type": "object", "$defs": table, "allOf": [{"$ref": f"#/$defs/d{i % defs}"} for i in range(refs)]}
    started = time.perf_counter()
    arguments = tool_arguments("f", schema)
    assert time.perf_counter() - started < 0.25
    assert isinstance(arguments, dict)
