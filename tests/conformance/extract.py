"""Build the conformance corpus from fetched git directories of the public recordings.

    python -m tests.conformance.extract --cnblogs GITDIR --sdk-python GITDIR [--out tests/conformance/corpus]

``cnblogs/dashscope-sdk`` keeps raw request/response pairs captured from the live service in its tests'
``RawHttpData`` folder (``<case>.request.header.txt``, ``.request.body.json|txt``, ``.response.header.txt``,
``.response.body.txt``); ``dashscope/dashscope-sdk-python`` keeps real fine-tune answers, as its SDK returned them,
in ``tests/data/fine_tune.json``. Each case becomes one JSON file in the corpus format (emulator.conformance.corpus)
with its source repo, path and the commit of the version read: the newest (HEAD), so where a recording changed over
time the newest stands; ``source.versions`` says how many versions the history holds. Secrets are redacted,
long bodies trimmed (structure kept). Only data is copied, never code.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.conformance.corpus import (
    FORMAT,
    KEPT_REQUEST_HEADERS,
    KEPT_RESPONSE_HEADERS,
    REDACTED,
    dump,
    keep_headers,
    parse_sse_lenient,
    redact,
    trim,
    trim_events,
)

CNBLOGS = "cnblogs/dashscope-sdk"
CNBLOGS_DIR = "test/Cnblogs.DashScope.Tests.Shared/RawHttpData"
SDK_PYTHON = "dashscope/dashscope-sdk-python"
FINE_TUNE_JSON = "tests/data/fine_tune.json"
TEXT_GENERATION = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION = "/api/v1/services/aigc/multimodal-generation/generation"

TRAINING_ROW = '{"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}\n'
# Requests the recordings keep without their request line or body: what the SDK's test sent (read from its tests).
REQUEST_HINTS: dict[str, dict[str, Any]] = {
    "upload-file-nosse": {
        "multipart": [
            {"name": "files", "filename": "test1.jsonl", "content_type": "application/jsonl", "text": TRAINING_ROW},
            {"name": "files", "filename": "test2.jsonl", "content_type": "application/jsonl", "text": TRAINING_ROW},
            {"name": "purpose", "text": "fine-tune"},
        ],
        "notes": "request body not recorded: the SDK test uploads two files in one request (here two training files)",
    },
    "upload-file-error-nosse": {
        "multipart": [{"name": "files", "filename": "test1.txt", "content_type": "text/plain", "text": "test1"}],
        "notes": "request body not recorded: an upload without a purpose (the compatible-mode error answer)",
    },
}


def git(gitdir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(gitdir), *args], check=True, capture_output=True, text=True, encoding="utf-8"
    ).stdout


def git_file(gitdir: Path, path: str) -> str | None:
    result = subprocess.run(
        ["git", "-C", str(gitdir), "show", f"HEAD:{path}"], capture_output=True, text=True, encoding="utf-8"
    )
    return result.stdout.replace("\ufeff", "") if result.returncode == 0 else None


def header_lines(text: str) -> tuple[str | None, list[tuple[str, str]]]:
    """(first line when it is a request or status line, the header pairs)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = None
    if lines and (re.match(r"^[A-Z]+ [/h]", lines[0]) or lines[0].startswith("HTTP/")):
        first = lines.pop(0)
    pairs = []
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            pairs.append((name.strip(), value.strip()))
    return first, pairs


def request_line(case: str, first: str | None) -> tuple[str, str]:
    if first is not None:
        method, target = first.split(" ")[:2]
        target = re.sub(r"^https?://[^/]+", "", target)
        return method, target or "/"
    if case.startswith("multimodal-generation"):
        return "POST", MULTIMODAL_GENERATION
    return "POST", TEXT_GENERATION


def multipart_parts(text: str, content_type: str) -> list[dict[str, Any]]:
    match = re.search(r"boundary=([^;\s]+)", content_type)
    if match is None:
        return []
    parts = []
    for chunk in text.split("--" + match.group(1)):
        chunk = chunk.strip("\r\n")
        if not chunk or chunk == "--":
            continue
        lines = chunk.splitlines()
        part: dict[str, Any] = {}
        body: list[str] = []
        for i, line in enumerate(lines):
            low = line.lower()
            if low.startswith("content-disposition:"):
                name = re.search(r'name="?([^";]+)"?', line)
                filename = re.search(r'filename="?([^";]+)"?', line)
                part["name"] = name.group(1) if name else ""
                if filename:
                    part["filename"] = filename.group(1)
            elif low.startswith("content-type:"):
                part["content_type"] = line.split(":", 1)[1].strip()
            else:
                body = lines[i:]
                break
        part["text"] = "\n".join(body)
        parts.append(part)
    return parts


def cnblogs_cases(gitdir: Path) -> list[str]:
    names = git(gitdir, "ls-tree", "--name-only", "HEAD", CNBLOGS_DIR + "/").split()
    cases = set()
    for name in names:
        base = name.rsplit("/", 1)[-1]
        match = re.match(r"^(.*-(?:no)?sse)\.", base)
        if match:
            cases.add(match.group(1))
    return sorted(cases)


def cnblogs_exchange(gitdir: Path, case: str) -> dict[str, Any] | None:
    def read(suffix: str) -> str | None:
        return git_file(gitdir, f"{CNBLOGS_DIR}/{case}.{suffix}")

    request_head = read("request.header.txt") or read("header.txt")
    response_head = read("response.header.txt")
    response_body = read("response.body.txt")
    if response_head is None or response_body is None:
        return None
    files = [f"{CNBLOGS_DIR}/{case}.{s}" for s in ("response.body.txt", "response.header.txt")]
    commit = git(gitdir, "log", "-1", "--format=%H", "--", *files).strip()
    versions = len(git(gitdir, "log", "--format=%H", "--", files[0]).split())
    status_line, response_pairs = header_lines(response_head)
    status = int(status_line.split(" ")[1]) if status_line else 200
    response_headers = dict(response_pairs)
    recorded = next((v for k, v in response_pairs if k.lower() == "date"), None)
    if recorded is None:
        recorded = git(gitdir, "log", "-1", "--format=%cI", commit).strip()

    request, notes = cnblogs_request(case, request_head, read)
    response: dict[str, Any] = {"status": status, "headers": keep_headers(response_pairs, KEPT_RESPONSE_HEADERS)}
    content_type = {k.lower(): v for k, v in response_headers.items()}.get("content-type", "")
    trimmed = False
    if "event-stream" in content_type or case.endswith("-sse") and response_body.lstrip().startswith(("id:", "data:")):
        events, trimmed = trim_events(parse_sse_lenient(response_body))
        response["events"] = redact(events)
        response["event_count"] = len(parse_sse_lenient(response_body))
    elif response_body.strip().startswith(("{", "[")):
        try:
            body, trimmed = trim(json.loads(response_body))
            response["json"] = redact(body)
        except ValueError:
            response["text"] = redact(response_body[:2000])
    else:
        response["text"] = redact(response_body[:2000])
        trimmed = len(response_body) > 2000
    if request is not None:
        request = redact(request)
        if "json" in request:
            request["json"], cut = trim(request["json"])
            trimmed = trimmed or cut
    return {
        "format": FORMAT,
        "id": f"cnblogs/{case}",
        "source": {
            "repo": CNBLOGS,
            "path": f"{CNBLOGS_DIR}/{case}.*",
            "commit": commit,
            "versions": versions,
            "recorded": recorded,
        },
        "request": request,
        "response": response,
        "trimmed": trimmed,
        "notes": notes,
    }


def cnblogs_request(
    case: str, request_head: str | None, read: Callable[[str], str | None]
) -> tuple[dict[str, Any] | None, list[str]]:
    """The recorded request (None when only the answer was kept) and notes on what had to be inferred."""
    hint = REQUEST_HINTS.get(case, {})
    notes: list[str] = [hint["notes"]] if "notes" in hint else []
    if request_head is None and not hint:
        return None, ["response fragment: the request was not recorded, so it cannot be replayed"]
    first, request_pairs = header_lines(request_head or "")
    method, path = request_line(case, first)
    request: dict[str, Any] = {
        "method": method,
        "path": path,
        "headers": keep_headers(request_pairs, KEPT_REQUEST_HEADERS),
    }
    if first is None:
        notes.append("request line not recorded: endpoint inferred from the case name")
    content_type = {k.lower(): v for k, v in request_pairs}.get("content-type", "")
    body_json = read("request.body.json")
    body_text = read("request.body.txt")
    if "multipart" in hint:
        request["multipart"] = hint["multipart"]
    elif body_json and body_json.strip():
        request["json"] = json.loads(body_json)
    elif body_text and body_text.strip() and "multipart" in content_type:
        secret = ("policy", "signature", "ossaccesskeyid")
        parts = multipart_parts(body_text, content_type)
        request["multipart"] = [{**p, "text": REDACTED} if p.get("name", "").lower() in secret else p for p in parts]
        request["headers"]["content-type"] = "multipart/form-data"
    elif body_text and body_text.strip():
        request["text"] = body_text
    return request, notes


def sdk_python_exchanges(gitdir: Path) -> list[dict[str, Any]]:
    """fine_tune.json holds the SDK's view of each answer (``status_code``, ``code``, ``message`` and
    ``usage: null`` are the SDK's, not the body's): the body is ``request_id`` + ``output``."""
    text = git_file(gitdir, FINE_TUNE_JSON)
    if text is None:
        return []
    commit = git(gitdir, "log", "-1", "--format=%H", "--", FINE_TUNE_JSON).strip()
    date = git(gitdir, "log", "-1", "--format=%cI", commit).strip()
    data = json.loads(text)
    requests = {
        "create_response": {
            "method": "POST",
            "path": "/api/v1/fine-tunes",
            "json": {"model": "qwen-turbo", "training_file_ids": ["${file_id}"], "hyper_parameters": {"n_epochs": 10}},
        },
        "create_multi_files_response": {
            "method": "POST",
            "path": "/api/v1/fine-tunes",
            "json": {
                "model": "qwen-turbo",
                "training_file_ids": ["${file_id}", "${file_id_2}"],
                "validation_file_ids": ["${file_id_3}"],
                "hyper_parameters": {"n_epochs": 10},
            },
        },
        "query_response": {"method": "GET", "path": "/api/v1/fine-tunes/${job_id}", "setup": {"job_status": "RUNNING"}},
        "list_response": {"method": "GET", "path": "/api/v1/fine-tunes?page_no=1&page_size=10", "setup": {"jobs": 2}},
    }
    out = []
    for key, request in requests.items():
        answer = data.get(key)
        if not isinstance(answer, dict):
            continue
        body = {"request_id": answer["request_id"], "output": answer["output"]}
        request = {**request, "headers": {"content-type": "application/json"} if "json" in request else {}}
        out.append(
            {
                "format": FORMAT,
                "id": f"sdk-python/fine_tune.{key}",
                "source": {
                    "repo": SDK_PYTHON,
                    "path": f"{FINE_TUNE_JSON}#{key}",
                    "commit": commit,
                    "versions": len(git(gitdir, "log", "--format=%H", "--", FINE_TUNE_JSON).split()),
                    "recorded": date,
                },
                "request": request,
                "response": {
                    "status": int(answer.get("status_code") or 200),
                    "headers": {"content-type": "application/json"},
                    "json": redact(body),
                },
                "trimmed": False,
                "notes": [
                    "the SDK's view of a real answer: body rebuilt as request_id + output; the request is the SDK "
                    "test's, with a real base model and uploaded files (${...} filled in at replay)"
                ],
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cnblogs", type=Path, required=True, help="git dir of cnblogs/dashscope-sdk")
    parser.add_argument("--sdk-python", type=Path, required=True, help="git dir of dashscope/dashscope-sdk-python")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "corpus")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.json"):
        old.unlink()
    count = 0
    for case in cnblogs_cases(args.cnblogs):
        exchange = cnblogs_exchange(args.cnblogs, case)
        if exchange is not None:
            dump(exchange, args.out)
            count += 1
    for exchange in sdk_python_exchanges(args.sdk_python):
        dump(exchange, args.out)
        count += 1
    print(f"{count} exchanges written to {args.out}")


if __name__ == "__main__":
    main()
