"""``record`` then ``verify``, offline: an emulator plays the real service behind the recording proxy, a second one
is verified against what was recorded; the recording holds no secret; a changed answer is reported."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.testing import EmulatorServer, free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]
SECRET = "sk-abcdef0123456789abcdef0123456789"
TEXT = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
LINE = '{"messages": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}\n'


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    out = tmp_path / "recorded"
    with EmulatorServer() as upstream:
        port = free_port()
        command = [sys.executable, "-m", "emulator", "record", "--upstream", upstream.url, "--out", str(out)]
        process = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE)
        try:
            _wait_for(port, process)
            yield f"http://127.0.0.1:{port}", out
        finally:
            process.terminate()
            process.wait(10)
            if process.stderr is not None:
                process.stderr.close()


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "the recorder exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError("the recorder did not start")


def _traffic(base: str) -> None:
    """What an application's first calls look like, through the proxy."""
    auth = {"authorization": f"Bearer {SECRET}"}
    sse = {**auth, "x-dashscope-sse": "enable"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        question: dict[str, Any] = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        assert client.post(TEXT, json={**question, "parameters": {"result_format": "message"}}).status_code == 200
        stream = client.post(TEXT, json={**question, "parameters": {"incremental_output": True}}, headers=sse)
        assert stream.headers["content-type"].startswith("text/event-stream")
        empty = {"model": "qwen-plus", "input": {"messages": []}}
        assert "event:error" in client.post(TEXT, json=empty, headers=sse).text
        assert client.post(TEXT, json={"model": "qwen-nope", "input": {"prompt": "hi"}}).status_code == 400
        image = {"image": "https://cdn.example.com/cat.png"}
        looks = {"model": "qwen3.6-plus", "input": {"messages": [{"role": "user", "content": [image, {"text": "?"}]}]}}
        assert client.post(MULTIMODAL, json=looks, headers=sse).status_code == 200
        chat = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        assert client.post("/compatible-mode/v1/chat/completions", json=chat).status_code == 200
        upload = client.post(
            "/api/v1/files", files={"files": ("t.jsonl", LINE.encode())}, data={"purpose": "fine-tune"}
        )
        file_id = upload.json()["data"]["uploaded_files"][0]["file_id"]
        assert client.get(f"/api/v1/files/{file_id}").status_code == 200
        assert client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "qwen-vl-max"}).status_code == 200
        assert client.get("/api/v1/fine-tunes/ft-000000000000-0000").status_code in (400, 404)


def _verify(corpus: Path, against: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "emulator", "verify", str(corpus), "--against", against]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_record_then_verify(recorder: tuple[str, Path]) -> None:
    base, out = recorder
    _traffic(base)
    time.sleep(0.3)  # the last exchange is written once its answer has been sent
    files = sorted(out.glob("*.json"))
    assert len(files) == 10, [f.name for f in files]
    text = "\n".join(f.read_text() for f in files)
    assert SECRET not in text and SECRET[3:15] not in text  # the key is forwarded, never written
    policy = json.loads(next(f for f in files if "uploads" in f.name).read_text())["response"]["json"]["data"]
    assert policy["signature"] == "<redacted>" and policy["policy"] == "<redacted>"
    streamed = json.loads(files[1].read_text())["response"]
    assert streamed["event_count"] >= 2 and streamed["events"][0]["event"] == "result"  # frame by frame

    with EmulatorServer() as second:
        verified = _verify(out, second.url)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "10 replayed, 10 conform, 0 differ" in verified.stdout

        # an answer that differs in structure is printed, path by path, and fails the run
        first = json.loads(files[0].read_text())
        first["response"]["json"]["output"]["choices"][0]["finish_reason"] = "length"
        first["response"]["json"]["usage"]["cache_hits"] = 3
        files[0].write_text(json.dumps(first))
        changed = _verify(out, second.url)
        assert changed.returncode == 1
        assert "value at $.output.choices[].finish_reason: recorded 'length', emulator 'stop'" in changed.stdout
        assert "missing at $.usage.cache_hits" in changed.stdout
