"""Bounded resources (issue 10): nothing a client sends grows what the emulator keeps without bound.

The journal keeps a bounded prefix of each header value and of an upload's form fields; fault rules and cached
tenants have caps.  The RSS figures of the hostile cases are measured by bench/hostile_rss.py.
"""

from __future__ import annotations

import httpx
import pytest

from emulator import tenants
from emulator.files.upload import MAX_TEXT_TOTAL
from emulator.journal.recorder import MAX_FORM_BYTES, MAX_FORM_VALUE, MAX_HEADER_VALUE, TRUNCATED
from tests.conftest import AppFactory, assert_error, client_for

pytestmark = pytest.mark.anyio

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


async def test_journal_entries_keep_a_bounded_prefix_of_form_fields_and_headers(client: httpx.AsyncClient) -> None:
    fields = {"descriptions": ["d" * 60_000] * 16}  # ~1 MB of form fields in one upload, the most it may send
    files = [("files", ("train.jsonl", GOOD))]
    response = await client.post("/api/v1/files", files=files, data=fields, headers={"X-Big": "h" * 100_000})
    assert response.status_code == 200, response.text
    [entry] = (await client.get("/_emulator/requests")).json()["requests"]
    values = entry["form"]["fields"]["descriptions"]
    assert len(values) == 16
    assert all(len(v) <= MAX_FORM_VALUE + len(TRUNCATED) for v in values)
    assert sum(len(v) for v in values) <= MAX_FORM_BYTES + 16 * len(TRUNCATED)
    assert values[0].endswith(TRUNCATED)
    assert entry["form"]["files"][0]["filename"] == "train.jsonl"
    assert entry["headers"]["x-big"] == "h" * MAX_HEADER_VALUE + TRUNCATED
    stored = await client.get(f"/api/v1/files/{response.json()['data']['uploaded_files'][0]['file_id']}")
    assert stored.json()["data"]["description"] == "d" * 60_000  # only the journal's copy is cut


async def test_the_form_fields_of_one_upload_are_capped(client: httpx.AsyncClient) -> None:
    fields = {"descriptions": ["d" * 60_000] * 20}  # each under the per-field limit, 1.2 MB together
    response = await client.post("/api/v1/files", files=[("files", ("train.jsonl", GOOD))], data=fields)
    body = assert_error(response, 400, "InvalidParameter")
    assert str(MAX_TEXT_TOTAL) in body["message"]
    assert list(client._transport.app.state.rt.temp_dir.iterdir()) == []  # type: ignore[attr-defined]


async def test_fault_rules_are_capped(app_factory: AppFactory) -> None:
    app = await app_factory(max_fault_rules=3)
    async with client_for(app) as client:
        ids = []
        for _ in range(3):
            added = await client.post("/_emulator/faults", json={"path": "/api/v1/files", "status": 429})
            assert added.status_code == 200, added.text
            ids.append(added.json()["id"])
        refused = assert_error(
            await client.post("/_emulator/faults", json={"path": "/api/v1/files", "status": 429}),
            400,
            "BadRequest.TooMany",
        )
        assert "--max-fault-rules" in refused["message"]
        assert (await client.delete(f"/_emulator/faults/{ids[0]}")).status_code == 200
        assert (await client.post("/_emulator/faults", json={"path": "/api/v1/x", "status": 429})).status_code == 200


async def test_cached_tenants_are_capped(app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenants, "MAX_CACHED_TENANTS", 5)
    app = await app_factory()
    for i in range(20):
        async with client_for(app, f"sk-minted-{i}") as client:
            assert (await client.get("/api/v1/files")).status_code == 200
    registry = app.state.rt.tenants
    assert len(registry._known) <= 5
    async with client_for(app, "sk-minted-0") as client:  # forgotten from the cache, still a tenant
        assert (await client.get("/api/v1/files")).status_code == 200
