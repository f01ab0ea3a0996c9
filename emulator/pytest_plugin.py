"""pytest plugin, registered by installing the package: the ``dashscope_emulator`` fixture.

One real emulator server per test session (a frozen clock by default), reset before each test (state, response rules,
faults, journal), with the dashscope SDK pointed at it through ``DASHSCOPE_HTTP_BASE_URL``/``DASHSCOPE_API_KEY``
(and the module's own settings when it is already imported), ``openai`` through ``OPENAI_BASE_URL``/``OPENAI_API_KEY``,
and the other clients (LangChain, LlamaIndex, Qwen-Agent, litellm, OpenAI-style apps) through the rest of
``emulator.testing.CLIENT_ENV``.
The fixture is an ``EmulatorClient``::

    def test_training(dashscope_emulator):
        job = dashscope.FineTunes.call(model="qwen-turbo", training_file_ids=[file_id])
        dashscope_emulator.run_until(job.output["job_id"], "SUCCEEDED")
        dashscope_emulator.fault("/api/v1/fine-tunes", method="POST", status=429, count=1)
        assert dashscope_emulator.requests(method="POST")[0]["body"]["model"] == "qwen-turbo"
        dashscope_emulator.respond(contains="weather", content="Sunny.")  # what the model answers

Options (command line, or the ini key in brackets): ``--dashscope-emulator-time-scale``
[``dashscope_emulator_time_scale``, default 0], ``--dashscope-emulator-seed`` [``dashscope_emulator_seed``],
``--dashscope-emulator-arg`` (repeatable extra ``serve`` arguments) [``dashscope_emulator_args``],
``--dashscope-emulator-api-key`` [``dashscope_emulator_api_key``], and ``--dashscope-emulator-url``
[``dashscope_emulator_url``] to use an emulator that is already running (docker compose) instead of starting one,
and ``--dashscope-emulator-story`` [``dashscope_emulator_story``, default 10]: how many requests a failed test's
report shows.

When a test that uses the fixture fails, its report gets a section, "dashscope emulator: what the app sent and
got": the last requests the test's app sent (method, path, status, model, tenant label, the fault or response rule
that answered or the rule that came closest, the bodies sent and got cut to a readable length, what the model
said), then the rules that never matched (``docs/debugging.md``).  A CI log shows what happened without rerunning.

While a test uses the fixture, a connection to a real DashScope host (``emulator.testing.REAL_HOSTS``) fails with
``RealHostRefused`` naming the test and the host, and the test fails even if the code under test swallowed that
error: an app with a hard-coded URL fails loudly instead of calling the internet.  Allowed again by the
``dashscope_real_hosts`` marker, ``--dashscope-emulator-allow-real-hosts`` or the ini key
``dashscope_emulator_allow_real_hosts = true``.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from functools import partial

import pytest

from emulator.testing import DEFAULT_API_KEY, EmulatorClient, EmulatorServer, dashscope_env, refuse_real_hosts

ALLOW_MARKER = "dashscope_real_hosts"
_CALL_PASSED = pytest.StashKey[bool]()
_REFUSED = pytest.StashKey[list[str]]()

_OPTIONS = {
    "time_scale": "Emulated seconds per wall second of the session's emulator (default 0: moved by advance()).",
    "seed": "--seed of the session's emulator: deterministic ids, logs and generated text.",
    "api_key": f"The API key the fixture exports as DASHSCOPE_API_KEY (default {DEFAULT_API_KEY}).",
    "url": "Use the emulator already running at this URL instead of starting one.",
    "story": "Requests a failed test's report section shows (default 10; 0 turns the section off).",
}
STORY_SECTION = "dashscope emulator: what the app sent and got"
DEFAULT_STORY = 10


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dashscope-emulator")
    for name, help_text in _OPTIONS.items():
        group.addoption(
            f"--dashscope-emulator-{name.replace('_', '-')}",
            dest=f"dashscope_emulator_{name}",
            default=None,
            help=help_text,
        )
        parser.addini(f"dashscope_emulator_{name}", help_text, default=None)
    group.addoption(
        "--dashscope-emulator-arg",
        dest="dashscope_emulator_args",
        action="append",
        default=None,
        help="An extra argument for the emulator's serve command (repeatable).",
    )
    parser.addini(
        "dashscope_emulator_args", "Extra arguments for the emulator's serve command.", type="args", default=[]
    )
    allow = (
        "Let tests that use the dashscope_emulator fixture connect to the real DashScope hosts (refused by default)."
    )
    group.addoption(
        "--dashscope-emulator-allow-real-hosts",
        dest="dashscope_emulator_allow_real_hosts",
        action="store_true",
        default=False,
        help=allow,
    )
    parser.addini("dashscope_emulator_allow_real_hosts", allow, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{ALLOW_MARKER}: let this test connect to the real DashScope hosts despite the dashscope_emulator fixture",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed
        if report.failed:
            _tell_the_story(item, report)
    return report


def _tell_the_story(item: pytest.Item, report: pytest.TestReport) -> None:
    """A failed test that used the fixture: its report gets the emulator's side of the story, as a section of
    its own, shown with the failure."""
    emulator = getattr(item, "funcargs", {}).get("dashscope_emulator")
    limit = _story_limit(item.config)
    if not isinstance(emulator, EmulatorClient) or limit <= 0:
        return
    try:
        text = emulator.story(limit)
    except Exception as exc:  # the server may be what broke: say so, never hide the test's own failure
        text = f"(the emulator at {emulator.url} could not be asked for its journal: {exc})"
    report.sections.append((STORY_SECTION, text))


def _story_limit(config: pytest.Config) -> int:
    raw = _option(config, "story")
    try:
        return max(0, int(raw)) if raw is not None else DEFAULT_STORY
    except ValueError:
        return DEFAULT_STORY


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"dashscope_emulator_{name}")
    if value is None:
        value = config.getini(f"dashscope_emulator_{name}")
    return str(value) if value not in (None, "") else None


def _extra_args(config: pytest.Config) -> tuple[str, ...]:
    given = config.getoption("dashscope_emulator_args")
    if given:
        return tuple(arg for item in given for arg in shlex.split(item))
    return tuple(config.getini("dashscope_emulator_args"))


@pytest.fixture(scope="session")
def dashscope_emulator_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorClient]:
    """The session's emulator: started here, or the one at ``--dashscope-emulator-url``.

    The one started here may also snapshot into and restore from the run's temp folders (``tmp_path``):
    ``--control-path`` is the session's base temp dir.
    """
    api_key = _option(pytestconfig, "api_key") or DEFAULT_API_KEY
    url = _option(pytestconfig, "url")
    if url is not None:
        yield EmulatorClient(url, api_key=api_key)
        return
    seed = _option(pytestconfig, "seed")
    server = EmulatorServer(
        time_scale=float(_option(pytestconfig, "time_scale") or 0.0),
        seed=int(seed) if seed is not None else None,
        extra_args=("--control-path", str(tmp_path_factory.getbasetemp()), *_extra_args(pytestconfig)),
        api_key=api_key,
    )
    with server:
        yield server


def _allows_real_hosts(request: pytest.FixtureRequest) -> bool:
    config = request.config
    return bool(
        request.node.get_closest_marker(ALLOW_MARKER)
        or config.getoption("dashscope_emulator_allow_real_hosts")
        or config.getini("dashscope_emulator_allow_real_hosts")
    )


@pytest.fixture
def dashscope_emulator(
    dashscope_emulator_server: EmulatorClient, request: pytest.FixtureRequest
) -> Iterator[EmulatorClient]:
    """The emulator, reset for this test, with the dashscope SDK and the other clients pointed at it; the real
    DashScope hosts refused unless allowed."""
    emulator = dashscope_emulator_server
    emulator.reset()
    time_scale = emulator.clock()["time_scale"]
    refused: list[str] = []
    explain = partial(_refusal, request.node.nodeid, emulator)
    with dashscope_env(emulator), ExitStack() as guard:
        if not _allows_real_hosts(request):
            refused = guard.enter_context(refuse_real_hosts(explain))
        request.node.stash[_REFUSED] = refused
        yield emulator
    if emulator.clock()["time_scale"] != time_scale:  # a test that changed the speed does not leak it
        emulator.set_time_scale(time_scale)
    swallowed = refused and request.node.stash.get(_CALL_PASSED, False)
    if swallowed and "dashscope_emulator_refused" not in request.fixturenames:
        pytest.fail(explain(refused[0]), pytrace=False)  # the code under test caught the error and went on


@pytest.fixture
def dashscope_emulator_refused(dashscope_emulator: EmulatorClient, request: pytest.FixtureRequest) -> list[str]:
    """The real hosts refused so far in this test; a test that asks for it judges them itself (the fixture then
    does not fail a test that passed after a refusal)."""
    refused: list[str] = request.node.stash.get(_REFUSED, [])
    return refused


def _refusal(test: str, emulator: EmulatorClient, host: str) -> str:
    return (
        f"{test} tried to reach {host}, the real DashScope: the dashscope_emulator fixture refuses it. Point the "
        f"client at the emulator ({emulator.api_base} natively, {emulator.openai_base} OpenAI-style; the fixture sets "
        f"DASHSCOPE_HTTP_BASE_URL, OPENAI_BASE_URL and the others of emulator.testing.CLIENT_ENV), or allow it with "
        f"@pytest.mark.{ALLOW_MARKER}, --dashscope-emulator-allow-real-hosts or the ini key "
        "dashscope_emulator_allow_real_hosts = true."
    )
