"""OpenAI-compatible Files and Batch in-process, on a frozen clock: lifecycle, line checks, output files, cancel."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from emulator import worklock
from tests.conftest import AppFactory, Held, client_for

RECORDED_KEYS = (
    "id object endpoint errors input_file_id completion_window status output_file_id error_file_id created_at "
    "in_progress_at expires_at finalizing_at completed_at failed_at expired_at cancelling_at cancelled_at "
    "request_counts metadata"
).split()
"""The keys of the recorded create answer, in its order (reference §9.2)."""
FILES = "/compatible-mode/v1/files"
BATCHES = "/compatible-mode/v1/batches"


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    assert (await client.post("/_emulator/clock/advance", json={"seconds": seconds})).status_code == 200


def chat_line(i: int, model: str = "qwen-plus", url: str = "/v1/chat/completions", **extra: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": f"Say hello number {i}"}], **extra}
    return {"custom_id": str(i), "method": "POST", "url": url, "body": body}


async def upload_lines(
    client: httpx.AsyncClient, lines: list[dict[str, Any]] | list[str], purpose: str = "batch"
) -> str:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    response = await client.post(FILES, files={"file": ("input.jsonl", text.encode())}, data={"purpose": purpose})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def create(client: httpx.AsyncClient, file_id: str, endpoint: str = "/v1/chat/completions") -> dict[str, Any]:
    body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", "metadata": {"ds_name": "t1"}}
    response = await client.post(BATCHES, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.anyio
async def test_files_shapes_and_errors(client: httpx.AsyncClient) -> None:
    made = (await client.post(FILES, files={"file": ("a.txt", b"hello")}, data={"purpose": "file-extract"})).json()
    assert made["id"].startswith("file-fe-") and len(made["id"]) == len("file-fe-") + 24
    assert {k: made[k] for k in ("object", "bytes", "filename", "purpose", "status")} == {
        "object": "file", "bytes": 5, "filename": "a.txt", "purpose": "file-extract", "status": "processed"
    }  # fmt: skip
    batch_file = await upload_lines(client, [chat_line(1)])
    assert batch_file.startswith("file-batch-")
    listed = (await client.get(FILES, params={"limit": 1})).json()
    assert listed["object"] == "list" and [f["id"] for f in listed["data"]] == [batch_file] and listed["has_more"]
    rest = (await client.get(FILES, params={"after": batch_file})).json()
    assert [f["id"] for f in rest["data"]] == [made["id"]] and not rest["has_more"]
    assert (await client.get(f"{FILES}/{made['id']}")).json()["id"] == made["id"]
    refused = await client.get(f"{FILES}/{made['id']}/content")
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    wrong = await client.post(FILES, files={"file": ("a.txt", b"x")}, data={"purpose": "fine-tune"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == {
        "message": "'purpose' must be one of 'file-extract', 'batch'", "type": "invalid_request_error",
        "param": "purpose", "code": None,
    }  # fmt: skip
    deleted = (await client.delete(f"{FILES}/{made['id']}")).json()
    assert deleted == {"id": made["id"], "object": "file", "deleted": True}
    gone = await client.get(f"{FILES}/{made['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    native = (await client.get("/api/v1/files")).json()["data"]["files"]
    assert [f["file_id"] for f in native] == [batch_file]  # one store


@pytest.mark.anyio
async def test_batch_lifecycle_and_output(client: httpx.AsyncClient) -> None:
    file_id = await upload_lines(client, [chat_line(i) for i in range(5)] + [chat_line(5, max_tokens=10**9)])
    made = await create(client, file_id)
    assert made["id"].startswith("batch_") and made["status"] == "validating" and made["errors"] is None
    assert made["request_counts"] == {"total": 0, "completed": 0, "failed": 0} and made["in_progress_at"] is None
    assert made["metadata"] == {"ds_name": "t1"} and list(made) == RECORDED_KEYS
    await advance(client, 1.5)
    running = (await client.get(f"{BATCHES}/{made['id']}")).json()
    assert running["status"] == "in_progress" and running["request_counts"]["total"] == 6
    assert running["in_progress_at"] == made["created_at"] and running["expires_at"] is None
    await advance(client, 3.0 + 0.02 * 6)
    assert (await client.get(f"{BATCHES}/{made['id']}")).json()["status"] == "finalizing"
    await advance(client, 2)
    done = (await client.get(f"{BATCHES}/{made['id']}")).json()
    assert done["status"] == "completed" and done["request_counts"] == {"total": 6, "completed": 5, "failed": 1}
    assert done["finalizing_at"] == done["completed_at"] and done["output_file_id"].startswith("file-batch_output-")
    output = (await client.get(f"{FILES}/{done['output_file_id']}/content")).text.splitlines()
    first = json.loads(output[0])
    assert [json.loads(line)["custom_id"] for line in output] == ["0", "1", "2", "3", "4"]
    assert first["id"] == first["response"]["request_id"] and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert first["response"]["body"]["id"] == "chatcmpl-" + first["id"]
    assert first["response"]["body"]["choices"][0]["message"]["content"]
    errors = [
        json.loads(line) for line in (await client.get(f"{FILES}/{done['error_file_id']}/content")).text.splitlines()
    ]
    assert [e["custom_id"] for e in errors] == ["5"] and errors[0]["response"] is None and errors[0]["error"]["message"]
    again = await client.post(f"{BATCHES}/{made['id']}/cancel")
    assert again.status_code == 400 and "already completed" in again.json()["error"]["message"]


@pytest.mark.anyio
async def test_validation_failures(client: httpx.AsyncClient) -> None:
    bad = [chat_line(1, url="/v1/chat/completion"), chat_line(1), chat_line(2, model="qwen-max"), "not json"]
    made = await create(client, await upload_lines(client, bad))
    await advance(client, 5)
    failed = (await client.get(f"{BATCHES}/{made['id']}")).json()
    assert failed["status"] == "failed" and failed["failed_at"] == failed["created_at"]
    assert failed["in_progress_at"] is None and failed["request_counts"]["total"] == 0
    codes = [(e["code"], e["line"]) for e in failed["errors"]["data"]]
    assert codes == [
        ("url_not_found", 1),
        ("duplicate_custom_id", 2),
        ("mismatched_model", 3),
        ("invalid_json_line", 4),
    ]
    assert (
        failed["errors"]["data"][0]["message"]
        == "The provided url '/v1/chat/completion' is not supported by the Batch API."
    )
    test = [chat_line(i, model="batch-test-model") for i in range(2)]
    mismatch = await create(client, await upload_lines(client, test))
    await advance(client, 5)
    data = (await client.get(f"{BATCHES}/{mismatch['id']}")).json()["errors"]["data"]
    assert [e["code"] for e in data] == ["mismatched_test_url", "mismatched_test_url"]
    for body, status in (
        ({"input_file_id": "file-batch-nope", "endpoint": "/v1/chat/completions", "completion_window": "24h"}, 404),
        (
            {"input_file_id": mismatch["input_file_id"], "endpoint": "/v1/chat/completions", "completion_window": "2h"},
            400,
        ),
        ({"input_file_id": mismatch["input_file_id"], "endpoint": "/v1/images", "completion_window": "24h"}, 400),
    ):
        response = await client.post(BATCHES, json=body)
        assert response.status_code == status and "error" in response.json()
    assert (await client.get(f"{BATCHES}/batch_nope")).status_code == 404


@pytest.mark.anyio
async def test_test_model_embeddings_cancel_and_list(client: httpx.AsyncClient) -> None:
    test = [chat_line(i, model="batch-test-model", url="/v1/chat/ds-test") for i in range(3)]
    tested = await create(client, await upload_lines(client, test), endpoint="/v1/chat/ds-test")
    lines = [
        {
            "custom_id": f"e{i}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-v4", "input": f"text {i}", "dimensions": 64},
        }
        for i in range(4)
    ]  # noqa: E501
    embedded = await create(client, await upload_lines(client, lines), endpoint="/v1/embeddings")
    long = await create(client, await upload_lines(client, [chat_line(i) for i in range(200)]))
    await advance(client, 1.5 + 2.0)  # long is half-way through its 3 + 4 s of work
    cancelling = (await client.post(f"{BATCHES}/{long['id']}/cancel")).json()
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"] is None
    await advance(client, 30)
    cancelled = (await client.get(f"{BATCHES}/{long['id']}")).json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelling_at"] == cancelled["cancelled_at"]
    counts = cancelled["request_counts"]
    assert counts["total"] == 200 and counts["completed"] + counts["failed"] == 200 and 0 < counts["completed"] < 200
    errors = (await client.get(f"{FILES}/{cancelled['error_file_id']}/content")).text.splitlines()
    assert json.loads(errors[-1])["error"] == {"code": "batch_cancelled", "message": "Request cancelled."}
    out = (await client.get(f"{BATCHES}/{tested['id']}")).json()
    line = json.loads((await client.get(f"{FILES}/{out['output_file_id']}/content")).text.splitlines()[0])
    assert line["response"]["body"]["choices"][0]["message"] == {"content": "This is a test result."}
    emb = (await client.get(f"{BATCHES}/{embedded['id']}")).json()
    vec = json.loads((await client.get(f"{FILES}/{emb['output_file_id']}/content")).text.splitlines()[0])
    assert len(vec["response"]["body"]["data"][0]["embedding"]) == 64
    page = (await client.get(BATCHES, params={"limit": 2})).json()
    assert [b["id"] for b in page["data"]] == [long["id"], embedded["id"]] and page["has_more"]
    assert page["first_id"] == long["id"] and page["last_id"] == embedded["id"]
    rest = (await client.get(BATCHES, params={"limit": 2, "after": embedded["id"]})).json()
    assert [b["id"] for b in rest["data"]] == [tested["id"]] and not rest["has_more"]
    none = (await client.get(BATCHES, params={"status": "failed"})).json()
    assert none == {"object": "list", "data": None, "first_id": None, "last_id": None, "has_more": False}
    named = (await client.get(BATCHES, params={"ds_name": "t", "status": "cancelled"})).json()
    assert [b["id"] for b in named["data"]] == [long["id"]]


@pytest.mark.anyio
async def test_as_recorded_refused_test_batches_do_not_hold_a_slot_and_no_empty_output(
    client: httpx.AsyncClient,
) -> None:
    """The recordings (conformance corpus): a refused batch runs nothing, so three refused test-model batches in a
    row are all accepted; a batch cancelled before any line ran has only an error file; expires_at stays null."""
    refused = [chat_line(i, model="batch-test-model", url="/v1/chat/completion") for i in range(2)]
    for _ in range(3):
        made = await create(client, await upload_lines(client, refused), endpoint="/v1/chat/ds-test")
        await advance(client, 1.5)
        failed = (await client.get(f"{BATCHES}/{made['id']}")).json()
        assert failed["status"] == "failed" and failed["errors"]["data"][0]["code"] == "url_not_found"
    busy = await create(client, await upload_lines(client, [chat_line(i) for i in range(2)]))
    cancelled = (await client.post(f"{BATCHES}/{busy['id']}/cancel")).json()  # still validating: no line ran
    assert cancelled["status"] == "cancelling" and cancelled["expires_at"] is None
    await advance(client, 30)
    done = (await client.get(f"{BATCHES}/{busy['id']}")).json()
    assert done["status"] == "cancelled" and done["request_counts"]["completed"] == 0
    assert done["output_file_id"] is None and done["error_file_id"].startswith("file-batch_output-")
    assert done["expires_at"] is None


@pytest.mark.anyio
async def test_tenant_page_lists_tasks_and_batches(client: httpx.AsyncClient) -> None:
    from emulator.tenants import tenant_for
    from tests.conftest import API_KEY

    made = await create(client, await upload_lines(client, [chat_line(1)]))
    body = {"model": "text-embedding-async-v1", "input": {"url": "data:text/plain,one%0Atwo"}}
    headers = {"X-DashScope-Async": "enable"}
    task = (
        await client.post("/api/v1/services/embeddings/text-embedding/text-embedding", json=body, headers=headers)
    ).json()
    await advance(client, 60)
    page = (await client.get(f"/_emulator/dashboard/tenants/{tenant_for(API_KEY, None).id}")).text
    assert 'id="work-table"' in page and made["id"] in page and task["output"]["task_id"] in page
    assert "completed" in page and "SUCCEEDED" in page


@pytest.mark.anyio
async def test_lines_call_a_fine_tuned_deployment(client: httpx.AsyncClient) -> None:
    from tests.deployments.flows import finetuned_model, running

    job = await finetuned_model(client)
    deployed = await running(client, job["finetuned_output"])
    made = await create(client, await upload_lines(client, [chat_line(i, model=deployed) for i in range(2)]))
    await advance(client, 60)
    done = (await client.get(f"{BATCHES}/{made['id']}")).json()
    assert done["status"] == "completed" and done["request_counts"]["completed"] == 2, done
    line = json.loads((await client.get(f"{FILES}/{done['output_file_id']}/content")).text.splitlines()[0])
    assert line["response"]["body"]["model"] == deployed


async def _finished(client: httpx.AsyncClient, made: dict[str, Any]) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """The batch once done, its output lines and its error lines (parsed)."""
    await advance(client, 60)
    done = (await client.get(f"{BATCHES}/{made['id']}")).json()
    assert done["status"] == "completed", done

    async def content(file_id: str | None) -> list[Any]:
        if file_id is None:
            return []
        return [json.loads(x) for x in (await client.get(f"{FILES}/{file_id}/content")).text.splitlines()]

    return done, await content(done["output_file_id"]), await content(done["error_file_id"])


async def _journal(client: httpx.AsyncClient, **query: Any) -> list[dict[str, Any]]:
    return list((await client.get("/_emulator/requests", params=query)).json()["requests"])


@pytest.mark.anyio
async def test_a_fault_fails_the_lines_it_strikes(client: httpx.AsyncClient) -> None:
    """A line is the request it stands for: a fault on the compatible chat path strikes it as it would strike that
    request (after/times counted line by line), the line fails with the fault's error, and the journal has it."""
    rule = {"path": "/compatible-mode/v1/chat/completions", "model": "qwen-plus", "status": 429,
            "code": "Throttling", "message": "Too many.", "after": 1, "times": 2}  # fmt: skip
    fault = (await client.post("/_emulator/faults", json=rule)).json()
    made = await create(client, await upload_lines(client, [chat_line(i) for i in range(5)]))
    done, output, errors = await _finished(client, made)
    assert done["request_counts"] == {"total": 5, "completed": 3, "failed": 2}
    assert [line["custom_id"] for line in output] == ["0", "3", "4"]
    assert [(e["custom_id"], e["response"], e["error"]) for e in errors] == [
        (str(i), None, {"code": "Throttling", "message": "Too many."}) for i in (1, 2)
    ]
    [listed] = (await client.get("/_emulator/faults")).json()["faults"]
    assert (listed["matched"], listed["hits"]) == (5, 2)
    struck = await _journal(client, path="/compatible-mode/v1/chat/completions")
    assert [(e["fault"], e["status"], e["headers"]["x-batch-custom-id"]) for e in reversed(struck)] == [
        (None, 200, "0"), (fault["id"], 429, "1"), (fault["id"], 429, "2"), (None, 200, "3"), (None, 200, "4")
    ]  # fmt: skip
    assert struck[-1]["near_misses"][0]["failed"] == "after" and struck[-2]["model"] == "qwen-plus"
    assert struck[-2]["request_id"] == errors[0]["id"] and struck[-2]["headers"]["x-batch-id"] == made["id"]


@pytest.mark.anyio
async def test_faults_that_cannot_apply_to_a_line_and_a_dropped_connection(client: httpx.AsyncClient) -> None:
    """A fault of another model or path, or one that acts inside streams (a line is never one, even with
    ``stream: true``), leaves lines alone and is not spent; a dropped connection fails the line (InternalError)."""
    await client.post("/_emulator/faults", json={"path": "/compatible-mode/v1/chat/completions", "model": "qwen-max"})
    await client.post("/_emulator/faults", json={"path": "/compatible-mode/v1/embeddings", "status": 500})
    await client.post("/_emulator/faults", json={"path": "/compatible-mode/v1/*", "after_chunks": 1, "status": 500})
    lines = [chat_line(0), chat_line(1, stream=True)]
    _, output, errors = await _finished(client, await create(client, await upload_lines(client, lines)))
    assert len(output) == 2 and errors == []
    assert [f["hits"] for f in (await client.get("/_emulator/faults")).json()["faults"]] == [0, 0, 0]
    await client.delete("/_emulator/faults")
    await client.post(
        "/_emulator/faults", json={"path": "/compatible-mode/v1/chat/*", "drop_connection": True, "times": 1}
    )
    _, output, errors = await _finished(client, await create(client, await upload_lines(client, lines)))
    assert [e["error"]["code"] for e in errors] == ["InternalError"] and [o["custom_id"] for o in output] == ["1"]


@pytest.mark.anyio
async def test_response_rules_answer_lines(client: httpx.AsyncClient) -> None:
    """A generation rule answers the chat lines it matches, the same answer a request would get; its error fails
    the line.  A path rule answers an embedding line with its body (an error status: the error file)."""
    scripted = (await client.post("/_emulator/responses", json={"contains": "number 1", "content": "Scripted."})).json()
    await client.post(
        "/_emulator/responses", json={"contains": "number 2", "error": {"status": 400, "message": "Refused."}}
    )
    made = await create(client, await upload_lines(client, [chat_line(i) for i in range(3)]))
    done, output, errors = await _finished(client, made)
    assert done["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
    contents = {o["custom_id"]: o["response"]["body"]["choices"][0]["message"]["content"] for o in output}
    assert contents["1"] == "Scripted." and contents["0"] != "Scripted."
    direct = await client.post(
        "/compatible-mode/v1/chat/completions", json=chat_line(1)["body"]
    )  # the same body, as a request
    assert direct.json()["choices"][0]["message"]["content"] == "Scripted."
    assert [(e["custom_id"], e["error"]["message"]) for e in errors] == [("2", "Refused.")]
    seen = await _journal(client, path="/compatible-mode/v1/chat/completions")
    named = {e["headers"].get("x-batch-custom-id"): e for e in seen if e["rule"] == scripted["id"]}
    assert set(named) == {"1", None} and named["1"]["status"] == 200  # the line and the request
    assert [m["failed"] for m in next(e for e in seen if e["headers"].get("x-batch-custom-id") == "0")["near_misses"]]
    await client.delete("/_emulator/responses")
    embed = "/compatible-mode/v1/embeddings"
    await client.post("/_emulator/responses", json={"path": embed, "body": {"data": [], "object": "list"}, "times": 1})
    await client.post("/_emulator/responses", json={"path": embed, "status": 503, "body": {"error": {"code": "Busy"}}})
    lines = [
        {"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings",
         "body": {"model": "text-embedding-v4", "input": f"text {i}"}}
        for i in range(2)
    ]  # fmt: skip
    done, output, errors = await _finished(client, await create(client, await upload_lines(client, lines), embed[16:]))
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    assert output[0]["response"]["body"] == {"data": [], "object": "list"}
    assert errors[0]["response"]["status_code"] == 503 and errors[0]["response"]["body"] == {"error": {"code": "Busy"}}
    assert errors[0]["error"] is None and errors[0]["custom_id"] == "e1"


@pytest.mark.anyio
async def test_a_batch_whose_lines_outlast_its_window_expires(app_factory: Any) -> None:
    """``--batch-line-seconds 1000``: 100 lines need ~27.8 h, more than a 24h window.  At the window's end the batch
    is ``expired``: the 86 lines run by then are its output, the other 14 its error file (``batch_expired``).
    The same lines with a 48h window complete; 50 of them fit 24h."""
    from tests.conftest import client_for

    app = await app_factory(batch_line_seconds=1000)
    async with client_for(app) as client:
        file_id = await upload_lines(client, [chat_line(i) for i in range(100)])
        made = await create(client, file_id)
        roomy = (
            await client.post(BATCHES, json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
                                             "completion_window": "2d"})
        ).json()  # fmt: skip
        fits = await create(client, await upload_lines(client, [chat_line(i) for i in range(50)]))
        await advance(client, 3600)
        running = (await client.get(f"{BATCHES}/{made['id']}")).json()
        assert running["status"] == "in_progress" and running["request_counts"]["completed"] == 3
        await advance(client, 86400 - 3600 - 1)
        assert (await client.get(f"{BATCHES}/{made['id']}")).json()["status"] == "in_progress"
        await advance(client, 1)
        expired = (await client.get(f"{BATCHES}/{made['id']}")).json()
        assert expired["status"] == "expired" and expired["expired_at"] == made["created_at"] + 86400
        assert expired["request_counts"] == {"total": 100, "completed": 86, "failed": 14}
        assert expired["completed_at"] is None and expired["cancelled_at"] is None
        output = (await client.get(f"{FILES}/{expired['output_file_id']}/content")).text.splitlines()
        assert [json.loads(line)["custom_id"] for line in output] == [str(i) for i in range(86)]
        errors = [
            json.loads(x) for x in (await client.get(f"{FILES}/{expired['error_file_id']}/content")).text.splitlines()
        ]
        assert [e["custom_id"] for e in errors] == [str(i) for i in range(86, 100)]
        assert errors[0]["error"] == {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        }
        refused = await client.post(f"{BATCHES}/{made['id']}/cancel")
        assert refused.status_code == 400 and "already expired" in refused.json()["error"]["message"]
        assert (await client.get(f"{BATCHES}/{fits['id']}")).json()["status"] == "completed"
        listed = (await client.get(BATCHES, params={"status": "expired"})).json()["data"]
        assert [b["id"] for b in listed] == [made["id"]]
        await advance(client, 86400)
        done = (await client.get(f"{BATCHES}/{roomy['id']}")).json()
        assert done["status"] == "completed" and done["request_counts"]["completed"] == 100


@pytest.mark.anyio
async def test_two_finalizers_of_one_batch_leave_one_set_of_files(app_factory: AppFactory) -> None:
    """Every worker process finalizes the batches it finds due (a read, its clock catching up): two cutting one
    batch at once leave one output and one error file, the batch names them, and a late one cuts nothing more."""
    from emulator.batches import store

    app = await app_factory()
    async with client_for(app) as client:
        file_id = await upload_lines(client, [chat_line(i) for i in range(3)] + [chat_line(3, max_tokens=10**9)])
        made = await create(client, file_id)
        await advance(client, 1.5)
        await advance(client, 3.0 + 0.02 * 4)
        assert (await client.get(f"{BATCHES}/{made['id']}")).json()["status"] == "finalizing"
        app.state.rt.clock.advance(2)  # due now, and nobody in this process has looked yet
        service = app.state.services.batches
        row = await store.find_batch(service.db, made["id"])
        assert row is not None and not row.finalized
        await asyncio.gather(service._finalize(row), service._finalize(row))
        await service._finalize(row)  # one that read the batch before both: the results are gone, nothing cut
        done = (await client.get(f"{BATCHES}/{made['id']}")).json()
        assert done["status"] == "completed" and done["request_counts"] == {"total": 4, "completed": 3, "failed": 1}
        listed = (await client.get(FILES, params={"limit": 100})).json()["data"]
        names = sorted(f["filename"] for f in listed if f["filename"].startswith(made["id"]))
        assert names == [f"{made['id']}_error.jsonl", f"{made['id']}_success.jsonl"]
        kept = {f["id"] for f in listed}
        assert done["output_file_id"] in kept and done["error_file_id"] in kept
        output = (await client.get(f"{FILES}/{done['output_file_id']}/content")).text.splitlines()
        assert [json.loads(line)["custom_id"] for line in output] == ["0", "1", "2"]
        assert not list((service.data_dir / "tmp").glob("*.part"))


@pytest.mark.anyio
async def test_a_second_worker_starting_leaves_a_running_batch_to_the_first(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker process resumes the open batches when it starts; one whose lines another process is running
    (its lock held) is left to that process, so no two write one batch's results."""
    from emulator.batches import lines

    checking = Held(monkeypatch, lines, "validate")
    first = await app_factory()
    async with client_for(first) as client:
        made = await create(client, await upload_lines(client, [chat_line(i) for i in range(3)]))
        assert await asyncio.to_thread(checking.called)
        running = first.state.services.batches
        assert (
            made["id"] in running._work and worklock.claim(running._lock_path(made["id"])) is None
        )  # held while it runs
        second = await app_factory()  # the same database and data directory: its start resumes open batches
        resumed = second.state.services
        assert resumed._built("batches") and made["id"] not in resumed.batches._work  # it looked, and left it
        checking.release()
        await advance(client, 10)
        done = (await client.get(f"{BATCHES}/{made['id']}")).json()
        assert done["status"] == "completed" and done["request_counts"]["completed"] == 3
        hold = worklock.claim(running._lock_path(made["id"]))  # the work ended: the lock went with it
        assert hold is not None
        worklock.release(hold)
