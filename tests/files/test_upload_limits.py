"""Uploads against the tenant's quota while the body streams, and against a full disk (issue 10).

A tenant at its limit stops writing at the first chunk that no longer fits (concurrent uploads of one tenant share
what is left, reserved while they run); a full disk answers 507 with a reason, leaves no temp file and no listed
file, and the next upload works once space is back.  The full disk is tested twice: through the writer seam
(``upload.write_chunk``) and for real on a 2 MiB tmpfs when this process may mount one (root, as in CI).
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from emulator.files import upload as upload_module
from tests.conftest import AppFactory, assert_error, client_for, upload

pytestmark = pytest.mark.anyio

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'
CHUNK = 8 * 1024


def _multipart(name: str, content: bytes, boundary: str = "b0undary") -> tuple[bytes, str]:
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]
        await asyncio.sleep(0)  # interleave with the other uploads of the test


def _streamed(client: httpx.AsyncClient, name: str, content: bytes) -> asyncio.Task[httpx.Response]:
    body, content_type = _multipart(name, content)
    return asyncio.ensure_future(
        client.post("/api/v1/files", content=_chunks(body), headers={"Content-Type": content_type})
    )


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Bytes the writer put on disk, chunk by chunk."""
    log: list[int] = []
    real = upload_module.write_chunk

    def counting(fh: IO[bytes], chunk: bytes) -> None:
        log.append(len(chunk))
        real(fh, chunk)

    monkeypatch.setattr(upload_module, "write_chunk", counting)
    yield log


async def test_a_tenant_at_its_limit_stops_writing_at_the_first_chunk_that_does_not_fit(
    app_factory: AppFactory, written: list[int]
) -> None:
    app = await app_factory(max_tenant_bytes=len(GOOD) * 100)
    big = GOOD * 1000  # ten times the quota
    async with client_for(app) as client:
        response = await _streamed(client, "big.jsonl", big)
        [failed] = response.json()["data"]["failed_uploads"]
        assert failed["code"] == "BadRequest.TooLarge" and failed["message"].startswith("Out of space")
        assert sum(written) <= len(GOOD) * 100  # not a byte past the quota reached the disk
        assert list(app.state.rt.temp_dir.iterdir()) == []
        written.clear()
        assert (await upload(client, ("small.jsonl", GOOD * 10))).json()["data"]["uploaded_files"]


async def test_concurrent_uploads_of_one_tenant_share_what_is_left(app_factory: AppFactory, written: list[int]) -> None:
    file_size = len(GOOD) * 400  # ~34 KB, several chunks each
    app = await app_factory(max_tenant_bytes=file_size * 3)
    async with client_for(app) as client:
        responses = await asyncio.gather(*(_streamed(client, f"{i}.jsonl", GOOD * 400) for i in range(20)))
        uploaded = sum(len(r.json()["data"]["uploaded_files"]) for r in responses)
        failed = [f for r in responses for f in r.json()["data"]["failed_uploads"]]
        assert uploaded == 3 and len(failed) == 17
        assert all(f["message"].startswith("Out of space") for f in failed)
        assert sum(written) <= file_size * 3  # the 17 others stopped writing: 20 files' worth never hit tmp/
        assert list(app.state.rt.temp_dir.iterdir()) == []
        assert app.state.services.files._flights == {}  # every reservation released


async def test_a_tenant_at_its_file_count_writes_nothing(app_factory: AppFactory, written: list[int]) -> None:
    app = await app_factory(max_tenant_files=1)
    async with client_for(app) as client:
        assert (await upload(client, ("a.jsonl", GOOD))).json()["data"]["uploaded_files"]
        written.clear()
        [failed] = (await _streamed(client, "b.jsonl", GOOD * 100)).json()["data"]["failed_uploads"]
        assert failed["code"] == "BadRequest.TooMany" and written == []


async def test_parts_outside_the_file_fields_are_never_written(client: httpx.AsyncClient, written: list[int]) -> None:
    files = [("files", ("a.jsonl", GOOD)), ("attachment", ("x.bin", b"x" * 50_000))]
    response = await client.post("/api/v1/files", files=files)
    assert len(response.json()["data"]["uploaded_files"]) == 1
    assert sum(written) == len(GOOD)


async def test_a_full_disk_through_the_writer_seam_is_a_507_and_leaves_nothing(
    app: object, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = upload_module.write_chunk
    budget = [3]

    def filling(fh: IO[bytes], chunk: bytes) -> None:
        if not budget[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        budget[0] -= 1
        real(fh, chunk)

    monkeypatch.setattr(upload_module, "write_chunk", filling)
    response = await _streamed(client, "big.jsonl", GOOD * 1000)
    body = assert_error(response, 507, "InsufficientStorage")
    assert "No space left" in body["message"]
    rt = app.state.rt  # type: ignore[attr-defined]
    assert list(rt.temp_dir.iterdir()) == []
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0
    monkeypatch.setattr(upload_module, "write_chunk", real)  # space is back
    assert (await upload(client, ("a.jsonl", GOOD))).json()["data"]["uploaded_files"]
    assert (await client.get("/_emulator/health")).json()["internal_errors"] == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "small"
    target.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs a tmpfs mount (root); the writer-seam test covers the logic")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.fail(f"running as root but cannot mount a tmpfs: {mounted.stderr!r}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


async def test_a_real_full_disk_is_a_507_and_the_server_works_once_space_frees(
    app_factory: AppFactory, small_disk: Path
) -> None:
    app = await app_factory(data_dir=small_disk / "files")
    async with client_for(app) as client:
        kept = (await upload(client, ("a.jsonl", GOOD * 9000))).json()["data"]["uploaded_files"]  # ~0.8 MB
        assert kept
        body = assert_error(await _streamed(client, "b.jsonl", GOOD * 20_000), 507, "InsufficientStorage")
        assert "No space left" in body["message"]
        assert list(app.state.rt.temp_dir.iterdir()) == []
        listed = (await client.get("/api/v1/files")).json()["data"]
        assert [f["file_id"] for f in listed["files"]] == [kept[0]["file_id"]]
        await client.delete(f"/api/v1/files/{kept[0]['file_id']}")  # space frees
        assert (await upload(client, ("c.jsonl", GOOD * 9000))).json()["data"]["uploaded_files"]
