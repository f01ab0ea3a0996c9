"""Replay recorded exchanges against an emulator (or any DashScope-compatible base URL) and compare.

Each exchange is sent as recorded, after creating what it needs: files for a fine-tune, a job moved (through the
control plane) to the recorded status, an uploaded file whose id replaces the recorded one. An answer is compared
by structure (``shape.compare_answer``). Differences an ``Expectations`` file lists are *deliberate* (each with
its reason); exchanges on an endpoint it lists as not served are skipped and reported as such.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator.conformance.corpus import KEPT_RESPONSE_HEADERS, parse_sse_lenient
from emulator.conformance.shape import Difference, compare_answer

INVALID_KEY = "sk-conformance-invalid-key"
TRAINING_LINE = (
    '{"messages": [{"role": "system", "content": "You are a helpful assistant."}, '
    '{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}\n'
)
_OSS_URL = re.compile(r"oss://[^\"'\s]+")
_SAMPLE = b"\x00\x00\x00\x18ftypmp42" + bytes(64)
_FILE_PATH = re.compile(r"^(/api/v1/files/|/compatible-mode/v1/files/)([^/?]+)(.*)$")
_TASK_PATH = re.compile(r"^/api/v1/tasks/([^/?]+)")
_BATCH_ID = re.compile(r"batch_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_COMPATIBLE_FILE_ID = re.compile(r"file-(?:fe|batch|batch_output)-[0-9a-f]{16,}")
_TIME_FILTERS = ("create_after=", "create_before=")
_TASK_PENDING_SECONDS = 2.0
"""emulator.tasks.states.PENDING_SECONDS: a task runs this long after it was submitted."""
_BATCH_VALIDATE_SECONDS = 1.5
"""Past a small input's validation (emulator.batches.service: one second plus its size at 5 MB/s)."""
_BATCH_FINISH_SECONDS = 60.0

CONFORMS, DIFFERS, NOT_SERVED, NOT_REPLAYABLE, ERROR = "conforms", "differs", "not served", "not replayable", "error"


@dataclass(frozen=True)
class Deliberate:
    exchange: str
    """An exchange id, or a glob (``cnblogs/single-generation-*``)."""
    key: str
    """A difference key (``missing:$.output.search_info``), a glob too."""
    reason: str


@dataclass
class Expectations:
    """What a corpus is allowed to differ in: endpoints not served yet, and deliberate differences."""

    not_served: list[tuple[re.Pattern[str], str]] = field(default_factory=list)
    deliberate: list[Deliberate] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Single exchanges on a served endpoint whose subject is not emulated (an image-generation model ...)."""

    @classmethod
    def load(cls, path: Path | None) -> Expectations:
        if path is None:
            return cls()
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            [(re.compile(e["path"]), str(e["reason"])) for e in document.get("not_served", []) if "path" in e],
            [Deliberate(str(e["exchange"]), str(e["key"]), str(e["reason"])) for e in document.get("deliberate", [])],
            {str(e["exchange"]): str(e["reason"]) for e in document.get("not_served", []) if "exchange" in e},
        )

    def not_served_reason(self, path: str, exchange_id: str = "") -> str | None:
        if exchange_id in self.skipped:
            return self.skipped[exchange_id]
        return next((reason for pattern, reason in self.not_served if pattern.search(path)), None)

    def deliberate_reason(self, exchange_id: str, difference: Difference) -> str | None:
        for entry in self.deliberate:
            if fnmatch.fnmatchcase(exchange_id, entry.exchange) and fnmatch.fnmatchcase(difference.key, entry.key):
                return entry.reason
        return None


@dataclass
class Outcome:
    exchange: str
    verdict: str
    differences: list[Difference] = field(default_factory=list)
    accepted: list[tuple[Difference, str]] = field(default_factory=list)
    reason: str = ""


class Replayer:
    """Sends exchanges to ``base_url`` with ``api_key``; ``control`` (the emulator's own URL, usually the same)
    lets it move jobs along; without it exchanges that need a job in a given status are replayed as they come."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "sk-conformance",
        control_url: str | None = None,
        admin_token: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.control_url = control_url.rstrip("/") if control_url else None
        self.admin_token = admin_token
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._jobs: list[str] = []
        self._operations: list[tuple[str, re.Pattern[str]]] | None = None

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------------------------------------- running

    def run(self, exchanges: Iterable[Mapping[str, Any]], expectations: Expectations | None = None) -> list[Outcome]:
        expectations = expectations or Expectations()
        return [self.replay_one(exchange, expectations) for exchange in exchanges]

    def replay_one(self, exchange: Mapping[str, Any], expectations: Expectations) -> Outcome:
        exchange_id = str(exchange.get("id"))
        request = exchange.get("request")
        if not request:
            return Outcome(exchange_id, NOT_REPLAYABLE, reason="the request was not recorded")
        reason = expectations.not_served_reason(str(request["path"]), exchange_id)
        if reason is None and not self.serves(str(request["method"]), str(request["path"])):
            reason = "no such operation in this emulator's OpenAPI document"
        if reason is not None:
            return Outcome(exchange_id, NOT_SERVED, reason=reason)
        try:
            replayed = self.send(exchange)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            return Outcome(exchange_id, ERROR, reason=f"{type(exc).__name__}: {exc}")
        differences = compare_answer(exchange["response"], replayed)
        outcome = Outcome(exchange_id, CONFORMS)
        for difference in differences:
            why = expectations.deliberate_reason(exchange_id, difference)
            if why is None:
                outcome.differences.append(difference)
            else:
                outcome.accepted.append((difference, why))
        if outcome.differences:
            outcome.verdict = DIFFERS
        return outcome

    def send(self, exchange: Mapping[str, Any]) -> dict[str, Any]:
        """The emulator's answer to the exchange's request, in the corpus's response format."""
        request = dict(exchange["request"])
        recorded = exchange["response"]
        values = self.prepare(exchange)
        path = values.pop("__path__", None) or _fill(str(request["path"]), values)
        headers = {k: v for k, v in dict(request.get("headers") or {}).items() if k != "content-type"}
        key = INVALID_KEY if int(recorded.get("status", 200)) == 401 else self.api_key
        headers["authorization"] = f"Bearer {key}"
        if any(name.startswith("oss://") for name in values):
            headers["x-dashscope-ossresourceresolve"] = "enable"
        if "events" in recorded:
            headers["accept"] = "text/event-stream"
            if not path.startswith("/compatible-mode/"):
                headers["x-dashscope-sse"] = "enable"
        kwargs: dict[str, Any] = {}
        if "json" in request:
            kwargs["content"] = json.dumps(_fill(request["json"], values)).encode()
            headers["content-type"] = "application/json"
        elif "multipart" in request:
            kwargs["files"] = [
                (p["name"], (p["filename"], p.get("text", "").encode(), p.get("content_type", "text/plain")))
                for p in request["multipart"]
                if "filename" in p
            ]
            kwargs["data"] = {p["name"]: p.get("text", "") for p in request["multipart"] if "filename" not in p}
        elif "text" in request:
            kwargs["content"] = str(request["text"]).encode()
        with self.client.stream(str(request["method"]), self.base_url + path, headers=headers, **kwargs) as answer:
            body = answer.read()
            return response_record(answer.status_code, answer.headers.multi_items(), body)

    def serves(self, method: str, path: str) -> bool:
        """Whether the target documents an operation for this request (its ``/openapi.json``); a target without
        the document (the real service) serves everything."""
        if self._operations is None:
            self._operations = []
            try:
                document = self.client.get(self.base_url + "/openapi.json").json()
                for template, operations in document.get("paths", {}).items():
                    pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
                    for verb in operations:
                        self._operations.append((verb.upper(), re.compile(f"^{pattern}/?$")))
            except (httpx.HTTPError, ValueError, AttributeError):
                self._operations = []
        if not self._operations:
            return True
        bare = path.split("?", 1)[0]
        return any(verb == method.upper() and pattern.match(bare) for verb, pattern in self._operations)

    # -------------------------------------------------------------------------------------------- preparing

    def prepare(self, exchange: Mapping[str, Any]) -> dict[str, str]:
        """Creates what the request refers to; answers the values for its ``${...}`` placeholders."""
        request = exchange["request"]
        path = str(request["path"])
        method = str(request["method"]).upper()
        text = json.dumps(request.get("json")) + path
        values: dict[str, str] = {}
        for n, name in enumerate(("file_id", "file_id_2", "file_id_3")):
            if "${" + name + "}" in text:
                values[name] = self._upload(f"train{n}.jsonl", TRAINING_LINE, "fine-tune")
        if "${job_id}" in path:
            values["job_id"] = self._job(exchange["response"].get("json", {}).get("output", {}).get("status"))
        if method == "GET" and path.startswith("/api/v1/fine-tunes?"):
            listed = (exchange["response"].get("json") or {}).get("output", {}).get("jobs") or [{}, {}]
            for job in reversed(listed[:4]):  # the newest is listed first
                self._job(job.get("status") if isinstance(job, dict) else None)
        if method == "GET" and re.match(r"^/api/v1/files(\?|$)", path):
            for n in range(2):
                self._upload(f"list{n}.jsonl", TRAINING_LINE, "fine-tune")
        for n, url in enumerate(sorted(set(_OSS_URL.findall(json.dumps(request.get("json")))))):
            values[url] = self._oss_object(url.rsplit("/", 1)[-1] or f"object{n}", exchange)
        self._prepare_apps(exchange, values)
        return values

    def _prepare_apps(self, exchange: Mapping[str, Any], values: dict[str, str]) -> None:
        """Native files by purpose, async tasks, compatible files and batches; recorded time filters moved."""
        request = exchange["request"]
        path = str(request["path"])
        method = str(request["method"]).upper()
        status = int(exchange["response"].get("status", 200))
        recorded = exchange["response"].get("json")
        recorded = recorded if isinstance(recorded, dict) else {}
        match = _FILE_PATH.match(path)
        if match and status < 400 and "/compatible-mode/" not in path:
            # a native read of a file: uploaded the way its recorded purpose says (file-extract: the compatible API)
            purpose = str((recorded.get("data") or {}).get("purpose") or "fine-tune")
            compatible = purpose != "fine-tune"
            file_id = self._upload("test2.jsonl", TRAINING_LINE, purpose, compatible=compatible)
            values["__path__"] = match.group(1) + file_id + match.group(3)
        if path.startswith("/compatible-mode/v1/"):
            self._prepare_compatible(method, path, request, recorded, status, values)
        task = _TASK_PATH.match(path)
        if task:
            self._prepare_task(task, path, recorded, status, values)
        elif method == "GET" and re.match(r"^/api/v1/tasks/?(\?|$)", path):
            for item in reversed((recorded.get("data") or [{}])[:2]):
                self._task(str(item.get("status") or "SUCCEEDED") if isinstance(item, dict) else "SUCCEEDED")
        if "__path__" not in values and any(k in path for k in _TIME_FILTERS):
            values["__path__"] = _fill(path, values)
        if "__path__" in values:
            values["__path__"] = self._current_window(values["__path__"])

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}

    def _upload(self, name: str, text: str, purpose: str, *, compatible: bool = False) -> str:
        if compatible:
            answer = self.client.post(
                self.base_url + "/compatible-mode/v1/files",
                headers=self._headers(),
                files={"file": (name, text.encode(), "text/plain")},
                data={"purpose": purpose},
            )
            return str(answer.json().get("id", "file-missing"))
        answer = self.client.post(
            self.base_url + "/api/v1/files",
            headers=self._headers(),
            files={"files": (name, text.encode(), "application/jsonl")},
            data={"purpose": purpose},
        )
        uploaded = answer.json().get("data", {}).get("uploaded_files") or [{}]
        return str(uploaded[0].get("file_id", "file-missing"))

    def _oss_object(self, name: str, exchange: Mapping[str, Any]) -> str:
        """An object uploaded the way the SDK does (getPolicy, then the form POST to its upload_host)."""
        model = str((exchange["request"].get("json") or {}).get("model", "qwen-vl-max"))
        policy = self.client.get(
            self.base_url + "/api/v1/uploads",
            params={"action": "getPolicy", "model": model},
            headers=self._headers(),
        ).json()["data"]
        key = f"{policy['upload_dir']}/{name}"
        form = {
            "OSSAccessKeyId": policy["oss_access_key_id"],
            "Signature": policy["signature"],
            "policy": policy["policy"],
            "key": key,
            "x-oss-object-acl": policy.get("x_oss_object_acl", "private"),
            "x-oss-forbid-overwrite": policy.get("x_oss_forbid_overwrite", "true"),
            "success_action_status": "200",
        }
        kind = "video/mp4" if name.endswith(".mp4") else "image/png" if name.endswith(".png") else "image/jpeg"
        self.client.post(str(policy["upload_host"]), data=form, files={"file": (name, _SAMPLE, kind)})
        return f"oss://{key}"

    def _force(self, job_id: str, status: str) -> None:
        headers = {"authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        self.client.post(
            f"{self.control_url}/_emulator/fine-tunes/{job_id}/status", headers=headers, json={"status": status}
        )

    def _job(self, status: str | None) -> str:
        file_id = self._upload("train.jsonl", TRAINING_LINE, "fine-tune")
        answer = self.client.post(
            self.base_url + "/api/v1/fine-tunes",
            headers=self._headers(),
            json={"model": "qwen-turbo", "training_file_ids": [file_id]},
        )
        job_id = str(answer.json().get("output", {}).get("job_id", "ft-missing"))
        self._jobs.append(job_id)
        if status and status != "PENDING" and self.control_url:
            if status == "RUNNING":  # one job of a tenant trains at a time: end the ones this replay started
                for other in self._jobs[:-1]:
                    self._force(other, "FAILED")
            for step in _STEPS.get(status, (status,)):
                self._force(job_id, step)
        return job_id

    # ------------------------------------------------------------------------------ tasks, compatible files, batches

    def _advance(self, seconds: float) -> None:
        if self.control_url:
            headers = {"authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
            self.client.post(f"{self.control_url}/_emulator/clock/advance", headers=headers, json={"seconds": seconds})

    def _task(self, status: str) -> str:
        """A batch text embedding task (its input a ``data:`` URI) moved on the clock to ``status``."""
        answer = self.client.post(
            self.base_url + "/api/v1/services/embeddings/text-embedding/text-embedding",
            headers={**self._headers(), "x-dashscope-async": "enable"},
            json={
                "model": "text-embedding-async-v2",
                "input": {"url": "data:text/plain,conformance%0Areplay%0A"},
                "parameters": {"text_type": "query"},
            },
        )
        task_id = str(answer.json().get("output", {}).get("task_id", "task-missing"))
        if status == "RUNNING":
            self._advance(_TASK_PENDING_SECONDS + 0.1)
        elif status in ("SUCCEEDED", "FAILED"):
            self._advance(_TASK_PENDING_SECONDS + 30)
        elif status == "CANCELED":
            self.client.post(f"{self.base_url}/api/v1/tasks/{task_id}/cancel", headers=self._headers())
        return task_id

    def _prepare_task(
        self, match: re.Match[str], path: str, recorded: Mapping[str, Any], status: int, values: dict[str, str]
    ) -> None:
        output = recorded.get("output") or {}
        wanted = str(output.get("task_status") or "")
        if wanted == "UNKNOWN":
            # a task this account does not have: asked by the id the answer names (the SDK's two recordings of
            # a running and an unknown task carry each other's request; the answer is what they record)
            task_id = str(output.get("task_id") or match.group(1))
        else:
            # a refused cancel (UnsupportedOperation) is the cancel of a finished task
            task_id = self._task(wanted or ("SUCCEEDED" if status >= 400 else "PENDING"))
        values["__path__"] = "/api/v1/tasks/" + task_id + path[match.end() :]

    def _compatible_upload(self, purpose: str, text: str) -> str:
        return self._upload(f"{purpose}.jsonl", text, purpose, compatible=True)

    def _batch(self, item: Mapping[str, Any], file_id: str | None = None) -> tuple[str, str, str | None]:
        """A batch like a recorded one (its endpoint, metadata, status: failed with the recorded validation code),
        moved on the clock to the recorded status; answers its id, its input file's id and its output file's id."""
        status = str(item.get("status") or "validating")
        endpoint = str(item.get("endpoint") or "/v1/chat/completions")
        if file_id is None:
            errors = (item.get("errors") or {}).get("data") or [{}]
            file_id = self._batch_file(
                endpoint, str(errors[0].get("code") or ("url_not_found" if status == "failed" else ""))
            )
        answer = self.client.post(
            self.base_url + "/compatible-mode/v1/batches",
            headers=self._headers(),
            json={
                "input_file_id": file_id,
                "endpoint": endpoint,
                "completion_window": str(item.get("completion_window") or "24h"),
                "metadata": item.get("metadata") or {},
            },
        ).json()
        batch_id = str(answer.get("id", "batch-missing"))
        if status == "validating":
            return batch_id, file_id, None
        self._advance(_BATCH_VALIDATE_SECONDS)
        if status in ("cancelling", "cancelled"):
            self.client.post(f"{self.base_url}/compatible-mode/v1/batches/{batch_id}/cancel", headers=self._headers())
        if status in ("completed", "cancelled", "finalizing", "expired"):
            self._advance(_BATCH_FINISH_SECONDS)
        got = self.client.get(f"{self.base_url}/compatible-mode/v1/batches/{batch_id}", headers=self._headers())
        output = got.json().get("output_file_id") if got.status_code == 200 else None
        return batch_id, file_id, str(output) if output else None

    def _batch_file(self, endpoint: str, refusal: str) -> str:
        """A batch input of two lines for ``endpoint``, or lines refused with the recorded validation code."""
        test = endpoint.endswith("ds-test") or refusal == "mismatched_test_url"
        url = "/v1/chat/completion" if refusal == "url_not_found" else endpoint
        if refusal == "mismatched_test_url":
            url = "/v1/chat/completions"  # the test model's lines on the real url
        body = {"model": "batch-test-model" if test else "qwen-turbo", "messages": [{"role": "user", "content": "hi"}]}
        text = "".join(
            json.dumps({"custom_id": str(n), "method": "POST", "url": url, "body": body}) + "\n" for n in (1, 2)
        )
        return self._compatible_upload("batch", text)

    def _recorded_batches(
        self, method: str, path: str, text: str, recorded: Mapping[str, Any], values: dict[str, str]
    ) -> None:
        """The batches a request or its recorded answer names, made like the recorded ones (newest last)."""
        data = recorded.get("data")
        items: list[Any] = data if isinstance(data, list) else [recorded]
        if method == "POST" and path.rstrip("/") == "/compatible-mode/v1/batches":
            items = []  # the create itself is the exchange: it needs only its input file
        wanted: dict[str, Mapping[str, Any]] = {}
        for item in items[:4]:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                wanted.setdefault(item["id"], item)
        if path.endswith("/cancel"):  # the batch was running when it was cancelled
            wanted = {k: {**v, "status": "in_progress"} for k, v in wanted.items()}
        cursors = [i for i in dict.fromkeys(_BATCH_ID.findall(text)) if i not in wanted]
        # the cursor batch is newer than the page after it: made last
        for recorded_id, item in [
            *reversed(list(wanted.items())),
            *((c, {"status": "in_progress"}) for c in cursors),
        ]:
            known = values.get(str(item.get("input_file_id")))
            batch_id, file_id, _ = self._batch(item, known)
            values[recorded_id] = batch_id
            if isinstance(item.get("input_file_id"), str):
                values.setdefault(item["input_file_id"], file_id)

    def _prepare_compatible(
        self,
        method: str,
        path: str,
        request: Mapping[str, Any],
        recorded: Mapping[str, Any],
        status: int,
        values: dict[str, str],
    ) -> None:
        """Every recorded file or batch id the request names is replaced by one made here like it."""
        text = path + json.dumps(request.get("json"))
        if path.startswith("/compatible-mode/v1/batches"):
            self._recorded_batches(method, path, text, recorded, values)
        if method == "GET" and re.match(r"^/compatible-mode/v1/files/?(\?|$)", path) and recorded.get("data"):
            # the page the recording shows: a file older than the cursor (whose id is replaced below)
            self._compatible_upload("file-extract", "conformance\n")
        for file_id in sorted(set(_COMPATIBLE_FILE_ID.findall(text))):
            if file_id in values:
                continue
            if file_id.startswith("file-batch_output-"):
                values[file_id] = self._batch({"status": "completed"})[2] or "file-missing"
            elif file_id.startswith("file-batch-"):
                failed = "ds-test" in text  # the recorded create whose lines name no such url
                line_url = "/v1/chat/completion" if failed else "/v1/chat/completions"
                model = "batch-test-model" if failed else "qwen-turbo"
                line = {
                    "custom_id": "1",
                    "method": "POST",
                    "url": line_url,
                    "body": {"model": model, "messages": [{"role": "user", "content": "hello"}]},
                }
                values[file_id] = self._compatible_upload("batch", json.dumps(line) + "\n")
            else:
                values[file_id] = self._compatible_upload("file-extract", "conformance\n")
        if any(k in values for k in _COMPATIBLE_FILE_ID.findall(text) + _BATCH_ID.findall(text)):
            values["__path__"] = _fill(path, values)

    def _current_window(self, path: str) -> str:
        """Time filters (``create_after``/``create_before``, Beijing time) moved to a day around the emulated now,
        in the recorded precision: the recorded window is long past here."""
        if not any(k in path for k in _TIME_FILTERS) or not self.control_url:
            return path
        now = float(self.client.get(f"{self.control_url}/_emulator/clock").json().get("now", 0))

        def moved(m: re.Match[str]) -> str:
            shift = -86400 if m.group(1) == "create_after" else 86400
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now + 8 * 3600 + shift))
            return f"{m.group(1)}={stamp[: len(m.group(2))]}"

        return re.sub(r"(create_after|create_before)=(\d+)", moved, path)


# legal paths through the job machine to a recorded status
_STEPS: dict[str, tuple[str, ...]] = {
    "QUEUING": ("QUEUING",),
    "RUNNING": ("RUNNING",),
    "SUCCEEDED": ("RUNNING", "SUCCEEDED"),
    "FAILED": ("RUNNING", "FAILED"),
}


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in values.items():
            literal = name.startswith(("oss://", "batch_", "file-"))
            value = value.replace(name if literal else "${" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def response_record(status: int, headers: Sequence[tuple[str, str]], body: bytes) -> dict[str, Any]:
    """An answer in the corpus's response format."""
    kept = {k.lower(): v for k, v in headers if k.lower() in KEPT_RESPONSE_HEADERS}
    out: dict[str, Any] = {"status": status, "headers": kept}
    text = body.decode("utf-8", errors="replace")
    if "event-stream" in kept.get("content-type", ""):
        out["events"] = parse_sse_lenient(text)
        out["event_count"] = len(out["events"])
        return out
    try:
        out["json"] = json.loads(text) if text.strip() else None
        if out["json"] is None:
            del out["json"]
            out["text"] = ""
    except ValueError:
        out["text"] = text[:2000]
    return out


# -------------------------------------------------------------------------------------------------- reports


def summary(outcomes: Sequence[Outcome]) -> dict[str, int]:
    counts = {CONFORMS: 0, DIFFERS: 0, NOT_SERVED: 0, NOT_REPLAYABLE: 0, ERROR: 0}
    for outcome in outcomes:
        counts[outcome.verdict] += 1
    counts["replayed"] = counts[CONFORMS] + counts[DIFFERS] + counts[ERROR]
    return counts


def report(outcomes: Sequence[Outcome], *, verbose: bool = False) -> str:
    lines = []
    for outcome in outcomes:
        mark = {CONFORMS: "ok  ", DIFFERS: "DIFF", ERROR: "ERR ", NOT_SERVED: "skip", NOT_REPLAYABLE: "skip"}
        line = f"{mark[outcome.verdict]} {outcome.exchange}"
        if outcome.reason:
            line += f"  ({outcome.verdict}: {outcome.reason})"
        elif outcome.accepted:
            line += f"  ({len(outcome.accepted)} deliberate difference{'s' if len(outcome.accepted) > 1 else ''})"
        lines.append(line)
        lines += [f"       {d}" for d in outcome.differences]
        if verbose:
            lines += [f"       deliberate: {d} -- {why}" for d, why in outcome.accepted]
    counts = summary(outcomes)
    lines.append(
        f"{counts['replayed']} replayed, {counts[CONFORMS]} conform, {counts[DIFFERS]} differ, {counts[ERROR]} failed; "
        f"{counts[NOT_SERVED]} on endpoints not served, {counts[NOT_REPLAYABLE]} not replayable"
    )
    return "\n".join(lines)
