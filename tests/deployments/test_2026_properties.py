"""Hypothesis: whatever the 2026 deployment fields and the checkpoint/export parameters hold, the answer is a
200 or a 4xx in the error model, never a 5xx, and the server stays consistent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DATASETS
from tests.reliability.test_bad_input import Target, check_response

pytestmark = pytest.mark.slow
AUTH = {"Authorization": "Bearer sk-2026-props"}
PROPS = settings(
    max_examples=int(os.environ.get("EMULATOR_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=not os.environ.get("EMULATOR_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
value = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), text, st.dictionaries(text, text, max_size=3))


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, dict[str, str]]]:
    t = Target(Path(tmp_path_factory.mktemp("props2026")))
    sft = (DATASETS / "sft_basic.jsonl").read_bytes()
    uploaded = t.request("POST", "/api/v1/files", files=[("files", ("sft.jsonl", sft))], headers=AUTH).json()
    body = {
        "model": "qwen3-8b",
        "training_file_ids": [uploaded["data"]["uploaded_files"][0]["file_id"]],
        "training_type": "efficient_sft",
        "hyper_parameters": {"eval_steps": 1, "n_epochs": 3},
    }
    job = t.request("POST", "/api/v1/fine-tunes", json=body, headers=AUTH).json()["output"]
    t.request("POST", "/_emulator/clock/advance", json={"seconds": 6 * 3600})
    done = t.request("GET", f"/api/v1/fine-tunes/{job['job_id']}", headers=AUTH).json()["output"]
    assert done["status"] == "SUCCEEDED"
    yield t, done
    t.close()


@PROPS
@given(
    fields=st.dictionaries(
        st.sampled_from(("plan", "deploy_spec", "billing_method", "suffix", "name", "capacity", "template_id")),
        value,
        max_size=5,
    ),
    own_model=st.booleans(),
)
def test_create_deployment_with_any_2026_fields(
    target: tuple[Target, dict[str, Any]], fields: dict[str, Any], own_model: bool
) -> None:
    t, job = target
    body = {"model_name": job["finetuned_output"] if own_model else "qwen3-8b", **fields}
    response = t.request("POST", "/api/v1/deployments", json=body, headers=AUTH)
    check_response("POST", "/api/v1/deployments", response)
    if response.status_code == 200:
        name = response.json()["output"]["deployed_model"]
        assert t.request("DELETE", f"/api/v1/deployments/{name}", headers=AUTH).status_code == 200
        t.request("POST", "/_emulator/clock/advance", json={"seconds": 10})


@PROPS
@given(checkpoint=text, model_name=st.one_of(st.none(), text))
def test_export_with_any_checkpoint_and_name(
    target: tuple[Target, dict[str, Any]], checkpoint: str, model_name: str | None
) -> None:
    t, job = target
    path = f"/api/v1/fine-tunes/{job['job_id']}/export/{quote(checkpoint, safe='') or 'x'}"
    params = {} if model_name is None else {"model_name": model_name}
    response = t.request("GET", path, params=params, headers=AUTH)
    check_response("GET", path, response)
    listed = t.request("GET", f"/api/v1/fine-tunes/{job['job_id']}/checkpoints", headers=AUTH)
    assert listed.status_code == 200 and isinstance(listed.json()["output"], list)
