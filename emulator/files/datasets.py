"""Inspect a fine-tune dataset when it is uploaded, so that a bad file is refused with a precise reason.

The real service checks the file's format when a job starts; the emulator does it once at upload and keeps the
result (rows, per-row token estimates, a few prompt/answer samples) so jobs never reread the file.  Everything here
is pure: a path or a byte stream in, a ``DatasetReport`` out.  No input makes it raise; a bad file is a report
whose ``issues`` say why.

Problems refused at upload (each is one ``RowIssue``; ``line`` 0 means the whole file):

File level
  * The name must end in ``.jsonl`` (SFT, DPO) or ``.zip`` (image SFT); anything else is unsupported.
  * A file with no non-blank line "holds no training rows".
  * A ``.zip`` must open as a zip archive, must not expand to more than 2 GiB in total, and no member of 1 MiB or
    more may be compressed more than 200:1 (zip-bomb guard, checked from the central directory before anything is
    read; tiny members are exempt because a few KB of repetitive text legitimately compresses that well).
  * A ``.zip`` must hold exactly one ``.jsonl`` (macOS ``__MACOSX/`` and ``._*`` companions are ignored), which must
    be readable (not encrypted, a supported compression method, an intact CRC).  Nothing is extracted to disk.

Line level (lines are split on ``\\n``; blank lines are skipped; a UTF-8 BOM before line 1 is tolerated)
  * Every line must be UTF-8 (GBK/GB18030 files are the usual culprit), at most 16 MiB long (a memory bound; such
    a row is far beyond any ``max_length`` anyway), and one JSON object.
  * SFT row: ``{"messages": [...]}``, a non-empty list of messages.  Each message is an object with ``role`` in
    system/user/assistant and ``content`` a string that is not blank.  ``system`` only as the first message.  At
    least one user turn, and the last message is an assistant turn.  OpenAI's ``name`` and ``weight`` message
    keys are refused, because the service trains every assistant turn and says so.  Other keys are ignored.
  * DPO row (any row with ``chosen`` or ``rejected``): ``messages`` as above but ending with a user turn, plus
    ``chosen`` and ``rejected``, each ``{"role": "assistant", "content": <non-blank string>}``.
  * Image SFT row (only inside a ``.zip``): as SFT, but ``content`` may also be a non-empty list of
    ``{"text": str}`` / ``{"image": "<file name>"}`` parts holding some text or an image.  Images go in user
    turns only; each must be a jpg/jpeg/png/bmp/webp/gif member of the archive, its path taken relative to the
    ``.jsonl``'s folder.  DPO rows and list content are refused outside their own file type.
  * CPT row (continued pre-training, 2026): ``{"text": "<non-blank string>"}``, any row with ``text`` and no
    ``messages``; other keys are tolerated.  Only in a ``.jsonl``.
  * Thinking-style SFT rows (2026): an assistant turn may start with a ``<think>\n...\n</think>\n\n`` block
    (``<think>\n\n</think>\n\n`` teaches "don't think"); a ``<think>`` without its ``</think>`` is refused.  The
    block is trained (it counts towards tokens) but the fine-tuned model's remembered answer is the text after it.
  * SFT, DPO and CPT rows must not be mixed: one issue at the first row of the less common kind.

Row length against ``max_length`` is *not* checked here: the real service drops over-long rows during training,
and so does the emulator's training plan (``fine_tunes.training``), using ``row_tokens``.  Token estimates come
from ``count_tokens`` on each message's text plus a flat ``IMAGE_TOKENS`` per image (Qwen-VL spends a few hundred
tokens on a small image).
"""

from __future__ import annotations

import array
import hashlib
import io
import json
import pathlib
import posixpath
import re
import struct
import typing
import zipfile
import zlib
from bisect import insort
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from emulator.synth.tokens import count_tokens

Kind = Literal["sft", "dpo", "image_sft", "cpt"]

MAX_ISSUES = 20
MAX_SAMPLES = 200
MAX_SAMPLE_CHARS = 2000
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 200
RATIO_CHECK_MIN_BYTES = 1024 * 1024
IMAGE_TOKENS = 256
MAX_HASHED_IMAGE_BYTES = 20 * 1024 * 1024
_IMG_TAG = re.compile(r"<img>([^<|]*)</img>")
ROLES = ("system", "user", "assistant")
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"})

_BOM = b"\xef\xbb\xbf"
_READ_CHUNK = 1024 * 1024
_KIND_LABELS: dict[str, str] = {"sft": "SFT", "dpo": "DPO", "image_sft": "image SFT", "cpt": "CPT"}
_CPT_PROMPT_CHARS = 40
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
# What reading a (possibly corrupt) stream or zip member can raise; each becomes a file-level issue.
# What reading a damaged file or archive can raise; zipfile lets struct/index/key errors escape on corrupt headers.
_READ_ERRORS = (
    OSError,
    EOFError,
    zlib.error,
    zipfile.BadZipFile,
    RuntimeError,
    NotImplementedError,
    ValueError,
    struct.error,
    IndexError,
    KeyError,
    OverflowError,
)
_MISSING: Any = object()


@dataclass(frozen=True)
class RowIssue:
    line: int  # 1-based line of the .jsonl (inside the zip for image datasets); 0 for the whole file
    reason: str


@dataclass
class DatasetReport:
    kind: Kind | None
    rows: int
    row_tokens: array.array[int]
    issues: list[RowIssue]
    issue_count: int
    samples: list[tuple[str, str]]
    images: int = 0  # distinct archive images referenced by valid rows

    @property
    def ok(self) -> bool:
        return self.issue_count == 0 and self.rows > 0

    def summary(self) -> str:
        if self.issues:
            more = self.issue_count - 1
            return self.issues[0].reason + (f" (and {_plural(more, 'more problem')})" if more else "")
        label = _KIND_LABELS.get(self.kind or "", "training")
        images = f", {_plural(self.images, 'image')}" if self.images else ""
        return f"{_plural(self.rows, label + ' row')}, about {sum(self.row_tokens)} tokens{images}"


class _RowError(Exception):
    """The first problem found in a row; a row gets one issue, not one per field."""


class _Archive(NamedTuple):
    base: str  # folder of the .jsonl inside the zip
    names: frozenset[str]  # normalised member names


class _Turn(NamedTuple):
    role: str
    text: str
    tokens: int
    images: tuple[str, ...]


class _Row(NamedTuple):
    kind: Kind
    tokens: int
    prompt: str
    answer: str
    images: tuple[str, ...]


@dataclass
class _Tally:
    """Running totals while a file streams past; only bounded state is kept."""

    report: DatasetReport = field(default_factory=lambda: _empty_report())
    nonblank: int = 0
    first_line: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    image_names: set[str] = field(default_factory=set)

    @property
    def full(self) -> bool:
        return len(self.report.issues) >= MAX_ISSUES

    def issue(self, line: int, reason: str) -> None:
        self.report.issue_count += 1
        if len(self.report.issues) < MAX_ISSUES:
            self.report.issues.append(RowIssue(line, reason))

    def add(self, line: int, row: _Row) -> None:
        report = self.report
        report.rows += 1
        report.row_tokens.append(min(row.tokens, 0xFFFFFFFF))
        self.first_line.setdefault(row.kind, line)
        self.counts[row.kind] = self.counts.get(row.kind, 0) + 1
        self.image_names.update(row.images)
        if len(report.samples) < MAX_SAMPLES:
            prompt = "".join(f"<img>{name}</img>" for name in row.images) + row.prompt
            report.samples.append((_sample_text(prompt), _sample_text(row.answer)))


# ---------------------------------------------------------------------------------------------------- entry points


def inspect_dataset(path: pathlib.Path, filename: str) -> DatasetReport:
    suffix = pathlib.PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if suffix == ".jsonl":
        return _inspect_jsonl_path(path)
    if suffix == ".zip":
        return inspect_zip(path)
    shown = f"'{suffix}'" if suffix else "(no extension)"
    return _file_problem(
        f"unsupported file type {shown}: fine-tune datasets must be .jsonl (SFT, DPO) or .zip (image SFT)"
    )


def inspect_jsonl(stream: typing.BinaryIO) -> DatasetReport:
    return _inspect_stream(stream, None)


def inspect_zip(path: pathlib.Path) -> DatasetReport:
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as exc:
        return _file_problem(f"the file is not a valid zip archive ({_describe(exc)})")
    with archive:
        return _inspect_archive(archive)


# ---------------------------------------------------------------------------------------------------- streaming


def _inspect_jsonl_path(path: pathlib.Path) -> DatasetReport:
    try:
        with open(path, "rb", buffering=_READ_CHUNK) as stream:
            return inspect_jsonl(stream)
    except OSError as exc:
        return _file_problem(f"the file could not be read ({_describe(exc)})")


def _inspect_stream(stream: typing.BinaryIO, archive: _Archive | None) -> DatasetReport:
    tally = _Tally()
    line = 0
    while True:
        try:
            raw = _read_line(stream)
        except _READ_ERRORS as exc:  # only the read is guarded, so a bug in the checks still surfaces
            tally.issue(0, f"the file could not be read past line {line} ({_describe(exc)})")
            break
        if raw == b"":
            break
        line += 1
        _inspect_line(tally, line, raw, archive)
    return _finish(tally)


def _read_line(stream: typing.BinaryIO) -> bytes | None:
    """The next line, b"" at the end, or None for a line over MAX_LINE_BYTES (skipped without keeping it)."""
    raw = stream.readline(MAX_LINE_BYTES + 1)
    if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
        return raw
    while chunk := stream.readline(_READ_CHUNK):
        if chunk.endswith(b"\n"):
            break
    return None


def _inspect_line(tally: _Tally, line: int, raw: bytes | None, archive: _Archive | None) -> None:
    if raw is None:
        tally.nonblank += 1
        tally.issue(line, f"line {line}: longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
        return
    if line == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if not raw or raw.isspace():
        return
    tally.nonblank += 1
    if tally.full and not raw.lstrip().startswith(b"{"):
        tally.report.issue_count += 1  # surely bad, and its reason would not be kept: skip the costly parse
        return
    try:
        row = _check_row(_decode(raw), archive)
    except _RowError as exc:
        tally.issue(line, f"line {line}: {exc}")
    else:
        tally.add(line, row)


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise _RowError(
            f"not valid UTF-8 (byte 0x{bad:02x} at byte {exc.start + 1}); save the file as UTF-8, not GBK/GB18030"
        ) from None
    try:
        return json.loads(text.rstrip("\r\n"))  # with its newline, an error at the line's end reads "column 1"
    except json.JSONDecodeError as exc:
        raise _RowError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise _RowError("not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise _RowError(f"not valid JSON ({exc})") from None


def _finish(tally: _Tally) -> DatasetReport:
    report = tally.report
    if tally.nonblank == 0 and report.issue_count == 0:
        tally.issue(0, "the file holds no training rows")
    if len(tally.counts) > 1:
        _add_mix_issue(tally)
    if tally.counts:
        report.kind = _majority_kind(tally)
    report.images = len(tally.image_names)
    return report


def _majority_kind(tally: _Tally) -> Kind:
    """The most common kind; on a tie, the kind of the first valid row."""
    kinds = sorted(tally.counts, key=lambda kind: (-tally.counts[kind], tally.first_line[kind]))
    return typing.cast(Kind, kinds[0])


def _add_mix_issue(tally: _Tally) -> None:
    major = _majority_kind(tally)
    minor = next(kind for kind in tally.counts if kind != major)
    line = tally.first_line[minor]
    first = min(tally.first_line, key=tally.first_line.__getitem__)
    counts = ", ".join(_plural(count, f"{_KIND_LABELS[kind]} row") for kind, count in tally.counts.items())
    counts += "; a dataset holds one kind only"
    if first == major:
        reason = f"line {line}: {_KIND_LABELS[minor]} row in a file whose first row is {_KIND_LABELS[major]} ({counts})"
    else:
        reason = f"line {line}: {_KIND_LABELS[minor]} row in a file of mostly {_KIND_LABELS[major]} rows ({counts})"
    tally.report.issue_count += 1
    insort(tally.report.issues, RowIssue(line, reason), key=lambda issue: issue.line)
    del tally.report.issues[MAX_ISSUES:]


# ---------------------------------------------------------------------------------------------------- rows


def _check_row(obj: Any, archive: _Archive | None) -> _Row:
    if archive is None:
        fast = _plain_sft_row(obj)
        if fast is not None:
            return fast
    if not isinstance(obj, dict):
        raise _RowError(f"must be a JSON object (got {_json_type(obj)})")
    if "chosen" in obj or "rejected" in obj:
        if archive is not None:
            raise _RowError("DPO rows (chosen/rejected) are not accepted in a .zip image dataset")
        return _dpo_row(obj)
    if "text" in obj and "messages" not in obj:
        if archive is not None:
            raise _RowError("CPT rows (text) are not accepted in a .zip image dataset")
        return _cpt_row(obj)
    return _sft_row(obj, archive)


def _cpt_row(obj: dict[str, Any]) -> _Row:
    """``{"text": ...}``: the model continues text, so its remembered "prompt" is the opening of the text."""
    text = obj["text"]
    if not isinstance(text, str) or not text or text.isspace():
        raise _RowError(f"text must be a non-empty string (got {_show(text)})")
    return _Row("cpt", count_tokens(text), text[:_CPT_PROMPT_CHARS], text, ())


def _without_think(answer: str) -> str:
    """The answer after a leading ``<think>...</think>`` block (what the fine-tuned model should say)."""
    if answer.lstrip().startswith(_THINK_OPEN):
        _, _, rest = answer.partition(_THINK_CLOSE)
        return rest.lstrip() or answer
    return answer


def _check_think(turns: list[_Turn]) -> None:
    for index, turn in enumerate(turns):
        if turn.role == "assistant" and _THINK_OPEN in turn.text and _THINK_CLOSE not in turn.text:
            raise _RowError(f"messages[{index}].content opens a <think> block without closing it (</think>)")


_PLAIN_KEYS = frozenset({"role", "content"})


def _plain_sft_row(obj: Any) -> _Row | None:
    """The common row (string contents, only role/content keys) checked in one pass; None sends anything else
    through the full checks, which also word the error.  Same verdict and token count as ``_sft_row``."""
    if type(obj) is not dict or "chosen" in obj or "rejected" in obj:
        return None
    messages = obj.get("messages")
    if type(messages) is not list or not messages:
        return None
    tokens = 0
    prompt: str | None = None
    for index, message in enumerate(messages):
        if type(message) is not dict or message.keys() != _PLAIN_KEYS:
            return None
        role, content = message["role"], message["content"]
        if type(content) is not str or not content or content.isspace() or role not in ROLES:
            return None
        if role == "system" and index:
            return None
        if role == "user":
            prompt = content
        elif role == "assistant" and _THINK_OPEN in content:
            return None
        tokens += count_tokens(content)
    last = messages[-1]["content"]
    if prompt is None or messages[-1]["role"] != "assistant":
        return None
    return _Row("sft", tokens, prompt, last, ())


def _sft_row(obj: dict[str, Any], archive: _Archive | None) -> _Row:
    turns = _turns(obj, archive)
    roles = [turn.role for turn in turns]
    if "user" not in roles:
        raise _RowError("messages hold no user turn")
    if "assistant" not in roles:
        raise _RowError("messages hold no assistant turn")
    if roles[-1] != "assistant":
        raise _RowError(f"the last message must be an assistant turn (messages[{len(roles) - 1}] is {roles[-1]})")
    _check_think(turns)
    prompt = next(turn.text for turn in reversed(turns) if turn.role == "user")
    tokens = sum(turn.tokens for turn in turns)
    answer = _without_think(turns[-1].text)
    if archive is None:
        return _Row("sft", tokens, prompt, answer, ())
    images = tuple(name for turn in turns for name in turn.images)
    return _Row("image_sft", tokens, prompt, answer, images)


def _dpo_row(obj: dict[str, Any]) -> _Row:
    turns = _turns(obj, None)
    if turns[-1].role != "user":
        raise _RowError(f"DPO messages must end with a user turn (messages[{len(turns) - 1}] is {turns[-1].role})")
    chosen = _answer(obj, "chosen")
    _answer(obj, "rejected")
    return _Row("dpo", sum(turn.tokens for turn in turns) + chosen.tokens, turns[-1].text, chosen.text, ())


def _answer(obj: dict[str, Any], key: str) -> _Turn:
    if key not in obj:
        raise _RowError(f'"{key}" is missing: a DPO row needs both chosen and rejected')
    turn = _turn(obj[key], key, None)
    if turn.role != "assistant":
        raise _RowError(f"{key}.role must be assistant (got '{turn.role}')")
    return turn


def _turns(obj: dict[str, Any], archive: _Archive | None) -> list[_Turn]:
    messages = obj.get("messages", _MISSING)
    if messages is _MISSING:
        raise _RowError('"messages" is missing')
    if not isinstance(messages, list) or not messages:
        raise _RowError(f"messages must be a non-empty list (got {_json_type(messages)})")
    turns = [_turn(message, index, archive) for index, message in enumerate(messages)]
    for index, turn in enumerate(turns[1:], start=1):
        if turn.role == "system":
            raise _RowError(f"messages[{index}]: a system message is only allowed as the first message")
    return turns


def _turn(message: Any, at: int | str, archive: _Archive | None) -> _Turn:
    """``at`` is a message index or a key such as "chosen"; the label is only built when there is a problem."""
    if not isinstance(message, dict):
        raise _RowError(f"{_label(at)} must be an object (got {_json_type(message)})")
    if "name" in message or "weight" in message:
        key = "name" if "name" in message else "weight"
        raise _RowError(
            f"{_label(at)}.{key} is not supported: OpenAI's name and weight keys are not accepted "
            "(every assistant turn is trained)"
        )
    role = message.get("role", _MISSING)
    if role not in ROLES:
        raise _RowError(f"{_label(at)}.role must be one of system, user, assistant (got {_show(role)})")
    content = message.get("content", _MISSING)
    if isinstance(content, str) and content and not content.isspace():
        return _Turn(role, content, count_tokens(content), ())
    return _Turn(role, *_other_content(content, f"{_label(at)}.content", role, archive))


def _label(at: int | str) -> str:
    return f"messages[{at}]" if isinstance(at, int) else at


# ---------------------------------------------------------------------------------------------------- content


def _other_content(value: Any, where: str, role: str, archive: _Archive | None) -> tuple[str, int, tuple[str, ...]]:
    """Content that is not a plain non-blank string: a part list in an image dataset, otherwise a problem."""
    if isinstance(value, list) and archive is not None:
        return _parts(value, where, role, archive)
    if isinstance(value, list):
        raise _RowError(f"{where} must be a string: text/image part lists are only accepted in a .zip image dataset")
    wanted = "a non-empty string" if archive is None else "a non-empty string or a list of text/image parts"
    raise _RowError(f"{where} must be {wanted} (got {_show(value)})")


def _parts(parts: list[Any], where: str, role: str, archive: _Archive) -> tuple[str, int, tuple[str, ...]]:
    texts: list[str] = []
    images: list[str] = []
    for index, part in enumerate(parts):
        key, value = _part(part, f"{where}[{index}]")
        if key == "text":
            texts.append(value)
        elif role != "user":
            raise _RowError(f"{where}[{index}]: images are only accepted in user turns (this is {role})")
        else:
            images.append(_image_path(value, f"{where}[{index}].image", archive))
    text = "\n".join(piece for piece in texts if piece.strip())
    if not text and not images:
        raise _RowError(f"{where} holds no text and no image")
    return text, sum(count_tokens(piece) for piece in texts) + IMAGE_TOKENS * len(images), tuple(images)


def _part(part: Any, where: str) -> tuple[str, str]:
    if not isinstance(part, dict) or ("text" in part) == ("image" in part):
        raise _RowError(f'{where} must be {{"text": ...}} or {{"image": "<file name>"}} (got {_show(part)})')
    key = "text" if "text" in part else "image"
    if not isinstance(part[key], str):
        raise _RowError(f"{where}.{key} must be a string (got {_json_type(part[key])})")
    return key, part[key]


def _image_path(name: str, where: str, archive: _Archive) -> str:
    if posixpath.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
        raise _RowError(f"{where} {name!r} must be a jpg, jpeg, png, bmp, webp or gif file")
    path = _normalise(posixpath.join(archive.base, name.replace("\\", "/")))
    if name.startswith(("/", "\\")) or path == ".." or path.startswith("../"):
        raise _RowError(f"{where} {name!r} must be a path inside the zip, relative to the .jsonl")
    if path not in archive.names:
        raise _RowError(f"{where} {name!r} is not in the zip (looked for '{path}')")
    return path


# ---------------------------------------------------------------------------------------------------- zip


def _inspect_archive(archive: zipfile.ZipFile) -> DatasetReport:
    infos = archive.infolist()
    # a nameless entry (a corrupt header) would make ZipInfo.is_dir() raise: it is litter, like __MACOSX
    members = [
        info
        for info in infos
        if info.filename and not info.filename.endswith("/") and not _is_mac_litter(info.filename)
    ]
    problem = _bomb_problem(infos) or _jsonl_problem(members)
    if problem:
        return _file_problem(problem)
    jsonl = next(info for info in members if info.filename.lower().endswith(".jsonl"))
    names = frozenset(_normalise(info.filename) for info in members)
    context = _Archive(posixpath.dirname(_normalise(jsonl.filename)), names)
    try:
        member = archive.open(jsonl)
    except _READ_ERRORS as exc:
        return _file_problem(f"'{jsonl.filename}' in the zip could not be opened ({_describe(exc)})")
    with member, io.BufferedReader(typing.cast(io.RawIOBase, member), _READ_CHUNK) as stream:
        report = _inspect_stream(stream, context)
    _hash_sample_images(archive, report)
    return report


def _hash_sample_images(archive: zipfile.ZipFile, report: DatasetReport) -> None:
    """``<img>path</img>`` in the kept samples becomes ``<img>path|md5</img>``, so that a deployed fine-tune knows
    its training images by content too (a base64 or uploaded copy of the same image); large images keep the name."""
    infos = {_normalise(info.filename): info for info in archive.infolist() if info.filename}
    digests: dict[str, str] = {}

    def tag(match: re.Match[str]) -> str:
        path = match.group(1)
        if path not in digests:
            digests[path] = _member_md5(archive, infos.get(path))
        return f"<img>{path}|{digests[path]}</img>" if digests[path] else match.group(0)

    report.samples = [(_IMG_TAG.sub(tag, prompt), answer) for prompt, answer in report.samples]


def _member_md5(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> str:
    if info is None or info.file_size > MAX_HASHED_IMAGE_BYTES:
        return ""
    digest = hashlib.md5()
    try:
        with archive.open(info) as member:
            while chunk := member.read(_READ_CHUNK):
                digest.update(chunk)
    except _READ_ERRORS:
        return ""
    return digest.hexdigest()


def _bomb_problem(infos: list[zipfile.ZipInfo]) -> str | None:
    total = sum(info.file_size for info in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        return f"the zip expands to {total / 1024**3:.1f} GiB, over the 2 GiB limit (refused as a possible zip bomb)"
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_CHECK_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            return (
                f"'{info.filename}' in the zip is compressed {ratio:.0f}:1, over the {MAX_COMPRESSION_RATIO}:1 limit "
                "(refused as a possible zip bomb)"
            )
    return None


def _jsonl_problem(members: list[zipfile.ZipInfo]) -> str | None:
    found = [info.filename for info in members if info.filename.lower().endswith(".jsonl")]
    if not found:
        return "the zip holds no .jsonl file: an image dataset is one .jsonl plus the images it names"
    if len(found) > 1:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        return f"the zip holds {len(found)} .jsonl files ({shown}); an image dataset holds exactly one"
    return None


def _is_mac_litter(name: str) -> bool:
    """Finder's zips add __MACOSX/ and ._* resource forks, which users never meant to upload."""
    return name.startswith("__MACOSX/") or posixpath.basename(name).startswith("._")


def _normalise(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/")).lstrip("/")


# ---------------------------------------------------------------------------------------------------- helpers


def _empty_report() -> DatasetReport:
    return DatasetReport(kind=None, rows=0, row_tokens=array.array("I"), issues=[], issue_count=0, samples=[])


def _file_problem(reason: str) -> DatasetReport:
    report = _empty_report()
    report.issues.append(RowIssue(0, reason))
    report.issue_count = 1
    return report


def _sample_text(text: str) -> str:
    """Truncated, and safe to store: JSON escapes can smuggle lone surrogates that no UTF-8 encoder accepts."""
    text = text[:MAX_SAMPLE_CHARS]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_JSON_TYPES: dict[type, str] = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _json_type(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return _json_type(value)
