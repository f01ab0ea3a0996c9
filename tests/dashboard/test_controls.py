"""The dashboard's controls: plain form posts, a confirmation step before anything is destroyed, then back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import client_for
from tests.dashboard.helpers import Page, advance, api_logs, api_status, new_job, tenant_id

pytestmark = pytest.mark.anyio
ACTIONS = "/_emulator/dashboard/actions"


def flash(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {key: values[0] for key, values in query.items()}


async def post(client: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    return await client.post(f"{ACTIONS}{path}", data=form, follow_redirects=False)


async def test_advance_moves_the_clock_and_the_job(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    before = (await client.get("/_emulator/clock")).json()["now"]
    back = f"/_emulator/dashboard/jobs/{job_id}"
    response = await post(client, "/clock/advance", seconds="3600", next=back)
    assert response.headers["location"].startswith(back + "?notice=")
    assert "Clock advanced by 1h 00m" in flash(response)["notice"]
    assert (await client.get("/_emulator/clock")).json()["now"] == before + 3600
    assert await api_status(client, job_id) == "SUCCEEDED"
    page = await client.get(response.headers["location"])
    assert "Clock advanced by 1h 00m" in page.text and Page(page.text).badges[0] == "SUCCEEDED"


async def test_advance_as_a_browser_posts_it(client: httpx.AsyncClient) -> None:
    """A preset button and the empty custom field share the name ``seconds``; both arrive."""
    before = (await client.get("/_emulator/clock")).json()["now"]
    for fields in ([("seconds", "600"), ("seconds", "")], [("seconds", ""), ("seconds", "90")]):
        response = await client.post(
            f"{ACTIONS}/clock/advance",
            content=urlencode([("next", "/_emulator/"), *fields]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert "notice" in flash(response)
    assert (await client.get("/_emulator/clock")).json()["now"] == before + 690


@pytest.mark.parametrize("seconds", ["", "abc", "0", "-5", "1e12"])
async def test_advance_refuses_nonsense(client: httpx.AsyncClient, seconds: str) -> None:
    before = (await client.get("/_emulator/clock")).json()["now"]
    assert "error" in flash(await post(client, "/clock/advance", seconds=seconds, next="/_emulator/"))
    assert (await client.get("/_emulator/clock")).json()["now"] == before


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/api/v1/files", "/\\evil"])
async def test_next_never_leaves_the_dashboard(client: httpx.AsyncClient, target: str) -> None:
    response = await post(client, "/clock/advance", seconds="1", next=target)
    assert urlsplit(response.headers["location"]).path == "/_emulator/"


async def test_cancel_asks_first_then_cancels(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 60)
    back = f"/_emulator/dashboard/jobs/{job_id}"
    ask = await post(client, f"/jobs/{job_id}/cancel", next=back)
    assert ask.status_code == 200 and f"Cancel job {job_id}?" in ask.text
    page = Page(ask.text)
    assert ("confirmed", "yes") in page.hidden and ("next", back) in page.hidden
    assert await api_status(client, job_id) == "RUNNING"  # asking destroyed nothing
    done = await post(client, f"/jobs/{job_id}/cancel", next=back, confirmed="yes")
    assert flash(done)["notice"] == f"Job {job_id} is CANCELING."
    await advance(client, 60)
    assert await api_status(client, job_id) == "CANCELED"
    again = await post(client, f"/jobs/{job_id}/cancel", next=back, confirmed="yes")
    assert "cannot be canceled" in flash(again)["error"]


async def test_cancel_of_an_unknown_job(client: httpx.AsyncClient) -> None:
    response = await post(client, "/jobs/ft-000000000000-0000/cancel", confirmed="yes", next="/_emulator/")
    assert "error" in flash(response)


async def test_force_status_asks_then_forces(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 60)
    html = (await client.get(f"/_emulator/dashboard/jobs/{job_id}")).text
    assert '<option value="FAILED">' in html and '<option value="SUCCEEDED">' in html
    ask = await post(client, f"/jobs/{job_id}/status", status="FAILED", message="disk full", next="/_emulator/")
    assert ask.status_code == 200 and f"Force job {job_id} to FAILED?" in ask.text
    assert ("status", "FAILED") in Page(ask.text).hidden and ("message", "disk full") in Page(ask.text).hidden
    done = await post(
        client, f"/jobs/{job_id}/status", status="FAILED", message="disk full", confirmed="yes", next="/_emulator/"
    )
    assert flash(done)["notice"] == f"Job {job_id} forced to FAILED."
    job = (await client.get(f"/api/v1/fine-tunes/{job_id}")).json()["output"]
    assert job["status"] == "FAILED" and job["message"] == "disk full"
    final = (await client.get(f"/_emulator/dashboard/jobs/{job_id}")).text
    assert "a finished job cannot change status" in final and "Cancel job" not in final


async def test_force_status_refusals(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    bogus = await post(client, f"/jobs/{job_id}/status", status="EXPLODED", confirmed="yes", next="/_emulator/")
    assert "Choose a status" in flash(bogus)["error"]
    illegal = await post(client, f"/jobs/{job_id}/status", status="SUCCEEDED", confirmed="yes", next="/_emulator/")
    assert "PENDING" in flash(illegal)["error"]  # a pending job cannot jump to SUCCEEDED
    assert await api_status(client, job_id) == "PENDING"


async def test_force_status_calls_the_control_service(client: httpx.AsyncClient) -> None:
    """No in-process HTTP round trip: the action and POST /_emulator/fine-tunes/{id}/status share the service."""
    job_id = await new_job(client)
    done = await post(
        client, f"/jobs/{job_id}/status", status="CANCELED", message="by hand", confirmed="yes", next="/_emulator/"
    )
    assert flash(done)["notice"] == f"Job {job_id} forced to CANCELED."
    assert await api_status(client, job_id) == "CANCELED"
    assert any("by hand" in line for line in await api_logs(client, job_id))


async def test_reset_tenant_asks_then_wipes_only_that_tenant(app: Starlette, client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    async with client_for(app, "sk-bystander") as other:
        other_job = await new_job(other)
    tid = await tenant_id(client)
    ask = await post(client, f"/tenants/{tid}/reset", next=f"/_emulator/dashboard/tenants/{tid}")
    assert ask.status_code == 200 and "Deletes 1 file, 1 fine-tune job and 0 deployments" in ask.text
    assert await api_status(client, job_id) == "PENDING"
    done = await post(client, f"/tenants/{tid}/reset", confirmed="yes")
    assert done.headers["location"].startswith(f"/_emulator/dashboard/tenants/{tid}?notice=")
    assert "1 file, 1 fine-tune job" in flash(done)["notice"]
    assert (await client.get(f"/api/v1/fine-tunes/{job_id}")).status_code == 404
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0
    async with client_for(app, "sk-bystander") as other:
        assert await api_status(other, other_job) == "PENDING"
    page = (await client.get(f"/_emulator/dashboard/tenants/{tid}")).text
    assert "No fine-tune jobs yet." in page and "No files uploaded." in page


async def test_reset_of_an_unknown_tenant(client: httpx.AsyncClient) -> None:
    assert "No tenant" in flash(await post(client, "/tenants/nobody/reset", confirmed="yes"))["error"]


async def test_control_plane_reset_takes_a_tenant_id(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    tid = await tenant_id(client)
    body = (await client.post("/_emulator/reset", json={"tenant": tid})).json()
    assert body["tenant"] == tid and body["removed"]["fine_tunes"] == 1
    assert (await client.get(f"/api/v1/fine-tunes/{job_id}")).status_code == 404


async def test_clear_faults_asks_then_calls_the_control_plane(client: httpx.AsyncClient) -> None:
    assert "No fault rule armed" in (await client.get("/_emulator/")).text
    rule = {"path": "/api/v1/files", "method": "GET", "status": 503}
    assert (await client.post("/_emulator/faults", json=rule)).status_code == 200
    assert (await client.get("/api/v1/files")).status_code == 503
    assert "1 fault rule armed" in (await client.get("/_emulator/")).text
    ask = await post(client, "/faults/clear", next="/_emulator/")
    assert ask.status_code == 200 and "Clear all injected faults?" in ask.text
    assert (await client.get("/api/v1/files")).status_code == 503  # asking cleared nothing
    done = await post(client, "/faults/clear", next="/_emulator/", confirmed="yes")
    assert flash(done)["notice"] == "All faults cleared (1 rule)."
    assert (await client.get("/api/v1/files")).status_code == 200
    assert (await client.get("/_emulator/faults")).json()["faults"] == []


async def test_faults_control_hidden_without_the_route(app: Starlette, client: httpx.AsyncClient) -> None:
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/_emulator/faults"]
    assert "Clear faults" not in (await client.get("/_emulator/")).text
    response = await post(client, "/faults/clear", confirmed="yes", next="/_emulator/")
    assert "no fault injection" in flash(response)["error"]


async def test_cross_site_posts_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{ACTIONS}/clock/advance", data={"seconds": "60"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


async def test_every_control_has_an_accessible_name(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 60)
    for path in (
        "/_emulator/",
        f"/_emulator/dashboard/tenants/{await tenant_id(client)}",
        f"/_emulator/dashboard/jobs/{job_id}",
    ):
        html = (await client.get(path)).text
        for tag in ("input", "select"):
            for chunk in html.split(f"<{tag} ")[1:]:
                attrs = chunk.split(">", 1)[0]
                if 'type="hidden"' in attrs:
                    continue
                field_id = attrs.split('id="', 1)[1].split('"', 1)[0]
                assert f'<label for="{field_id}"' in html, (path, attrs)
        for chunk in html.split("<button")[1:]:
            text = chunk.split(">", 1)[1].split("</button>", 1)[0].strip()
            assert text or "aria-label=" in chunk.split(">", 1)[0], (path, chunk[:80])
