"""Never a 5xx for a client's mistake (issue 10): each input here answered 500 before, and is a 4xx in the
service's envelope now, counted nowhere as an internal error (``app_factory`` fails a test whose app counted one).

Deep JSON and lone surrogates are refused by the one JSON reader every route uses (``emulator.http``), so the
cases run over every route that takes a JSON body, API and control plane alike.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from emulator.__main__ import cli
from emulator.app import create_app
from emulator.clock import MAX_EMULATED_TIME
from emulator.files import store
from emulator.settings import Settings
from tests.conftest import AppFactory, assert_error, client_for, upload

pytestmark = pytest.mark.anyio

GOOD = b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'
GENERATION = "/api/v1/services/aigc/text-generation/generation"
CHAT = "/compatible-mode/v1/chat/completions"
JSON_ROUTES = [
    ("POST", "/api/v1/fine-tunes"),
    ("POST", "/api/v1/deployments"),
    ("PUT", "/api/v1/deployments/some-model/scale"),
    ("POST", GENERATION),
    ("POST", CHAT),
    ("POST", "/_emulator/reset"),
    ("POST", "/_emulator/clock"),
    ("POST", "/_emulator/clock/advance"),
    ("POST", "/_emulator/fine-tunes/ft-x/status"),
    ("POST", "/_emulator/deployments/some-model/status"),
    ("POST", "/_emulator/faults"),
    ("POST", "/_emulator/snapshot"),
    ("POST", "/_emulator/restore"),
    ("POST", "/_emulator/seed"),
]


def assert_refused(response: httpx.Response, path: str, status: int = 400, words: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    message = body["error"]["message"] if path.startswith("/compatible-mode/") else body["message"]
    if not path.startswith("/compatible-mode/"):
        assert body["code"] == ("InvalidParameter" if status == 400 else body["code"])
    assert body["request_id"] == response.headers["x-request-id"]
    assert words in message, message


async def _file_id(client: httpx.AsyncClient) -> str:
    response = await upload(client, ("train.jsonl", GOOD * 3))
    return str(response.json()["data"]["uploaded_files"][0]["file_id"])


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_json_nested_10000_levels_is_a_400_on_every_route(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    deep = b'{"model":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = await client.request(method, path, content=deep, headers={"Content-Type": "application/json"})
    assert_refused(response, path, words="deeper than 64 levels")


async def test_the_depth_limit_is_a_setting(app_factory: AppFactory) -> None:
    app = await app_factory(max_json_depth=3)
    async with client_for(app) as client:
        nested = {"model": "qwen-turbo", "input": {"messages": [{"role": "user", "content": "hi"}]}}
        assert_refused(await client.post(GENERATION, json=nested), GENERATION, words="deeper than 3 levels")
        shallow = {"seconds": 1}
        assert (await client.post("/_emulator/clock/advance", json=shallow)).status_code == 200


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_a_lone_surrogate_anywhere_is_a_400_on_every_route(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    for body in (b'{"model":"\\ud800"}', b'{"\\udfff":1}', b'{"x":[{"y":["a\\ud83d"]}]}'):
        response = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        assert_refused(response, path, words="lone UTF-16 surrogate")


@pytest.mark.parametrize(
    "fields",
    [
        {"hyper_parameters": {"\ud800": 1}},
        {"hyper_parameters": {"n_epochs": "\udc00"}},
        {"training_file_ids": ["\ud800"]},
        {"validation_file_ids": "\ud800"},
        {"job_name": "job \udbff"},
        {"model": "\ud800"},
    ],
)
async def test_lone_surrogates_in_a_fine_tune_create_are_a_400(
    client: httpx.AsyncClient, fields: dict[str, object]
) -> None:
    body = {"model": "qwen-turbo", "training_file_ids": [await _file_id(client)], **fields}
    raw = json.dumps(body).encode()  # json.dumps escapes a lone surrogate as \\udXXX, as a client would send it
    response = await client.post("/api/v1/fine-tunes", content=raw, headers={"Content-Type": "application/json"})
    assert_refused(response, "/api/v1/fine-tunes", words="lone UTF-16 surrogate")


async def test_surrogate_pairs_and_invalid_utf8(client: httpx.AsyncClient) -> None:
    pair = {"model": "qwen-turbo", "input": {"messages": [{"role": "user", "content": "smile \U0001f600"}]}}
    ok = await client.post(GENERATION, content=json.dumps(pair).encode(), headers={"Content-Type": "application/json"})
    assert ok.status_code == 200, ok.text  # an escaped pair (\\ud83d\\ude00) is a valid character
    bad = b'{"model":"qwen-turbo","input":{"prompt":"\xff\xfe"}}'
    assert_refused(await client.post(GENERATION, content=bad), GENERATION, words="not valid UTF-8")


async def test_json_body_size_is_a_setting_answering_413(app_factory: AppFactory) -> None:
    app = await app_factory(max_json_bytes=2048)
    async with client_for(app) as client:
        big = {"model": "qwen-turbo", "input": {"prompt": "x" * 4096}}
        body = assert_error(await client.post(GENERATION, json=big), 413, "BadRequest.TooLarge")
        assert "2048" in body["message"]


async def test_a_multipart_boundary_over_256_characters_is_a_400(client: httpx.AsyncClient) -> None:
    boundary = "b" * 300
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.jsonl"\r\n\r\n'.encode()
    body += GOOD + f"\r\n--{boundary}--\r\n".encode()
    response = await client.post(
        "/api/v1/files", content=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_refused(response, "/api/v1/files", words="boundary")
    assert (await client.get("/api/v1/files")).json()["data"]["total"] == 0


async def test_a_huge_part_header_is_a_400(client: httpx.AsyncClient) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="' + b"a" * 20_000 + b'"\r\n\r\n'
    body += GOOD + b"\r\n--xyz--\r\n"
    response = await client.post(
        "/api/v1/files", content=body, headers={"Content-Type": "multipart/form-data; boundary=xyz"}
    )
    assert_refused(response, "/api/v1/files", words="header")


async def test_250000_training_file_ids_is_a_400_and_duplicates_collapse(client: httpx.AsyncClient) -> None:
    many = {"model": "qwen-turbo", "training_file_ids": [f"file-{i}" for i in range(250_000)]}
    assert_refused(await client.post("/api/v1/fine-tunes", json=many), "/api/v1/fine-tunes", words="at most 100")
    file_id = await _file_id(client)
    repeated = {"model": "qwen-turbo", "training_file_ids": [file_id] * 250_000}
    created = await client.post("/api/v1/fine-tunes", json=repeated)
    assert created.status_code == 200, created.text
    assert created.json()["output"]["training_file_ids"] == [file_id]


async def test_file_lookups_stay_under_sqlite_variable_limit(app: Starlette, client: httpx.AsyncClient) -> None:
    file_id = await _file_id(client)
    tenant = (await client.get(f"/api/v1/files/{file_id}")).json()["data"]
    rt = app.state.rt
    [tenant_id] = [row["id"] for row in await rt.db.fetchall("SELECT id FROM tenants")]
    ids = [f"file-{i}" for i in range(40_000)] + [file_id]
    stats = await store.file_stats(rt.db, tenant_id, ids)
    assert list(stats) == [file_id] and tenant["file_id"] == file_id


async def test_hyper_parameters_are_bounded(client: httpx.AsyncClient) -> None:
    body = {
        "model": "qwen-turbo",
        "training_file_ids": ["x"],
        "hyper_parameters": {f"k{i}": "v" * 50 for i in range(400)},
    }
    assert_refused(await client.post("/api/v1/fine-tunes", json=body), "/api/v1/fine-tunes", words="16384 bytes")


async def test_the_clock_cannot_be_pushed_past_year_9999(client: httpx.AsyncClient) -> None:
    step = {"seconds": 10 * 365 * 86400}
    for _ in range(900):
        response = await client.post("/_emulator/clock/advance", json=step)
        if response.status_code != 200:
            break
    assert_refused(response, "/_emulator/clock/advance", words="past 9999-01-01")
    clock = await client.get("/_emulator/clock")
    assert clock.status_code == 200 and clock.json()["now"] <= MAX_EMULATED_TIME
    assert (await client.get("/api/v1/fine-tunes")).status_code == 200


async def test_a_persisted_clock_past_9999_is_clamped_at_restart(
    app_factory: AppFactory, settings_factory: Callable[..., Settings]
) -> None:
    first = create_app(settings_factory())
    async with first.router.lifespan_context(first):
        pass
    with sqlite3.connect(first.state.rt.settings.db) as conn:
        state = json.dumps({"anchor_wall": 0.0, "anchor_emulated": 9e15, "time_scale": 0.0})
        conn.execute("UPDATE meta SET value = ? WHERE key = 'clock'", (state,))
    restarted = await app_factory()
    async with client_for(restarted) as client:
        clock = await client.get("/_emulator/clock")
        assert clock.status_code == 200, clock.text
        assert clock.json()["now"] == MAX_EMULATED_TIME


def test_a_start_time_past_9999_is_refused_up_front(settings_factory: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="start_time"):
        settings_factory(start_time=1e13)
    result = CliRunner().invoke(cli, ["serve", "--db", ":memory:", "--start-time", "1e13"])
    assert result.exit_code == 2 and "--start-time" in result.output and "Traceback" not in result.output


async def test_the_journal_reads_back_a_refused_deep_body(client: httpx.AsyncClient) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    await client.post("/api/v1/fine-tunes", content=deep, headers={"Content-Type": "application/json"})
    journal = await client.get("/_emulator/requests")
    assert journal.status_code == 200, journal.text
    [entry] = journal.json()["requests"]
    assert entry["body"] is None and entry["body_size"] == len(deep) and entry["status"] == 400


async def test_a_model_fault_rule_peeks_at_hostile_bodies_without_failing(client: httpx.AsyncClient) -> None:
    rule = {"path": GENERATION, "model": "qwen-turbo", "status": 429}
    assert (await client.post("/_emulator/faults", json=rule)).status_code == 200
    for body in (b'{"model":' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"model":"\\ud800"}'):
        assert_refused(await client.post(GENERATION, content=body), GENERATION)
    hit = await client.post(GENERATION, json={"model": "qwen-turbo", "input": {"prompt": "hi"}})
    assert hit.status_code == 429


NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"]


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES + [("POST", "/_emulator/responses")])
async def test_non_finite_numbers_anywhere_are_a_400_on_every_route(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """Issue 24: ``json.loads`` took NaN/Infinity (and 1e400 as inf); stored, they answered 500 for good."""
    for number in NON_FINITE:
        for body in (b'{"model":' + number + b"}", b'{"x":[{"y":[1,' + number + b"]}]}"):
            response = await client.request(method, path, content=body, headers={"Content-Type": "application/json"})
            assert_refused(response, path, words="finite")
    assert (await client.get("/_emulator/requests")).status_code == 200  # the journal reads them back


async def test_a_fine_tune_with_nan_hyper_parameters_is_refused_and_nothing_stored(client: httpx.AsyncClient) -> None:
    sft = await _file_id(client)
    raw = (
        b'{"model":"qwen-turbo","training_file_ids":["' + sft.encode() + b'"],"hyper_parameters":{"learning_rate":NaN}}'
    )
    response = await client.post("/api/v1/fine-tunes", content=raw, headers={"Content-Type": "application/json"})
    assert_refused(response, "/api/v1/fine-tunes", words="finite")
    listing = await client.get("/api/v1/fine-tunes")
    assert listing.status_code == 200 and listing.json()["output"]["total"] == 0


async def test_rows_an_older_version_stored_with_non_finite_numbers_still_read(
    app_factory: AppFactory, settings_factory: Callable[..., Settings]
) -> None:
    """Before the door refused them, NaN/Infinity were stored as they came; every reader of such rows answers."""
    first = await app_factory()
    async with client_for(first) as client:
        sft = await _file_id(client)
        hp = {"learning_rate": 0.000123, "n_epochs": 1}
        created = await client.post(
            "/api/v1/fine-tunes", json={"model": "qwen-turbo", "training_file_ids": [sft], "hyper_parameters": hp}
        )
        assert created.status_code == 200, created.text
        job_id = created.json()["output"]["job_id"]
    with sqlite3.connect(first.state.rt.settings.db) as conn:
        changed = conn.execute(
            "UPDATE fine_tunes SET request = replace(request, '0.000123', 'NaN'), "
            "plan = replace(plan, '0.000123', 'Infinity') WHERE job_id = ?",
            (job_id,),
        ).rowcount
        assert changed == 1
    restarted = await app_factory()
    async with client_for(restarted) as client:
        listing = await client.get("/api/v1/fine-tunes")
        assert listing.status_code == 200, listing.text
        job = await client.get(f"/api/v1/fine-tunes/{job_id}")
        assert job.status_code == 200, job.text
        assert job.json()["output"]["hyper_parameters"]["learning_rate"] is None
        assert (await client.get(f"/api/v1/fine-tunes/{job_id}/logs")).status_code == 200


@pytest.mark.parametrize("option", ["--responses", "--faults"])
def test_rule_files_with_non_finite_numbers_are_refused_at_start(tmp_path: Path, option: str) -> None:
    rules = tmp_path / "rules.json"
    if option == "--responses":
        rules.write_text('[{"tool_calls": [{"name": "f", "arguments": {"x": NaN}}]}]')
    else:
        rules.write_text('[{"path": "/x", "status": 500, "delay": Infinity}]')
    result = CliRunner().invoke(cli, ["serve", "--db", ":memory:", option, str(rules)])
    assert result.exit_code == 2, result.output
    assert "finite" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("bound", ["1" + "0" * 400, "1e308", "-1e308"])
async def test_forced_tools_with_huge_bounds_answer_on_both_apis(client: httpx.AsyncClient, bound: str) -> None:
    """Issue 24: ``minimum: 10**400`` answered 500 on both APIs; ``±1e308`` gave ``Infinity`` in the arguments."""
    schema = (
        '{"type":"object","required":["n","x"],"properties":{"n":{"type":"integer","minimum":' + bound + "},"
        '"x":{"type":"number","minimum":-1e308,"maximum":1e308}}}'
    )
    tool = '{"type":"function","function":{"name":"f","parameters":' + schema + "}}"
    choice = '{"type":"function","function":{"name":"f"}}'
    native = (
        '{"model":"qwen-turbo","input":{"messages":[{"role":"user","content":"hi"}]},'
        '"parameters":{"result_format":"message","tools":[' + tool + '],"tool_choice":' + choice + "}}"
    )
    chat = (
        '{"model":"qwen-turbo","messages":[{"role":"user","content":"hi"}],"tools":['
        + tool
        + '],"tool_choice":'
        + choice
        + "}"
    )
    for path, body in ((GENERATION, native), (CHAT, chat)):
        response = await client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        payload = response.json()
        message = payload["output"]["choices"][0]["message"] if path == GENERATION else payload["choices"][0]["message"]
        arguments = json.loads(message["tool_calls"][0]["function"]["arguments"], parse_constant=pytest.fail)
        assert arguments["n"] >= int(float(bound)) if "e" in bound else arguments["n"] >= int(bound)
        assert -1e308 <= arguments["x"] <= 1e308


async def test_api_keys_are_bounded_in_length_before_anything_is_cached(app: Starlette) -> None:
    """Issue 24: the tenant caches were capped by count but keyed by the whole key (3,000 keys of 30 KB: +174 MB)."""
    registry = app.state.rt.tenants
    for key in ("sk-" + "k" * 30_000, "sk-" + "k" * 254, "sk-x " + " " * 400):
        async with client_for(app, api_key=key) as stranger:
            response = await stranger.get("/api/v1/files")
            assert response.status_code == 401 and response.json()["code"] == "InvalidApiKey", response.text
    assert len(registry._by_header) == 0 and len(registry._known) == 0
    async with client_for(app, api_key="sk-" + "k" * 253) as longest:
        assert (await longest.get("/api/v1/files")).status_code == 200
