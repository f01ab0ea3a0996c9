"""Command line: ``dashscope-emulator serve`` (also ``python -m emulator serve``).

Every option can also come from an ``EMULATOR_*`` environment variable, shown in ``--help``.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from emulator import __version__
from emulator.settings import Option, Settings, options

F = TypeVar("F", bound=Callable[..., Any])


EXAMPLE = """\b
Example:
  dashscope-emulator serve --port 8000
  export DASHSCOPE_HTTP_BASE_URL=http://127.0.0.1:8000/api/v1 DASHSCOPE_API_KEY=sk-local
  export OPENAI_BASE_URL=http://127.0.0.1:8000/compatible-mode/v1 OPENAI_API_KEY=sk-local

\b
Then, on http://127.0.0.1:8000 (or your --host and --port):
  /api/v1               the native API (the dashscope SDK, LangChain, LlamaIndex)
  /compatible-mode/v1   the OpenAI-compatible API (openai, litellm, ...)
  /_emulator/           the dashboard; /_emulator/health, /_emulator/clock, ...: the control plane
  /docs                 the API reference (/openapi.json)

In tests, the pytest plugin's dashscope_emulator fixture starts one for you."""


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
    epilog=EXAMPLE,
)
@click.version_option(__version__, prog_name="dashscope-emulator")
def cli() -> None:
    """A local, offline emulator of Alibaba Cloud Model Studio (DashScope): files, fine-tunes, deployments and
    generation, native and OpenAI-compatible, with a test-control plane; `record` and `verify` check it against
    the real service."""


def _click_type(field: dataclasses.Field[Any], spec: Option) -> Any:
    kind = str(field.type).replace(" | None", "")
    if spec.path is not None:
        return click.Path(
            dir_okay=spec.path == "dir", file_okay=spec.path == "file", exists=spec.path == "file", path_type=Path
        )
    if spec.choices is not None:
        return click.Choice(list(spec.choices))
    low = spec.ge if spec.ge is not None else spec.gt
    if kind == "int" and (low is not None or spec.le is not None):
        return click.IntRange(None if low is None else int(low), None if spec.le is None else int(spec.le))
    if kind == "float" and (low is not None or spec.le is not None):
        return click.FloatRange(low, spec.le, min_open=spec.gt is not None)
    return {"int": int, "float": float}.get(kind)


def setting_option(name: str, **overrides: Any) -> Callable[[F], F]:
    """The click option of the setting ``name``, from its declaration in ``Settings`` (``overrides``: another
    help or default for a command that uses it differently)."""
    field = Settings.__dataclass_fields__[name]
    spec: Option = field.metadata["option"]
    flag = spec.flag or "--" + name.replace("_", "-")
    decls = [f"{flag}/--no-{flag[2:]}"] if spec.switch else [flag]
    kwargs: dict[str, Any] = {
        "default": field.default if not spec.multiple else (),
        "envvar": spec.env or "EMULATOR_" + name.upper(),
        "show_envvar": True,
        "multiple": spec.multiple,
        "type": _click_type(field, spec),
        "help": spec.help,
    }
    kwargs.update(overrides)
    return click.option(*decls, name, **kwargs)


def setting_options(names: Iterable[str]) -> Callable[[F], F]:
    def decorate(command: F) -> F:
        for name in reversed(list(names)):
            command = setting_option(name)(command)
        return command

    return decorate


@cli.command(epilog=EXAMPLE)
@setting_options(f.name for f, _ in options())
def serve(**given: Any) -> None:
    """Serve the emulator (uvicorn).

    Safe on a laptop by default: only loopback names, IP addresses, --host and --allowed-host are served (DNS
    rebinding); a browser request from another origin cannot change state (403 AccessDenied); snapshot,
    restore and seed paths stay inside the data dir and --control-path folders.
    """
    gc.disable()  # start-up makes long-lived objects, not garbage: no collection until the app is up (app.resume_gc)
    from emulator.db import DamagedDatabase, SchemaTooNew, check_database_file, check_writable_dir

    settings = _settings(given)
    db, faults_file, responses_file = settings.db, settings.faults_file, settings.responses_file
    models_file = settings.models_file
    if faults_file is not None:
        from emulator.rules.faults import load_rules

        try:
            rules = load_rules(faults_file)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from None
        if len(rules) > settings.max_fault_rules:
            raise click.BadParameter(
                f"{len(rules)} rules, more than --max-fault-rules {settings.max_fault_rules}", param_hint="--faults"
            )
    if responses_file is not None:
        from emulator.rules.responses import load_rules as load_responses

        try:
            load_responses(responses_file)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--responses") from None
    if models_file is not None:
        from emulator.catalog import CatalogError, load_catalog
        from emulator.catalog.handlers import read_models_file

        try:
            load_catalog().add_user_models(read_models_file(models_file))
        except (CatalogError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="--models") from None
        load_catalog().reset_user_models()
    click.echo(
        f"dashscope-emulator {__version__}: db={db} data-dir={settings.data_dir or 'default'} "
        f"time-scale={settings.time_scale} seed={settings.seed} workers={settings.workers} "
        f"api-keys={'any' if not settings.api_keys else len(settings.api_keys)}",
        err=True,
    )
    try:
        check_database_file(db)
        if settings.data_dir is not None or not settings.in_memory:
            check_writable_dir(settings.resolved_data_dir(), "--data-dir")
    except (SchemaTooNew, DamagedDatabase) as exc:
        raise click.ClickException(str(exc)) from None
    if settings.port:
        check_port_free(settings.host, settings.port)
    import uvicorn  # the heavy imports come after the checks, so a damaged environment is refused at once

    from emulator.app import SETTINGS_ENV, create_app

    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 3,
        "http": "emulator.protocol:BoundedHttpToolsProtocol",
        "ws": "none",  # no WebSocket endpoint: uvicorn's "auto" would import websockets (~35 ms of start-up)
        "h11_max_incomplete_event_size": settings.max_header_bytes,  # read by that protocol too
    }
    if settings.workers == 1:
        from emulator.protocol import use_head_timeout

        use_head_timeout(settings.head_timeout)
        app = create_app(settings)
        app.state.resume_gc = True
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    if settings.in_memory:
        raise click.UsageError("--workers > 1 needs a database file: workers cannot share ':memory:'")
    (settings.resolved_data_dir() / "clock.json").unlink(missing_ok=True)  # the first worker republishes it
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run("emulator.app:create_app_from_env", factory=True, workers=settings.workers, **common)  # type: ignore[arg-type]


def _settings(given: dict[str, Any]) -> Settings:
    """The options as settings; a value click let through but a setting refuses (``--callback-host``) is a usage
    error."""
    try:
        return Settings(**{**given, "admin_token": given["admin_token"] or None})
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def check_port_free(host: str, port: int) -> None:
    """Refuse a port that is taken with what to do instead of uvicorn's raw "[Errno 98]" (bound as uvicorn binds,
    with SO_REUSEADDR, and let go at once)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return  # uvicorn reports a host it cannot resolve itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(
                    f"port {port} on {host} is already in use (another dashscope-emulator?). Pick another one: "
                    f"--port {port + 1} (EMULATOR_PORT={port + 1}; with make: make serve PORT={port + 1}), or "
                    "--port 0 for any free port."
                ) from None
            if exc.errno == errno.EACCES:
                raise click.ClickException(
                    f"port {port} on {host} needs more privileges than this user has; use a port above 1023, "
                    "e.g. --port 8000, or --port 0 for any free port."
                ) from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@cli.command()
@click.argument("world", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@setting_option("db", help="The SQLite file to load the world into (created if missing).")
@setting_option("data_dir", help="Where uploaded files are kept  [default: 'files' beside --db]")
@setting_option("seed", help="Deterministic ids (use the same --seed to serve).")
@setting_option(
    "start_time", help="Unix time the emulated clock starts at on a fresh database  [default: now, or the --seed start]"
)
@click.option("--reset/--no-reset", default=False, help="Wipe the database's state first.")
def seed(world: Path, db: str, data_dir: Path | None, seed: int | None, start_time: float | None, reset: bool) -> None:
    """Load a ready world (e.g. fixtures/world.json) into --db through the services; prints what it made as JSON."""
    import asyncio

    from emulator.control.seed import dumps
    from emulator.errors import ApiError

    if db == ":memory:":
        raise click.UsageError("seeding ':memory:' would be thrown away; give --db a file")
    settings = Settings(db=db, data_dir=data_dir, seed=seed, start_time=start_time, time_scale=0.0)
    from emulator.db import DamagedDatabase, SchemaTooNew, check_database_file

    try:
        check_database_file(db)
    except (SchemaTooNew, DamagedDatabase) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        summary = asyncio.run(_seed_offline(settings, world, reset))
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(dumps(summary))


async def _seed_offline(settings: Settings, world: Path, reset: bool) -> dict[str, object]:
    """The app's runtime on the database, its clock frozen and its own (a server on the same db keeps its speed)."""
    from emulator.app import running
    from emulator.control import service

    async with running(settings) as (rt, services):
        result = await service.seed(rt, services, world, reset_first=reset, confined=False)
    return result.model_dump()


@cli.command()
@click.option("--upstream", required=True, help="The service to forward to, e.g. https://dashscope.aliyuncs.com")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder the exchanges are written to (one JSON file each, numbered on from what is there).",
)
@click.option("--host", default="127.0.0.1", help="Interface to bind.")
@click.option("--port", default=8100, type=click.IntRange(0, 65535), help="TCP port of the proxy.")
def record(upstream: str, out: Path, host: str, port: int) -> None:
    """Record real traffic: a proxy that forwards every request to --upstream and writes each exchange.

    Point the client at the proxy (DASHSCOPE_HTTP_BASE_URL=http://HOST:PORT/api/v1, or the compatible-mode base
    URL); answers come back unchanged, streams frame by frame. API keys, signatures, OSS policies and account ids
    are redacted from what is written. Replay the folder with `dashscope-emulator verify`.
    """
    import uvicorn

    from emulator.conformance.record import Recorder

    if not upstream.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="--upstream")
    click.echo(f"dashscope-emulator record: http://{host}:{port} -> {upstream}, writing to {out}", err=True)
    uvicorn.run(Recorder(upstream, out), host=host, port=port, log_level="warning", ws="none", lifespan="on")


@cli.command()
@click.argument("corpus", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--against", default=None, help="Base URL of a running emulator  [default: start a fresh one]")
@click.option("--api-key", default="sk-verify", help="Key the replayed requests carry.")
@click.option("--admin-token", default=None, help="The emulator's --admin-token, if it has one.")
@click.option(
    "--expected",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON of endpoints not served and deliberate differences (format: tests/conformance/expected.json).",
)
@click.option("--verbose", is_flag=True, help="Also print the deliberate differences.")
def verify(
    corpus: Path, against: str | None, api_key: str, admin_token: str | None, expected: Path | None, verbose: bool
) -> None:
    """Replay recorded exchanges (a `record` folder, or the public corpus) and print each structural difference.

    Compares status, error code, content type, key paths and value types, enum values, id and time formats,
    SSE framing, incremental or not and the final event, never values. Exits 1 when anything differs.
    """
    from emulator.conformance import corpus as corpus_files
    from emulator.conformance.replay import DIFFERS, ERROR, Expectations, Replayer, report, summary

    exchanges = corpus_files.load(corpus)
    if not exchanges:
        raise click.ClickException(f"no exchanges in {corpus}")
    expectations = Expectations.load(expected)

    def run(url: str) -> str:
        with Replayer(url, api_key=api_key, control_url=url, admin_token=admin_token) as replayer:
            outcomes = replayer.run(exchanges, expectations)
        counts = summary(outcomes)
        click.echo(report(outcomes, verbose=verbose))
        return "fail" if counts[DIFFERS] or counts[ERROR] else "ok"

    if against is not None:
        verdict = run(against)
    else:
        from emulator.testing import EmulatorServer

        with EmulatorServer(api_key=api_key, extra_args=("--api-key", api_key)) as server:
            verdict = run(server.url)
    if verdict != "ok":
        raise SystemExit(1)


def main() -> None:
    cli(prog_name="dashscope-emulator")


if __name__ == "__main__":
    main()
