"""A page of files is rendered once while nothing commits (``FilesService.page_view``): every change shows."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import DATASETS, AppFactory, client_for, upload

pytestmark = pytest.mark.anyio


async def test_uploads_deletes_and_other_programs_show_in_the_next_page(app_factory: AppFactory) -> None:
    app = await app_factory()
    async with client_for(app) as client:
        assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0
        await upload(client, DATASETS / "sft_basic.jsonl")
        page = (await client.get("/api/v1/files")).json()["data"]
        assert page["total"] == 1
        assert (await client.get("/api/v1/files")).json()["data"] == page  # kept
        file_id = page["files"][0]["file_id"]
        other = sqlite3.connect(app.state.rt.settings.db)  # another process, as far as SQLite knows
        with other:
            other.execute("UPDATE files SET name = 'renamed.jsonl' WHERE file_id = ?", (file_id,))
        other.close()
        assert (await client.get("/api/v1/files")).json()["data"]["files"][0]["name"] == "renamed.jsonl"
        assert (await client.delete(f"/api/v1/files/{file_id}")).status_code == 200
        assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0


async def test_each_tenant_page_and_host_gets_its_own_rendering(app_factory: AppFactory) -> None:
    app = await app_factory()
    async with client_for(app) as a, client_for(app, "sk-someone-else") as b:
        await upload(a, DATASETS / "sft_basic.jsonl")
        await upload(a, DATASETS / "dpo_basic.jsonl")
        assert (await b.get("/api/v1/files")).json()["data"]["total"] == 0
        first = (await a.get("/api/v1/files?page_no=1&page_size=1")).json()["data"]
        second = (await a.get("/api/v1/files?page_no=2&page_size=1")).json()["data"]
        assert first["files"][0]["file_id"] != second["files"][0]["file_id"]
        local = (await a.get("/api/v1/files", headers={"host": "127.0.0.1:9999"})).json()["data"]
        assert all(f["url"].startswith("http://127.0.0.1:9999/") for f in local["files"])
        default = (await a.get("/api/v1/files")).json()["data"]
        assert all(f["url"].startswith("http://localhost/") for f in default["files"])
