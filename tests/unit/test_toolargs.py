"""Tool-call arguments from a JSON schema: any schema of objects/arrays/enums/strings/numbers/booleans gives
arguments that validate, and the same (seed, name, schema) gives the same arguments."""

from __future__ import annotations

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
