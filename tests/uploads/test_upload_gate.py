"""The upload host as an attacker meets it: the signing secret, malformed policies, and nothing written before the
form's credential has been checked (issue 24, "a way in")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from emulator.files import upload as upload_module
from tests.conftest import AppFactory, client_for
from tests.uploads.test_uploads import PICTURE, form, policy, post

BOUNDARY = "gate-boundary"


def sign(app: Starlette, document: Any) -> tuple[str, str]:
    """A policy document signed the way this server signs (its own secret): what only the server can make."""
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    return encoded, app.state.services.uploads._sign(encoded)


def multipart(fields: list[tuple[str, str]], file_at: int | None, data: bytes) -> bytes:
    parts = []
    for i, (name, value) in enumerate(fields + [("", "")]):
        if i == file_at:
            parts.append(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f.png"\r\n'
                f"Content-Type: image/png\r\n\r\n".encode()
                + data
                + b"\r\n"
            )
        if i < len(fields):
            parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def raw_post(app: Starlette, body: bytes | AsyncIterator[bytes]) -> httpx.Response:
    async with client_for(app, api_key=None) as anonymous:
        return await anonymous.post(
            "/_oss/dashscope-file-mgr",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        )


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of every chunk an upload writes to disk."""
    sizes: list[int] = []
    real = upload_module.write_chunk

    def spy(fh: Any, chunk: bytes) -> None:
        sizes.append(len(chunk))
        real(fh, chunk)

    monkeypatch.setattr(upload_module, "write_chunk", spy)
    return sizes


@pytest.mark.anyio
async def test_the_secret_is_random_per_data_dir_kept_0600_and_survives_a_restart(app_factory: AppFactory) -> None:
    first = await app_factory(data_dir=None, seed=0)
    async with client_for(first) as client:
        p = await policy(client)
    path = first.state.rt.data_dir / "oss-policy.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the old key, derived from a constant in the source and the seed, signs nothing any more
    for seed in (0, 7):
        derivable = hashlib.sha256(f"dashscope-emulator-oss:{seed}".encode()).digest()
        assert (
            base64.b64encode(hmac.new(derivable, p["policy"].encode(), hashlib.sha1).digest()).decode()
            != (p["signature"])
        )
    again = await app_factory(data_dir=first.state.rt.data_dir, seed=0)  # a restart on the same data dir
    assert (await post(again, p, form(p))).status_code == 200
    encoded, signature = sign(first, {"x": 1})
    elsewhere = await app_factory(data_dir=first.state.rt.data_dir.parent / "elsewhere", seed=0)
    assert elsewhere.state.services.uploads._sign(encoded) != signature  # same seed, another data dir


@pytest.mark.anyio
async def test_a_forged_policy_writes_nothing_even_with_the_file_first(app: Starlette, written: list[int]) -> None:
    async with client_for(app) as client:
        p = await policy(client)
    fields = list(form(p, Signature="bm90IHRoZSBzaWduYXR1cmU=").items())
    for file_at in (len(fields), 0, 3):  # OSS order (file last), then the file before its credential
        response = await raw_post(app, multipart(fields, file_at, b"x" * 200_000))
        assert response.status_code in (400, 403) and b"<Code>" in response.content, response.text
    assert written == []
    assert not any(app.state.rt.temp_dir.glob("*.part"))


@pytest.mark.anyio
async def test_fields_after_the_file_are_refused_and_nothing_kept(app: Starlette, written: list[int]) -> None:
    async with client_for(app) as client:
        p = await policy(client)
        fields = list(form(p).items())
        late = await raw_post(app, multipart(fields, len(fields) - 1, PICTURE))
        assert late.status_code == 400 and b"last field" in late.content
        assert not any(app.state.rt.temp_dir.glob("*.part"))
        assert (await raw_post(app, multipart(fields, len(fields), PICTURE))).status_code == 200


@pytest.mark.anyio
async def test_malformed_signed_policies_are_400(app: Starlette) -> None:
    async with client_for(app) as client:
        p = await policy(client)
    good = json.loads(base64.b64decode(p["policy"]))
    broken: list[Any] = [
        {**good, "conditions": [["starts-with", "$key"], *good["conditions"][:1]]},  # was a 500 (IndexError)
        {**good, "conditions": [["starts-with"]]},
        {**good, "conditions": "starts-with"},
        {**good, "conditions": [["starts-with", "$key", 5], ["content-length-range", 0, 10]]},
        {**good, "expiration": 12},
        [1, 2, 3],
        "just a string",
        {"conditions": [[[[[]]]]] * 3},
    ]
    for document in broken:
        encoded, signature = sign(app, document)
        response = await post(app, p, form(p, policy=encoded, Signature=signature))
        assert response.status_code == 400 and b"InvalidPolicyDocument" in response.content, (document, response.text)


@pytest.mark.anyio
async def test_the_policys_size_range_is_enforced_while_the_bytes_arrive(
    app_factory: AppFactory, written: list[int]
) -> None:
    app = await app_factory(max_file_bytes=1 << 20)
    async with client_for(app) as client:
        p = await policy(client)
    document = json.loads(base64.b64decode(p["policy"]))
    document["conditions"][0] = ["content-length-range", 0, 1000]
    encoded, signature = sign(app, document)
    fields = list(form(p, policy=encoded, Signature=signature).items())
    head = multipart(fields, len(fields), b"")[: -len(f"\r\n--{BOUNDARY}--\r\n")]
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(64):  # 64 × 16 KiB: the answer comes at the first chunk past 1000 bytes
            sent += 1
            yield b"y" * 16384
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    response = await raw_post(app, body())
    assert response.status_code == 400 and b"EntityTooLarge" in response.content
    assert sum(written) <= 1000
    assert not any(app.state.rt.temp_dir.glob("*.part"))


def forged_documents() -> st.SearchStrategy[Any]:
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
    condition = st.one_of(
        st.lists(st.one_of(st.sampled_from(["starts-with", "$key", "content-length-range", "eq"]), scalar), max_size=4),
        st.dictionaries(st.text(max_size=8), scalar, max_size=2),
        scalar,
    )
    return st.one_of(
        scalar,
        st.fixed_dictionaries(
            {"expiration": st.one_of(st.just("2099-01-01T00:00:00.000Z"), scalar), "conditions": st.lists(condition)}
        ),
    )


@given(document=forged_documents(), signed=st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.anyio
async def test_forged_and_odd_policies_are_refused_fast_and_write_nothing(
    app: Starlette, written: list[int], document: Any, signed: bool
) -> None:
    async with client_for(app) as client:
        p = await policy(client)
    encoded, signature = sign(app, document)
    if not signed:
        signature = base64.b64encode(hashlib.sha1(encoded.encode()).digest()).decode()
    written.clear()
    tracemalloc.start()
    started = time.perf_counter()
    response = await post(app, p, form(p, policy=encoded, Signature=signature), b"z" * 50_000)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code in (400, 403), response.text
    assert response.content.startswith(b"<?xml")
    assert written == [] and elapsed < 2.0 and peak < 8 << 20


@pytest.mark.anyio
async def test_uploaded_objects_survive_the_orphan_sweep_and_a_snapshot_restore(app: Starlette) -> None:
    """Issue 24: the start-up sweep took ``blobs/oss/*`` for orphans, and a restore lost the objects' bytes."""
    import os

    from tests.uploads.test_uploads import ask

    rt = app.state.rt
    async with client_for(app) as client:
        p = await policy(client)
        assert (await post(app, p, form(p))).status_code == 200
        url = f"oss://{p['upload_dir']}/dog.png"
        [blob] = list((rt.blob_dir / "oss").iterdir())
        os.utime(blob, (0, 0))  # older than any sweep's grace period
        assert await app.state.services.files.sweep_orphans(min_age_seconds=0) == 0
        assert blob.read_bytes() == PICTURE
        snapshot = (await client.post("/_emulator/snapshot", json={})).json()["path"]
        assert (await client.post("/_emulator/restore", json={"path": snapshot})).status_code == 200
        [kept] = list((rt.blob_dir / "oss").iterdir())
        assert kept.read_bytes() == PICTURE
        assert (await ask(client, url)).status_code == 200
        again = await post(app, p, form(p))  # the object is still there: no overwrite
        assert again.status_code == 409


@pytest.mark.anyio
async def test_seeded_upload_folders_never_repeat_across_restarts_yet_a_fresh_database_reproduces(
    app_factory: AppFactory, tmp_path: Any
) -> None:
    """Issue 24: under --seed, request ids (and the upload folders named after them) restarted with the process,
    so the SDK's file:// upload answered 409 on the second run."""
    first = await app_factory()
    async with client_for(first) as client:
        p1 = await policy(client)
        assert (await post(first, p1, form(p1))).status_code == 200
    again = await app_factory()  # a restart on the same database
    async with client_for(again) as client:
        p2 = await policy(client)
        assert p2["upload_dir"] != p1["upload_dir"]
        assert (await post(again, p2, form(p2))).status_code == 200  # the same file name, no 409
    fresh = await app_factory(db=str(tmp_path / "fresh.db"), data_dir=tmp_path / "fresh")
    async with client_for(fresh) as client:
        assert (await policy(client))["upload_dir"].split("/")[-1] == p1["upload_dir"].split("/")[-1]
