"""The Host allow-list (DNS rebinding) and the cross-site refusal (CSRF), for the whole server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from starlette.applications import Starlette

from emulator.errors import AccessDenied
from emulator.guard import HostPolicy, check_request, host_name
from emulator.settings import Settings
from tests.conftest import DATASETS, AppFactory, assert_error, client_for, upload

pytestmark = pytest.mark.anyio

EVIL = "http://evil.example"
OTHER_PORT = "http://localhost:3000"  # same site as the emulator, another origin
OWN = "http://localhost"  # the test client's own origin (base_url)


@pytest.mark.parametrize(
    ("raw", "name"),
    [("localhost:8000", "localhost"), ("[::1]:80", "::1"), ("Example.COM.", "example.com"), ("::1", "::1")],
)
def test_host_name(raw: str, name: str) -> None:
    assert host_name(raw) == name


async def test_unknown_host_names_are_refused_everywhere(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/files", "/_emulator/clock", "/_emulator/", "/compatible-mode/v1/models"):
        response = await client.get(path, headers={"Host": "rebound.evil.example:8000"})
        assert response.status_code == 403, (path, response.text)
        assert "--allowed-host" in response.text
    assert_error(await client.get("/api/v1/files", headers={"Host": "evil.example"}), 403, "AccessDenied")
    openai = (await client.get("/compatible-mode/v1/models", headers={"Host": "evil.example"})).json()
    assert openai["error"]["code"] == "AccessDenied"


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "app.localhost", "10.1.2.3:80"])
async def test_loopback_names_and_addresses_are_served(client: httpx.AsyncClient, host: str) -> None:
    assert (await client.get("/api/v1/files", headers={"Host": host})).status_code == 200


async def test_allowed_host_option(app_factory: AppFactory) -> None:
    app = await app_factory(allowed_hosts=("emulator",))
    async with client_for(app) as client:
        assert (await client.get("/api/v1/files", headers={"Host": "emulator:8000"})).status_code == 200
        assert (await client.get("/api/v1/files", headers={"Host": "other:8000"})).status_code == 403
    anything = await app_factory(allowed_hosts=("*",), db=str(Path(app.state.rt.data_dir).parent / "any.db"))
    async with client_for(anything) as client:
        assert (await client.get("/api/v1/files", headers={"Host": "other:8000"})).status_code == 200


async def _state(client: httpx.AsyncClient) -> tuple[object, ...]:
    clock = (await client.get("/_emulator/clock")).json()["now"]
    faults = (await client.get("/_emulator/faults")).json()["faults"]
    files = (await client.get("/api/v1/files")).json()["data"]["total"]
    return clock, faults, files


async def test_cross_site_posts_change_nothing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    file_id = (await upload(client, DATASETS / "sft_basic.jsonl")).json()["data"]["uploaded_files"][0]["file_id"]
    before = await _state(client)
    plain = {"Content-Type": "text/plain"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    attacks: list[tuple[str, str, str, dict[str, str]]] = [
        ("POST", "/_emulator/reset", "", {**form, "Origin": EVIL}),
        ("POST", "/_emulator/faults", '{"path": "/api/v1/files", "status": 500}', {**plain, "Origin": EVIL}),
        ("POST", "/_emulator/clock/advance", '{"seconds": 86400}', {**plain, "Origin": OTHER_PORT}),
        ("POST", "/_emulator/snapshot", '{"path": "x.tar"}', {**plain, "Origin": "null"}),
        ("POST", "/_emulator/clock/advance", '{"seconds": 60}', {**plain, "Sec-Fetch-Site": "same-site"}),
        ("POST", "/_emulator/clock/advance", '{"seconds": 60}', {**plain, "Sec-Fetch-Site": "cross-site"}),
        ("POST", "/_emulator/clock/advance", '{"seconds": 60}', {**plain, "Referer": f"{OTHER_PORT}/page"}),
        ("DELETE", f"/api/v1/files/{file_id}", "", {"Origin": EVIL}),
        ("POST", "/_emulator/dashboard/actions/clock/advance", "seconds=60", {**form, "Origin": OTHER_PORT}),
        ("POST", "/_emulator/dashboard/actions/faults/clear", "confirmed=yes", {**form, "Origin": EVIL}),
    ]
    for method, path, body, headers in attacks:
        response = await client.request(method, path, content=body, headers=headers)
        assert_error(response, 403, "AccessDenied")
    assert await _state(client) == before
    assert not (Path(client._transport.app.state.rt.data_dir) / "snapshots" / "x.tar").exists()  # type: ignore[attr-defined]


async def test_clients_without_browser_markers_keep_working(client: httpx.AsyncClient) -> None:
    """curl -d '{...}' sends a form content type and no Origin: the README's examples."""
    before = (await client.get("/_emulator/clock")).json()["now"]
    curl = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "curl/8.5.0"}
    response = await client.post("/_emulator/clock/advance", content='{"seconds": 60}', headers=curl)
    assert response.status_code == 200, response.text
    assert response.json()["now"] == before + 60


async def test_same_origin_browser_requests_pass(app: Starlette, client: httpx.AsyncClient) -> None:
    same = {"Origin": OWN, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}
    before = (await client.get("/_emulator/clock")).json()["now"]
    response = await client.post(
        "/_emulator/dashboard/actions/clock/advance",
        content="seconds=60&next=/_emulator/",
        headers=same,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert (await client.get("/_emulator/clock")).json()["now"] == before + 60
    json_call = await client.post("/_emulator/clock/advance", json={"seconds": 1}, headers={"Origin": OWN})
    assert json_call.status_code == 200


POLICY = HostPolicy(Settings())
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


def _scope(method: str, **headers: str) -> dict[str, object]:
    pairs = [(name.replace("_", "-").encode(), value.encode("latin-1")) for name, value in headers.items()]
    return {"type": "http", "method": method, "path": "/_emulator/reset", "headers": pairs}


@given(origin=HEADER_TEXT, method=st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]))
def test_any_other_origin_is_refused_for_a_state_change(origin: str, method: str) -> None:
    try:
        same = urlsplit(origin.strip()).netloc.lower() == "localhost:8000"
    except ValueError:
        same = False
    assume(not same)
    with pytest.raises(AccessDenied):
        check_request(_scope(method, host="localhost:8000", origin=origin), POLICY)  # type: ignore[arg-type]
    check_request(_scope("GET", host="localhost:8000", origin=origin), POLICY)  # type: ignore[arg-type]


@given(label=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True))
def test_only_known_names_are_served(label: str) -> None:
    assume(label not in ("localhost", "localhost.localdomain") and not label.endswith(".localhost"))
    with pytest.raises(AccessDenied):
        check_request(_scope("GET", host=f"{label}:8000"), POLICY)  # type: ignore[arg-type]
    check_request(_scope("GET", host=f"{label}.localhost:8000"), POLICY)  # type: ignore[arg-type]
