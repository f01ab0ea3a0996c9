"""The control plane seen through the real SDKs: an injected fault reaches the caller as the service's own
error, and the request journal shows exactly what each SDK sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import DATASETS
from tests.contract.conftest import Sdk

SFT = DATASETS / "sft_basic.jsonl"


@pytest.fixture(autouse=True)
def no_faults(live_server: object) -> Iterator[None]:
    yield
    live_server.clear_faults()  # type: ignore[attr-defined]


def test_a_throttling_fault_reaches_the_sdk_as_429(sdk: Sdk) -> None:
    rule = sdk.server.fault(
        "/api/v1/fine-tunes",
        method="POST",
        status=429,
        code="Throttling",
        message="Requests throttling triggered.",
        retry_after=1,
        count=1,
        tenant=sdk.api_key,
    )
    result = sdk.python(f"""
        up = dashscope.Files.upload(file_path={str(SFT)!r}, purpose='fine_tune')
        file_id = up.output['uploaded_files'][0]['file_id']
        first = dashscope.FineTunes.call(model='qwen-turbo', training_file_ids=[file_id])
        second = dashscope.FineTunes.call(model='qwen-turbo', training_file_ids=[file_id])
        print(json.dumps({{"first": [first.status_code, first.code, first.message, first.request_id],
                          "second": [second.status_code, second.output and second.output['status']]}}))
    """)
    assert result["first"][:3] == [429, "Throttling", "Requests throttling triggered."]
    assert result["first"][3]  # the envelope's request_id, parsed by the SDK
    assert result["second"] == [200, "PENDING"]  # count=1: the rule expired after one hit
    assert rule not in {f["id"] for f in sdk.server.faults()}
    posts = sdk.server.requests(method="POST", path="/api/v1/fine-tunes", tenant=sdk.api_key)
    assert [e["status"] for e in posts] == [200, 429]  # newest first; one attempt each: no SDK retry


def test_the_journal_shows_what_the_sdk_sent(sdk: Sdk) -> None:
    job_id = sdk.python(f"""
        up = dashscope.Files.upload(file_path={str(SFT)!r}, purpose='fine_tune', description='training dataset')
        file_id = up.output['uploaded_files'][0]['file_id']
        job = dashscope.FineTunes.call(model='qwen-turbo', training_file_ids=[file_id],
                                       hyper_parameters={{'n_epochs': 2, 'learning_rate': '1e-4'}})
        print(json.dumps(job.output['job_id']))
    """)
    entries = sdk.server.requests(tenant=sdk.api_key)
    create, upload = entries[0], entries[1]
    assert (create["method"], create["path"], create["status"]) == ("POST", "/api/v1/fine-tunes", 200)
    assert create["body"]["model"] == "qwen-turbo"
    assert create["body"]["hyper_parameters"] == {"n_epochs": 2, "learning_rate": "1e-4"}
    assert len(create["body"]["training_file_ids"]) == 1
    assert create["headers"]["user-agent"].startswith(f"dashscope/{sdk.version};")
    assert create["headers"]["content-type"].startswith("application/json")
    assert create["headers"]["authorization"].startswith("Bearer sk-co…")
    assert sdk.api_key not in str(entries)
    assert (upload["method"], upload["path"], upload["status"]) == ("POST", "/api/v1/files", 200)
    # neither SDK sends purpose=, and file parts carry no Content-Type (reference §11.3): the journal shows it
    assert upload["body"] is None and upload["form"]["fields"] == {"descriptions": ["training dataset"]}
    assert upload["form"]["files"] == [
        {"field": "files", "filename": "sft_basic.jsonl", "size": SFT.stat().st_size, "content_type": None}
    ]
    if sdk.version.startswith("2."):
        assert create["headers"]["x-dashscope-sdk-client"].startswith("python-sdk/2.0.2/")
    else:
        assert "x-dashscope-sdk-client" not in create["headers"]
    assert job_id
