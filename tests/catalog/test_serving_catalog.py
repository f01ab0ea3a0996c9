"""The catalog of callable models: the current Model Studio list, aliases and snapshots, capabilities, the
accessors other packages read, and the user layer (``--models``, ``/_emulator/models``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import catalog as cat
from emulator.catalog import CatalogError, load_catalog, thinking_mode
from emulator.testing import EmulatorServer
from tests.conftest import API_KEY

# The current Model Studio list (mid-2026), family by family: each must be callable.
CURRENT = {
    "text": [
        "qwen3-max",
        "qwen3-max-preview",
        "qwen-max",
        "qwen-max-latest",
        "qwen-plus",
        "qwen-plus-latest",
        "qwen-flash",
        "qwen-turbo",
        "qwen-turbo-latest",
        "qwen-long",
        "qwen3.6-plus",
        "qwen3.6-flash",
        "qwen3.5-plus",
        "qwen3.5-flash",
        "qwen3-235b-a22b",
        "qwen3-32b",
        "qwen3-coder-plus",
        "qwen-math-plus",
    ],
    "snapshots": [
        "qwen-plus-2025-07-28",
        "qwen-max-2025-01-25",
        "qwen3-max-2026-01-23",
        "qwen-turbo-2025-04-28",
        "qwen3.6-plus-2026-04-02",
        "qwen-vl-max-2025-08-13",
        "qwen-vl-ocr-2025-11-20",
    ],
    "thinking": ["qwq-plus", "qwq-plus-latest", "qwq-32b", "qwen3-235b-a22b-thinking-2507", "qvq-max"],
    "vl": [
        "qwen-vl-max",
        "qwen-vl-max-latest",
        "qwen-vl-plus",
        "qwen3-vl-plus",
        "qwen3-vl-flash",
        "qwen3-vl-235b-a22b-instruct",
        "qwen2.5-vl-72b-instruct",
    ],
    "ocr": ["qwen-vl-ocr", "qwen-vl-ocr-latest"],
    "audio": ["qwen-audio-turbo", "qwen-audio-turbo-latest", "qwen3-omni-30b-a3b-captioner"],
    "omni": ["qwen3-omni-flash", "qwen-omni-turbo", "qwen-omni-turbo-latest"],
    "translation": ["qwen-mt-plus", "qwen-mt-turbo", "qwen-mt-flash"],
    "other": ["qwen-doc-turbo", "qwen-plus-character", "qwen-deep-research"],
    "third-party": [
        "deepseek-v4-pro",
        "deepseek-v3.2",
        "deepseek-r1",
        "deepseek-r1-0528",
        "kimi-k2.6",
        "Moonshot-Kimi-K2-Instruct",
        "glm-5.1",
        "glm-4.6",
    ],
}


@pytest.mark.parametrize("model", [m for names in CURRENT.values() for m in names])
def test_the_current_list_is_in_the_catalog(model: str) -> None:
    info = load_catalog().get(model)
    assert info is not None, model
    assert info.endpoints and info.inputs and info.context_window > 0


def test_capabilities_follow_the_list() -> None:
    assert thinking_mode("qwen-plus-latest") == "hybrid" and cat.supports_thinking("qwen-plus-latest")
    assert thinking_mode("qwen-plus-2024-09-19") == "none"  # a snapshot older than thinking
    assert thinking_mode("qwen3.6-plus") == "on" and cat.thinks_by_default("qwen3.6-plus")
    assert thinking_mode("deepseek-r1") == "always" and not cat.supports_structured_output("deepseek-r1")
    assert cat.accepts_endpoint("qwen3.6-plus", "multimodal-generation")
    assert not cat.accepts_endpoint("qwen3.6-plus", "text-generation")
    assert cat.accepts_input("qwen-vl-ocr-latest", "image") and not cat.accepts_input("qwen-max", "image")
    assert cat.accepts_input("qwen-audio-turbo", "audio") and cat.accepts_endpoint(
        "qwen-audio-turbo", "multimodal-generation"
    )
    assert cat.supports_tools("qwen-plus") and not cat.supports_tools("qwen-mt-plus")
    assert cat.context_window("qwen-long") == 10_000_000 and cat.max_output_tokens("qwen3-max") == 65536
    assert cat.thinking_budget("qwen3-max") == 81920
    assert cat.is_stream_only("qwen-omni-turbo") and not cat.is_stream_only("qwen-plus")
    assert not cat.supports_tools("no-such-model") and cat.input_modalities("no-such-model") == ()
    alias = load_catalog().get("qwen-vl-ocr-latest")
    assert alias is not None and alias.alias_of == "qwen-vl-ocr" and not alias.fine_tunable


def test_fine_tunable_rows_keep_their_facts() -> None:
    """A dated snapshot that is also a fine-tunable base keeps its training facts and context window."""
    row = load_catalog().get("qwen3.6-flash-2026-04-16")
    assert row is not None and row.fine_tunable and row.context_window == 262144
    assert row.alias_of == "qwen3.6-flash" and thinking_mode(row.id) == "on"
    latest = load_catalog().get("qwen-turbo-latest")
    assert latest is not None and not latest.fine_tunable and latest.seed_marks == 0


@pytest.fixture
def fresh_user_layer() -> Iterator[None]:
    load_catalog().reset_user_models()
    yield
    load_catalog().reset_user_models()


@pytest.mark.usefixtures("fresh_user_layer")
def test_the_user_layer_adds_overrides_and_restores() -> None:
    catalog = load_catalog()
    added = catalog.add_user_models([{"id": "my-model", "like": "qwen-plus", "latest": True, "context_window": 4096}])
    assert [m.id for m in added] == ["my-model", "my-model-latest"]
    mine = catalog.get("my-model-latest")
    assert mine is not None and mine.user and mine.context_window == 4096 and thinking_mode(mine.id) == "hybrid"
    catalog.add_user_models([{"id": "qwen-max", "like": "qwen-max", "input": ["text", "image"]}])
    assert cat.accepts_input("qwen-max", "image")
    assert catalog.remove_user_model("qwen-max") and not cat.accepts_input("qwen-max", "image")
    assert not catalog.remove_user_model("qwen-plus")  # bundled models stay
    for bad in (
        {"id": ""},
        {"id": "x", "like": "nope"},
        {"id": "x", "thinking": "maybe"},
        {"id": "x", "input": ["smell"]},
        {"id": "x", "context_window": 0},
        {"id": "x", "tools": "yes"},
        "not an object",
    ):
        with pytest.raises(CatalogError):
            catalog.add_user_models([bad])
    assert catalog.get("x") is None  # all or nothing


@pytest.mark.anyio
@pytest.mark.usefixtures("fresh_user_layer")
async def test_the_control_plane_lists_adds_and_removes(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/_emulator/models", params={"q": "qwen-vl-ocr"})).json()
    assert {m["id"] for m in listed["data"]} >= {"qwen-vl-ocr", "qwen-vl-ocr-latest"}
    added = await client.post("/_emulator/models", json={"id": "acme-chat", "like": "qwen-turbo", "thinking": "none"})
    assert added.status_code == 200 and added.json()["data"][0]["user"] is True
    answer = await client.post(
        "/api/v1/services/aigc/text-generation/generation", json={"model": "acme-chat", "input": {"prompt": "hi"}}
    )
    assert answer.status_code == 200, answer.text
    assert [m["id"] for m in (await client.get("/_emulator/models?user=true")).json()["data"]] == ["acme-chat"]
    assert (await client.get("/_emulator/models/acme-chat")).json()["thinking"] == "none"
    refused = await client.post("/_emulator/models", json={"models": [{"id": "x", "thinking": "maybe"}]})
    assert refused.status_code == 400 and refused.json()["code"] == "InvalidParameter"
    assert (await client.delete("/_emulator/models/acme-chat")).json()["deleted"] is True
    assert (await client.delete("/_emulator/models/qwen-plus")).status_code == 404
    gone = await client.post(
        "/api/v1/services/aigc/text-generation/generation", json={"model": "acme-chat", "input": {"prompt": "hi"}}
    )
    assert gone.status_code == 400 and gone.json()["message"] == "Model not exist."
    page = await client.get("/_emulator/")
    assert page.status_code == 200 and "Model catalog" in page.text


@pytest.mark.live
def test_models_file_at_start(tmp_path: Path) -> None:
    """``--models`` (YAML here) adds models before the first request; a bad file stops the start with a message."""
    good = tmp_path / "models.yaml"
    good.write_text("- id: acme-vision\n  like: qwen-vl-max\n  snapshots: [acme-vision-2026-01-01]\n")
    with EmulatorServer(extra_args=("--models", str(good))) as server:
        body: dict[str, Any] = {
            "model": "acme-vision-2026-01-01",
            "input": {
                "messages": [{"role": "user", "content": [{"image": "https://a.example.com/x.png"}, {"text": "?"}]}]
            },
        }
        answer = httpx.post(
            server.url + "/api/v1/services/aigc/multimodal-generation/generation",
            json=body,
            headers={"authorization": f"Bearer {API_KEY}"},
        )
        assert answer.status_code == 200, answer.text
        assert httpx.get(server.url + "/_emulator/models/acme-vision").json()["user"] is True
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "like": "nope"}]))
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", "--db", ":memory:", "--port", "0", "--models", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "--models" in done.stderr and "unknown model" in done.stderr


@pytest.mark.anyio
async def test_the_thinking_budget_is_the_models(client: httpx.AsyncClient) -> None:
    """qwen3-max takes up to 81920 reasoning tokens, the open-source Qwen3 38912 (the catalog's budgets)."""
    path = "/api/v1/services/aigc/text-generation/generation"

    def asks(model: str, budget: int) -> dict[str, Any]:
        parameters = {"enable_thinking": True, "thinking_budget": budget, "incremental_output": True}
        return {"model": model, "input": {"prompt": "1+1?"}, "parameters": parameters}

    sse = {"x-dashscope-sse": "enable"}
    assert "event:error" not in (await client.post(path, json=asks("qwen3-max", 60000), headers=sse)).text
    refused = (await client.post(path, json=asks("qwen3-32b", 60000), headers=sse)).text
    assert "event:error" in refused and "not greater than 38912" in refused
