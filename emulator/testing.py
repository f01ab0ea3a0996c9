"""Start a real emulator server from a test or a script, and drive its control plane.

``EmulatorServer`` runs ``python -m emulator serve`` as a child process on a free loopback port, with its own
database and data dir in a temp folder unless given; it is stopped by its PID on exit::

    with EmulatorServer() as emulator:            # or running_emulator(): also DASHSCOPE_*, OPENAI_* vars
        job = emulator.api("POST", "/api/v1/fine-tunes", {...})["output"]
        emulator.run_until(job["job_id"], "SUCCEEDED")

``EmulatorClient`` has the same helpers for an emulator that is already running (docker compose, a CI
service): ``EmulatorClient("http://127.0.0.1:8000")``.  Only the standard library is used.
"""

from __future__ import annotations

import errno
import fnmatch
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_API_KEY = "sk-emulator-test"
# Which base URL each client reads, by variable: "native" is <url>/api/v1, "compatible" <url>/compatible-mode/v1.
CLIENT_ENV = {
    "DASHSCOPE_HTTP_BASE_URL": "native",  # the dashscope SDK, so LangChain's ChatTongyi, LlamaIndex's DashScope
    "DASHSCOPE_HTTP_URL": "native",  # Qwen-Agent (qwen_agent.llm.qwen_dashscope)
    "DASHSCOPE_API_BASE": "compatible",  # litellm's dashscope/ provider
    "DASHSCOPE_COMPATIBLE_BASE_URL": "compatible",  # apps' usual name for OpenAI(base_url=...)
    "DASHSCOPE_BASE_URL": "compatible",  # likewise (most apps hand it to an OpenAI client)
    "OPENAI_BASE_URL": "compatible",  # the openai package itself, and what is built on it without a base_url
}
STORY_BODY_WIDTH = 300
"""A body in a failed test's story is cut to this many characters."""
KEY_ENV = ("DASHSCOPE_API_KEY", "OPENAI_API_KEY")
"""The variables the clients read their API key from; ``client_env()`` sets each to the emulator's key."""
REAL_HOSTS = (
    "dashscope.aliyuncs.com",
    "dashscope-*.aliyuncs.com",  # dashscope-intl, dashscope-us, ...
    "*.dashscope.aliyuncs.com",  # regional names (cn-hongkong.dashscope...)
    "*.maas.aliyuncs.com",  # workspace endpoints (ws-....cn-hangzhou.maas.aliyuncs.com)
    "dashscope*.oss-*.aliyuncs.com",  # the buckets the SDKs upload local files to (getPolicy's upload_host)
)
"""The real service's hosts (``fnmatch`` patterns): ``refuse_real_hosts`` makes a connection to any of them fail."""
FINAL = {"fine-tunes": {"SUCCEEDED", "FAILED", "CANCELED"}, "deployments": {"FAILED"}}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmulatorError(RuntimeError):
    """An emulator endpoint answered an error; ``status`` and ``body`` (the parsed envelope) tell which."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.body = body


class EmulatorClient:
    """The control plane and the public API of an emulator at ``url``, through urllib (no dependency)."""

    def __init__(self, url: str, *, api_key: str = DEFAULT_API_KEY, admin_token: str | None = None) -> None:
        self._url = url.rstrip("/")
        self.api_key = api_key
        self.admin_token = admin_token

    @property
    def url(self) -> str:
        return self._url

    @property
    def api_base(self) -> str:
        """What ``DASHSCOPE_HTTP_BASE_URL`` should be set to."""
        return f"{self.url}/api/v1"

    @property
    def openai_base(self) -> str:
        """The ``base_url`` of an ``openai.OpenAI`` client."""
        return f"{self.url}/compatible-mode/v1"

    def client_env(self) -> dict[str, str]:
        """Every variable the DashScope clients read for their endpoint and key, pointed here (``CLIENT_ENV``)."""
        bases = {"native": self.api_base, "compatible": self.openai_base}
        keys = dict.fromkeys(KEY_ENV, self.api_key)
        return {**keys, **{name: bases[kind] for name, kind in CLIENT_ENV.items()}}

    # ---------------------------------------------------------------- transport

    def _call(self, method: str, path: str, body: Any, headers: dict[str, str], timeout: float) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json", **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            raise EmulatorError(method, path, exc.code, parsed) from None
        return json.loads(raw) if raw else None

    def control(self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float = 30) -> Any:
        headers = {"X-Emulator-Token": self.admin_token} if self.admin_token else {}
        return self._call(method, path, body, headers, timeout)

    def api(self, method: str, path: str, body: Any = None, *, api_key: str | None = None, timeout: float = 30) -> Any:
        """A public API call (``/api/v1/...``) with this client's key; answers the parsed JSON body."""
        return self._call(method, path, body, {"Authorization": f"Bearer {api_key or self.api_key}"}, timeout)

    # ---------------------------------------------------------------- state and time

    def health(self) -> dict[str, Any]:
        return self.control("GET", "/_emulator/health")  # type: ignore[no-any-return]

    def reset(self, api_key: str | None = None) -> dict[str, Any]:
        """Everything (state, faults back to ``--faults``, journal), or one key's objects only."""
        return self.control("POST", "/_emulator/reset", {"api_key": api_key} if api_key else {})  # type: ignore[no-any-return]

    def clock(self) -> dict[str, Any]:
        return self.control("GET", "/_emulator/clock")  # type: ignore[no-any-return]

    def advance(self, seconds: float) -> float:
        """Move the emulated clock; every transition that falls due is applied before this returns."""
        return float(self.control("POST", "/_emulator/clock/advance", {"seconds": seconds})["now"])

    def set_time_scale(self, time_scale: float) -> None:
        self.control("POST", "/_emulator/clock", {"time_scale": time_scale})

    def set_status(self, job_id: str, status: str, message: str | None = None) -> dict[str, Any]:
        """Force a fine-tune along a legal transition (logged in its log like a real event)."""
        body = {"status": status} if message is None else {"status": status, "message": message}
        return self.control("POST", f"/_emulator/fine-tunes/{job_id}/status", body)  # type: ignore[no-any-return]

    def run_until(
        self,
        resource_id: str,
        status: str,
        *,
        api_key: str | None = None,
        timeout: float = 86400.0,
        max_step: float = 60.0,
        kind: str = "fine-tunes",
    ) -> dict[str, Any]:
        """Advance the clock step by step (1 s, doubling up to ``max_step``) until the fine-tune (or deployment,
        ``kind="deployments"``) is in ``status``; answers its object.  Gives up after ``timeout`` emulated
        seconds, or as soon as it settles in another final status."""
        step, moved = 1.0, 0.0
        while True:
            obj = self.api("GET", f"/api/v1/{kind}/{resource_id}", api_key=api_key)["output"]
            if obj["status"] == status:
                return obj  # type: ignore[no-any-return]
            if obj["status"] in FINAL.get(kind, ()):
                raise AssertionError(f"{resource_id} ended {obj['status']}, not {status}")
            if moved >= timeout:
                raise TimeoutError(f"{resource_id} still {obj['status']} after {moved:g} emulated seconds")
            self.advance(step)
            moved += step
            step = min(step * 2, max_step)

    def snapshot(self, path: str | os.PathLike[str] | None = None) -> str:
        body = {} if path is None else {"path": str(path)}
        return str(self.control("POST", "/_emulator/snapshot", body)["path"])

    def restore(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        return self.control("POST", "/_emulator/restore", {"path": str(path)})  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- faults and the journal

    def fault(self, path: str, **rule: Any) -> str:
        """Add a fault rule (``status=429, code="Throttling", count=1, ...``); answers its id."""
        return str(self.control("POST", "/_emulator/faults", {"path": path, **rule})["id"])

    def faults(self) -> list[dict[str, Any]]:
        return self.control("GET", "/_emulator/faults")["faults"]  # type: ignore[no-any-return]

    def clear_faults(self, fault_id: str | None = None) -> None:
        self.control("DELETE", "/_emulator/faults" + (f"/{fault_id}" if fault_id else ""))

    def respond(self, **rule: Any) -> str:
        """Add a response rule (``contains="hi", content="Hello!"``, ``tool_calls=[...]``, ``error={...}``,
        ``replies=[...]``, ``model=``, ``tenant=``, ``count=``...); answers its id."""
        return str(self.control("POST", "/_emulator/responses", rule)["id"])

    def responses(self) -> list[dict[str, Any]]:
        """The response rules, in match order, with their hit counts."""
        return self.control("GET", "/_emulator/responses")["responses"]  # type: ignore[no-any-return]

    def clear_responses(self, rule_id: str | None = None) -> None:
        self.control("DELETE", "/_emulator/responses" + (f"/{rule_id}" if rule_id else ""))

    def requests(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        tenant: str | None = None,
        status: int | None = None,
        model: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """The request journal, newest first; ``path`` exact or a glob, ``tenant`` an API key or tenant id,
        ``model`` the body's model (exact or a glob)."""
        filters = {"method": method, "path": path, "tenant": tenant, "status": status, "model": model, "limit": limit}
        query = urllib.parse.urlencode({k: v for k, v in filters.items() if v is not None})
        return self.control("GET", f"/_emulator/requests?{query}")["requests"]  # type: ignore[no-any-return]

    def journal(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        tenant: str | None = None,
        status: int | None = None,
        model: str | None = None,
        limit: int = 1000,
    ) -> list[JournalRequest]:
        """``requests()`` as typed entries, oldest first (the order the app sent them)."""
        found = self.requests(method=method, path=path, tenant=tenant, status=status, model=model, limit=limit)
        return [JournalRequest.of(e) for e in reversed(found)]

    def last_request(self, **filters: Any) -> JournalRequest:
        """The newest journal entry matching ``journal()``'s filters; AssertionError when there is none."""
        found = self.requests(**filters, limit=1)
        if not found:
            raise AssertionError(f"no request in the journal matches {filters or 'anything'}")
        return JournalRequest.of(found[0])

    def assert_all_rules_used(self) -> None:
        """WireMock's ``verify``, respx's ``assert_all_called``: every fault and response rule set has hit at least
        once (a rule removed by ``count`` hit, so it passes); AssertionError naming the idle ones."""
        idle = [rule_summary(r) for r in [*self.faults(), *self.responses()] if not r.get("hits")]
        if idle:
            raise AssertionError("rules never used:\n  " + "\n  ".join(idle))

    def story(self, limit: int = 10, width: int = STORY_BODY_WIDTH) -> str:
        """What the app sent and got, for a failed test's report: the last ``limit`` requests (method, path,
        status, model, the rule or fault that answered or the closest miss; bodies cut to ``width``), then the
        rules that never matched."""
        page = self.control("GET", f"/_emulator/requests?limit={limit}")
        entries = [JournalRequest.of(e) for e in reversed(page["requests"])]
        lines = [f"last {len(entries)} of {page['total']} requests to the emulator at {self.url}, oldest first:"]
        if not entries:
            lines.append("  (none: the app never called the emulator; is its base URL pointed here?)")
        for number, e in enumerate(entries, start=page["total"] - len(entries) + 1):
            lines.extend(e.story_lines(number, width))
        rules = [*self.faults(), *self.responses()]
        idle = [rule_summary(r) for r in rules if not r.get("hits")]
        if idle:
            lines.append("rules never used: " + "; ".join(idle))
        elif rules:
            lines.append(f"rules: {len(rules)}, each used")
        return "\n".join(lines)

    def clear_requests(self) -> None:
        self.control("DELETE", "/_emulator/requests")

    # ---------------------------------------------------------------- batch finish callbacks

    def callbacks(self, batch_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The batch finish callbacks attempted (``outcome``: delivered, refused, failed, dropped), newest first."""
        query = urllib.parse.urlencode({"limit": limit, **({"batch_id": batch_id} if batch_id else {})})
        return self.control("GET", f"/_emulator/callbacks?{query}")["callbacks"]  # type: ignore[no-any-return]

    def wait_for_callback(self, batch_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The attempt of ``batch_id``'s finish callback, waiting (wall seconds) for it: delivery runs in the
        background, after the read or clock advance that finalized the batch has answered."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.callbacks(batch_id, limit=1)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no finish callback of {batch_id} attempted within {timeout:g} s")
            time.sleep(0.05)

    def clear_callbacks(self) -> None:
        self.control("DELETE", "/_emulator/callbacks")


def cut(value: Any, width: int = STORY_BODY_WIDTH) -> str:
    """A body on one line, cut to ``width`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def rule_summary(rule: dict[str, Any]) -> str:
    """``fault-1 (GET /api/v1/files → 429)``, ``response-2 (contains 'weather')``: a rule in a few words."""
    what = [str(rule[k]) for k in ("method", "path") if rule.get(k)]
    for key in ("model", "contains", "regex", "tenant", "tools"):
        if rule.get(key) is not None:
            what.append(f"{key} {rule[key]!r}")
    if rule.get("after") is not None:
        what.append(f"after {rule['after']}")
    if rule["id"].startswith("fault-") and rule.get("status"):
        what.append(f"→ {rule['status']}")
    return f"{rule['id']} ({' '.join(what) or 'any request'}; matched {rule.get('matched', 0)})"


@dataclass(frozen=True)
class JournalRequest:
    """One journal entry, typed: what a request sent and what it got."""

    seq: int
    method: str
    path: str
    query: str
    status: int | None
    model: str | None
    tenant: str | None
    tenant_label: str | None
    headers: dict[str, str]
    body: Any
    answer_headers: dict[str, str]
    answer: Any
    frames: list[dict[str, str]] | None
    rule: str | None
    fault: str | None
    near_misses: list[dict[str, str]]
    request_id: str | None
    duration_ms: float
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def of(cls, entry: dict[str, Any]) -> JournalRequest:
        return cls(
            seq=entry["seq"],
            method=entry["method"],
            path=entry["path"],
            query=entry.get("query", ""),
            status=entry.get("status"),
            model=entry.get("model"),
            tenant=entry.get("tenant"),
            tenant_label=entry.get("tenant_label"),
            headers=entry.get("headers") or {},
            body=entry.get("body"),
            answer_headers=entry.get("answer_headers") or {},
            answer=entry.get("answer_body"),
            frames=entry.get("frames"),
            rule=entry.get("rule"),
            fault=entry.get("fault"),
            near_misses=entry.get("near_misses") or [],
            request_id=entry.get("request_id"),
            duration_ms=entry.get("duration_ms", 0.0),
            raw=entry,
        )

    @property
    def answered_by(self) -> str:
        """``fault fault-1``, ``rule response-2``, or ``emulator``."""
        if self.fault:
            return f"fault {self.fault}"
        if self.rule:
            return f"rule {self.rule}"
        return "emulator"

    def story_lines(self, number: int, width: int = STORY_BODY_WIDTH) -> list[str]:
        status = "dropped" if self.status is None else str(self.status)
        model = f"  model={self.model}" if self.model else ""
        who = f"  tenant={self.tenant_label}" if self.tenant_label else ""
        query = f"?{self.query}" if self.query else ""
        lines = [
            f"#{number} {self.method} {self.path}{query} -> {status}{model}{who}  answered by {self.answered_by}"
            f"  ({self.duration_ms:.1f} ms)"
        ]
        for miss in self.near_misses:
            lines.append(f"    near miss: {miss['rule']}, {miss['reason']}")
        if self.body is not None:
            lines.append(f"    sent: {cut(self.body, width)}")
        elif self.raw.get("form"):
            lines.append(f"    sent: {cut(self.raw['form'], width)}")
        if self.frames:
            data = [f.get("data", "") for f in self.frames]
            lines.append(f"    got {len(data)} SSE frames: {cut(' | '.join(data), width)}")
        elif self.answer is not None:
            lines.append(f"    got: {cut(self.answer, width)}")
        said = self.said
        if said is not None:
            lines.append(f"    the model said: {cut(said, width)!r}")
        return lines

    @property
    def said(self) -> str | None:
        """The text a generation answer carries (native ``output``, or OpenAI-compatible ``choices``), or the
        streamed frames' text joined; None for anything else."""
        if self.frames:
            parts = []
            for frame in self.frames:
                try:
                    parts.append(_text_of(json.loads(frame.get("data", ""))) or "")
                except ValueError:
                    continue
            parts = [t for t in parts if t]
            cumulative = all(b.startswith(a) for a, b in zip(parts, parts[1:], strict=False))
            return (parts[-1] if cumulative and len(parts) > 1 else "".join(parts)) or None
        return _text_of(self.answer)


def _text_of(answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return None
    output = answer.get("output")
    if isinstance(output, dict) and isinstance(output.get("text"), str):
        return str(output["text"])
    choices = answer.get("choices") or (output.get("choices") if isinstance(output, dict) else None)
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or choices[0].get("delta") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            return content
        if isinstance(content, list):  # multimodal: [{"text": ...}]
            return "".join(str(c.get("text", "")) for c in content if isinstance(c, dict)) or None
    return None


class EmulatorServer(EmulatorClient):
    def __init__(
        self,
        *,
        time_scale: float = 0.0,
        seed: int | None = None,
        workdir: Path | None = None,
        extra_args: tuple[str, ...] = (),
        port: int | None = None,
        env: dict[str, str] | None = None,
        start_timeout: float = 20.0,
        api_key: str = DEFAULT_API_KEY,
        admin_token: str | None = None,
    ) -> None:
        super().__init__("", api_key=api_key, admin_token=admin_token)
        self.time_scale = time_scale
        self.seed = seed
        self.extra_args = extra_args
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="emulator-server-"))
        self.env = env
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "emulator.db"

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "emulator",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            str(self.db_path),
            "--data-dir",
            str(self.workdir / "files"),
            "--time-scale",
            str(self.time_scale),
            "--log-level",
            "warning",
        ]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if self.admin_token:
            args += ["--admin-token", self.admin_token]
        return args + list(self.extra_args)

    def start(self) -> EmulatorServer:
        env = {**os.environ, **(self.env or {})}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        self.wait_healthy()
        return self

    def wait_healthy(self) -> float:
        started = time.monotonic()
        deadline = started + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                self.control("GET", "/_emulator/health", timeout=2)
                return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.02)
        raise RuntimeError(f"emulator not healthy after {self.start_timeout}s: {self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()


@contextmanager
def dashscope_env(client: EmulatorClient) -> Iterator[None]:
    """Point the dashscope SDK and the other DashScope clients at ``client`` for the block: every variable of
    ``client.client_env()``, and the SDK module if already imported (it reads ``DASHSCOPE_HTTP_BASE_URL`` once,
    at import)."""
    wanted = client.client_env()
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    module = sys.modules.get("dashscope")
    attrs = {name: getattr(module, name) for name in ("base_http_api_url", "api_key") if hasattr(module, name)}
    if module is not None:
        setattr(module, "base_http_api_url", client.api_base)  # noqa: B010 - an optional module, untyped here
        setattr(module, "api_key", client.api_key)  # noqa: B010
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for name, value in attrs.items():
            setattr(module, name, value)


@contextmanager
def running_emulator(**options: Any) -> Iterator[EmulatorServer]:
    """moto's ``mock_aws`` for DashScope: a server for the block, with the SDK pointed at it.

    ``options`` are ``EmulatorServer``'s (``time_scale=0.0``, ``seed``, ``extra_args``, ``api_key``, ...)::

        with running_emulator() as emulator:
            dashscope.Files.upload(file_path="train.jsonl", purpose="fine_tune")
            assert emulator.requests(path="/api/v1/files")[0]["form"]["files"][0]["filename"] == "train.jsonl"
    """
    with EmulatorServer(**options) as server, dashscope_env(server):
        yield server


def fast_sleep_env(control_url: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a dashscope CLI (or any Python client) whose ``time.sleep`` should advance the emulator's
    clock instead of waiting: its 30-second polls then cost nothing (``emulator/shims/sitecustomize.py``).
    The clients' base URL variables (``CLIENT_ENV``) point at ``control_url`` unless ``env`` already sets them."""
    shims = str(Path(__file__).resolve().parent / "shims")
    base = dict(os.environ if env is None else env)
    path = base.get("PYTHONPATH")
    bases = {name: value for name, value in EmulatorClient(control_url).client_env().items() if name in CLIENT_ENV}
    return {
        **bases,
        **base,
        "PYTHONPATH": shims if not path else f"{shims}{os.pathsep}{path}",
        "EMULATOR_CONTROL_URL": control_url,
    }


class RealHostRefused(ConnectionRefusedError):
    """A connection to a real DashScope host (``REAL_HOSTS``) while ``refuse_real_hosts`` is in force."""


def is_real_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in REAL_HOSTS)


@contextmanager
def refuse_real_hosts(explain: Callable[[str], str]) -> Iterator[list[str]]:
    """Make every name lookup of a real DashScope host fail for the block with ``RealHostRefused(explain(host))``;
    answers the list of hosts refused so far (a client that swallows the error is still caught afterwards).

    The lookup is where every Python client starts (``socket.getaddrinfo``: urllib, requests and urllib3, httpx and
    httpcore sync and async, aiohttp, websocket-client; asyncio resolves through it in a thread), so no client
    library escapes.  Not covered: a client that connects to a literal IP address, one behind an HTTP proxy (it
    looks up the proxy), and uvloop's own resolver.
    """
    refused: list[str] = []
    originals = (socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex)

    def check(host: object) -> None:
        if is_real_host(host):
            name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
            refused.append(name)
            raise RealHostRefused(errno.ECONNREFUSED, explain(name))  # errno and strerror: what clients quote

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        check(host)
        return originals[0](host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        check(host)
        return originals[1](host)

    def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
        check(host)
        return originals[2](host)

    socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = getaddrinfo, gethostbyname, gethostbyname_ex
    try:
        yield refused
    finally:
        socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex = originals
