"""Command line: ``dashscope-emulator serve`` (also ``python -m emulator serve``).

Every option can also come from an ``EMULATOR_*`` environment variable, shown in ``--help``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from emulator import __version__
from emulator.clock import MAX_EMULATED_TIME
from emulator.settings import DEFAULT_DB, DEFAULT_TIME_SCALE, Settings

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
    generation, native and OpenAI-compatible, with a test-control plane."""


@cli.command(epilog=EXAMPLE)
@click.option("--host", default="127.0.0.1", envvar="EMULATOR_HOST", show_envvar=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8000,
    type=click.IntRange(0, 65535),
    envvar="EMULATOR_PORT",
    show_envvar=True,
    help="TCP port (0 picks a free one).",
)
@click.option(
    "--db",
    default=str(DEFAULT_DB),
    envvar="EMULATOR_DB",
    show_envvar=True,
    help="SQLite file holding all state (survives restarts); ':memory:' for a throwaway run.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="EMULATOR_DATA_DIR",
    show_envvar=True,
    help="Where uploaded files are kept  [default: 'files' beside --db; a temp dir for :memory:]",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIME_SCALE,
    envvar="EMULATOR_TIME_SCALE",
    show_envvar=True,
    help="Emulated seconds per wall second; 0 freezes the clock (move it with POST /_emulator/clock/advance).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    envvar="EMULATOR_SEED",
    show_envvar=True,
    help="Deterministic ids, logs and generated text; the clock then starts at 2024-10-12 11:55:00 "
    "Beijing time unless --start-time is given.",
)
@click.option(
    "--start-time",
    type=click.FloatRange(0, MAX_EMULATED_TIME),
    default=None,
    envvar="EMULATOR_START_TIME",
    show_envvar=True,
    help="Unix time the emulated clock starts at on a fresh database  [default: now]",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    envvar="EMULATOR_API_KEYS",
    show_envvar=True,
    help="Accept only this key (repeatable; the variable takes a space-separated list). Without it any "
    "non-empty key is accepted and each key is its own tenant.",
)
@click.option(
    "--strict/--no-strict",
    default=False,
    envvar="EMULATOR_STRICT",
    show_envvar=True,
    help="Refuse at request time what the real service accepts and fails later (unsupported model x "
    "method at create, an upload whose every file fails).",
)
@click.option(
    "--pending-seconds",
    type=click.FloatRange(min=0),
    default=5.0,
    envvar="EMULATOR_PENDING_SECONDS",
    show_envvar=True,
    help="Emulated seconds a new fine-tune job stays PENDING before it queues or runs.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    envvar="EMULATOR_WORKERS",
    show_envvar=True,
    help="uvicorn worker processes sharing the SQLite db; the emulated clock is shared through the data "
    "dir. The request journal and fault rules are per worker.",
)
@click.option(
    "--heartbeat-seconds",
    type=click.FloatRange(min=0.05, max=300),
    default=15.0,
    envvar="EMULATOR_HEARTBEAT_SECONDS",
    show_envvar=True,
    help="Wall seconds between SSE heartbeat comments on idle streams (the SDKs give up after 300).",
)
@click.option(
    "--faults",
    "faults_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    envvar="EMULATOR_FAULTS",
    show_envvar=True,
    help="JSON list of fault rules to load at start (see POST /_emulator/faults); a whole reset returns to them.",
)
@click.option(
    "--responses",
    "responses_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    envvar="EMULATOR_RESPONSES",
    show_envvar=True,
    help="JSON list of response rules to load at start (see POST /_emulator/responses); a whole reset returns to them.",
)
@click.option(
    "--journal-size",
    type=click.IntRange(min=0),
    default=1000,
    envvar="EMULATOR_JOURNAL_SIZE",
    show_envvar=True,
    help="Public requests kept by the request journal (GET /_emulator/requests); 0 turns it off.",
)
@click.option(
    "--admin-token",
    default=None,
    envvar="EMULATOR_ADMIN_TOKEN",
    show_envvar=True,
    help="Protect /_emulator/* (but the health check) with this token: Authorization: Bearer <token> or "
    "X-Emulator-Token; the dashboard asks for it once and keeps an HttpOnly SameSite=Strict cookie.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    envvar="EMULATOR_ALLOWED_HOSTS",
    show_envvar=True,
    help="Also serve requests whose Host is this name (repeatable; the variable takes a space-separated "
    "list). Loopback names, IP addresses and --host are always served; '*' serves any name (turns off the "
    "DNS rebinding guard).",
)
@click.option(
    "--control-path",
    "control_paths",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    envvar="EMULATOR_CONTROL_PATHS",
    show_envvar=True,
    help="A folder POST /_emulator/snapshot, /restore and /seed may use besides the data dir (repeatable; "
    "the variable takes a space-separated list).",
)
@click.option(
    "--max-tenant-files",
    type=click.IntRange(min=1),
    default=100,
    show_envvar=True,
    envvar="EMULATOR_MAX_TENANT_FILES",
    help="Files one tenant may keep at once (the service's quota).",
)
@click.option(
    "--max-tenant-bytes",
    type=click.IntRange(min=1),
    default=5 * 1024**3,
    show_envvar=True,
    envvar="EMULATOR_MAX_TENANT_BYTES",
    help="Bytes one tenant's files may take in all (quota: 5 GiB).",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(min=1),
    default=300 * 1024 * 1024,
    show_envvar=True,
    envvar="EMULATOR_MAX_FILE_BYTES",
    help="Largest single file an upload accepts (limit: 300 MiB).",
)
@click.option(
    "--max-json-bytes",
    type=click.IntRange(min=1024),
    default=16 * 1024 * 1024,
    show_envvar=True,
    envvar="EMULATOR_MAX_JSON_BYTES",
    help="Largest JSON request body (API and control plane); past it 413, while the body is still arriving.",
)
@click.option(
    "--max-json-depth",
    type=click.IntRange(2, 512),
    default=64,
    show_envvar=True,
    envvar="EMULATOR_MAX_JSON_DEPTH",
    help="Deepest nesting of arrays/objects in a JSON body; past it 400.",
)
@click.option(
    "--max-header-bytes",
    type=click.IntRange(1024, 1024 * 1024),
    default=32 * 1024,
    show_envvar=True,
    envvar="EMULATOR_MAX_HEADER_BYTES",
    help="Largest request line plus headers; past it 431 and the connection is closed.",
)
@click.option(
    "--max-fault-rules",
    type=click.IntRange(min=1),
    default=1000,
    show_envvar=True,
    envvar="EMULATOR_MAX_FAULT_RULES",
    help="Fault rules that may be set at once (every public request walks them); past it 400 BadRequest.TooMany.",
)
@click.option(
    "--log-level",
    default="info",
    envvar="EMULATOR_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    host: str,
    port: int,
    db: str,
    data_dir: Path | None,
    time_scale: float,
    seed: int | None,
    start_time: float | None,
    api_keys: tuple[str, ...],
    strict: bool,
    pending_seconds: float,
    workers: int,
    heartbeat_seconds: float,
    faults_file: Path | None,
    responses_file: Path | None,
    journal_size: int,
    admin_token: str | None,
    allowed_hosts: tuple[str, ...],
    control_paths: tuple[Path, ...],
    max_tenant_files: int,
    max_tenant_bytes: int,
    max_file_bytes: int,
    max_json_bytes: int,
    max_json_depth: int,
    max_header_bytes: int,
    max_fault_rules: int,
    log_level: str,
) -> None:
    """Serve the emulator (uvicorn).

    Safe on a laptop by default: only loopback names, IP addresses, --host and --allowed-host are served (DNS
    rebinding); a browser request from another origin cannot change state (403 AccessDenied); snapshot,
    restore and seed paths stay inside the data dir and --control-path folders.
    """
    from emulator.db import DamagedDatabase, SchemaTooNew, check_database_file, check_writable_dir

    settings = Settings(
        host=host,
        port=port,
        db=db,
        data_dir=data_dir,
        time_scale=time_scale,
        seed=seed,
        start_time=start_time,
        api_keys=api_keys,
        strict=strict,
        pending_seconds=pending_seconds,
        workers=workers,
        heartbeat_seconds=heartbeat_seconds,
        log_level=log_level,
        max_tenant_files=max_tenant_files,
        max_tenant_bytes=max_tenant_bytes,
        max_file_bytes=max_file_bytes,
        max_json_bytes=max_json_bytes,
        max_json_depth=max_json_depth,
        max_header_bytes=max_header_bytes,
        max_fault_rules=max_fault_rules,
        faults_file=faults_file,
        responses_file=responses_file,
        journal_size=journal_size,
        admin_token=admin_token or None,
        allowed_hosts=allowed_hosts,
        control_paths=control_paths,
    )
    if faults_file is not None:
        from emulator.rules.faults import load_rules

        try:
            rules = load_rules(faults_file)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from None
        if len(rules) > max_fault_rules:
            raise click.BadParameter(
                f"{len(rules)} rules, more than --max-fault-rules {max_fault_rules}", param_hint="--faults"
            )
    if responses_file is not None:
        from emulator.rules.responses import load_rules as load_responses

        try:
            load_responses(responses_file)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--responses") from None
    click.echo(
        f"dashscope-emulator {__version__}: db={db} data-dir={settings.data_dir or 'default'} "
        f"time-scale={time_scale} seed={seed} workers={workers} "
        f"api-keys={'any' if not api_keys else len(api_keys)}",
        err=True,
    )
    try:
        check_database_file(db)
        if data_dir is not None or not settings.in_memory:
            check_writable_dir(settings.resolved_data_dir(), "--data-dir")
    except (SchemaTooNew, DamagedDatabase) as exc:
        raise click.ClickException(str(exc)) from None
    if port:
        check_port_free(host, port)
    import uvicorn  # the heavy imports come after the checks, so a damaged environment is refused at once

    from emulator.app import SETTINGS_ENV, create_app

    common = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 3,
        "http": "emulator.protocol:BoundedHttpToolsProtocol",
        "ws": "none",  # no WebSocket endpoint: uvicorn's "auto" would import websockets (~35 ms of start-up)
        "h11_max_incomplete_event_size": max_header_bytes,  # read by that protocol too
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
        return
    if settings.in_memory:
        raise click.UsageError("--workers > 1 needs a database file: workers cannot share ':memory:'")
    (settings.resolved_data_dir() / "clock.json").unlink(missing_ok=True)  # the first worker republishes it
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run("emulator.app:create_app_from_env", factory=True, workers=workers, **common)  # type: ignore[arg-type]


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
@click.option(
    "--db",
    default=str(DEFAULT_DB),
    envvar="EMULATOR_DB",
    show_envvar=True,
    help="The SQLite file to load the world into (created if missing).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="EMULATOR_DATA_DIR",
    show_envvar=True,
    help="Where uploaded files are kept  [default: 'files' beside --db]",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    envvar="EMULATOR_SEED",
    show_envvar=True,
    help="Deterministic ids (use the same --seed to serve).",
)
@click.option(
    "--start-time",
    type=click.FloatRange(0, MAX_EMULATED_TIME),
    default=None,
    envvar="EMULATOR_START_TIME",
    show_envvar=True,
    help="Unix time the emulated clock starts at on a fresh database  [default: now, or the --seed start]",
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


def main() -> None:
    cli(prog_name="dashscope-emulator")


if __name__ == "__main__":
    main()
