"""The Files API in-process: shapes, paging, quotas, content checks, tenancy, bad input."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import DATASETS, AppFactory, assert_error, client_for, upload

pytestmark = pytest.mark.anyio

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'


async def test_upload_answers_the_seed_shape(client: httpx.AsyncClient) -> None:
    response = await upload(client, ("train.jsonl", GOOD * 3), description="a sample fine-tune data file")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id", "data"}
    assert body["request_id"] == response.headers["x-request-id"]
    [uploaded] = body["data"]["uploaded_files"]
    assert uploaded["name"] == "train.jsonl"
    assert body["data"]["failed_uploads"] == []
    got = (await client.get(f"/api/v1/files/{uploaded['file_id']}")).json()["data"]
    assert got["file_id"] == uploaded["file_id"]
    assert got["description"] == "a sample fine-tune data file"
    assert got["size"] == len(GOOD) * 3
    assert got["purpose"] == "fine-tune"
    assert set(got) == {
        "id",
        "file_id",
        "name",
        "description",
        "purpose",
        "size",
        "md5",
        "region",
        "url",
        "user_id",
        "api_key_id",
        "gmt_create",
    }
    content = await client.get(f"/api/v1/files/{uploaded['file_id']}/content")
    assert content.content == GOOD * 3


async def test_several_files_and_descriptions_in_one_request(client: httpx.AsyncClient) -> None:
    files = [("files", ("a.jsonl", GOOD)), ("files", ("b.jsonl", GOOD * 2))]
    data = {"descriptions": ["first", "second"]}
    body = (await client.post("/api/v1/files", files=files, data=data)).json()["data"]
    assert [f["name"] for f in body["uploaded_files"]] == ["a.jsonl", "b.jsonl"]
    descriptions = [
        (await client.get(f"/api/v1/files/{f['file_id']}")).json()["data"]["description"]
        for f in body["uploaded_files"]
    ]
    assert descriptions == ["first", "second"]


async def test_list_pages_newest_first_with_total(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await upload(client, (f"f{i}.jsonl", GOOD))
    page1 = (await client.get("/api/v1/files", params={"page_no": 1, "page_size": 2})).json()["data"]
    page3 = (await client.get("/api/v1/files", params={"page_no": 3, "page_size": 2})).json()["data"]
    assert page1["total"] == 5 and page1["page_no"] == 1 and page1["page_size"] == 2
    assert [f["name"] for f in page1["files"]] == ["f4.jsonl", "f3.jsonl"]
    assert [f["name"] for f in page3["files"]] == ["f0.jsonl"]
    beyond = (await client.get("/api/v1/files", params={"page_no": 9})).json()["data"]
    assert beyond["files"] == [] and beyond["total"] == 5


@pytest.mark.parametrize("query", ["page_no=0", "page_size=0", "page_no=abc", "page_size=-3"])
async def test_bad_paging_is_invalid_parameter(client: httpx.AsyncClient, query: str) -> None:
    assert_error(await client.get(f"/api/v1/files?{query}"), 400, "InvalidParameter")


async def test_page_size_is_clamped_to_100(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/files?page_size=5000")).json()["data"]["page_size"] == 100


async def test_delete_then_get_is_file_not_found(client: httpx.AsyncClient) -> None:
    file_id = (await upload(client, ("a.jsonl", GOOD))).json()["data"]["uploaded_files"][0]["file_id"]
    deleted = await client.delete(f"/api/v1/files/{file_id}")
    assert deleted.status_code == 200 and set(deleted.json()) == {"request_id"}
    body = assert_error(await client.get(f"/api/v1/files/{file_id}"), 400, "InvalidParameter")
    assert body["message"] == "File not found."
    assert_error(await client.delete(f"/api/v1/files/{file_id}"), 400, "InvalidParameter")


async def test_per_file_limit_fails_that_file_only(app_factory: AppFactory) -> None:
    app = await app_factory(max_file_bytes=len(GOOD) * 2)
    async with client_for(app) as client:
        files = [("files", ("big.jsonl", GOOD * 3)), ("files", ("ok.jsonl", GOOD))]
        body = (await client.post("/api/v1/files", files=files)).json()["data"]
    assert [f["name"] for f in body["uploaded_files"]] == ["ok.jsonl"]
    [failed] = body["failed_uploads"]
    assert failed["name"] == "big.jsonl" and failed["code"] == "BadRequest.TooLarge"
    assert list((app.state.rt.temp_dir).iterdir()) == []


async def test_file_count_quota_and_delete_frees_it(app_factory: AppFactory) -> None:
    app = await app_factory(max_tenant_files=2)
    async with client_for(app) as client:
        ids = [
            (await upload(client, (f"{i}.jsonl", GOOD))).json()["data"]["uploaded_files"][0]["file_id"]
            for i in range(2)
        ]
        third = (await upload(client, ("3.jsonl", GOOD))).json()["data"]
        assert third["uploaded_files"] == []
        assert third["failed_uploads"][0]["code"] == "BadRequest.TooMany"
        assert "Out of number, <2> of <2> files" in third["failed_uploads"][0]["message"]
        await client.delete(f"/api/v1/files/{ids[0]}")
        again = (await upload(client, ("3.jsonl", GOOD))).json()["data"]
        assert len(again["uploaded_files"]) == 1


async def test_space_quota(app_factory: AppFactory) -> None:
    app = await app_factory(max_tenant_bytes=len(GOOD) * 3)
    async with client_for(app) as client:
        assert (await upload(client, ("a.jsonl", GOOD * 2))).json()["data"]["uploaded_files"]
        body = (await upload(client, ("b.jsonl", GOOD * 2))).json()["data"]
    assert body["failed_uploads"][0]["code"] == "BadRequest.TooLarge"
    assert body["failed_uploads"][0]["message"].startswith("Out of space")


async def test_concurrent_uploads_cannot_overrun_the_count_quota(app_factory: AppFactory) -> None:
    app = await app_factory(max_tenant_files=5)
    async with client_for(app) as client:
        results = await asyncio.gather(*(upload(client, (f"{i}.jsonl", GOOD)) for i in range(20)))
        accepted = sum(len(r.json()["data"]["uploaded_files"]) for r in results)
        total = (await client.get("/api/v1/files")).json()["data"]["total"]
    assert accepted == 5 and total == 5


async def test_strict_mode_turns_an_all_failed_upload_into_a_4xx(app_factory: AppFactory) -> None:
    app = await app_factory(strict=True, max_file_bytes=10)
    async with client_for(app) as client:
        assert_error(await upload(client, ("a.jsonl", GOOD)), 400, "BadRequest.TooLarge")


@pytest.mark.parametrize(
    "name",
    [
        "bad_not_json.jsonl",
        "bad_not_utf8.jsonl",
        "bad_role.jsonl",
        "bad_empty.jsonl",
        "bad_no_assistant.jsonl",
        "bad_zip_not_zip.zip",
        "bad_zip_missing_image.zip",
    ],
)
async def test_bad_datasets_are_refused_with_a_reason(client: httpx.AsyncClient, name: str) -> None:
    body = (await upload(client, DATASETS / name)).json()["data"]
    assert body["uploaded_files"] == []
    [failed] = body["failed_uploads"]
    assert failed["code"] == "InvalidFileFormat"
    assert failed["message"]
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0


@pytest.mark.parametrize("name", ["sft_basic.jsonl", "sft_multiturn.jsonl", "dpo_basic.jsonl", "image_sft.zip"])
async def test_good_datasets_are_accepted(client: httpx.AsyncClient, name: str) -> None:
    body = (await upload(client, DATASETS / name)).json()["data"]
    assert body["failed_uploads"] == [] and body["uploaded_files"][0]["name"] == name


async def test_other_purposes_skip_the_dataset_check(client: httpx.AsyncClient) -> None:
    body = (await upload(client, ("notes.txt", b"plain text"), purpose="file-extract")).json()["data"]
    assert body["uploaded_files"]
    assert_error(await upload(client, ("notes.txt", b"x"), purpose="nonsense"), 400, "InvalidParameter")


async def test_path_like_names_are_metadata_only(client: httpx.AsyncClient, tmp_path: object) -> None:
    body = (await upload(client, ("../../escape.jsonl", GOOD))).json()["data"]
    [uploaded] = body["uploaded_files"]
    assert uploaded["name"] == "escape.jsonl"
    app_dir = client._transport.app.state.rt.data_dir  # type: ignore[attr-defined]
    assert not (app_dir.parent.parent / "escape.jsonl").exists()
    assert not (app_dir.parent / "escape.jsonl").exists()


async def test_tenants_never_see_each_other(app_factory: AppFactory) -> None:
    app = await app_factory()
    async with client_for(app, "key-a") as a, client_for(app, "key-b") as b:
        file_id = (await upload(a, ("a.jsonl", GOOD))).json()["data"]["uploaded_files"][0]["file_id"]
        assert_error(await b.get(f"/api/v1/files/{file_id}"), 400, "InvalidParameter")
        assert_error(await b.delete(f"/api/v1/files/{file_id}"), 400, "InvalidParameter")
        assert (await b.get("/api/v1/files")).json()["data"]["total"] == 0
        scoped = {"X-DashScope-WorkSpace": "llm-workspace2"}
        assert (await a.get("/api/v1/files", headers=scoped)).json()["data"]["total"] == 0
        assert (await a.get(f"/api/v1/files/{file_id}")).status_code == 200


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("application/json", b"{}"),
        ("multipart/form-data", b"--x\r\n"),
        ("multipart/form-data; boundary=xyz", b"garbage with no parts"),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.jsonl"\r\n\r\ntruncated',
        ),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="other"\r\n\r\nv\r\n--xyz--\r\n',
        ),
    ],
)
async def test_malformed_uploads_are_4xx_and_leave_nothing(
    client: httpx.AsyncClient, content_type: str, body: bytes
) -> None:
    response = await client.post("/api/v1/files", content=body, headers={"Content-Type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["code"] in {"InvalidParameter", "UnsupportedMediaType"}
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0
    rt = client._transport.app.state.rt  # type: ignore[attr-defined]
    assert list(rt.temp_dir.iterdir()) == []


async def test_orphan_blobs_are_swept_but_listed_ones_kept(client: httpx.AsyncClient) -> None:
    import os
    import time

    rt = client._transport.app.state.rt  # type: ignore[attr-defined]
    file_id = (await upload(client, ("a.jsonl", GOOD))).json()["data"]["uploaded_files"][0]["file_id"]
    orphan = rt.data_dir / "blobs" / "zz" / "orphan"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash between rename and commit")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    for path in (rt.data_dir / "blobs").glob("*/*"):
        os.utime(path, (old, old))
    assert await client._transport.app.state.services.files.sweep_orphans() == 1  # type: ignore[attr-defined]
    assert not orphan.exists()
    assert (await client.get(f"/api/v1/files/{file_id}/content")).content == GOOD


async def test_temp_files_of_dead_writers_are_cleaned_at_start(app_factory: AppFactory, tmp_path: object) -> None:
    import os

    from emulator.app import _clean_temp

    app = await app_factory()
    temp = app.state.rt.temp_dir
    dead = temp / "999999999-abc.part"
    mine = temp / f"{os.getpid()}-abc.part"
    alive = temp / f"{os.getppid()}-abc.part"
    for path in (dead, mine, alive):
        path.write_bytes(b"half")
    _clean_temp(temp)
    assert not dead.exists() and not mine.exists() and alive.exists()
