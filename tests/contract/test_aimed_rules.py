"""Rules aimed at the Nth call, through the real clients: both dashscope SDKs (native generation, a fine-tune's
polls) and the openai package (compatible mode), each rule scoped to the test's own key on the shared server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from emulator.testing import EmulatorServer
from tests.contract.conftest import Sdk
from tests.contract.test_scripting import Script

SFT = Path(__file__).resolve().parents[2] / "fixtures" / "datasets" / "sft_basic.jsonl"


@pytest.fixture
def script(sdk: Sdk) -> Iterator[Script]:
    s = Script(sdk.server, sdk.api_key)
    yield s
    s.close()


def test_sdk_the_third_generation_call_is_throttled_then_a_scripted_answer(sdk: Sdk, script: Script) -> None:
    path = "/api/v1/services/aigc/text-generation/generation"
    script.fault(path, status=429, code="Throttling", message="Requests rate limit exceeded.", after=2, times=1)
    script.respond(content="the fourth", after=2, times=1)  # the 429 never reached the model
    out = sdk.python("""
from dashscope import Generation
seen = [Generation.call(model="qwen-plus", messages=[{"role": "user", "content": "hi"}], result_format="message")
        for _ in range(5)]
print(json.dumps([[r.status_code, r.code, r.output.choices[0].message.content if r.status_code == 200 else ""]
                  for r in seen]))
""")
    assert [s for s, _, _ in out] == [200, 200, 429, 200, 200]
    assert out[2][1] == "Throttling"
    assert out[3][2] == "the fourth" and out[4][2] != "the fourth"
    entries = sdk.server.requests(path=path, tenant=sdk.api_key)
    assert [e["fault"] for e in reversed(entries)] == [None, None, script.faults[0], None, None]
    assert [e["rule"] for e in reversed(entries)] == [None, None, None, script.ids[0], None]


def test_sdk_the_second_poll_of_a_fine_tune_answers_500_then_a_sequence(sdk: Sdk, script: Script) -> None:
    job_id = sdk.python(f"""
from dashscope import FineTunes, Files
up = Files.upload(file_path={str(SFT)!r}, purpose='fine_tune')
job = FineTunes.call(model='qwen-turbo', training_file_ids=[up.output['uploaded_files'][0]['file_id']])
print(json.dumps(job.output['job_id']))
""")
    script.fault(f"/api/v1/fine-tunes/{job_id}", method="GET", status=500, code="InternalError", after=1, times=1)
    polls = sdk.python(f"""
from dashscope import FineTunes
seen = [FineTunes.get(job_id={job_id!r}) for _ in range(3)]
print(json.dumps([[r.status_code, r.code] for r in seen]))
""")
    assert [s for s, _ in polls] == [200, 500, 200] and polls[1][1] == "InternalError"
    canned = {"request_id": "canned", "output": {"job_id": job_id, "status": "FAILED", "message": "scripted"}}
    script.respond(path=f"/api/v1/fine-tunes/{job_id}", method="GET", replies=[{"body": canned}, {"passthrough": True}])
    seq = sdk.python(f"""
from dashscope import FineTunes
seen = [FineTunes.get(job_id={job_id!r}) for _ in range(2)]
print(json.dumps([[r.status_code, r.output["status"]] for r in seen]))
""")
    assert seq[0] == [200, "FAILED"] and seq[1][0] == 200 and seq[1][1] != "FAILED"


@pytest.fixture
def oa(live_server: EmulatorServer, request: pytest.FixtureRequest) -> Iterator[tuple[openai.OpenAI, Script]]:
    key = f"sk-contract-{request.node.name}"
    s = Script(live_server, key)
    with openai.OpenAI(api_key=key, base_url=live_server.openai_base, max_retries=0) as client:
        yield client, s
    s.close()


def test_openai_the_third_chat_call_is_a_429_and_the_fourth_scripted(oa: tuple[openai.OpenAI, Script]) -> None:
    client, s = oa
    s.fault("/compatible-mode/v1/chat/completions", status=429, code="Throttling", after=2, times=1)
    s.respond(model="qwen-*", content="scripted fourth", after=2, times=1)  # the 429 never reached it

    def ask() -> str:
        answer = client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}])
        return str(answer.choices[0].message.content)

    first, second = ask(), ask()
    with pytest.raises(openai.RateLimitError):
        ask()
    fourth, fifth = ask(), ask()
    assert fourth == "scripted fourth" and "scripted" not in first + second + fifth
    [fault] = [f for f in s.server.faults() if f["id"] == s.faults[0]]
    assert (fault["matched"], fault["hits"], fault["remaining"]) == (5, 1, 0)
