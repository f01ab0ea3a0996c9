"""Dataset inspection at upload: every refusal rule, every fixture's outcome, and that no input makes it raise."""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import tracemalloc
import zipfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.files import datasets
from emulator.files.datasets import DatasetReport, RowIssue, inspect_dataset, inspect_jsonl, inspect_zip
from emulator.synth.tokens import count_tokens

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "datasets"


def msg(role: Any, content: Any, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


def sft(*turns: Any, **extra: Any) -> dict[str, Any]:
    return {"messages": list(turns) or [msg("user", "你好"), msg("assistant", "您好,请问有什么可以帮您?")], **extra}


def dpo(prompt: str = "Can I get a discount?", chosen: Any = None, rejected: Any = None) -> dict[str, Any]:
    return {
        "messages": [msg("user", prompt)],
        "chosen": chosen if chosen is not None else msg("assistant", "Sign up for the newsletter for 10% off."),
        "rejected": rejected if rejected is not None else msg("assistant", "No."),
    }


def encode(*lines: Any) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode()) + b"\n"
        for line in lines
    )


def inspect(*lines: Any) -> DatasetReport:
    return inspect_jsonl(io.BytesIO(encode(*lines)))


def only_issue(report: DatasetReport) -> RowIssue:
    assert report.issue_count == 1, report.issues
    assert not report.ok
    return report.issues[0]


def make_zip(path: pathlib.Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> pathlib.Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _fixture_png() -> bytes:
    with zipfile.ZipFile(FIXTURES / "image_sft.zip") as archive:
        return archive.read("image_sft/images/mug_red.png")


PNG = _fixture_png()


def image_row(*images: str, text: str = "这是什么?") -> dict[str, Any]:
    parts: list[dict[str, str]] = [{"text": text}] + [{"image": name} for name in images]
    return {"messages": [msg("user", parts), msg("assistant", [{"text": "一只红色马克杯。"}])]}


def zip_report(tmp_path: pathlib.Path, *rows: Any, images: tuple[str, ...] = ("a.png",)) -> DatasetReport:
    members = {"train.jsonl": encode(*rows), **{name: PNG for name in images}}
    return inspect_zip(make_zip(tmp_path / "data.zip", members))


# ---------------------------------------------------------------------------------------------------- fixtures

FIXTURE_OUTCOMES = [
    # name, ok, kind, rows, first issue line, reason fragment
    ("sft_basic.jsonl", True, "sft", 40, None, None),
    ("sft_multiturn.jsonl", True, "sft", 20, None, None),
    ("dpo_basic.jsonl", True, "dpo", 30, None, None),
    ("image_sft.zip", True, "image_sft", 8, None, None),
    ("sft_long_rows.jsonl", True, "sft", 20, None, None),
    ("cpt_basic.jsonl", True, "cpt", 30, None, None),
    ("sft_thinking.jsonl", True, "sft", 20, None, None),
    ("bad_not_json.jsonl", False, "sft", 3, 3, "line 3: not valid JSON"),
    ("bad_not_utf8.jsonl", False, "sft", 2, 3, "line 3: not valid UTF-8"),
    ("bad_role.jsonl", False, "sft", 3, 3, "messages[0].role must be one of system, user, assistant (got 'human')"),
    ("bad_no_assistant.jsonl", False, "sft", 2, 2, "line 2: messages hold no assistant turn"),
    ("bad_empty.jsonl", False, None, 0, 0, "the file holds no training rows"),
    ("bad_mixed_sft_dpo.jsonl", False, "sft", 7, 6, "line 6: DPO row in a file whose first row is SFT"),
    ("bad_name_weight.jsonl", False, "sft", 1, 2, "line 2: messages[1].weight is not supported"),
    ("bad_zip_missing_image.zip", False, "image_sft", 7, 4, "'images/damaged_parcel.png' is not in the zip"),
    ("bad_zip_not_zip.zip", False, None, 0, 0, "the file is not a valid zip archive"),
]


@pytest.mark.parametrize(("name", "ok", "kind", "rows", "line", "reason"), FIXTURE_OUTCOMES)
def test_fixture_outcome(
    name: str, ok: bool, kind: str | None, rows: int, line: int | None, reason: str | None
) -> None:
    report = inspect_dataset(FIXTURES / name, name)
    assert (report.ok, report.kind, report.rows) == (ok, kind, rows), report.summary()
    if reason is None:
        assert report.issues == []
    else:
        assert report.issues[0].line == line
        assert reason in report.issues[0].reason
        assert report.summary().startswith(report.issues[0].reason)


def test_every_fixture_is_in_the_table_and_the_readme() -> None:
    names = {path.name for path in FIXTURES.iterdir() if path.suffix in (".jsonl", ".zip")}
    assert names == {row[0] for row in FIXTURE_OUTCOMES}
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in names)


def test_long_rows_fixture_has_about_half_its_rows_over_512_tokens() -> None:
    report = inspect_dataset(FIXTURES / "sft_long_rows.jsonl", "sft_long_rows.jsonl")
    long_rows = [tokens for tokens in report.row_tokens if tokens > 512]
    assert len(long_rows) == report.rows // 2
    assert min(long_rows) > 700 and max(t for t in report.row_tokens if t <= 512) < 200


def test_image_fixture_counts_images_and_keeps_samples_keyed_by_image() -> None:
    """A sample's prompt names its images by path and content MD5 (what a deployed VL fine-tune matches on)."""
    report = inspect_dataset(FIXTURES / "image_sft.zip", "image_sft.zip")
    assert report.images == 5
    with zipfile.ZipFile(FIXTURES / "image_sft.zip") as archive:
        md5 = hashlib.md5(archive.read("image_sft/images/mug_red.png")).hexdigest()
    assert report.samples[0] == (
        f"<img>image_sft/images/mug_red.png|{md5}</img>这个杯子是什么颜色的?",
        "图片中是一只红色的陶瓷马克杯,背景为米白色。",
    )
    assert report.summary() == f"8 image SFT rows, about {sum(report.row_tokens)} tokens, 5 images"


def test_fixture_pngs_are_real_pngs() -> None:
    with zipfile.ZipFile(FIXTURES / "image_sft.zip") as archive:
        pngs = [archive.read(name) for name in archive.namelist() if name.endswith(".png")]
    assert len(pngs) == 5
    assert all(
        data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and data.endswith(b"IEND\xaeB`\x82")
        for data in pngs
    )


def test_fixture_mixed_and_multiturn_content_is_bilingual() -> None:
    for name in ("sft_basic.jsonl", "sft_multiturn.jsonl", "dpo_basic.jsonl"):
        report = inspect_dataset(FIXTURES / name, name)
        prompts = [prompt for prompt, _ in report.samples]
        assert any(p.isascii() for p in prompts) and any(not p.isascii() for p in prompts), name


# ---------------------------------------------------------------------------------------------------- file type


@pytest.mark.parametrize(("filename", "shown"), [("train.txt", "'.txt'"), ("train.json", "'.json'"), ("train", "")])
def test_unsupported_extensions_are_refused(tmp_path: pathlib.Path, filename: str, shown: str) -> None:
    path = tmp_path / "upload"
    path.write_bytes(encode(sft()))
    issue = only_issue(inspect_dataset(path, filename))
    assert issue.line == 0
    assert issue.reason.endswith("fine-tune datasets must be .jsonl (SFT, DPO) or .zip (image SFT)")
    assert (shown or "(no extension)") in issue.reason


def test_unsupported_txt_message_is_exact(tmp_path: pathlib.Path) -> None:
    report = inspect_dataset(tmp_path / "x", "notes.txt")
    assert report.issues == [
        RowIssue(0, "unsupported file type '.txt': fine-tune datasets must be .jsonl (SFT, DPO) or .zip (image SFT)")
    ]


def test_extension_is_case_insensitive_and_the_path_is_what_is_read(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stored-under-an-id"
    path.write_bytes(encode(sft()))
    assert inspect_dataset(path, "TRAIN.JSONL").ok
    assert inspect_dataset(path, r"C:\Users\me\train.jsonl").ok


def test_a_missing_file_is_a_report_not_an_exception(tmp_path: pathlib.Path) -> None:
    assert "could not be read" in only_issue(inspect_dataset(tmp_path / "gone", "gone.jsonl")).reason
    assert "not a valid zip" in only_issue(inspect_dataset(tmp_path / "gone", "gone.zip")).reason


# ---------------------------------------------------------------------------------------------------- lines


def test_a_valid_sft_file_reports_rows_tokens_and_samples() -> None:
    rows = [sft(msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello!")), sft()]
    report = inspect(*rows)
    assert report.ok and report.kind == "sft" and report.rows == 2 and report.issue_count == 0
    assert report.row_tokens.typecode == "I"
    assert list(report.row_tokens) == [
        count_tokens("Be brief.") + count_tokens("Hi") + count_tokens("Hello!"),
        count_tokens("你好") + count_tokens("您好,请问有什么可以帮您?"),
    ]
    assert report.samples == [("Hi", "Hello!"), ("你好", "您好,请问有什么可以帮您?")]
    assert report.summary() == f"2 SFT rows, about {sum(report.row_tokens)} tokens"


def test_a_bom_before_line_one_is_tolerated_but_not_elsewhere() -> None:
    assert inspect_jsonl(io.BytesIO(b"\xef\xbb\xbf" + encode(sft(), sft()))).ok
    issue = only_issue(inspect_jsonl(io.BytesIO(encode(sft()) + b"\xef\xbb\xbf" + encode(sft()))))
    assert issue.line == 2 and "not valid JSON" in issue.reason


def test_blank_lines_are_skipped_but_still_counted_for_line_numbers() -> None:
    report = inspect(sft(), "", "   \t", sft(), "", "[]")
    assert report.rows == 2
    assert only_issue(report) == RowIssue(6, "line 6: must be a JSON object (got an array)")


def test_crlf_line_endings_are_fine() -> None:
    assert inspect_jsonl(io.BytesIO(encode(sft()).replace(b"\n", b"\r\n") * 3)).rows == 3


def test_the_last_line_needs_no_newline() -> None:
    assert inspect_jsonl(io.BytesIO(json.dumps(sft()).encode())).ok


def test_non_utf8_reports_the_first_bad_line() -> None:
    gbk = json.dumps(sft(msg("user", "退款多久到账"), msg("assistant", "三个工作日")), ensure_ascii=False).encode("gbk")
    report = inspect(sft(), sft(), gbk, sft(), gbk)
    assert report.rows == 3 and report.issue_count == 2
    assert report.issues[0].line == 3
    assert report.issues[0].reason.startswith("line 3: not valid UTF-8 (byte 0x")
    assert "GBK" in report.issues[0].reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{'messages': []}", "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
        ('{"messages": [}', "not valid JSON"),
        ('{"messages": []} {"messages": []}', "not valid JSON (Extra data"),
        ('"just a string"', "must be a JSON object (got a string)"),
        ("42", "must be a JSON object (got a number)"),
        ("null", "must be a JSON object (got null)"),
        ("true", "must be a JSON object (got a boolean)"),
        ('[{"role": "user"}]', "must be a JSON object (got an array)"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deeply)"),
        ('{"messages": "\x00"}', "not valid JSON (Invalid control character"),
        ("\x00\x00\x00", "not valid JSON"),
        ('{"n": ' + "9" * 5000 + "}", "not valid JSON"),
    ],
)
def test_every_line_must_be_a_json_object(line: str, reason: str) -> None:
    issue = only_issue(inspect(sft(), line))
    assert issue.line == 2
    assert issue.reason.startswith(f"line 2: {reason}")


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_a_json_error_names_its_column_on_the_line(ending: str) -> None:
    line = '{"messages": [{"role": "user", "content": "' + "x" * 80 + '"}, {"role": "assistant", "content": "y"}]'
    report = inspect_jsonl(io.BytesIO((json.dumps(sft()) + "\n" + line + ending).encode()))
    assert only_issue(report).reason == f"line 2: not valid JSON (Expecting ',' delimiter at column {len(line) + 1})"


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_a_file_without_rows_is_refused(content: bytes) -> None:
    assert only_issue(inspect_jsonl(io.BytesIO(content))) == RowIssue(0, "the file holds no training rows")


def test_a_file_of_only_bad_rows_is_refused_by_its_rows() -> None:
    report = inspect("[]", "{}")
    assert report.kind is None and report.rows == 0 and not report.ok
    assert [issue.line for issue in report.issues] == [1, 2]


def test_issues_keep_the_first_twenty_and_count_them_all() -> None:
    report = inspect(*(["nope"] * 25), sft())
    assert report.rows == 1 and report.issue_count == 25
    assert [issue.line for issue in report.issues] == list(range(1, 21))
    assert report.summary() == report.issues[0].reason + " (and 24 more problems)"


def test_summary_singular() -> None:
    assert inspect("[]", "[]").summary().endswith(" (and 1 more problem)")


def test_a_line_over_the_size_cap_is_refused_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "MAX_LINE_BYTES", 1000)
    monkeypatch.setattr(datasets, "_READ_CHUNK", 64)
    huge = json.dumps(sft(msg("user", "x" * 5000), msg("assistant", "y")))
    report = inspect(sft(), huge, sft())
    assert report.rows == 2
    assert only_issue(report).line == 2 and "longer than" in report.issues[0].reason


def test_a_real_17_mib_line_is_refused_without_parsing() -> None:
    stream = io.BytesIO(encode(sft()) + b"[" * (17 * 1024 * 1024) + b"\n" + encode(sft()))
    report = inspect_jsonl(stream)
    assert report.rows == 2 and only_issue(report) == RowIssue(2, "line 2: longer than 16 MiB")


def test_a_line_at_the_size_cap_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.dumps(sft()).encode()
    monkeypatch.setattr(datasets, "MAX_LINE_BYTES", len(line))
    assert inspect_jsonl(io.BytesIO(line + b"\n" + line)).rows == 2


def test_read_errors_become_an_issue() -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            self.calls += 1
            if self.calls > 1:
                raise OSError("disk on fire")
            data = encode(sft())
            buffer[: len(data)] = data
            return len(data)

    report = inspect_jsonl(io.BufferedReader(Broken(), 1 << 16))
    assert report.rows == 1
    assert only_issue(report) == RowIssue(0, "the file could not be read past line 1 (disk on fire)")


# ---------------------------------------------------------------------------------------------------- SFT rows


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"conversation": []}, '"messages" is missing'),
        ({"messages": []}, "messages must be a non-empty list (got an array)"),
        ({"messages": {"role": "user"}}, "messages must be a non-empty list (got an object)"),
        ({"messages": None}, "messages must be a non-empty list (got null)"),
        (sft(msg("user", "hi"), "hello"), "messages[1] must be an object (got a string)"),
        (
            sft(msg("user", "hi"), msg("bot", "hello")),
            "messages[1].role must be one of system, user, assistant (got 'bot')",
        ),
        (
            sft(msg("User", "hi"), msg("assistant", "hello")),
            "messages[0].role must be one of system, user, assistant (got 'User')",
        ),
        (
            sft({"content": "hi"}, msg("assistant", "hello")),
            "messages[0].role must be one of system, user, assistant (got nothing)",
        ),
        (
            sft(msg(["user"], "hi"), msg("assistant", "hello")),
            "messages[0].role must be one of system, user, assistant (got an array)",
        ),
        (sft({"role": "user"}, msg("assistant", "hi")), "messages[0].content must be a non-empty string (got nothing)"),
        (sft(msg("user", ""), msg("assistant", "hi")), "messages[0].content must be a non-empty string (got '')"),
        (sft(msg("user", " \n "), msg("assistant", "hi")), r"messages[0].content must be a non-empty string (got ' \n"),
        (sft(msg("user", 5), msg("assistant", "hi")), "messages[0].content must be a non-empty string (got a number)"),
        (sft(msg("user", None), msg("assistant", "hi")), "messages[0].content must be a non-empty string (got null)"),
        (
            sft(msg("user", [{"text": "hi"}]), msg("assistant", "hello")),
            "messages[0].content must be a string: text/image part lists are only accepted in a .zip image dataset",
        ),
        (
            sft(msg("user", "hi"), msg("assistant", "hello"), msg("system", "late")),
            "messages[2]: a system message is only allowed as the first message",
        ),
        (
            sft(msg("system", "s"), msg("system", "s"), msg("user", "hi"), msg("assistant", "hello")),
            "messages[1]: a system message is only allowed as the first message",
        ),
        (sft(msg("system", "s"), msg("assistant", "hello")), "messages hold no user turn"),
        (sft(msg("user", "hi"), msg("user", "anyone?")), "messages hold no assistant turn"),
        (
            sft(msg("user", "hi"), msg("assistant", "hello"), msg("user", "bye")),
            "the last message must be an assistant turn (messages[2] is user)",
        ),
        (
            sft(msg("user", "hi", name="alice"), msg("assistant", "hello")),
            "messages[0].name is not supported: OpenAI's name and weight keys are not accepted "
            "(every assistant turn is trained)",
        ),
        (sft(msg("user", "hi"), msg("assistant", "hello", weight=0)), "messages[1].weight is not supported"),
        (sft(msg("user", "hi"), msg("assistant", "hello", weight=1)), "messages[1].weight is not supported"),
    ],
)
def test_sft_row_rules(row: dict[str, Any], reason: str) -> None:
    issue = only_issue(inspect(sft(), row))
    assert issue.line == 2
    assert issue.reason.startswith(f"line 2: {reason}"), issue.reason


def test_sft_accepts_multi_turn_and_ignores_unknown_keys() -> None:
    row = sft(
        msg("system", "s"),
        msg("user", "q1"),
        msg("assistant", "a1", loss_weight=1),
        msg("user", "q2"),
        msg("assistant", "a2"),
        msg("assistant", "a3"),
        id="row-1",
        meta={"x": 1},
    )
    report = inspect(row)
    assert report.ok and report.samples == [("q2", "a3")]


def test_samples_stop_at_two_hundred_and_are_truncated() -> None:
    long_answer = "好" * (datasets.MAX_SAMPLE_CHARS + 50)
    report = inspect(*[sft(msg("user", f"q{n}"), msg("assistant", long_answer)) for n in range(250)])
    assert report.rows == 250 and len(report.row_tokens) == 250
    assert len(report.samples) == 200 and report.samples[199][0] == "q199"
    assert len(report.samples[0][1]) == datasets.MAX_SAMPLE_CHARS


def test_samples_never_hold_lone_surrogates() -> None:
    report = inspect('{"messages": [{"role": "user", "content": "a\\ud800b"}, {"role": "assistant", "content": "ok"}]}')
    assert report.ok and report.samples == [("a?b", "ok")]
    json.dumps(report.samples, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------------- DPO rows


def test_a_valid_dpo_file() -> None:
    row = {
        "messages": [msg("system", "s"), msg("user", "q1"), msg("assistant", "a1"), msg("user", "q2")],
        "chosen": msg("assistant", "good answer"),
        "rejected": msg("assistant", "bad"),
    }
    report = inspect(row, dpo())
    assert report.ok and report.kind == "dpo" and report.rows == 2
    assert report.samples[0] == ("q2", "good answer")
    assert report.row_tokens[0] == sum(count_tokens(t) for t in ("s", "q1", "a1", "q2", "good answer"))
    assert report.summary().startswith("2 DPO rows")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            {**dpo(), "messages": [msg("user", "q"), msg("assistant", "a")]},
            "DPO messages must end with a user turn (messages[1] is assistant)",
        ),
        ({k: v for k, v in dpo().items() if k != "rejected"}, '"rejected" is missing'),
        ({k: v for k, v in dpo().items() if k != "chosen"}, '"chosen" is missing'),
        ({k: v for k, v in dpo().items() if k != "messages"}, '"messages" is missing'),
        (dpo(chosen=msg("user", "x")), "chosen.role must be assistant (got 'user')"),
        (dpo(rejected=msg("system", "x")), "rejected.role must be assistant (got 'system')"),
        (dpo(chosen=msg("assistant", "")), "chosen.content must be a non-empty string"),
        (dpo(rejected="just text"), "rejected must be an object (got a string)"),
        (dpo(chosen=msg("assistant", "x", weight=1)), "chosen.weight is not supported"),
        (dpo(chosen={"content": "x"}), "chosen.role must be one of system, user, assistant (got nothing)"),
        (dpo(prompt=""), "messages[0].content must be a non-empty string"),
    ],
)
def test_dpo_row_rules(row: dict[str, Any], reason: str) -> None:
    issue = only_issue(inspect(dpo(), row))
    assert issue.line == 2
    assert issue.reason.startswith(f"line 2: {reason}"), issue.reason


# ---------------------------------------------------------------------------------------------------- mixing


def test_dpo_rows_in_an_sft_file_are_flagged_at_the_first_dpo_row() -> None:
    report = inspect(sft(), sft(), sft(), dpo(), dpo())
    assert report.kind == "sft" and report.rows == 5
    issue = only_issue(report)
    assert issue.line == 4
    assert issue.reason.startswith("line 4: DPO row in a file whose first row is SFT (3 SFT rows, 2 DPO rows")


def test_when_the_first_row_is_the_minority_it_is_the_one_flagged() -> None:
    report = inspect(sft(), dpo(), dpo(), dpo())
    assert report.kind == "dpo"
    assert only_issue(report).reason.startswith("line 1: SFT row in a file of mostly DPO rows (1 SFT row, 3 DPO rows")


def test_on_a_tie_the_first_rows_kind_wins() -> None:
    report = inspect(dpo(), sft())
    assert report.kind == "dpo" and only_issue(report).line == 2


def test_the_mix_issue_is_sorted_among_the_others() -> None:
    report = inspect(sft(), dpo(), *(["x"] * 30), sft())
    assert report.issue_count == 31 and len(report.issues) == 20
    assert report.issues[0].line == 2 and "DPO row" in report.issues[0].reason
    assert [issue.line for issue in report.issues[1:]] == list(range(3, 22))


# ---------------------------------------------------------------------------------------------------- zip


def test_a_valid_image_zip(tmp_path: pathlib.Path) -> None:
    rows = [image_row("a.png"), image_row("a.png", "b.png"), sft(msg("user", "纯文本"), msg("assistant", "也可以"))]
    report = zip_report(tmp_path, *rows, images=("a.png", "b.png", "unused.png"))
    assert report.ok and report.kind == "image_sft" and report.rows == 3 and report.images == 2
    assert (
        report.row_tokens[1] == count_tokens("这是什么?") + count_tokens("一只红色马克杯。") + 2 * datasets.IMAGE_TOKENS
    )
    assert report.samples[2] == ("纯文本", "也可以")


def test_images_resolve_relative_to_the_jsonl_folder(tmp_path: pathlib.Path) -> None:
    members = {
        "set/train.jsonl": encode(image_row("pics/a.png"), image_row("./pics/../pics/a.png")),
        "set/pics/a.png": PNG,
    }
    assert inspect_zip(make_zip(tmp_path / "d.zip", members)).ok
    members["set/train.jsonl"] = encode(image_row("set/pics/a.png"))
    issue = only_issue(inspect_zip(make_zip(tmp_path / "e.zip", members)))
    assert issue.reason == (
        "line 1: messages[0].content[1].image 'set/pics/a.png' is not in the zip (looked for 'set/set/pics/a.png')"
    )


def test_image_extension_matching_is_case_insensitive(tmp_path: pathlib.Path) -> None:
    assert zip_report(tmp_path, image_row("A.JPG"), images=("A.JPG",)).ok


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (image_row("missing.png"), "messages[0].content[1].image 'missing.png' is not in the zip"),
        (image_row("a.tiff"), "messages[0].content[1].image 'a.tiff' must be a jpg, jpeg, png, bmp, webp or gif file"),
        (image_row("a"), "must be a jpg, jpeg, png, bmp, webp or gif file"),
        (image_row("../a.png"), "messages[0].content[1].image '../a.png' must be a path inside the zip"),
        (image_row("/a.png"), "'/a.png' must be a path inside the zip"),
        (image_row("https://example.com/a.png"), "is not in the zip"),
        (
            {"messages": [msg("user", "hi"), msg("assistant", [{"image": "a.png"}])]},
            "messages[1].content[0]: images are only accepted in user turns (this is assistant)",
        ),
        (
            {"messages": [msg("system", [{"image": "a.png"}]), msg("user", "hi"), msg("assistant", "ok")]},
            "messages[0].content[0]: images are only accepted in user turns (this is system)",
        ),
        ({"messages": [msg("user", []), msg("assistant", "ok")]}, "messages[0].content holds no text and no image"),
        (
            {"messages": [msg("user", [{"text": " "}]), msg("assistant", "ok")]},
            "messages[0].content holds no text and no image",
        ),
        (
            {"messages": [msg("user", [{"text": "a", "image": "a.png"}]), msg("assistant", "ok")]},
            'messages[0].content[0] must be {"text": ...} or {"image": "<file name>"}',
        ),
        (
            {"messages": [msg("user", ["hi"]), msg("assistant", "ok")]},
            'messages[0].content[0] must be {"text": ...} or {"image": "<file name>"} (got \'hi\')',
        ),
        (
            {"messages": [msg("user", [{"image": 3}]), msg("assistant", "ok")]},
            "messages[0].content[0].image must be a string (got a number)",
        ),
        (
            {"messages": [msg("user", {"text": "hi"}), msg("assistant", "ok")]},
            "messages[0].content must be a non-empty string or a list of text/image parts (got an object)",
        ),
        (dpo(), "DPO rows (chosen/rejected) are not accepted in a .zip image dataset"),
        ({"messages": [msg("user", [{"image": "a.png"}])]}, "messages hold no assistant turn"),
    ],
)
def test_image_row_rules(tmp_path: pathlib.Path, row: dict[str, Any], reason: str) -> None:
    issue = only_issue(zip_report(tmp_path, image_row("a.png"), row))
    assert issue.line == 2
    assert issue.reason.startswith("line 2: ") and reason in issue.reason, issue.reason


def test_the_zip_must_hold_exactly_one_jsonl(tmp_path: pathlib.Path) -> None:
    for members in ({"a.png": PNG, "train.json": b"{}"}, {}, {"folder/": b""}):
        none = inspect_zip(make_zip(tmp_path / "none.zip", members))
        assert only_issue(none).reason.startswith("the zip holds no .jsonl file")
    two = inspect_zip(make_zip(tmp_path / "two.zip", {"a.jsonl": encode(sft()), "b/B.JSONL": encode(sft())}))
    assert only_issue(two) == RowIssue(
        0, "the zip holds 2 .jsonl files (a.jsonl, b/B.JSONL); an image dataset holds exactly one"
    )


def test_macos_litter_is_ignored(tmp_path: pathlib.Path) -> None:
    members = {
        "d/train.jsonl": encode(image_row("a.png")),
        "d/a.png": PNG,
        "__MACOSX/d/._train.jsonl": b"\x00\x05\x16\x07",
        "d/._other.jsonl": b"\x00",
    }
    assert inspect_zip(make_zip(tmp_path / "mac.zip", members)).ok


def test_text_only_zip_is_image_sft_with_no_images(tmp_path: pathlib.Path) -> None:
    report = zip_report(tmp_path, sft(), images=())
    assert report.ok and report.kind == "image_sft" and report.images == 0


def test_an_empty_jsonl_in_a_zip(tmp_path: pathlib.Path) -> None:
    report = inspect_zip(make_zip(tmp_path / "e.zip", {"train.jsonl": b""}))
    assert only_issue(report) == RowIssue(0, "the file holds no training rows")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"PK\x05\x06" + b"\x00" * 10, b"\x00" * 100])
def test_not_a_zip(tmp_path: pathlib.Path, content: bytes) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(content)
    assert only_issue(inspect_zip(path)).reason.startswith("the file is not a valid zip archive")


def test_high_compression_ratio_is_refused_before_reading(tmp_path: pathlib.Path) -> None:
    path = make_zip(tmp_path / "bomb.zip", {"train.jsonl": encode(sft()), "zeros.png": b"\x00" * (4 * 1024 * 1024)})
    issue = only_issue(inspect_zip(path))
    assert issue.line == 0
    assert issue.reason.startswith("'zeros.png' in the zip is compressed ")
    assert "over the 200:1 limit (refused as a possible zip bomb)" in issue.reason


def test_small_members_are_exempt_from_the_ratio_check(tmp_path: pathlib.Path) -> None:
    path = make_zip(tmp_path / "small.zip", {"train.jsonl": encode(*[sft()] * 2000)})
    info = zipfile.ZipFile(path).infolist()[0]
    assert info.file_size / info.compress_size > 200 and info.file_size < datasets.RATIO_CHECK_MIN_BYTES
    assert inspect_zip(path).ok


def test_total_uncompressed_size_is_capped(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_zip(tmp_path / "big.zip", {"train.jsonl": encode(sft()), "a.png": PNG}, zipfile.ZIP_STORED)
    monkeypatch.setattr(datasets, "MAX_UNCOMPRESSED_BYTES", 100)
    assert "over the 2 GiB limit (refused as a possible zip bomb)" in only_issue(inspect_zip(path)).reason


def test_a_lying_central_directory_size_cannot_bypass_the_cap(tmp_path: pathlib.Path) -> None:
    path = make_zip(tmp_path / "lie.zip", {"train.jsonl": encode(sft())})
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (3 * 1024**3).to_bytes(4, "little")  # uncompressed size field
    path.write_bytes(bytes(data))
    assert "over the 2 GiB limit" in only_issue(inspect_zip(path)).reason


def test_an_encrypted_member_is_a_report(tmp_path: pathlib.Path) -> None:
    path = make_zip(tmp_path / "enc.zip", {"train.jsonl": encode(sft())})
    data = bytearray(path.read_bytes())
    data[data.rindex(b"PK\x01\x02") + 8] |= 0x1  # general-purpose flag: encrypted
    path.write_bytes(bytes(data))
    assert "could not be opened" in only_issue(inspect_zip(path)).reason


def test_a_corrupt_member_is_a_report(tmp_path: pathlib.Path) -> None:
    path = make_zip(tmp_path / "crc.zip", {"train.jsonl": encode(*[sft()] * 50)}, zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    start = data.index(b'{"messages"')
    data[start + 5000 : start + 5004] = b"XXXX"
    path.write_bytes(bytes(data))
    report = inspect_zip(path)
    assert report.issues[-1].line == 0 and "could not be read past line" in report.issues[-1].reason
    assert "CRC" in report.issues[-1].reason


# ---------------------------------------------------------------------------------------------------- streaming


class _Generated(io.RawIOBase):
    """A stream of `count` copies of one line, produced on demand so the whole file never exists in memory."""

    def __init__(self, line: bytes, count: int) -> None:
        self.line, self.left, self.pending = line, count, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self.pending) < len(buffer) and self.left:
            take = min(self.left, 256)
            self.pending += self.line * take
            self.left -= take
        size = min(len(buffer), len(self.pending))
        buffer[:size], self.pending = self.pending[:size], self.pending[size:]
        return size


def test_memory_stays_bounded_while_streaming() -> None:
    line = encode(sft(msg("user", "请问退款多久到账?" * 5), msg("assistant", "Refunds take 3-5 business days. " * 10)))
    count = 12_000  # about 8 MB; the peak is the read buffers (~3 MB) whatever the file size
    tracemalloc.start()
    try:
        report = inspect_jsonl(io.BufferedReader(_Generated(line, count), 1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.ok and report.rows == count
    assert len(line) * count > 7 * 1024 * 1024
    assert peak < 5 * 1024 * 1024


# ---------------------------------------------------------------------------------------------------- never raises

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
roles = st.sampled_from(["system", "user", "assistant", "bot", ""]) | json_values
message = st.fixed_dictionaries(
    {"role": roles, "content": st.text(max_size=10) | json_values}, optional={"name": json_values}
)
rows = st.fixed_dictionaries(
    {"messages": st.lists(message, max_size=5) | json_values}, optional={"chosen": json_values, "rejected": json_values}
)
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _check_report(report: DatasetReport) -> None:
    assert isinstance(report, DatasetReport)
    assert report.rows == len(report.row_tokens) and len(report.samples) <= min(report.rows, 200)
    assert len(report.issues) <= 20 and report.issue_count >= len(report.issues)
    assert report.ok == (report.issue_count == 0 and report.rows > 0)
    assert isinstance(report.summary(), str)


@FUZZ
@given(st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    _check_report(inspect_jsonl(io.BytesIO(data)))


@FUZZ
@given(st.lists(json_values, max_size=6))
def test_never_raises_on_arbitrary_json_lines(values: list[Any]) -> None:
    _check_report(inspect_jsonl(io.BytesIO(encode(*[json.dumps(v) for v in values]))))


@FUZZ
@given(st.lists(rows, min_size=1, max_size=6))
def test_never_raises_on_almost_valid_rows(values: list[Any]) -> None:
    _check_report(inspect_jsonl(io.BytesIO(encode(*values))))


@FUZZ
@given(st.lists(rows | json_values, min_size=1, max_size=4), st.binary(max_size=200))
def test_never_raises_on_zips(tmp_path_factory: pytest.TempPathFactory, values: list[Any], noise: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = make_zip(folder / "d.zip", {"train.jsonl": encode(*values) + noise, "a.png": PNG})
    _check_report(inspect_zip(path))


@FUZZ
@given(st.data())
def test_never_raises_on_damaged_zips(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    original = (FIXTURES / "image_sft.zip").read_bytes()
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(damaged)))
    path = tmp_path_factory.mktemp("fuzz") / "d.zip"
    path.write_bytes(bytes(damaged[:cut] if data.draw(st.booleans()) else damaged))
    _check_report(inspect_zip(path))


@FUZZ
@given(st.lists(st.sampled_from([sft(), dpo(), "junk", ""]), max_size=30))
def test_issues_are_in_line_order(values: list[Any]) -> None:
    lines = [issue.line for issue in inspect(*values).issues]
    assert lines == sorted(lines)


# ---------------------------------------------------------------------------------------------------- CPT and thinking


def test_cpt_rows_are_text_objects_and_extra_keys_are_tolerated() -> None:
    report = inspect({"text": "杭州是浙江省的省会。西湖是杭州最著名的景点。"}, {"text": "第二行", "source": "kb"})
    assert (report.ok, report.kind, report.rows) == (True, "cpt", 2)
    assert report.row_tokens.tolist() == [
        count_tokens("杭州是浙江省的省会。西湖是杭州最著名的景点。"),
        count_tokens("第二行"),
    ]
    assert report.samples[1] == ("第二行", "第二行")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"text": ""}, "text must be a non-empty string (got '')"),
        ({"text": "   "}, "text must be a non-empty string"),
        ({"text": 3}, "text must be a non-empty string (got a number)"),
        ({"text": None}, "text must be a non-empty string (got null)"),
    ],
)
def test_cpt_row_rules(row: dict[str, Any], reason: str) -> None:
    issue = only_issue(inspect({"text": "ok"}, row))
    assert issue.reason.startswith(f"line 2: {reason}"), issue.reason


def test_cpt_and_sft_rows_do_not_mix() -> None:
    report = inspect({"text": "a"}, {"text": "b"}, sft())
    assert not report.ok and "line 3: SFT row in a file whose first row is CPT" in report.issues[0].reason


def test_cpt_rows_are_refused_in_a_zip(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "cpt.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.jsonl", json.dumps({"text": "继续预训练"}) + "\n")
    assert "CPT rows (text) are not accepted in a .zip" in inspect_zip(path).summary()


def test_thinking_rows_are_accepted_and_the_answer_is_remembered_without_the_block() -> None:
    think = "<think>\n用户在问候。\n</think>\n\n你好！"
    empty = "<think>\n\n</think>\n\n不用思考。"
    report = inspect(
        sft(msg("user", "你好"), msg("assistant", think)), sft(msg("user", "直接答"), msg("assistant", empty))
    )
    assert report.ok and report.kind == "sft"
    assert report.samples == [("你好", "你好！"), ("直接答", "不用思考。")]
    assert report.row_tokens[0] == count_tokens("你好") + count_tokens(think)  # the block is trained


def test_an_unclosed_think_block_is_refused() -> None:
    issue = only_issue(inspect(sft(), sft(msg("user", "q"), msg("assistant", "<think>\n想一想"))))
    assert issue.reason == "line 2: messages[1].content opens a <think> block without closing it (</think>)"
