"""The upload policy, the OSS form POST and ``oss://`` resolution, in-process (reference §1.6)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.conftest import AppFactory, client_for

GENERATE = "/api/v1/services/aigc/multimodal-generation/generation"
RESOLVE = {"X-DashScope-OssResourceResolve": "enable"}
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


async def policy(client: httpx.AsyncClient, model: str = "qwen-vl-plus") -> dict[str, Any]:
    response = await client.get("/api/v1/uploads", params={"action": "getPolicy", "model": model})
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def form(p: dict[str, Any], name: str = "dog.png", **override: str) -> dict[str, str]:
    fields = {
        "OSSAccessKeyId": p["oss_access_key_id"],
        "Signature": p["signature"],
        "policy": p["policy"],
        "key": f"{p['upload_dir']}/{name}",
        "x-oss-object-acl": p["x_oss_object_acl"],
        "x-oss-forbid-overwrite": p["x_oss_forbid_overwrite"],
        "success_action_status": "200",
        "x-oss-content-type": "image/png",
    }
    fields.update(override)
    return fields


async def post(app: Starlette, p: dict[str, Any], fields: dict[str, str], data: bytes = PICTURE) -> httpx.Response:
    """The form POST as the SDK sends it: to the policy's upload_host, without Authorization."""
    async with client_for(app, api_key=None) as anonymous:
        path = httpx.URL(p["upload_host"]).path
        return await anonymous.post(path, data=fields, files={"file": ("dog.png", data, "image/png")})


async def ask(client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = RESOLVE) -> httpx.Response:
    content = [{"image": url}, {"text": "What is this?"}]
    payload = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    return await client.post(GENERATE, json=payload, headers=headers)


@pytest.mark.anyio
async def test_the_policy_has_every_field_the_sdks_index(client: httpx.AsyncClient) -> None:
    p = await policy(client)
    for key in ("oss_access_key_id", "signature", "policy", "upload_dir", "x_oss_object_acl", "x_oss_forbid_overwrite"):
        assert p[key]
    assert p["upload_host"] == "http://localhost/_oss/dashscope-file-mgr"
    root, account, day, folder = p["upload_dir"].split("/")
    assert root == "dashscope-instant" and len(account) == 32 and len(day) == 10 and folder
    assert (await policy(client))["upload_dir"].split("/")[1] == account  # per account, not per call


@pytest.mark.anyio
async def test_policy_errors(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/api/v1/uploads", params={"action": "getPolicy", "model": "qwen-nope"})
    assert unknown.status_code == 400 and unknown.json()["message"] == "Model not exist."
    assert (await client.get("/api/v1/uploads", params={"action": "list"})).status_code == 400


@pytest.mark.anyio
async def test_upload_then_resolve_with_the_header_only(app: Starlette, client: httpx.AsyncClient) -> None:
    p = await policy(client)
    stored = await post(app, p, form(p))
    assert stored.status_code == 200 and stored.content == b""
    url = f"oss://{p['upload_dir']}/dog.png"
    answered = await ask(client, url)
    assert answered.status_code == 200, answered.text
    assert (await ask(client, url, headers=None)).json()["message"] == "url error, please check url！"
    async with client_for(app, api_key="sk-someone-else") as stranger:
        assert (await ask(stranger, url)).json()["message"] == "url error, please check url！"


@pytest.mark.anyio
async def test_the_same_picture_uploaded_or_inline_is_the_same_image(app: Starlette, client: httpx.AsyncClient) -> None:
    """The content hash is the image's identity (with its name): an upload and a data URI of the same bytes under
    the same name resolve to the same media."""
    from emulator.generation.media import Media, recall

    p = await policy(client)
    await post(app, p, form(p))
    memory = [(f"<img>pics/dog.png|{hashlib.md5(PICTURE).hexdigest()}</img>What is this?", "A dog.")]
    assert recall(memory, [Media("image", digest=hashlib.md5(PICTURE).hexdigest())], "anything") == "A dog."
    assert recall(memory, [Media("image", name="DOG.png")], "What is this?") == "A dog."
    assert recall(memory, [Media("image", name="cat.png")], "What is this?") is None


@pytest.mark.anyio
async def test_form_errors_are_oss_xml(app: Starlette, client: httpx.AsyncClient) -> None:
    p = await policy(client)
    assert (await post(app, p, form(p))).status_code == 200
    again = await post(app, p, form(p))
    assert again.status_code == 409 and b"<Code>FileAlreadyExists</Code>" in again.content
    assert again.headers["content-type"].startswith("application/xml")
    outside = await post(app, p, form(p, key="dashscope-instant/elsewhere/x.png"))
    assert outside.status_code == 403 and b"<Code>AccessDenied</Code>" in outside.content
    forged = await post(app, p, form(p, name="b.png", Signature="AAAA"))
    assert forged.status_code == 403 and b"SignatureDoesNotMatch" in forged.content
    non_ascii = await post(app, p, form(p, name="b.png", Signature="签名"))  # hmac.compare_digest raised on str
    assert non_ascii.status_code == 403 and b"SignatureDoesNotMatch" in non_ascii.content
    missing = await post(app, p, {k: v for k, v in form(p, name="c.png").items() if k != "policy"})
    assert missing.status_code == 400 and b"InvalidArgument" in missing.content
    nested = await post(app, p, form(p, key=f"{p['upload_dir']}/a/b.png"))
    assert nested.status_code == 400 and b"InvalidObjectName" in nested.content
    async with client_for(app, api_key=None) as anonymous:
        wrong = await anonymous.post("/_oss/other-bucket", data=form(p), files={"file": ("d.png", PICTURE)})
        assert wrong.status_code == 404 and b"NoSuchBucket" in wrong.content
        not_form = await anonymous.post("/_oss/dashscope-file-mgr", json={"key": "x"})
        assert not_form.status_code == 415
    default_status = await post(app, p, form(p, name="d.png", success_action_status="204"))
    assert default_status.status_code == 204


@pytest.mark.anyio
async def test_policy_expiry_and_object_expiry_follow_the_emulated_clock(app_factory: AppFactory) -> None:
    app = await app_factory()
    clock = app.state.rt.clock
    async with client_for(app) as client:
        p = await policy(client)
        clock.advance(301)
        late = await post(app, p, form(p))
        assert late.status_code == 403 and b"Policy expired" in late.content
        p = await policy(client)
        assert (await post(app, p, form(p))).status_code == 200
        url = f"oss://{p['upload_dir']}/dog.png"
        clock.advance(47 * 3600)
        assert (await ask(client, url)).status_code == 200
        clock.advance(3600)
        assert (await ask(client, url)).json()["message"] == "url error, please check url！"


@pytest.mark.anyio
async def test_files_over_the_limit_are_refused_and_nothing_is_kept(app_factory: AppFactory) -> None:
    app = await app_factory(max_file_bytes=1024)
    async with client_for(app) as client:
        p = await policy(client)
        big = await post(app, p, form(p), data=b"x" * 4096)
        assert big.status_code == 400 and b"EntityTooLarge" in big.content
        assert (await ask(client, f"oss://{p['upload_dir']}/dog.png")).status_code == 400
    rt = app.state.rt
    assert not any(rt.temp_dir.glob("*")) and not (rt.blob_dir / "oss").exists()


@pytest.mark.anyio
async def test_reset_wipes_uploaded_objects(app: Starlette, client: httpx.AsyncClient) -> None:
    p = await policy(client)
    assert (await post(app, p, form(p))).status_code == 200
    assert any((app.state.rt.blob_dir / "oss").iterdir())
    assert (await client.post("/_emulator/reset")).status_code == 200
    assert not any((app.state.rt.blob_dir / "oss").iterdir())


FIELD_NAMES = ["OSSAccessKeyId", "Signature", "policy", "key", "success_action_status", "x-oss-content-type", "junk"]


@given(
    fields=st.dictionaries(st.sampled_from(FIELD_NAMES), st.text(max_size=30), max_size=7),
    keep=st.sets(st.sampled_from(FIELD_NAMES)),
    data=st.binary(max_size=64),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.anyio
async def test_any_form_is_stored_or_refused_never_a_500(
    app: Starlette, client: httpx.AsyncClient, fields: dict[str, str], keep: set[str], data: bytes
) -> None:
    p = await policy(client)
    mixed = {k: v for k, v in form(p, name=f"{len(data)}-{hashlib.md5(data).hexdigest()}.png").items() if k in keep}
    mixed.update(fields)
    response = await post(app, p, mixed, data)
    assert response.status_code in (200, 204, 400, 403, 409), response.text
    if response.status_code >= 400:
        assert response.content.startswith(b"<?xml") and b"<Code>" in response.content
