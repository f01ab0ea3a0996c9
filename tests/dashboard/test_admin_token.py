"""``--admin-token`` and the dashboard: no tenant data without the token; the token entered once works every control."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from emulator.tenants import tenant_for
from tests.conftest import API_KEY, AppFactory, assert_error, client_for
from tests.dashboard.helpers import api_status, new_job

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-admin"
ACTIONS = "/_emulator/dashboard/actions"
SAME_ORIGIN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
async def app(app_factory: AppFactory) -> Starlette:
    return await app_factory(admin_token=TOKEN)


async def sign_in(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        "/_emulator/dashboard/login",
        data={"token": TOKEN, "next": "/_emulator/"},
        headers=SAME_ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/_emulator" in cookie
    assert TOKEN not in cookie  # a value derived from the token, never the token itself
    name_value = cookie.split(";", 1)[0]
    client.cookies.clear()
    return {"Cookie": name_value}


async def test_no_tenant_data_without_the_token(app: Starlette, client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    tid = tenant_for(API_KEY, None).id
    async with client_for(app, None) as browser:
        home = await browser.get("/_emulator/")
        assert home.status_code == 401 and 'name="token"' in home.text
        for secret in (tid, "sk-test", job_id, "Account"):
            assert secret not in home.text
        for page in (f"/_emulator/dashboard/tenants/{tid}", f"/_emulator/dashboard/jobs/{job_id}"):
            response = await browser.get(page, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"] == "/_emulator/"
        refused = await browser.post(f"{ACTIONS}/clock/advance", data={"seconds": "60"}, follow_redirects=False)
        assert_error(refused, 401, "InvalidApiKey")
        wrong = await browser.post(
            "/_emulator/dashboard/login", data={"token": "nope"}, headers=SAME_ORIGIN, follow_redirects=False
        )
        assert wrong.status_code == 303 and "set-cookie" not in wrong.headers and "error=" in wrong.headers["location"]


async def test_the_token_entered_once_works_every_control(app: Starlette, client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    tid = tenant_for(API_KEY, None).id
    async with client_for(app, None) as browser:
        cookie = await sign_in(browser)
        headers = {**cookie, **SAME_ORIGIN}
        home = await browser.get("/_emulator/", headers=cookie)
        assert home.status_code == 200 and tid in home.text and "Sign out" in home.text
        assert (await browser.get(f"/_emulator/dashboard/jobs/{job_id}", headers=cookie)).status_code == 200
        assert (await browser.get("/_emulator/clock", headers=cookie)).status_code == 200  # the footer's JSON link

        before = (await client.get("/_emulator/clock", headers={"X-Emulator-Token": TOKEN})).json()["now"]
        forms = [
            (f"/jobs/{job_id}/status", {"status": "RUNNING", "confirmed": "yes", "next": "/_emulator/"}),
            ("/clock/advance", {"seconds": "1", "next": "/_emulator/"}),
            (f"/jobs/{job_id}/cancel", {"confirmed": "yes", "next": "/_emulator/"}),
            ("/faults/clear", {"confirmed": "yes", "next": "/_emulator/"}),
            (f"/tenants/{tid}/reset", {"confirmed": "yes"}),
        ]
        for path, form in forms:
            response = await browser.post(f"{ACTIONS}{path}", data=form, headers=headers, follow_redirects=False)
            assert response.status_code == 303, (path, response.text)
            assert "error=" not in response.headers["location"], (path, response.headers["location"])
        after = (await client.get("/_emulator/clock", headers={"X-Emulator-Token": TOKEN})).json()["now"]
        assert after == before + 1
        assert (await client.get(f"/api/v1/fine-tunes/{job_id}")).status_code == 404  # the tenant was reset

        stolen = {**cookie, "Origin": "http://localhost:3000"}  # another port of the same site carries the cookie
        assert_error(
            await browser.post(f"{ACTIONS}/clock/advance", data={"seconds": "1"}, headers=stolen), 403, "AccessDenied"
        )
        assert_error(await browser.post("/_emulator/reset", headers=cookie), 401, "InvalidApiKey")  # not for the API

        out = await browser.post("/_emulator/dashboard/logout", headers=headers, follow_redirects=False)
        assert out.status_code == 303 and 'emulator_admin=""' in out.headers["set-cookie"]


async def test_a_cancel_through_the_dashboard_as_the_jobs_tenant(app: Starlette, client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    async with client_for(app, None) as browser:
        cookie = await sign_in(browser)
        response = await browser.post(
            f"{ACTIONS}/jobs/{job_id}/cancel",
            data={"confirmed": "yes", "next": "/_emulator/"},
            headers={**cookie, **SAME_ORIGIN},
            follow_redirects=False,
        )
        assert "notice=" in response.headers["location"]
    assert await api_status(client, job_id) == "CANCELED"
