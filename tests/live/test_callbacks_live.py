"""Batch finish callbacks from a real server (``python -m emulator serve`` on a free loopback port) to a receiver on
another: the ``openai`` package drives a batch through the frozen clock, the POST arrives with the batch as a read
shows it; a host the policy refuses is recorded and not contacted; a hanging receiver holds up no clock advance."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import openai
import pytest

from emulator.testing import EmulatorServer
from tests.callback_receiver import Receiver

pytestmark = pytest.mark.live
KEY = "sk-live-callbacks"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(time_scale=0.0, seed=3, api_key=KEY) as s:
        yield s


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[openai.OpenAI]:
    server.reset()
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base, max_retries=0) as c:
        yield c


def _batch(client: openai.OpenAI, callback: str) -> str:
    line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "qwen-plus", "messages": [{"role": "user", "content": "hello"}]}}  # fmt: skip
    upload = client.files.create(file=("in.jsonl", json.dumps(line).encode()), purpose="batch")  # type: ignore[arg-type]
    batch = client.batches.create(
        input_file_id=upload.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"ds_batch_finish_callback": callback, "ds_name": "live"},
    )
    return batch.id


def test_the_callback_arrives_with_the_finished_batch(client: openai.OpenAI, server: EmulatorServer) -> None:
    with Receiver() as receiver:
        batch_id = _batch(client, receiver.url("/finished"))
        server.advance(60)
        [got] = receiver.wait(1)
        attempt = server.wait_for_callback(batch_id)
        read = client.batches.retrieve(batch_id)
        assert read.status == "completed" and got.path == "/finished"
        assert got.json() == read.model_dump(exclude_unset=True) == attempt["body"]
        assert got.headers["content-type"] == "application/json" and KEY not in got.body.decode()
        assert attempt["outcome"] == "delivered" and attempt["status_code"] == 200
        server.advance(3600)
        client.batches.list()
        time.sleep(0.2)
        assert len(receiver.got) == 1 and len(server.callbacks(batch_id)) == 1


def test_a_refused_host_is_recorded_and_not_contacted(client: openai.OpenAI, server: EmulatorServer) -> None:
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        batch_id = _batch(client, f"http://callback.invalid:{port}/x")  # not a loopback name: refused, unresolved
        server.advance(60)
        attempt = server.wait_for_callback(batch_id)
        assert attempt["outcome"] == "refused" and "--callback-host callback.invalid" in attempt["error"]
        assert attempt["body"]["status"] == "completed" and receiver.got == []


def test_a_hanging_receiver_does_not_hold_up_the_clock(client: openai.OpenAI, server: EmulatorServer) -> None:
    with Receiver(hang=True) as receiver:
        batch_id = _batch(client, receiver.url())
        started = time.monotonic()
        server.advance(60)
        assert time.monotonic() - started < 1.0
        receiver.wait(1)  # the POST is in, its answer held back
        assert client.batches.retrieve(batch_id).status == "completed"
        page = server.control("GET", "/_emulator/callbacks")
        assert page["pending"] == 1 and page["callbacks"] == []
        receiver.release.set()
        attempt = server.wait_for_callback(batch_id)
        assert attempt["outcome"] == "delivered" and attempt["duration_ms"] > 0
