"""The corpus format: one JSON file per recorded exchange.

An exchange is ``{"id", "source", "request", "response", "notes"}``:

- ``source``: where it was recorded (``repo``, ``path``, ``commit``, ``recorded`` date) or ``{"recorder": ...}``;
- ``request``: ``method``, ``path`` (with its query), ``headers`` (a safe subset), and the body as ``json``,
  ``text`` or ``multipart`` (a list of ``{"name", "filename"?, "content_type"?, "text"}`` parts);
- ``response``: ``status``, ``headers`` (safe subset), and ``json`` (a JSON body), ``text`` (any other body) or
  ``events`` (an SSE stream, frame by frame: ``{"id", "event", "comments", "data"}``, ``data`` parsed when JSON);
- ``trimmed``: true when long strings, long lists or a long stream were cut to keep the file small (the structure
  is kept: the first and last frames of a stream, the first items of a list, the start of a string).

Secrets never reach a corpus file: API keys, OSS signatures and policies, access key ids and account ids are
replaced by ``redacted`` strings of the same JSON type (``redact``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

FORMAT = 1
REDACTED = "<redacted>"
MAX_STRING = 400
MAX_LIST = 6
MAX_EVENTS_HEAD = 8
MAX_EVENTS_TAIL = 4
MAX_PART = 4096

# Headers worth keeping: they are part of the contract. Everything else (cookies, tracing, timings) is noise.
KEPT_REQUEST_HEADERS = frozenset(
    {
        "content-type",
        "accept",
        "x-dashscope-sse",
        "x-dashscope-async",
        "x-dashscope-oss-resource-resolve",
        "x-dashscope-workspace",
        "x-dashscope-datainspection",
    }
)
KEPT_RESPONSE_HEADERS = frozenset({"content-type", "x-dashscope-finished", "x-dashscope-call-gateway"})
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "set-cookie", "x-dashscope-workspace"})

_SECRET_KEYS = re.compile(
    r"^(policy|signature|oss_access_key_id|ossaccesskeyid|x-oss-security-token|security_token|access_key_secret|"
    r"api_key|apikey|api_key_id|user_id|user_identity|creator|modifier|uid|account_id|owner_id|workspace_id|"
    r"caller_uid|caller_parent_id|ali_uid|aliyun_uid|owner_uid)$",
    re.IGNORECASE,
)
_URL_SECRETS = re.compile(
    r"([?&](?:Signature|OSSAccessKeyId|Expires|security-token|x-oss-signature|"
    r"x-oss-credential|x-oss-security-token)=)[^&\"'\s]*",
    re.IGNORECASE,
)
_API_KEY = re.compile(r"\bsk-[A-Za-z0-9]{16,}\b")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+", re.IGNORECASE)
# dashscope-instant/<account hash>/<date>/... : the hash is the account's
_ACCOUNT_PATH = re.compile(r"(dashscope-instant/)[0-9a-f]{16,}(/)")
# api-fs/<account id>/<key id>/... in signed file URLs
_ACCOUNT_FS = re.compile(r"(api-fs/)\d+/\d+(/)")


def redact(value: Any) -> Any:
    """The value with every secret replaced (same JSON type): keys named like secrets, signed URL parameters,
    ``sk-`` keys, bearer tokens and account hashes in upload paths."""
    if isinstance(value, Mapping):
        return {k: (_redacted_like(v) if _SECRET_KEYS.match(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    text = _URL_SECRETS.sub(lambda m: m.group(1) + REDACTED, text)
    text = _API_KEY.sub("sk-" + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _ACCOUNT_FS.sub(lambda m: m.group(1) + "0/0" + m.group(2), text)
    return _ACCOUNT_PATH.sub(lambda m: m.group(1) + "0" * 32 + m.group(2), text)


def _redacted_like(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return 0
    if isinstance(value, list | dict):
        return redact(value)
    if isinstance(value, str) and value.isdigit():
        return "0" * len(value)  # an account id keeps its format
    return REDACTED


def keep_headers(headers: Iterable[tuple[str, str]], kept: frozenset[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers if k.lower() in kept and k.lower() not in SECRET_HEADERS}


# ------------------------------------------------------------------------------------------------------------ SSE


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Frames of an event stream as ``{"id", "event", "comments", "data"}`` (``data`` parsed when it is JSON);
    comment-only frames (heartbeats) are kept with their comments."""
    frames: list[dict[str, Any]] = []
    for block in re.split(r"\r?\n\r?\n", text.replace("\ufeff", "")):
        lines = [line for line in re.split(r"\r?\n", block) if line != ""]
        if not lines:
            continue
        frame: dict[str, Any] = {}
        data: list[str] = []
        comments: list[str] = []
        for line in lines:
            if line.startswith(":"):
                comments.append(line[1:].strip())
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field in ("id", "event", "retry"):
                frame[field] = value
        if comments:
            frame["comments"] = comments
        if data:
            frame["data"] = _maybe_json("\n".join(data))
        frames.append(frame)
    return frames


def split_frames(text: str) -> list[str]:
    """The raw text of each frame: the recorded body is sometimes missing its blank separators, so a new frame
    also starts at each ``id:`` line."""
    out: list[str] = []
    current: list[str] = []
    for line in re.split(r"\r?\n", text.replace("\ufeff", "")):
        if line.startswith("id:") and current and any(c.strip() for c in current):
            out.append("\n".join(current))
            current = []
        if line == "":
            if any(c.strip() for c in current):
                out.append("\n".join(current))
            current = []
            continue
        current.append(line)
    if any(c.strip() for c in current):
        out.append("\n".join(current))
    return out


def parse_sse_lenient(text: str) -> list[dict[str, Any]]:
    return [frame for chunk in split_frames(text) for frame in parse_sse(chunk)]


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# ------------------------------------------------------------------------------------------------------- trimming


def trim(value: Any) -> tuple[Any, bool]:
    """(value, was it cut): strings past MAX_STRING keep their start, lists past MAX_LIST their first items."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        cut = False
        for k, v in value.items():
            out[k], c = trim(v)
            cut = cut or c
        return out, cut
    if isinstance(value, list):
        items = [trim(v) for v in value[:MAX_LIST]]
        return [v for v, _ in items], len(value) > MAX_LIST or any(c for _, c in items)
    if isinstance(value, str) and len(value) > MAX_STRING:
        return value[:MAX_STRING] + "…", True
    return value, False


def trim_events(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """The first and last frames of a long stream (the middle ones repeat the structure)."""
    cut = False
    if len(events) > MAX_EVENTS_HEAD + MAX_EVENTS_TAIL:
        events = events[:MAX_EVENTS_HEAD] + events[-MAX_EVENTS_TAIL:]
        cut = True
    out = []
    for event in events:
        trimmed, c = trim(event)
        out.append(trimmed)
        cut = cut or c
    return out, cut


# ------------------------------------------------------------------------------------------------------ files


def dump(exchange: Mapping[str, Any], directory: Path) -> Path:
    path = directory / f"{safe_name(str(exchange['id']))}.json"
    path.write_text(json.dumps(exchange, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def load(directory: Path) -> list[dict[str, Any]]:
    """Every exchange under ``directory`` (recursively), in file-name order."""
    out = []
    for path in sorted(directory.rglob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and "request" in document and "response" in document:
            document.setdefault("id", path.stem)
            out.append(document)
    return out


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "exchange"


def parse_multipart(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The parts of a form (``name``, ``filename``, ``content_type``, ``text``): text parts kept (secrets
    redacted by name), files as their text when small and UTF-8, else ``<N bytes>``."""
    match = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
    if match is None:
        return []
    parts: list[dict[str, Any]] = []
    for chunk in body.split(b"--" + match.group(1).encode("latin-1"))[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        part: dict[str, Any] = {}
        for line in head.decode("utf-8", errors="replace").splitlines():
            low = line.lower()
            if low.startswith("content-disposition:"):
                name = re.search(r'name="([^"]*)"', line)
                filename = re.search(r'filename="([^"]*)"', line)
                part["name"] = name.group(1) if name else ""
                if filename:
                    part["filename"] = filename.group(1)
            elif low.startswith("content-type:"):
                part["content_type"] = line.split(":", 1)[1].strip()
        try:
            text = data.decode("utf-8")
            part["text"] = text if len(text) <= MAX_PART else text[:MAX_PART] + "…"
        except UnicodeDecodeError:
            part["text"] = f"<{len(data)} bytes>"
        if _SECRET_KEYS.match(part.get("name", "")) or part.get("name", "").lower() == "signature":
            part["text"] = REDACTED
        parts.append(part)
    return parts
