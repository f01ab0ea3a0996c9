"""Multimodal content: the part lists of both APIs checked, their media references resolved (never fetched).

A message's content is a list of single-key parts (native ``{"text"}``/``{"image"}``/``{"video"}``/``{"audio"}``,
reference §1.2) or OpenAI parts (``{"type": "image_url", "image_url": {"url": ..}}``, §1.7); a plain string is
text.  Every media value must be one of:

- an ``http(s)`` URL: never downloaded.  A host in ``UNREACHABLE_HOSTS`` (or under ``.invalid``) is a failed
  download, the way to test that path; anything else counts as fetched.  Its name is the path's last segment.
- a ``data:<mime>;base64,...`` URI of at most ``MAX_DATA_URI_BYTES``: decoded, its MD5 is its identity.
- an ``oss://`` key that the caller uploaded (``emulator.uploads``), resolved only when the request sends
  ``X-DashScope-OssResourceResolve: enable``.

Anything else is the service's 400 "url error, please check url！".  The generator sees the messages' text; the
media's identities (name, content hash) are part of what the reply is drawn from, so another image gives another
answer.  A fine-tune's image training rows are remembered as ``<img>name|md5</img>`` + text (Qwen-VL's own
chat-template notation); a request image matches a row by file name or by content hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from emulator.errors import EmptyInput, InvalidParameter
from emulator.generation.schemas import ROLES

UNREACHABLE_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "unreachable.example"})
"""Hosts whose URLs count as failed downloads (plus every ``*.invalid`` host, RFC 2606)."""
MAX_DATA_URI_BYTES = 10 * 1024 * 1024
MAX_MEDIA = 64
MAX_FRAMES = 512
"""Frames of one video given as an image list (the public docs' largest range is [4, 512]); checked while the body
is parsed, before any frame is resolved."""
MAX_FRAMES_TOTAL = 2048
"""Frames of all the video lists of one request together."""
MEDIA_KEYS = ("image", "video", "audio")
PART_HINTS = frozenset(
    {"fps", "min_pixels", "max_pixels", "total_pixels", "cache_control", "detail", "enable_rotate", "max_frames"}
)
MEDIA_TOKENS = {"image": 256, "video": 256, "audio": 100}
"""Flat token cost per image, per video frame (a video URL counts 4 frames) and per audio clip."""
VIDEO_URL_FRAMES = 4

URL_ERROR = "url error, please check url！"
EMPTY_MESSAGES = "Role must be user or assistant and Content length must be greater than 0"
DOWNLOAD_FAILED = "Failed to download multimodal content"
BAD_DATA_URI = "The provided URL does not appear to be valid. Ensure it is correctly formatted."
_DATA_URI_RE = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,]*)*);base64,(.*)$", re.DOTALL)
IMG_TAG_RE = re.compile(r"<img>([^<]*)</img>")


@dataclass(frozen=True)
class Media:
    """One resolved media item: its kind, a file name when the reference has one, an MD5 when bytes are known."""

    kind: str
    name: str | None = None
    digest: str | None = None
    frames: int = 1

    @property
    def tokens(self) -> int:
        return MEDIA_TOKENS[self.kind] * self.frames

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.name or ''}:{self.digest or ''}:{self.frames}"


@dataclass(frozen=True)
class OssObject:
    name: str
    digest: str


OssResolver = Callable[[str], Awaitable[OssObject | None]]
"""The uploads service's lookup of an ``oss://`` key for the caller: None when missing, expired or not theirs."""


@dataclass(frozen=True)
class MediaRef:
    kind: str
    value: str | list[str]
    where: str


@dataclass
class Conversation:
    """The checked request: text-only messages for the generator, the media in order, the tokens they cost."""

    messages: list[dict[str, Any]]
    refs: list[MediaRef]
    media: list[Media]

    @property
    def media_tokens(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.media:
            out[item.kind] = out.get(item.kind, 0) + item.tokens
        return out

    @property
    def images(self) -> list[Media]:
        return [m for m in self.media if m.kind == "image"]


# ------------------------------------------------------------------------------------------------- parsing


def native_conversation(messages: object, where: str = "input.messages") -> Conversation:
    """``input.messages`` of the multimodal endpoint: roles known, contents strings or lists of single-key parts."""
    if not isinstance(messages, list) or not messages:
        raise InvalidParameter(EMPTY_MESSAGES, param=where)
    out: list[dict[str, Any]] = []
    refs: list[MediaRef] = []
    for i, message in enumerate(messages):
        here = f"{where}[{i}]"
        if not isinstance(message, dict):
            raise InvalidParameter(f"{here} must be an object.", param=here)
        role = _role(message, here)
        content = message.get("content")
        texts = _native_content(content, role, f"{here}.content", refs, message.get("tool_calls") is not None)
        out.append({"role": role, "content": texts})
    return _finish(out, refs)


def openai_conversation(messages: list[dict[str, Any]], where: str = "messages") -> Conversation:
    """OpenAI messages whose content may hold ``text``/``image_url``/``video_url``/``video``/``input_audio`` parts."""
    out: list[dict[str, Any]] = []
    refs: list[MediaRef] = []
    for i, message in enumerate(messages):
        here = f"{where}[{i}]"
        role = _role(message, here)
        content = message.get("content")
        if isinstance(content, list):
            texts = [_openai_part(part, role, f"{here}.content[{j}]", refs) for j, part in enumerate(content)]
            text = "".join(texts)
        elif isinstance(content, str):
            text = content
        elif content is None and (role == "assistant" or message.get("tool_calls") is not None):
            text = ""
        else:
            raise InvalidParameter(f"{here}.content is required for role {role}.", param=f"{here}.content")
        out.append({"role": role, "content": text})
    if not out:
        raise EmptyInput(f"{where} must hold at least one message.", param=where)
    return _finish(out, refs)


def _finish(messages: list[dict[str, Any]], refs: list[MediaRef]) -> Conversation:
    if not any(m["role"] == "user" for m in messages):
        raise InvalidParameter("The input messages do not contain elements with the role of user.")
    if len(refs) > MAX_MEDIA:
        raise InvalidParameter(f"Too many media items in one request: {len(refs)} (at most {MAX_MEDIA}).")
    return Conversation(messages, refs, [])


def _role(message: Mapping[str, Any], here: str) -> str:
    role = message.get("role")
    if role not in ROLES:
        raise InvalidParameter(f"{here}.role must be one of {', '.join(ROLES)} (got {role!r}).", param=f"{here}.role")
    return str(role)


def _native_content(content: object, role: str, where: str, refs: list[MediaRef], has_tool_calls: bool) -> str:
    if isinstance(content, str):
        return content
    if content is None and (role == "assistant" or has_tool_calls):
        return ""
    if not isinstance(content, list):
        raise InvalidParameter(
            f'{where} must be a list of parts such as {{"text": ...}} or {{"image": ...}}.', param=where
        )
    texts: list[str] = []
    for j, part in enumerate(content):
        texts.append(_native_part(part, role, f"{where}[{j}]", refs))
    return "".join(texts)


def _native_part(part: object, role: str, where: str, refs: list[MediaRef]) -> str:
    keys = [k for k in ("text", *MEDIA_KEYS) if isinstance(part, dict) and k in part]
    if not isinstance(part, dict) or len(keys) != 1 or set(part) - {keys[0]} - PART_HINTS:
        raise InvalidParameter(
            f'{where} must hold exactly one of "text", "image", "video", "audio" (got {_show(part)}).', param=where
        )
    key, value = keys[0], part[keys[0]]
    if key == "text":
        if not isinstance(value, str):
            raise InvalidParameter(f"{where}.text must be a string.", param=f"{where}.text")
        return value
    return _media_ref(key, value, role, f"{where}.{key}", refs)


def _media_ref(kind: str, value: object, role: str, where: str, refs: list[MediaRef]) -> str:
    if len(refs) >= MAX_MEDIA:  # here, not only at the end: a body of 100,000 parts stops at the 65th
        raise InvalidParameter(f"Too many media items in one request: more than {MAX_MEDIA} (at most {MAX_MEDIA}).")
    frames = kind == "video" and isinstance(value, list)
    if frames:
        assert isinstance(value, list)
        if len(value) > MAX_FRAMES:
            raise InvalidParameter(
                f"{where} holds {len(value)} frames; a video as an image list holds at most {MAX_FRAMES}.", param=where
            )
        if sum(len(r.value) for r in refs if isinstance(r.value, list)) + len(value) > MAX_FRAMES_TOTAL:
            raise InvalidParameter(f"The videos of one request hold more than {MAX_FRAMES_TOTAL} frames.", param=where)
        if not value or not all(isinstance(v, str) and v for v in value):
            raise InvalidParameter(f"{where} must be a URL or a non-empty list of frame URLs.", param=where)
    elif not isinstance(value, str) or not value:
        raise InvalidParameter(f"{where} must be a non-empty URL string.", param=where)
    if role not in ("user", "system"):
        raise InvalidParameter(f"{where}: media are only accepted in user messages (this is {role}).", param=where)
    refs.append(MediaRef(kind, value, where))
    return ""


_OPENAI_MEDIA = {"image_url": "image", "video_url": "video", "input_audio": "audio", "video": "video"}


def _openai_part(part: object, role: str, where: str, refs: list[MediaRef]) -> str:
    kind = part.get("type") if isinstance(part, dict) else None
    if not isinstance(part, dict) or (kind != "text" and kind not in _OPENAI_MEDIA):
        raise InvalidParameter(
            f"{where} must be a content part of type text, image_url, video_url, video or input_audio "
            f"(got {_show(part)}).",
            param=where,
        )
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise InvalidParameter(f"{where}.text must be a string.", param=f"{where}.text")
        return str(part["text"])
    body = part.get(kind)
    if kind == "video":
        value: object = body
    elif kind == "input_audio":
        value = body.get("data") if isinstance(body, dict) else None
    else:
        value = body.get("url") if isinstance(body, dict) else None
    return _media_ref(_OPENAI_MEDIA[str(kind)], value, role, f"{where}.{kind}", refs)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------------------------------------- resolving


async def resolve_media(conv: Conversation, *, oss: OssResolver | None) -> None:
    """Resolve every reference; ``oss`` is None when the request did not opt in to ``oss://`` resolution."""
    conv.media = [await _resolve(ref, oss) for ref in conv.refs]


async def _resolve(ref: MediaRef, oss: OssResolver | None) -> Media:
    if isinstance(ref.value, list):
        for frame in ref.value:
            await _resolve_one(ref.kind, frame, oss)
        return Media(ref.kind, frames=len(ref.value))
    media = await _resolve_one(ref.kind, ref.value, oss)
    return Media(media.kind, media.name, media.digest, VIDEO_URL_FRAMES if ref.kind == "video" else 1)


async def _resolve_one(kind: str, value: str, oss: OssResolver | None) -> Media:
    if value.startswith("data:"):
        return Media(kind, digest=_data_uri_digest(value))
    if value.startswith("oss://"):
        found = await oss(value[len("oss://") :]) if oss is not None else None
        if found is None:
            raise InvalidParameter(URL_ERROR)
        return Media(kind, found.name, found.digest)
    if value.startswith(("http://", "https://")):
        return Media(kind, name=_url_name(value))
    raise InvalidParameter(URL_ERROR)


def _url_name(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise InvalidParameter(URL_ERROR) from None
    if not host or any(c.isspace() for c in url):
        raise InvalidParameter(URL_ERROR)
    if host in UNREACHABLE_HOSTS or host.endswith(".invalid") or host == "invalid":
        raise InvalidParameter(DOWNLOAD_FAILED)
    return posixpath.basename(unquote(parts.path))


def _data_uri_digest(value: str) -> str:
    match = _DATA_URI_RE.match(value)
    if match is None:
        raise InvalidParameter(BAD_DATA_URI)
    payload = match.group(3)
    if len(payload) > (MAX_DATA_URI_BYTES * 4) // 3 + 4:
        raise InvalidParameter(f"Exceeded limit on max bytes per data-uri item : {MAX_DATA_URI_BYTES}'.")
    try:
        data = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(BAD_DATA_URI) from None
    if not data:
        raise InvalidParameter(BAD_DATA_URI)
    return hashlib.md5(data).hexdigest()


# ------------------------------------------------------------------------------------------------- grounding


def image_keys(prompt: str) -> set[str]:
    """The identities of the images named in a training prompt: ``<img>name</img>`` or ``<img>name|md5</img>``."""
    keys: set[str] = set()
    for tag in IMG_TAG_RE.findall(prompt):
        for key in tag.split("|"):
            if key:
                keys.add(posixpath.basename(key).lower() if "." in key else key.lower())
    return keys


def media_keys(media: list[Media]) -> set[str]:
    keys: set[str] = set()
    for item in media:
        if item.kind == "image":
            keys.update(k.lower() for k in (item.name, item.digest) if k)
    return keys


def recall(memory: list[tuple[str, str]] | tuple[tuple[str, str], ...], media: list[Media], text: str) -> str | None:
    """The training answer of the row whose image is this request's image (by file name or by content), the row
    sharing the most images first, then the one whose text equals the question; None when no image matches."""
    wanted = media_keys(media)
    if not wanted:
        return None
    best: tuple[int, int, int] | None = None
    answer: str | None = None
    for index, (prompt, reply) in enumerate(memory):
        shared = len(image_keys(prompt) & wanted)
        if not shared:
            continue
        same_text = int(IMG_TAG_RE.sub("", prompt).strip() == IMG_TAG_RE.sub("", text).strip())
        rank = (shared, same_text, -index)
        if best is None or rank > best:
            best, answer = rank, reply
    return answer
