"""Request parsing and response building shared by every route: the wire format lives here."""

from __future__ import annotations

import asyncio
import json
import json.scanner
import math
import re
from collections.abc import Callable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from emulator.context import context
from emulator.errors import ApiError, MalformedBody, TooLarge, render_error, render_openai_error

if TYPE_CHECKING:  # pydantic comes with the first model a handler reads, not at start
    from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound="BaseModel")

MAX_JSON_BODY = 16 * 1024 * 1024
"""Default of ``--max-json-bytes``: a JSON body past this answers 413 while it is still arriving."""
MAX_JSON_DEPTH = 64
"""Default of ``--max-json-depth``: arrays and objects nested deeper answer 400 (no DashScope body nests past ~10)."""
OFF_LOOP_JSON_BYTES = 128 * 1024
"""A JSON body larger than this is parsed in a worker thread, a window at a time (``parse_json_windowed``): the C
decoder holds the GIL for as long as one call runs (~0.1 µs a byte for dense arrays), so one 16 MB body in one
call would hold the event loop for seconds even from a thread.  Smaller bodies keep the one-call fast path."""
JSON_WINDOW = 64 * 1024
"""Characters the C decoder reads in one call of ``parse_json_windowed`` (a few ms at worst)."""
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_WS = re.compile(r"[ \t\n\r]*")
OPENAI_PREFIX = ("/compatible-mode/", "/compatible-api/")
FLAT_ERROR_PREFIX = "/compatible-mode/v1/responses"
"""The Responses API answers DashScope's flat error envelope, not OpenAI's (reference 2026-apps §3.5)."""
OSS_PREFIX = "/_oss/"


_STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _ENCODE(content: Any) -> str:  # noqa: N802 - the encoder's name since it was a bound method
    """JSON text of ``content``; a non-finite float (in a row an older version stored) is written as ``null``."""
    try:
        return _STRICT(content)
    except ValueError:
        return _STRICT(finite(content))


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None: what JSON can carry of data stored before
    non-finite numbers were refused at the door."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedBody(
            f"Request body holds the number {text[:40]}, which is out of range: numbers must be finite."
        )
    return value


def _no_constant(name: str) -> Any:
    raise MalformedBody(f"Request body holds {name}, which is not a JSON number: numbers must be finite.")


def loads(raw: bytes | str) -> Any:
    """``json.loads`` as JSON (RFC 8259) has it: ``NaN``, ``Infinity`` and numbers past the float range are
    ``MalformedBody``, never values that every later reader and writer would have to survive.

    Most bodies are an object or an array from their first byte to their last: those are scanned at once (what
    ``json.loads`` does after finding their encoding and skipping whitespace, which it would find UTF-8 and none);
    anything else, or anything the scan refuses, goes the whole way, so values and refusals are ``json.loads``'s."""
    if isinstance(raw, bytes) and raw[:1] in _OPENERS and raw[1:2] != b"\x00":
        try:
            text = raw.decode("utf-8", "surrogatepass")
            value, end = _SCAN(text, 0)
        except (UnicodeDecodeError, StopIteration, ValueError):
            pass  # refused below, with json.loads's own message
        else:
            if end == len(text):
                return value
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
    else:  # as json.loads reads bytes
        raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
    return _DECODER.decode(raw)


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)
"""One decoder for every body (``json.loads`` with hooks builds one per call)."""
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_OPENERS = (b"{", b"[")


_JSON_TYPE = (b"content-type", b"application/json")


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, byte for byte, rendered by one shared encoder (``json.dumps`` with options builds
    an encoder per call); without extra headers its two headers are set directly."""

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        if headers:
            super().__init__(content, status_code, headers)
            return
        self.status_code = status_code
        self.background = None
        self.body = _ENCODE(content).encode()
        self.raw_headers = [(b"content-length", str(len(self.body)).encode()), _JSON_TYPE]

    def render(self, content: Any) -> bytes:
        return _ENCODE(content).encode()

    @classmethod
    def raw(cls, body: bytes) -> FastJSONResponse:
        """A 200 answer of JSON bytes already rendered by ``render_json``."""
        response = cls.__new__(cls)
        response.status_code = 200
        response.background = None
        response.body = body
        response.raw_headers = [(b"content-length", str(len(body)).encode()), _JSON_TYPE]
        return response


def render_json(content: Any) -> bytes:
    """What ``FastJSONResponse`` (and so Starlette's ``JSONResponse``) writes for ``content``."""
    return _ENCODE(content).encode()


def envelope_encoded(request: Request, key: str, encoded: bytes) -> JSONResponse:
    """``envelope(request, key, payload)`` for a payload already rendered by ``render_json``: the same bytes,
    without rendering the payload again (an answer kept while nothing changed)."""
    body = b'{"request_id":' + _ENCODE(request_id(request)).encode() + b"," + _ENCODE(key).encode() + b":" + encoded
    return FastJSONResponse.raw(body + b"}")


def request_id(request: Request) -> str:
    return context(request).request_id


def error_response(scope: Scope, error: ApiError, rid: str) -> Response:
    if scope.get("path", "").startswith(OSS_PREFIX):
        return Response(render_oss_error(error, rid), status_code=error.status, media_type="application/xml")
    path = scope.get("path", "")
    if path.startswith(OPENAI_PREFIX) and not path.startswith(FLAT_ERROR_PREFIX):
        body = render_openai_error(error, rid)
    else:
        body = render_error(error, rid)
    return FastJSONResponse(body, status_code=error.status, headers=error.headers or None)


def render_oss_error(error: ApiError, rid: str) -> bytes:
    """The emulated OSS upload host answers errors as OSS does: an XML ``<Error>`` document."""
    fields = {"Code": error.code, "Message": error.message, "RequestId": rid, "HostId": "dashscope-file-mgr"}
    body = "".join(f"<{k}>{escape(v, quote=False)}</{k}>" for k, v in fields.items())  # & < > as XML text
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>\n'.encode()


def envelope(request: Request, key: str | None, payload: Any, **extra: Any) -> JSONResponse:
    """``{"request_id": ..., key: payload}``: files answer under ``data``, everything else under ``output``."""
    body: dict[str, Any] = {"request_id": request_id(request)}
    if key is not None:
        body[key] = payload
    body.update(extra)
    return FastJSONResponse(body)


def _limits(request: Request) -> tuple[int, int]:
    rt = getattr(request.app.state, "rt", None)
    settings = getattr(rt, "settings", None)
    if settings is None:
        return MAX_JSON_BODY, MAX_JSON_DEPTH
    return settings.max_json_bytes, settings.max_json_depth


async def read_body(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The whole body, refused (413) as soon as it is declared or grows past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Request body is larger than {limit} bytes.")
    if hasattr(request, "_body"):  # read before (Starlette's cache)
        body: bytes = request._body
        if len(body) > limit:
            raise TooLarge(f"Request body is larger than {limit} bytes.")
        return body
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:  # ``Request.stream`` without an async generator's machinery around each message
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"Request body is larger than {limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body  # as ``Request.body()`` leaves it: a later ``body()``/``stream()`` answers from it
    return body


def strict_json(data: bytes | str) -> Any:
    """``loads`` for the files an operator names (``--responses``, ``--faults``, a world): any refusal is a
    ValueError that says why, never the file's content."""
    try:
        return loads(data)
    except MalformedBody as exc:
        raise ValueError(exc.message.replace("Request body", "the file")) from None
    except RecursionError:
        raise ValueError("the file nests arrays/objects too deeply") from None


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Client JSON to Python values, or ``MalformedBody``: the one parser of anything a client sends.

    Refuses what would otherwise fail later, deep inside a handler: non-finite numbers, invalid UTF-8, nesting
    past ``max_depth`` (the C decoder's recursion limit would raise ``RecursionError``), and lone surrogates
    (``"\\ud800"`` decodes to a ``str`` that no UTF-8 encoder, SQLite included, accepts).
    """
    return _checked(loads, raw, max_depth)


def parse_json_windowed(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, window: int = JSON_WINDOW) -> Any:
    """``parse_json`` for a large body, meant for a worker thread: the same values and refusals, but no single
    call into the C decoder reads more than ``window`` characters, so the event loop's thread gets the GIL back
    every few milliseconds (``parse_json_off_loop``)."""
    return _checked(lambda data: _loads_windowed(data, max_depth, window), raw, max_depth)


async def parse_json_off_loop(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``parse_json``: inline for a body up to ``OFF_LOOP_JSON_BYTES``, in a worker thread, windowed, past it."""
    if len(raw) <= OFF_LOOP_JSON_BYTES:
        return parse_json(raw, max_depth=max_depth)
    return await asyncio.to_thread(parse_json_windowed, raw, max_depth=max_depth)


def _checked(decode: Callable[[bytes | str], Any], raw: bytes | str, max_depth: int) -> Any:
    try:
        data = decode(raw)
    except RecursionError:
        raise MalformedBody(f"Request body nests arrays/objects deeper than {max_depth} levels.") from None
    except UnicodeDecodeError:
        raise MalformedBody("Request body is not valid UTF-8.") from None
    except ValueError as exc:
        raise MalformedBody(f"Request body is not valid JSON: {exc}.") from None
    if not _plain(raw, max_depth):
        _check_tree(data, max_depth)
    return data


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
"""A surrogate written as an escape, or as the bytes ``json.loads`` decodes with ``surrogatepass``."""


def _plain(raw: bytes | str, max_depth: int) -> bool:
    """True when ``_check_tree`` cannot find anything, seen from the bytes alone (most bodies): UTF-8 (no BOM, no
    NUL in the first bytes, as ``json.detect_encoding`` reads them), no surrogate at all, and fewer brackets in the
    whole text than the depth allowed.  Substring tests first: they are memchr-fast (a one-byte one most of all),
    a regex scan is not."""
    return (
        isinstance(raw, bytes)
        and raw[:1] not in (b"\xfe", b"\xff")
        and b"\x00" not in raw[:4]
        and raw.count(b"[") + raw.count(b"{") <= max_depth
        and (b"\\" not in raw or b"\\u" not in raw or _ESCAPED_SURROGATE.search(raw) is None)
        and (b"\xed" not in raw or _ENCODED_SURROGATE.search(raw) is None)
    )


def _loads_windowed(raw: bytes | str, max_depth: int, window: int) -> Any:  # noqa: C901 - one state machine
    """``loads`` a window at a time.  A container too large for one window is opened here and its elements read
    in runs: ``[`` + the next window decoded by one call (the container ends inside it), else ``[`` + the window
    up to its last comma + ``]`` (a run of whole elements: a cut inside a string or a nested container leaves
    something unclosed, so it cannot parse), else the window's elements one at a time.  A scalar is read by one
    call, however long: its cost is its own length."""
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        text = raw
    else:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    decoder = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)
    scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]
    scanstring: Callable[[str, int], tuple[str, int]] = decoder.parse_string  # type: ignore[attr-defined]
    stack: list[Any] = []  # the open containers, outermost first
    keys: list[Any] = []  # for each open container, the key its next value goes under (objects)
    single_until = 0  # below this position values are read one at a time (a window failed there)
    result: Any = None
    done = False

    def fail(message: str, at: int) -> NoReturn:
        raise json.JSONDecodeError(message, text, at)

    def skip(at: int) -> int:
        return _WS.match(text, at).end()  # type: ignore[union-attr]

    def one_call(piece: str) -> tuple[Any, int] | None:
        try:
            return scan(piece, 0)
        except (StopIteration, json.JSONDecodeError):
            return None

    def place(value: Any) -> None:
        nonlocal result, done
        if not stack:
            result, done = value, True
        elif type(stack[-1]) is list:
            stack[-1].append(value)
        else:
            stack[-1][keys[-1]] = value

    def close() -> None:
        keys.pop()
        place(stack.pop())

    def elements(at: int, whole: bool) -> tuple[int, str]:
        """At the start of an element of the innermost container: read runs of elements while they parse; the
        position and state to go on from."""
        nonlocal single_until
        top = stack[-1]
        is_list = type(top) is list
        opener, closer = ("[", "]") if is_list else ("{", "}")
        while at >= single_until:
            if text[at : at + 1] in ("]", "}"):  # after a comma
                fail("Expecting value" if is_list else "Expecting property name enclosed in double quotes", at)
            if whole:  # does the container end inside the window?
                rest = one_call(opener + text[at : at + window])
                if rest is not None:
                    _extend(top, rest[0])
                    close()
                    return at + rest[1] - 1, "after"
            whole = True
            cut = text.rfind(",", at, at + window)
            piece = opener + text[at:cut] + closer
            part = one_call(piece) if cut > at else None
            if part is None or part[1] != len(piece):
                single_until = at + window
                break
            _extend(top, part[0])
            at = skip(cut + 1)
        return at, ("value" if is_list else "key")

    idx = skip(0)
    state = "value"  # a value is expected at idx; "key": an object's member; "after": , ] } or the end
    while True:
        if state == "value":
            char = text[idx : idx + 1]
            if char not in ("[", "{"):
                try:
                    value, idx = scan(text, idx)
                except StopIteration:
                    fail("Expecting value", idx)
                place(value)
                state = "after"
                continue
            tried = idx >= single_until
            whole_value = one_call(text[idx : idx + window]) if tried else None
            if whole_value is not None:
                place(whole_value[0])
                idx += whole_value[1]
                state = "after"
                continue
            if len(stack) >= max_depth:
                raise MalformedBody(f"Request body nests arrays/objects deeper than {max_depth} levels.")
            stack.append([] if char == "[" else {})
            keys.append(None)
            idx = skip(idx + 1)
            if text[idx : idx + 1] == ("]" if char == "[" else "}"):
                close()
                idx += 1
                state = "after"
            else:
                idx, state = elements(idx, whole=not tried)
        elif state == "key":
            if text[idx : idx + 1] != '"':
                fail("Expecting property name enclosed in double quotes", idx)
            key, idx = scanstring(text, idx + 1)
            idx = skip(idx)
            if text[idx : idx + 1] != ":":
                fail("Expecting ':' delimiter", idx)
            keys[-1] = key
            idx = skip(idx + 1)
            state = "value"
        else:
            idx = skip(idx)
            if done:
                if idx != len(text):
                    fail("Extra data", idx)
                return result
            char = text[idx : idx + 1]
            if char == ("]" if type(stack[-1]) is list else "}"):
                close()
                idx += 1
            elif char == ",":
                idx, state = elements(skip(idx + 1), whole=True)
            else:
                fail("Expecting ',' delimiter", idx)


def _extend(container: list[Any] | dict[str, Any], more: Any) -> None:
    if isinstance(container, list):
        container.extend(more)
    else:
        container.update(more)


def _check_tree(data: Any, max_depth: int) -> None:
    """One iterative walk: depth, and every string (keys too) free of lone surrogates."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is str:
            _check_text(node)
            continue
        if type(node) is not dict and type(node) is not list:
            continue
        if depth > max_depth:
            raise MalformedBody(f"Request body nests arrays/objects deeper than {max_depth} levels.")
        if type(node) is dict:
            for key in node:
                _check_text(key)
            values: Any = node.values()
        else:
            values = node
        for value in values:  # strings inline: a list of 800,000 strings is one pass, not 800,000 pushes
            kind = type(value)
            if kind is str:
                if not value.isascii() and _LONE_SURROGATE.search(value) is not None:
                    _check_text(value)
            elif kind is dict or kind is list:
                stack.append((value, depth + 1))


def _check_text(text: str) -> None:
    if not text.isascii() and _LONE_SURROGATE.search(text) is not None:
        raise MalformedBody(
            "Request body holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape): "
            "strings must be valid Unicode."
        )


async def read_json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object, under the app's ``--max-json-bytes`` and ``--max-json-depth``.

    Every route reads its JSON body through here (API and control plane alike).
    """
    max_bytes, max_depth = _limits(request)
    raw = await read_body(request, max_bytes)
    if not raw.strip():
        if allow_empty:
            return {}
        raise MalformedBody("Request body is empty; a JSON object is required.")
    data = await parse_json_off_loop(raw, max_depth=max_depth)
    if not isinstance(data, dict):
        raise MalformedBody("Request body must be a JSON object.")
    return data


def validation_message(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    location = ".".join(str(p) for p in first["loc"]) or "body"
    more = len(exc.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{location}: {first['msg']}{suffix}"


def parse_model(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is one
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        raise MalformedBody(validation_message(exc)) from None


async def read_model(request: Request, model: type[M], *, allow_empty: bool = False) -> M:
    return parse_model(model, await read_json_object(request, allow_empty=allow_empty))
