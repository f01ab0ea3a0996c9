"""pytest plugin, registered by installing the package: the ``dashscope_emulator`` fixture.

One real emulator server per test session (a frozen clock by default), reset before each test (state, response rules,
faults, journal), with the dashscope SDK pointed at it through ``DASHSCOPE_HTTP_BASE_URL``/``DASHSCOPE_API_KEY``
(and the module's own settings when it is already imported), and the other clients (LangChain, LlamaIndex,
Qwen-Agent, litellm, OpenAI-style apps) through the rest of ``emulator.testing.CLIENT_ENV``.
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
``--dashscope-emulator-story`` [``dashscope_emulator_story``, default 10]: how many requests a failed test's report
shows.

When a test that uses the fixture fails, its report gets a section, "dashscope emulator": the last requests the
test's app sent (method, path, status, model, tenant label, the fault or response rule that answered or the rule
that came closest, and the bodies sent and got, cut to a readable length), then the rules that never matched
(``docs/debugging.md``).  A CI log shows what happened without rerunning anything.
"""

from __future__ import annotations

import shlex
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from emulator.testing import DEFAULT_API_KEY, EmulatorClient, EmulatorServer, dashscope_env

STORY_SECTION = "dashscope emulator: what the app sent and got"
DEFAULT_STORY = 10

_OPTIONS = {
    "time_scale": "Emulated seconds per wall second of the session's emulator (default 0: moved by advance()).",
    "seed": "--seed of the session's emulator: deterministic ids, logs and generated text.",
    "api_key": f"The API key the fixture exports as DASHSCOPE_API_KEY (default {DEFAULT_API_KEY}).",
    "url": "Use the emulator already running at this URL instead of starting one.",
    "story": "Requests a failed test's report section shows (default 10; 0 turns the section off).",
}


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


@pytest.fixture
def dashscope_emulator(dashscope_emulator_server: EmulatorClient) -> Iterator[EmulatorClient]:
    """The emulator, reset for this test, with the dashscope SDK and the other clients pointed at it."""
    emulator = dashscope_emulator_server
    emulator.reset()
    time_scale = emulator.clock()["time_scale"]
    with dashscope_env(emulator):
        yield emulator
    if emulator.clock()["time_scale"] != time_scale:  # a test that changed the speed does not leak it
        emulator.set_time_scale(time_scale)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A failed test that used the fixture: its report gets the emulator's side of the story, as a section
    of its own ("dashscope emulator: what the app sent and got"), shown with the failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
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
