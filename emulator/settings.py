"""Server settings: one validated, frozen object, built by the CLI (flags or EMULATOR_* variables) or by tests.

Each setting is declared once, here: its type, default, bounds and help.  ``serve`` derives its options from these
declarations (``emulator.__main__``), and ``seed`` reuses the ones it needs, so a flag, its variable, its range and
its help cannot drift from the setting.  A plain frozen dataclass, not a pydantic model: the settings are the
first thing a server builds, and as a model they built the first pydantic validator of every start (with
pydantic's scan of every installed package for plugins; ``bench/NOTES.md``, start-up).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.clock import MAX_EMULATED_TIME

DEFAULT_TIME_SCALE = 60.0
"""Emulated seconds per wall second: a small fine-tune (a few minutes of emulated work) takes a few wall seconds."""

DEFAULT_DB = Path(".data/emulator.db")
DEFAULT_DATA_DIR = Path(".data/files")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")


@dataclass(frozen=True)
class Option:
    """How a setting is given on the command line (``serve``), and what it accepts."""

    help: str | None = None
    flag: str | None = None
    """Default ``--<name with dashes>``; ``multiple`` settings are named in the singular (``--api-key``)."""
    env: str | None = None
    """Default ``EMULATOR_<NAME>``."""
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    choices: tuple[str, ...] | None = None
    multiple: bool = False
    """Repeatable; the variable takes a space-separated list."""
    switch: bool = False
    """A ``--name/--no-name`` pair."""
    path: str | None = None
    """``"file"`` (an existing file) or ``"dir"``."""
    cli: bool = True
    """False: a setting for tests and the app factory only."""


def option(default: Any, **spec: Any) -> Any:
    return dataclasses.field(default=default, metadata={"option": Option(**spec)})


@dataclass(frozen=True)
class Settings:
    host: str = option("127.0.0.1", help="Interface to bind.")
    port: int = option(8000, ge=0, le=65535, help="TCP port (0 picks a free one).")
    db: str = option(
        str(DEFAULT_DB), help="SQLite file holding all state (survives restarts); ':memory:' for a throwaway run."
    )
    data_dir: Path | None = option(
        None,
        path="dir",
        help="Where uploaded files are kept  [default: 'files' beside --db; a temp dir for :memory:]",
    )
    time_scale: float = option(
        DEFAULT_TIME_SCALE,
        ge=0,
        help="Emulated seconds per wall second; 0 freezes the clock (move it with POST /_emulator/clock/advance).",
    )
    seed: int | None = option(
        None,
        help="Deterministic ids, logs and generated text; the clock then starts at 2024-10-12 11:55:00 "
        "Beijing time unless --start-time is given.",
    )
    start_time: float | None = option(
        None,
        ge=0,
        le=MAX_EMULATED_TIME,
        help="Unix time the emulated clock starts at on a fresh database  [default: now]",
    )
    api_keys: tuple[str, ...] = option(
        (),
        multiple=True,
        flag="--api-key",
        help="Accept only this key (repeatable; the variable takes a space-separated list). Without it any "
        "non-empty key is accepted and each key is its own tenant.",
    )
    strict: bool = option(
        False,
        switch=True,
        help="Refuse at request time what the real service accepts and fails later (unsupported model x "
        "method at create, an upload whose every file fails).",
    )
    pending_seconds: float = option(
        5.0, ge=0, help="Emulated seconds a new fine-tune job stays PENDING before it queues or runs."
    )
    batch_line_seconds: float = option(
        0.02,
        ge=0,
        le=86400,
        help="Emulated seconds each line of an OpenAI-compatible batch takes; a batch whose lines do not fit its "
        "completion_window expires (status expired, the lines not run in its error file as batch_expired).",
    )
    workers: int = option(
        1,
        ge=1,
        le=64,
        help="uvicorn worker processes sharing the SQLite db; the emulated clock is shared through the data "
        "dir. The request journal and fault rules are per worker.",
    )
    heartbeat_seconds: float = option(
        15.0,
        ge=0.05,
        le=300,
        help="Wall seconds between SSE heartbeat comments on idle streams (the SDKs give up after 300).",
    )
    faults_file: Path | None = option(
        None,
        path="file",
        flag="--faults",
        env="EMULATOR_FAULTS",
        help="JSON list of fault rules to load at start (see POST /_emulator/faults); a whole reset returns to them.",
    )
    responses_file: Path | None = option(
        None,
        path="file",
        flag="--responses",
        env="EMULATOR_RESPONSES",
        help="JSON list of response rules to load at start (see POST /_emulator/responses); a whole reset "
        "returns to them.",
    )
    models_file: Path | None = option(
        None,
        path="file",
        flag="--models",
        env="EMULATOR_MODELS",
        help="JSON or YAML list of models to add to the catalog or override (see POST /_emulator/models and "
        "docs/conformance.md); GET /_emulator/models lists the catalog.",
    )
    journal_size: int = option(
        1000, ge=0, help="Public requests kept by the request journal (GET /_emulator/requests); 0 turns it off."
    )
    admin_token: str | None = option(
        None,
        help="Protect /_emulator/* (but the health check) with this token: Authorization: Bearer <token> or "
        "X-Emulator-Token; the dashboard asks for it once and keeps an HttpOnly SameSite=Strict cookie.",
    )
    allowed_hosts: tuple[str, ...] = option(
        (),
        multiple=True,
        flag="--allowed-host",
        help="Also serve requests whose Host is this name (repeatable; the variable takes a space-separated "
        "list). Loopback names, IP addresses and --host are always served; '*' serves any name (turns off the "
        "DNS rebinding guard).",
    )
    callback_hosts: tuple[str, ...] = option(
        (),
        multiple=True,
        flag="--callback-host",
        help="Also POST batch finish callbacks (metadata.ds_batch_finish_callback) to this host (repeatable, or "
        "comma-separated). Without it they go to loopback hosts only, and only when --host is loopback; '*' "
        "allows any host, 'none' sends none. GET /_emulator/callbacks lists every attempt.",
    )
    control_paths: tuple[Path, ...] = option(
        (),
        multiple=True,
        path="dir",
        flag="--control-path",
        help="A folder POST /_emulator/snapshot, /restore and /seed may use besides the data dir (repeatable; "
        "the variable takes a space-separated list).",
    )
    max_tenant_files: int = option(100, ge=1, help="Files one tenant may keep at once (the service's quota).")
    max_tenant_bytes: int = option(5 * 1024**3, ge=1, help="Bytes one tenant's files may take in all (quota: 5 GiB).")
    max_file_bytes: int = option(
        300 * 1024 * 1024, ge=1, help="Largest single file an upload accepts (limit: 300 MiB)."
    )
    max_json_bytes: int = option(
        16 * 1024 * 1024,
        ge=1024,
        help="Largest JSON request body (API and control plane); past it 413, while the body is still arriving.",
    )
    max_json_depth: int = option(
        64, ge=2, le=512, help="Deepest nesting of arrays/objects in a JSON body; past it 400."
    )
    max_header_bytes: int = option(
        32 * 1024,
        ge=1024,
        le=1024 * 1024,
        help="Largest request line plus headers; past it 431 and the connection is closed.",
    )
    head_timeout: float = option(
        10.0,
        ge=0.05,
        le=3600,
        help="Wall seconds a request's line and headers may take to arrive once their first byte has (the "
        "keep-alive timeout stops at that byte); past it 408 and the connection is closed.",
    )
    max_fault_rules: int = option(
        1000,
        ge=1,
        help="Fault rules that may be set at once (every public request walks them); past it 400 BadRequest.TooMany.",
    )
    tool_policy: bool = option(
        True,
        switch=True,
        help="tool_choice auto/required call the tools the last user message relates to, and answers after tool "
        "results quote them (docs/structured-output-and-tools.md); off: only a named or required tool is called.",
    )
    """``tool_choice: auto``/``required`` call tools the last message relates to (``generation.tools``)."""
    log_level: str = option("info", choices=LOG_LEVELS)
    max_deployment_capacity: int = option(32, ge=1, cli=False)
    control_plane: bool = option(True, cli=False)

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            value = _coerce(spec, getattr(self, spec.name))
            object.__setattr__(self, spec.name, value)
            _check(spec.name, spec.metadata["option"], value)
        _check_callback_hosts(self.callback_hosts)

    @property
    def in_memory(self) -> bool:
        return self.db == ":memory:"

    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        if self.in_memory:
            raise ValueError("an in-memory database needs an explicit data_dir")
        return Path(self.db).parent / "files"

    def to_json(self) -> str:
        """What ``--workers`` hands each worker process (``from_json`` reads it back)."""
        return json.dumps({f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))


def options() -> list[tuple[dataclasses.Field[Any], Option]]:
    """The settings given on the command line, in ``--help`` order."""
    return [(f, f.metadata["option"]) for f in dataclasses.fields(Settings) if f.metadata["option"].cli]


def _coerce(spec: dataclasses.Field[Any], value: Any) -> Any:
    kind = str(spec.type)
    if value is None:
        return value
    if kind.startswith("tuple["):
        items = (value,) if isinstance(value, str | Path) else tuple(value)
        return tuple(Path(v) for v in items) if "Path" in kind else tuple(str(v) for v in items)
    if kind.startswith("Path") and isinstance(value, str):
        return Path(value)
    if kind.startswith("float") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (float,), "bool": (bool,)}


def _check(name: str, spec: Option, value: Any) -> None:
    if value is None:
        return
    kind = _base_type(name)
    allowed = _TYPES.get(kind)
    if allowed is not None and (not isinstance(value, allowed) or (kind == "int" and isinstance(value, bool))):
        raise ValueError(f"{name}: expected {kind}, got {value!r}")
    if spec.ge is not None and value < spec.ge:
        raise ValueError(f"{name}: must be >= {spec.ge:g} (got {value!r})")
    if spec.gt is not None and value <= spec.gt:
        raise ValueError(f"{name}: must be > {spec.gt:g} (got {value!r})")
    if spec.le is not None and value > spec.le:
        raise ValueError(f"{name}: must be <= {spec.le:g} (got {value!r})")
    if spec.choices is not None and value not in spec.choices:
        raise ValueError(f"{name}: must be one of {', '.join(spec.choices)} (got {value!r})")


def _check_callback_hosts(hosts: tuple[str, ...]) -> None:
    """Each ``--callback-host`` is ``*``, ``none``, a host name or an IP address: no scheme, port or path."""
    import ipaddress

    for host in (h.strip() for item in hosts for h in item.split(",")):
        if not host or host in ("*", "none") or (":" not in host and _HOST_NAME.fullmatch(host)):
            continue
        try:
            ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        except ValueError:
            raise ValueError(
                f"callback_hosts: {host!r} is not a host name or an IP address (give no scheme, port or path)"
            ) from None


def _base_type(name: str) -> str:
    return str(Settings.__dataclass_fields__[name].type).replace(" | None", "")


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value
