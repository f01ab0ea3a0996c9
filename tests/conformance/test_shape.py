"""The structural comparison and the redaction, in-process."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from emulator.conformance.corpus import parse_multipart, parse_sse_lenient, redact
from emulator.conformance.shape import compare_answer, compare_events, compare_json, id_format, incremental, time_format

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)


@given(JSON)
def test_a_value_conforms_to_itself(value: Any) -> None:
    assert compare_json(value, value) == []


def test_values_never_count_but_structure_does() -> None:
    recorded = {
        "request_id": "7e3d5586-cb70-98ce-97bf-8a2ac0091c3f",
        "output": {"text": "一", "finish_reason": "stop"},
        "usage": {"input_tokens": 3, "created": 1764499365},
    }
    same = {
        "request_id": "00000000-0000-0000-0000-000000000000",
        "output": {"text": "other", "finish_reason": "stop"},
        "usage": {"input_tokens": 999, "created": 1700000000},
    }
    assert compare_json(recorded, same) == []
    other = {"request_id": "r-1", "output": {"text": 1, "finish_reason": "length"}, "usage": {"created": "2024"}}
    kinds = {d.key for d in compare_json(recorded, other)}
    assert kinds == {
        "id-format:$.request_id",
        "type:$.output.text",
        "value:$.output.finish_reason",
        "missing:$.usage.input_tokens",
        "type:$.usage.created",
    }
    assert id_format("ft-202403261451-d26b") == id_format("ft-202612072251-3b78") != id_format("file-fe-abc")
    assert time_format("2024-03-26 14:51:10") == time_format("2026-12-07 22:51:38") != time_format(1764499365)


def test_streams_compare_framing_increments_and_the_last_frame() -> None:
    def frames(texts: list[str], finish: str = "stop", event: str = "result") -> list[dict[str, Any]]:
        out = []
        for i, text in enumerate(texts, 1):
            data = {"output": {"text": text, "finish_reason": finish if i == len(texts) else "null"}}
            out.append({"id": str(i), "event": event, "comments": ["HTTP_STATUS/200"], "data": data})
        return out

    deltas, cumulative = frames(["a", "b", "c", "d"]), frames(["a", "ab", "abc", "abcd"])
    assert incremental(deltas) is True and incremental(cumulative) is False
    assert compare_events(deltas, frames(["x", "y", "z", "w"])) == []
    assert {d.kind for d in compare_events(deltas, cumulative)} == {"incremental"}
    assert "value" in {d.kind for d in compare_events(deltas, frames(["a", "b", "c", "d"], "length"))}
    assert {d.kind for d in compare_events(deltas, frames(["a"], event="error"))} >= {"value", "frame-count"}
    sse = {"status": 200, "headers": {"content-type": "text/event-stream;charset=UTF-8"}, "events": deltas}
    json_400 = {"status": 400, "headers": {"content-type": "application/json"}, "json": {"code": "InvalidParameter"}}
    assert {d.kind for d in compare_answer(sse, json_400)} == {"status", "content-type", "not-a-stream"}


def test_recorded_streams_parse_with_or_without_blank_lines() -> None:
    text = 'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"a":1}\nid:2\nevent:result\n:HTTP_STATUS/200\ndata:{"a":2}\n\n'
    assert [f["data"] for f in parse_sse_lenient(text)] == [{"a": 1}, {"a": 2}]
    assert parse_sse_lenient("\ufeffid:1\nevent:error\n:HTTP_STATUS/400\ndata:{}")[0]["comments"] == ["HTTP_STATUS/400"]


def test_secrets_are_redacted_keeping_their_type() -> None:
    document = {
        "data": {"policy": "eyJ...", "signature": "abc=", "oss_access_key_id": "LTAI5t", "user_id": "1493478651020171"},
        "url": "http://b.oss.aliyuncs.com/api-fs/1493478651020171/67516/x.txt?Expires=1&OSSAccessKeyId=STS.x&Signature=k7",
        "note": "key sk-0123456789abcdef0123 and Bearer sk-zzzzzzzzzzzzzzzzzz",
        "dir": "dashscope-instant/52afe077fb4825c6d74411758cb1ab98/2025-07-12/x",
    }
    out = redact(document)
    text = str(out)
    for secret in ("eyJ", "abc=", "LTAI5t", "1493478651020171", "67516", "STS.x", "k7", "sk-0123", "sk-zzz", "52afe0"):
        assert secret not in text, secret
    assert out["data"]["user_id"] == "0" * 16 and redact(out) == out


def test_a_recorded_form_keeps_its_fields_not_its_signature() -> None:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="Signature"\r\n\r\nsecret\r\n'
        b'--B\r\nContent-Disposition: form-data; name="files"; filename="t.jsonl"\r\n'
        b"Content-Type: application/jsonl\r\n"
        b'\r\n{"a": 1}\r\n--B--\r\n'
    )
    parts = parse_multipart(body, "multipart/form-data; boundary=B")
    assert parts == [
        {"name": "Signature", "text": "<redacted>"},
        {"name": "files", "filename": "t.jsonl", "content_type": "application/jsonl", "text": '{"a": 1}'},
    ]
