"""Setup mistakes get the fix in the answer: a path without its base names the right base URL; ``GET /`` shows
where everything is (a page for a browser, JSON for the rest)."""

from __future__ import annotations

import httpx
import openai
import pytest
from starlette.applications import Starlette

from tests.conftest import API_KEY, assert_error

pytestmark = pytest.mark.anyio

NATIVE = "http://localhost/api/v1"
COMPATIBLE = "http://localhost/compatible-mode/v1"


@pytest.mark.parametrize(
    ("method", "path", "meant", "base"),
    [
        ("GET", "/files", "/api/v1/files", NATIVE),
        ("GET", "/files/file-ft-abc", "/api/v1/files/file-ft-abc", NATIVE),
        ("POST", "/fine-tunes", "/api/v1/fine-tunes", NATIVE),
        (
            "POST",
            "/services/aigc/text-generation/generation",
            "/api/v1/services/aigc/text-generation/generation",
            NATIVE,
        ),
        ("POST", "/chat/completions", "/compatible-mode/v1/chat/completions", COMPATIBLE),
        ("POST", "/v1/chat/completions", "/compatible-mode/v1/chat/completions", COMPATIBLE),
        ("GET", "/v1/models", "/compatible-mode/v1/models", COMPATIBLE),
        ("GET", "/v1/files", "/compatible-mode/v1/files", COMPATIBLE),  # OpenAI's layout: both bases serve it
        ("POST", "/api/v1/chat/completions", "/compatible-mode/v1/chat/completions", COMPATIBLE),  # SDK base to OpenAI
        ("POST", "/compatible-mode/chat/completions", "/compatible-mode/v1/chat/completions", COMPATIBLE),
        ("GET", "/api/files", "/api/v1/files", NATIVE),
        ("GET", "/api/v2/files", "/api/v1/files", NATIVE),
        ("DELETE", "/deployments/qwen-ft-1", "/api/v1/deployments/qwen-ft-1", NATIVE),
    ],
)
async def test_a_path_without_its_base_names_the_right_one(
    client: httpx.AsyncClient, method: str, path: str, meant: str, base: str
) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)
    if path.startswith("/compatible-mode"):  # OpenAI's error shape there
        assert response.status_code == 404
        message = response.json()["error"]["message"]
    else:
        message = assert_error(response, 404, "NotFound")["message"]
    assert f"Did you mean {meant}?" in message
    assert message.endswith(base), message


async def test_an_unknown_path_outside_the_api_lists_every_base(client: httpx.AsyncClient) -> None:
    message = assert_error(await client.get("/nothing/here"), 404, "NotFound")["message"]
    assert message.startswith("Path not found: /nothing/here. ")
    for where in (NATIVE, COMPATIBLE, "http://localhost/_emulator/", "http://localhost/docs"):
        assert where in message


async def test_an_unknown_path_inside_the_api_points_at_the_docs(client: httpx.AsyncClient) -> None:
    message = assert_error(await client.get("/api/v1/nothing-here"), 404, "NotFound")["message"]
    assert message == "Path not found: /api/v1/nothing-here (the operations served: http://localhost/docs)"


async def test_an_unknown_control_path_stays_plain(client: httpx.AsyncClient) -> None:
    assert (
        assert_error(await client.get("/_emulator/nope"), 404, "NotFound")["message"]
        == "Path not found: /_emulator/nope"
    )


async def test_the_hint_follows_the_host_the_client_used(client: httpx.AsyncClient) -> None:
    response = await client.get("/files", headers={"Host": "127.0.0.1:8123"})
    assert assert_error(response, 404, "NotFound")["message"].endswith("http://127.0.0.1:8123/api/v1")


async def test_a_known_resource_that_is_missing_keeps_its_own_error(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/fine-tunes/ft-nope")).json()
    assert "Did you mean" not in body["message"] and "base URL" not in body["message"]


async def test_the_openai_client_sees_the_hint(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as http:
        client = openai.AsyncOpenAI(base_url="http://localhost", api_key=API_KEY, http_client=http, max_retries=0)
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": "hi"}])
    assert "Did you mean /compatible-mode/v1/chat/completions?" in str(caught.value)
    assert COMPATIBLE in str(caught.value)


async def test_home_answers_json_to_api_clients(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["native_base_url"] == NATIVE and body["openai_base_url"] == COMPATIBLE
    assert body["dashboard"] == "http://localhost/_emulator/" and body["docs"] == "http://localhost/docs"
    assert body["openapi"] == "http://localhost/openapi.json" and body["name"] == "dashscope-emulator"


async def test_home_is_a_page_for_a_browser(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f"DASHSCOPE_HTTP_BASE_URL={NATIVE}" in page and f"OPENAI_BASE_URL={COMPATIBLE}" in page
    assert 'href="/_emulator/"' in page and 'href="/docs"' in page and "<script" not in page


async def test_home_escapes_the_host(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept": "text/html", "Host": "127.0.0.1:1"})
    assert "http://127.0.0.1:1/api/v1" in response.text
