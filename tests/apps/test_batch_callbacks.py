"""Batch finish callbacks in-process (the app's workers POST to a real loopback receiver): once per batch when it
is finalized, in every final status, on a frozen clock advanced, on a running clock unread, after a restore; the
host policy; failures recorded; the ring listed and cleared."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulator import __version__
from emulator.batches.callbacks import CallbackOutbox, CallbackPolicy
from emulator.testing import free_port
from tests.apps.test_batches import BATCHES, advance, chat_line, upload_lines
from tests.callback_receiver import Receiver
from tests.conftest import AppFactory, client_for

CALLBACKS = "/_emulator/callbacks"
KEY = "ds_batch_finish_callback"


async def create(client: httpx.AsyncClient, callback: str, lines: int = 2, **extra: Any) -> dict[str, Any]:
    file_id = await upload_lines(client, [chat_line(i, **extra) for i in range(lines)])
    body = {
        "input_file_id": file_id,
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {KEY: callback},
    }
    response = await client.post(BATCHES, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def attempts(client: httpx.AsyncClient, batch_id: str | None = None, count: int = 1) -> list[dict[str, Any]]:
    """The attempts recorded (newest first), waiting (10 s at most) until there are ``count``."""
    params = {"batch_id": batch_id} if batch_id else {}
    for _ in range(500):
        found: list[dict[str, Any]] = (await client.get(CALLBACKS, params=params)).json()["callbacks"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(found)} callback attempts of {batch_id}, not {count}, after 10 s")


@pytest.mark.anyio
async def test_a_completed_batch_posts_itself_once(client: httpx.AsyncClient) -> None:
    with Receiver() as receiver:
        made = await create(client, receiver.url("/hooks/done?from=emulator"))
        await advance(client, 1.5)
        assert (await client.get(f"{BATCHES}/{made['id']}")).json()["status"] == "in_progress"
        await advance(client, 30)
        [attempt] = await attempts(client, made["id"])
        read = (await client.get(f"{BATCHES}/{made['id']}")).json()
        assert read["status"] == "completed" and read["output_file_id"]
        assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200 and attempt["error"] is None
        assert attempt["body"] == read and attempt["url"] == receiver.url("/hooks/done?from=emulator")
        clock = (await client.get("/_emulator/clock")).json()["now"]
        assert attempt["time"] == clock and attempt["body_size"] > 0 and attempt["wall_time"] <= time.time()
        [got] = receiver.got
        assert got.path == "/hooks/done?from=emulator" and got.json() == read
        assert got.headers["content-type"] == "application/json"
        assert got.headers["user-agent"] == f"dashscope-emulator/{__version__}"
        assert "authorization" not in got.headers and "sk-" not in got.body.decode()
        await advance(client, 3600)  # reads and clock changes after it: no second callback
        await client.get(f"{BATCHES}/{made['id']}")
        await client.get(BATCHES)
        await asyncio.sleep(0.1)
        assert len(receiver.got) == 1 and len(await attempts(client, made["id"])) == 1


@pytest.mark.anyio
async def test_every_final_status_calls_back(app_factory: AppFactory) -> None:
    """failed (refused by its checks), cancelled, expired, completed: each POSTs the batch as a read shows it."""
    app = await app_factory(batch_line_seconds=1000)
    async with client_for(app) as client:
        with Receiver() as receiver:
            url = receiver.url()
            failed = await create(client, url, url="/v1/chat/completion")  # a url the Batch API does not serve
            cancelled = await create(client, url)
            expired = await create(client, url, lines=100)  # 100 lines of 1000 s do not fit 24h
            completed = await create(client, url, lines=2)
            await advance(client, 1.5)
            await client.post(f"{BATCHES}/{cancelled['id']}/cancel")
            await advance(client, 86400)
            found = await attempts(client, count=4)
            assert {a["outcome"] for a in found} == {"delivered"}
            sent = {a["batch_id"]: a["body"] for a in found}
            for made, status in (
                (failed, "failed"),
                (cancelled, "cancelled"),
                (expired, "expired"),
                (completed, "completed"),
            ):
                read = (await client.get(f"{BATCHES}/{made['id']}")).json()
                assert read["status"] == status and sent[made["id"]] == read
            assert sent[failed["id"]]["errors"]["data"][0]["code"] == "url_not_found"
            assert sent[expired["id"]]["request_counts"] == {"total": 100, "completed": 86, "failed": 14}
            assert sorted(r.json()["id"] for r in receiver.got) == sorted(sent)


@pytest.mark.anyio
async def test_a_running_clock_calls_back_with_nobody_reading(app_factory: AppFactory) -> None:
    """At the default pace (60 emulated seconds a wall second) a 2-line batch is done in ~0.1 s: its callback comes
    though nothing reads the batch or moves the clock (the timer finalizes it)."""
    app = await app_factory(time_scale=60.0)
    async with client_for(app) as client:
        with Receiver() as receiver:
            made = await create(client, receiver.url())
            [attempt] = await attempts(client, made["id"])
            assert attempt["outcome"] == "delivered" and attempt["body"]["status"] == "completed"
            assert attempt["body"]["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
            assert attempt["body"]["output_file_id"].startswith("file-batch_output-")


@pytest.mark.anyio
async def test_a_restored_batch_calls_back_when_it_finishes(client: httpx.AsyncClient) -> None:
    """A snapshot holds a batch still running: it calls back when it completes, and again in the timeline a restore
    starts (the batch becomes final in it once more)."""
    with Receiver() as receiver:
        made = await create(client, receiver.url())
        await advance(client, 1.5)
        snap = (await client.post("/_emulator/snapshot", json={"path": "running.tar.gz"})).json()
        await advance(client, 60)
        await attempts(client, made["id"])
        await client.post("/_emulator/reset", json={})
        assert (await client.get(CALLBACKS)).json()["callbacks"] == []  # a whole reset empties the ring
        assert (await client.post("/_emulator/restore", json={"path": snap["path"]})).status_code == 200
        assert (await client.get(f"{BATCHES}/{made['id']}")).json()["status"] == "in_progress"
        await advance(client, 60)
        [again] = await attempts(client, made["id"])
        assert again["outcome"] == "delivered" and again["body"]["status"] == "completed"
        assert [r.json()["id"] for r in receiver.got] == [made["id"], made["id"]]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    ["ftp://127.0.0.1/cb", "not a url", "http://", "https:///path", "http://127.0.0.1:99999/", "http://h/a b",
     "javascript:alert(1)", "//127.0.0.1/cb", "http://h/\x00"],
)  # fmt: skip
async def test_create_refuses_a_callback_that_is_not_an_http_url(client: httpx.AsyncClient, value: str) -> None:
    file_id = await upload_lines(client, [chat_line(1)])
    body = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    refused = await client.post(BATCHES, json={**body, "metadata": {KEY: value}})
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == f"metadata.{KEY}"
    assert "http or https URL" in error["message"] and refused.json()["request_id"]
    assert (await client.get(BATCHES)).json()["data"] is None


@pytest.mark.anyio
async def test_other_hosts_are_refused_and_never_contacted(app_factory: AppFactory, tmp_path: Path) -> None:
    """By default only loopback hosts, and only while the server is bound to loopback; --callback-host adds hosts,
    ``none`` stops them all.  A refusal is recorded at once, saying what allows it."""
    default = await app_factory()
    async with client_for(default) as client:
        for url in ("http://callback.example/x", "http://10.0.0.1:8080/x", "https://[2001:db8::1]/x"):
            made = await create(client, url)
            await advance(client, 60)
            [refused] = await attempts(client, made["id"])
            assert refused["outcome"] == "refused" and "--callback-host" in refused["error"]
            assert refused["status_code"] is None and refused["duration_ms"] == 0
            assert refused["body"]["id"] == made["id"]
    for n, (overrides, outcome) in enumerate(
        (
            ({"host": "0.0.0.0"}, "refused"),
            ({"host": "0.0.0.0", "callback_hosts": ("127.0.0.1",)}, "delivered"),
            ({"callback_hosts": ("none",)}, "refused"),
            ({"callback_hosts": ("*",)}, "delivered"),
        )
    ):
        app = await app_factory(**overrides, db=str(tmp_path / f"{n}.db"), data_dir=tmp_path / f"files-{n}")
        async with client_for(app) as client:
            with Receiver() as receiver:
                made = await create(client, receiver.url())
                await advance(client, 60)
                [attempt] = await attempts(client, made["id"])
                assert attempt["outcome"] == outcome, (overrides, attempt)
                assert len(receiver.got) == (1 if outcome == "delivered" else 0)


async def _outbox(app: Starlette) -> CallbackOutbox:
    outbox: CallbackOutbox = app.state.services.callbacks
    return outbox


@pytest.mark.anyio
async def test_failures_are_recorded_and_a_hanging_receiver_holds_nothing_up(app_factory: AppFactory) -> None:
    app = await app_factory()
    (await _outbox(app)).timeout = 0.5
    async with client_for(app) as client:
        for status, error in ((500, "HTTP 500"), (302, "HTTP 302 (redirects are not followed)")):
            with Receiver(status) as receiver:
                made = await create(client, receiver.url())
                await advance(client, 60)
                [attempt] = await attempts(client, made["id"])
                assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == ("failed", status, error)
                assert len(receiver.got) == 1
        made = await create(client, f"http://127.0.0.1:{free_port()}/nobody")
        await advance(client, 60)
        [attempt] = await attempts(client, made["id"])
        assert attempt["outcome"] == "failed" and attempt["error"].startswith("ConnectError")
        with Receiver(hang=True) as receiver:
            made = await create(client, receiver.url())
            started = time.monotonic()
            await advance(client, 60)
            assert time.monotonic() - started < 0.4  # the POST is under way, not awaited
            assert (await client.get(f"{BATCHES}/{made['id']}")).json()["status"] == "completed"
            [attempt] = await attempts(client, made["id"])
            assert attempt["outcome"] == "failed" and attempt["error"] == "timeout: no answer within 0.5 s"
            assert 450 <= attempt["duration_ms"] < 2000 and len(receiver.got) == 1


@pytest.mark.anyio
async def test_the_queue_is_bounded(app_factory: AppFactory) -> None:
    """One worker, one place in the queue: a third callback while the receiver hangs is dropped, not queued."""
    app = await app_factory()
    outbox = CallbackOutbox(CallbackPolicy((), "127.0.0.1"), app.state.rt.clock, concurrency=1, queue_size=1)
    try:
        with Receiver(hang=True) as receiver:
            outbox.submit("batch_0", receiver.url(), {"id": "batch_0"})
            await asyncio.to_thread(receiver.wait, 1)  # in flight: the receiver holds it
            for n in (1, 2):
                outbox.submit(f"batch_{n}", receiver.url(), {"id": f"batch_{n}"})
            _, [dropped] = outbox.attempts()
            assert dropped["batch_id"] == "batch_2" and dropped["outcome"] == "dropped" and outbox.pending() == 2
            receiver.release.set()
            for _ in range(500):
                if outbox.pending() == 0:
                    break
                await asyncio.sleep(0.02)
            total, found = outbox.attempts()
            assert total == 3 and [a["outcome"] for a in found] == ["delivered", "delivered", "dropped"]
    finally:
        await outbox.stop()


@pytest.mark.anyio
async def test_the_ring_is_filtered_and_cleared(client: httpx.AsyncClient) -> None:
    first = await create(client, "http://callback.example/1")
    second = await create(client, "http://callback.example/2?token=x")
    await advance(client, 60)
    page = (await client.get(CALLBACKS)).json()
    assert page["total"] == 2 and page["capacity"] == 500 and page["pending"] == 0
    assert {a["batch_id"] for a in page["callbacks"]} == {first["id"], second["id"]}
    one = (await client.get(CALLBACKS, params={"batch_id": second["id"], "limit": 1})).json()
    assert [a["url"] for a in one["callbacks"]] == ["http://callback.example/2?token=x"]
    assert len((await client.get(CALLBACKS, params={"limit": 1})).json()["callbacks"]) == 1
    bad = await client.get(CALLBACKS, params={"limit": 0})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter"
    assert (await client.delete(CALLBACKS)).json() == {"removed": 2}
    assert (await client.get(CALLBACKS)).json()["callbacks"] == []
