"""``make bench``'s hostile section (issue 24): each class of hostile request, on a real server of its own, with the
server's peak RSS and the longest event-loop block it caused.

    .venv/bin/python bench/hostile.py [--tree DIR] [--only CASE ...]

The loop block is measured from outside: a probe thread asks ``GET /_emulator/health`` every 10 ms while the
hostile requests run; the slowest probe answer is how long the loop was held (an upper bound on one block, as a
probe waits for whatever runs when it lands).  ``--tree`` runs the server from another checkout (e.g. a worktree of
main) for a before/after figure.  Each case prints the statuses it got, so a 500 shows.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.hostile_rss import MiB, Server  # noqa: E402

KEY = {"Authorization": "Bearer sk-hostile"}
NATIVE = "/api/v1/services/aigc/text-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
JSON = {"Content-Type": "application/json"}


class Probe:
    """The slowest answer to a health check sent every 10 ms: the longest the event loop was held."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=120) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    client.get("/_emulator/health")
                except httpx.HTTPError:  # held past the client's timeout: the block was at least that long
                    pass
                self.worst = max(self.worst, time.perf_counter() - started)
                time.sleep(0.01)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(130)


def _tool(schema: str) -> str:
    return '{"type":"function","function":{"name":"f","parameters":' + schema + "}}"


def _forced(client: httpx.Client, schema: str, *, stream: bool = False) -> int:
    choice = '{"type":"function","function":{"name":"f"}}'
    body = (
        '{"model":"qwen-plus","input":{"messages":[{"role":"user","content":"hi"}]},"parameters":{"result_format":'
        '"message","incremental_output":false,"tools":[' + _tool(schema) + '],"tool_choice":' + choice + "}}"
    )
    headers = {**JSON, **({"X-DashScope-SSE": "enable"} if stream else {})}
    with client.stream("POST", NATIVE, content=body.encode(), headers=headers) as response:
        for _ in response.iter_bytes():
            pass
        return response.status_code


def case_forged_policy(client: httpx.Client) -> list[int]:
    """A policy signed with the key the old source derived from seed 0, and a 20 MiB file after it."""
    import hashlib
    import hmac

    document = {
        "expiration": "2099-01-01T00:00:00.000Z",
        "conditions": [["content-length-range", 0, 1 << 40], ["starts-with", "$key", "dashscope-instant/x"]],
    }
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    secret = hashlib.sha256(b"dashscope-emulator-oss:0").digest()
    signature = base64.b64encode(hmac.new(secret, policy.encode(), hashlib.sha1).digest()).decode()
    fields = {"OSSAccessKeyId": "x", "Signature": signature, "policy": policy, "key": "dashscope-instant/x/a.png"}
    statuses = []
    for _ in range(3):
        files = {"file": ("a.png", b"\0" * (20 * MiB), "image/png")}
        statuses.append(client.post("/_oss/dashscope-file-mgr", data=fields, files=files).status_code)
    return statuses


def case_non_finite(client: httpx.Client) -> list[int]:
    row = b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n'
    upload = client.post("/api/v1/files", files=[("files", ("t.jsonl", row * 3))])
    file_id = upload.json()["data"]["uploaded_files"][0]["file_id"]
    body = '{"model":"qwen-turbo","training_file_ids":["' + file_id + '"],"hyper_parameters":{"learning_rate":NaN}}'
    created = client.post("/api/v1/fine-tunes", content=body.encode(), headers=JSON).status_code
    return [created, client.get("/api/v1/fine-tunes").status_code, client.get("/_emulator/requests").status_code]


def case_huge_bounds(client: httpx.Client) -> list[int]:
    schema = '{"type":"object","required":["n"],"properties":{"n":{"type":"number","minimum":1' + "0" * 400 + "}}}"
    return [_forced(client, schema) for _ in range(5)]


def case_all_of(client: httpx.Client) -> list[int]:
    part = {"type": "object", "properties": {f"p{j}": {"type": "string"} for j in range(100)}}
    part["required"] = list(part["properties"])
    schema = {"type": "object", "$defs": {"d": part}, "allOf": [{"$ref": "#/$defs/d"}] * 1000}
    return [_forced(client, json.dumps(schema)) for _ in range(3)]


def case_cumulative_stream(client: httpx.Client) -> list[int]:
    properties = {f"field_{j:04d}": {"type": "string", "minLength": 40} for j in range(2000)}
    schema = json.dumps({"type": "object", "properties": properties, "required": list(properties)})
    return [_forced(client, schema, stream=True)]


def case_rule_regex(client: httpx.Client) -> list[int]:
    client.post("/_emulator/responses", json={"regex": "weather.*tomorrow", "content": "sunny"})
    client.post("/_emulator/responses", json={"regex": "(a+)+$", "content": "never"})
    statuses = []
    for prompt in ("weather " * 24_000, "a" * 28 + "b"):
        body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": prompt}]}}
        statuses.append(client.post(NATIVE, json=body, timeout=600).status_code)
    return statuses


def case_tokenizer(client: httpx.Client) -> list[int]:
    body = {"model": "qwen-long", "input": {"prompt": "a中" * 150_000}}
    return [client.post("/api/v1/tokenizer", json=body, timeout=600).status_code for _ in range(2)]


def case_frames(client: httpx.Client) -> list[int]:
    content = [{"video": ["oss://a/b.png"] * 800_000}, {"text": "what happens?"}]
    body = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    headers = {**JSON, "X-DashScope-OssResourceResolve": "enable"}
    return [client.post(MULTIMODAL, content=json.dumps(body).encode(), headers=headers).status_code]


def case_dense_json(client: httpx.Client) -> list[int]:
    """13 MB of empty arrays beside a valid request: the densest JSON (4.3 M values) the C decoder reads."""
    body = b'{"model":"qwen-plus","input":{"prompt":"hi"},"x":[' + b",".join([b"[]"] * 4_300_000) + b"]}"
    return [client.post(NATIVE, content=body, headers=JSON, timeout=120).status_code]


def case_rule_bytes(client: httpx.Client) -> list[int]:
    body = {"replies": [{"content": "z" * 1_000_000} for _ in range(12)]}
    return [client.post("/_emulator/responses", json=body).status_code for _ in range(10)]


def case_api_keys(client: httpx.Client) -> list[int]:
    statuses: set[int] = set()
    for i in range(1000):
        key = f"sk-{i:05d}" + "k" * 30_000
        statuses.add(client.get("/api/v1/files", headers={"Authorization": f"Bearer {key}"}).status_code)
    return sorted(statuses)


CASES: dict[str, Callable[[httpx.Client], list[int]]] = {
    "forged_policy": case_forged_policy,
    "non_finite": case_non_finite,
    "huge_bounds": case_huge_bounds,
    "all_of": case_all_of,
    "cumulative_stream": case_cumulative_stream,
    "rule_regex": case_rule_regex,
    "tokenizer": case_tokenizer,
    "frames": case_frames,
    "dense_json": case_dense_json,
    "rule_bytes": case_rule_bytes,
    "api_keys": case_api_keys,
}


def measure(workdir: Path, tree: Path | None = None, only: tuple[str, ...] = ()) -> dict[str, Any]:
    root = tree or Path(__file__).resolve().parent.parent
    results: dict[str, Any] = {}
    for name, case in CASES.items():
        if only and name not in only:
            continue
        server = Server(root, workdir / name)
        try:
            idle = server.memory()[0]
            started = time.perf_counter()
            with httpx.Client(base_url=server.url, headers=KEY, timeout=120) as client, Probe(server.url) as probe:
                try:
                    statuses: list[int] | str = case(client)
                except httpx.HTTPError as exc:
                    statuses = f"{type(exc).__name__}"
            peak = server.memory()[0]
            results[name] = {
                "statuses": statuses,
                "peak_rss_mb": round(peak / MiB, 1),
                "rss_growth_mb": round((peak - idle) / MiB, 1),
                "longest_loop_block_ms": round(probe.worst * 1000),
                "seconds": round(time.perf_counter() - started, 2),
            }
        finally:
            server.stop()
        print(name, json.dumps(results[name]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostile-") as workdir:
        measure(Path(workdir), args.tree, tuple(args.only))


if __name__ == "__main__":
    main()
