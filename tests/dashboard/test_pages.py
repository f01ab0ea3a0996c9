"""The dashboard's pages in-process: what each shows, and that it agrees with the API."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from emulator.dashboard.views import RECENT
from emulator.tenants import tenant_for
from tests.conftest import API_KEY, AppFactory, client_for
from tests.dashboard.helpers import HP, Page, advance, api_logs, api_status, metrics_from_log, new_job, tenant_id

pytestmark = pytest.mark.anyio


async def test_home_without_tenants_explains_how_to_start(client: httpx.AsyncClient) -> None:
    response = await client.get("/_emulator/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "No tenant yet" in response.text
    assert "frozen" in response.text  # the test clock's scale is 0
    assert (await client.get("/_emulator", follow_redirects=False)).headers["location"].endswith("/_emulator/")


async def test_home_lists_each_tenant_once_with_counts(app: Starlette, client: httpx.AsyncClient) -> None:
    await new_job(client)
    async with client_for(app, "sk-second-tenant") as other:
        await other.get("/api/v1/files", headers={"X-DashScope-WorkSpace": "ws-blue"})
    page = (await client.get("/_emulator/")).text
    mine, theirs = tenant_for(API_KEY, None), tenant_for("sk-second-tenant", "ws-blue")
    tenants_table = page.split('id="tenants-title"', 1)[1]
    assert tenants_table.count(f'href="/_emulator/dashboard/tenants/{mine.id}"') == 1
    assert f'href="/_emulator/dashboard/tenants/{theirs.id}"' in page
    assert mine.key_hint in page and "ws-blue" in page and mine.account_id in page
    assert "1 active" in page  # the job has not finished
    assert "sk-test-tenant-a" not in page  # the key itself is never shown


def _rows(html: str, table: str, attribute: str) -> list[tuple[str, str]]:
    """(id, status) of each row of one of the landing page's tables, top to bottom."""
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return re.findall(rf'<tr {attribute}="([^"]+)" data-status="([^"]+)"', body)


async def test_home_shows_what_just_happened_across_tenants(app: Starlette, client: httpx.AsyncClient) -> None:
    first = await new_job(client)
    await advance(client, 3600)  # finished
    deployed = (
        await client.post("/api/v1/deployments", json={"model_name": f"qwen-turbo-{first}", "capacity": 2})
    ).json()["output"]["deployed_model"]
    async with client_for(app, "sk-second-tenant") as other:
        second = await new_job(other)
    html = (await client.get("/_emulator/")).text
    assert _rows(html, "recent-jobs", "data-job") == [(second, "PENDING"), (first, "SUCCEEDED")]  # newest first
    assert f'href="/_emulator/dashboard/jobs/{first}"' in html and f'href="/_emulator/dashboard/jobs/{second}"' in html
    status = (await client.get(f"/api/v1/deployments/{deployed}")).json()["output"]["status"]
    assert _rows(html, "recent-deployments", "data-deployment") == [(deployed, status)]
    mine = tenant_for(API_KEY, None)
    assert f'href="/_emulator/dashboard/tenants/{mine.id}/deployments/{deployed}"' in html
    assert tenant_for("sk-second-tenant", None).key_hint in html.split('id="recent-jobs"', 1)[1]
    assert 'id="open-tenant"' not in html  # two tenants: no single one to jump into


async def test_home_with_one_tenant_leads_straight_into_it(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 60)
    html = (await client.get("/_emulator/")).text
    tid = await tenant_id(client)
    assert re.search(rf'<a [^>]*id="open-tenant" href="/_emulator/dashboard/tenants/{tid}"', html)
    assert _rows(html, "recent-jobs", "data-job") == [(job_id, "RUNNING")]  # brought up to the clock
    assert "No deployments yet." in html


async def test_home_refreshes_its_jobs_only_while_the_clock_moves_them(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    assert "data-refresh" not in (await client.get("/_emulator/")).text  # frozen clock: nothing moves by itself
    assert (await client.post("/_emulator/clock", json={"time_scale": 60})).status_code == 200
    assert 'data-refresh="/_emulator/dashboard/recent/jobs"' in (await client.get("/_emulator/")).text
    rows = await client.get("/_emulator/dashboard/recent/jobs")
    assert rows.status_code == 200 and rows.text.lstrip().startswith("<tr") and "<html" not in rows.text
    ((shown, status),) = _rows(f'<table id="x">{rows.text}</table>', "x", "data-job")
    assert shown == job_id and status in ("PENDING", "QUEUING", "RUNNING")  # the clock runs meanwhile
    await client.post("/_emulator/clock", json={"time_scale": 0})
    await advance(client, 86400)
    assert "data-refresh" not in (await client.get("/_emulator/")).text  # all final


async def test_home_lists_only_the_newest_jobs(client: httpx.AsyncClient) -> None:
    jobs = [await new_job(client) for _ in range(RECENT + 2)]
    shown = [job for job, _ in _rows((await client.get("/_emulator/")).text, "recent-jobs", "data-job")]
    assert shown == jobs[::-1][:RECENT]


async def test_picker_redirects_to_the_tenant(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/files")
    tid = await tenant_id(client)
    picked = await client.get("/_emulator/", params={"tenant": tid}, follow_redirects=False)
    assert picked.status_code == 303 and picked.headers["location"] == f"/_emulator/dashboard/tenants/{tid}"


async def test_tenant_page_shows_files_jobs_clock(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 60)  # past the data check and the model load: training
    tid = await tenant_id(client)
    response = await client.get(f"/_emulator/dashboard/tenants/{tid}")
    assert response.status_code == 200
    page, html = Page(response.text), response.text
    assert "sft_basic.jsonl" in html and "13.0 KB" in html and ">40<" in html and "valid" in html
    assert f'href="/_emulator/dashboard/jobs/{job_id}"' in html and "SFT · full" in html
    assert "RUNNING" in page.badges
    assert 'role="progressbar"' in html and "/48</span>" in html and "training" in html
    assert "No deployments." in html
    assert "2024-10-12" in html  # the seeded clock's day


async def test_tenant_jobs_fragment_is_rows_only(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    fragment = (await client.get(f"/_emulator/dashboard/tenants/{await tenant_id(client)}/jobs")).text
    assert fragment.lstrip().startswith("<tr") and job_id in fragment and "<html" not in fragment


async def test_unknown_tenant_and_job_are_html_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/_emulator/dashboard/tenants/nobody",
        "/_emulator/dashboard/jobs/ft-000000000000-0000",
        "/_emulator/dashboard/jobs/ft-000000000000-0000/chart",
        "/_emulator/dashboard/jobs/ft-000000000000-0000/stream",
    ):
        response = await client.get(path)
        assert response.status_code == 404 and "Not found" in response.text, path


async def test_job_page_log_and_chart_agree_with_the_api(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 66)
    response = await client.get(f"/_emulator/dashboard/jobs/{job_id}")
    assert response.status_code == 200
    page, logs = Page(response.text), await api_logs(client, job_id)
    assert page.badges[0] == "RUNNING" == await api_status(client, job_id)
    assert page.log == logs
    expected = metrics_from_log(logs)
    assert expected["loss"] and expected["val_loss"]
    assert page.points == expected


async def test_job_page_once_finished(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 3600)
    html = (await client.get(f"/_emulator/dashboard/jobs/{job_id}")).text
    page, logs = Page(html), await api_logs(client, job_id)
    assert page.badges[0] == "SUCCEEDED"
    assert page.log[-1].endswith("##FT_COMPLETE##") and page.log == logs
    assert page.points == metrics_from_log(logs) and len(page.points["loss"]) == 48
    assert f"qwen-turbo-{job_id}" in html and "data-stream" not in html  # nothing left to follow
    assert "48/48" in html and "tokens" in html


async def test_hyper_parameters_as_sent_and_effective(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    html = (await client.get(f"/_emulator/dashboard/jobs/{job_id}")).text
    rows = dict(re.findall(r'<tr[^>]* data-hp="([^"]+)">(.*?)</tr>', html, re.S))
    assert set(HP) <= set(rows)
    assert ">2e-5<" in rows["learning_rate"] and ">2e-05<" in rows["learning_rate"]  # sent string, effective float
    assert "default" in rows["max_length"] and ">2048<" in rows["max_length"]


async def test_log_tail_and_full_log(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client, hyper_parameters={"n_epochs": 10, "batch_size": 1, "eval_steps": 1})
    await advance(client, 3600)
    logs = await api_logs(client, job_id)
    assert len(logs) > 200
    tail = Page((await client.get(f"/_emulator/dashboard/jobs/{job_id}")).text)
    assert tail.log == logs[-200:]
    full = Page((await client.get(f"/_emulator/dashboard/jobs/{job_id}", params={"log": "all"})).text)
    assert full.log == logs


async def test_chart_fragment_and_empty_chart(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    empty = (await client.get(f"/_emulator/dashboard/jobs/{job_id}/chart")).text
    assert "No metrics yet" in empty and "<svg" not in empty
    await advance(client, 3600)
    chart = (await client.get(f"/_emulator/dashboard/jobs/{job_id}/chart")).text
    assert chart.lstrip().startswith('<div id="chart"') and 'role="img"' in chart and "<title" in chart
    assert Page(chart).points == metrics_from_log(await api_logs(client, job_id))


def _events(body: str) -> list[tuple[str, str, str | None]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            key, _, value = line.partition(":")
            if key:
                fields[key] = value
        if "event" in fields:
            events.append((fields["event"], fields.get("data", ""), fields.get("id")))
    return events


async def test_stream_of_a_finished_job(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 3600)
    response = await client.get(f"/_emulator/dashboard/jobs/{job_id}/stream")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    lines = [data for kind, data, _ in events if kind == "log"]
    assert lines == await api_logs(client, job_id)
    assert [e[2] for e in events if e[0] == "log"] == [str(i) for i in range(1, len(lines) + 1)]
    state = json.loads(next(data for kind, data, _ in events if kind == "job"))
    assert state["status"] == "SUCCEEDED" and state["step"] == state["total"] == 48 and state["badge"] == "success"
    resumed = _events((await client.get(f"/_emulator/dashboard/jobs/{job_id}/stream", params={"from": 10})).text)
    assert [d for k, d, _ in resumed if k == "log"] == lines[10:]


async def test_static_bundle_and_no_internet(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 3600)
    paths = (
        "/_emulator/",
        f"/_emulator/dashboard/tenants/{await tenant_id(client)}",
        f"/_emulator/dashboard/jobs/{job_id}",
    )
    pages = [(await client.get(path)).text for path in paths]
    for html in pages:
        for link in Page(html).links:
            assert link.startswith(("/_emulator/", "#")), link
        assert "https://" not in html
    css = await client.get("/_emulator/static/dashboard.css")
    js = await client.get("/_emulator/static/dashboard.js")
    assert css.status_code == js.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "http" not in js.text.replace("window.location.href", "")


async def test_dashboard_is_off_with_the_control_plane(app_factory: AppFactory) -> None:
    app = await app_factory(control_plane=False)
    async with client_for(app) as client:
        assert (await client.get("/_emulator/")).status_code == 404
        assert (await client.get("/_emulator/static/dashboard.css")).status_code == 404


async def test_a_real_deployment_on_the_tenant_page(client: httpx.AsyncClient) -> None:
    job_id = await new_job(client)
    await advance(client, 3600)
    created = await client.post("/api/v1/deployments", json={"model_name": f"qwen-turbo-{job_id}", "capacity": 2})
    assert created.status_code == 200, created.text
    deployed = created.json()["output"]["deployed_model"]
    html = (await client.get(f"/_emulator/dashboard/tenants/{await tenant_id(client)}")).text
    assert deployed in html and "/2</span>" in html
    status = (await client.get(f"/api/v1/deployments/{deployed}")).json()["output"]["status"]
    assert status in Page(html).badges


class _Deployments:
    def __init__(self, rows: list[Any] | Exception) -> None:
        self.rows = rows

    async def list_deployments(self, tenant: object, offset: int, limit: int) -> tuple[int, list[Any]]:
        if isinstance(self.rows, Exception):
            raise self.rows
        return len(self.rows), self.rows


async def test_deployments_shown_when_the_service_exists(app: Starlette, client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/files")
    app.state.services.deployments = _Deployments(  # a built service is an attribute: a test can swap it
        [
            {
                "deployed_model": "qwen-turbo-ft-abc-dep",
                "model_name": "qwen-turbo-ft-abc",
                "status": "DEPLOYING",
                "capacity": 4,
                "ready_capacity": 1,
                "modified_at": 1728705300.0,
            },
        ]
    )
    html = (await client.get(f"/_emulator/dashboard/tenants/{await tenant_id(client)}")).text
    assert "qwen-turbo-ft-abc-dep" in html and "DEPLOYING" in Page(html).badges and "1/4" in html
    app.state.services.deployments = _Deployments(RuntimeError("boom"))
    html = (await client.get(f"/_emulator/dashboard/tenants/{await tenant_id(client)}")).text
    assert "The deployments service answered: boom" in html and "Fine-tune jobs" in html
