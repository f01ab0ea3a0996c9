"""Each setting is declared once (``emulator.settings``): ``serve``'s options, their variables and ranges come from
it, the worker hand-over round-trips it, and a value out of range is refused with the setting's name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import click.testing
import pytest

from emulator.__main__ import seed, serve
from emulator.settings import Settings, options


def test_every_cli_setting_is_an_option_of_serve() -> None:
    by_name = {p.name: p for p in serve.params if isinstance(p, click.Option)}
    assert sorted(by_name) == sorted(f.name for f, _ in options())
    for field, spec in options():
        option = by_name[field.name]
        assert option.help == spec.help and option.multiple == spec.multiple
        assert option.envvar == (spec.env or "EMULATOR_" + field.name.upper())
        if not spec.multiple:
            assert option.default == field.default
    assert {"control_plane", "max_deployment_capacity"}.isdisjoint(by_name)  # app-factory settings only


def test_seed_reuses_the_declarations_with_its_own_help() -> None:
    by_name = {p.name: p for p in seed.params if isinstance(p, click.Option)}
    serve_options = {p.name: p for p in serve.params if isinstance(p, click.Option)}
    for name in ("db", "data_dir", "seed", "start_time"):
        assert by_name[name].envvar == serve_options[name].envvar
        assert by_name[name].type.to_info_dict() == serve_options[name].type.to_info_dict()
    assert by_name["db"].help != serve_options["db"].help


def test_the_cli_ranges_are_the_settings_ranges() -> None:
    port = next(p for p in serve.params if p.name == "port")
    assert isinstance(port.type, click.IntRange) and (port.type.min, port.type.max) == (0, 65535)
    with pytest.raises(ValueError, match="port"):
        Settings(port=70000)
    with pytest.raises(ValueError, match="heartbeat_seconds"):
        Settings(heartbeat_seconds=0.01)
    with pytest.raises(ValueError, match="log_level"):
        Settings(log_level="loud")
    with pytest.raises(ValueError, match="workers"):
        Settings(workers=True)  # a bool is not a count


def test_the_worker_hand_over_round_trips(tmp_path: Path) -> None:
    settings = Settings(
        db=str(tmp_path / "e.db"),
        data_dir=tmp_path / "files",
        api_keys=("sk-a", "sk-b"),
        control_paths=(tmp_path,),
        time_scale=0,
        seed=5,
        faults_file=tmp_path / "faults.json",
    )
    again = Settings.from_json(settings.to_json())
    assert again == settings and isinstance(again.data_dir, Path) and again.control_paths == (tmp_path,)
    assert again.time_scale == 0.0 and isinstance(again.time_scale, float)
    assert dataclasses.replace(settings, seed=6).seed == 6


def test_the_head_timeout_is_a_setting_each_worker_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--head-timeout`` (was the constant ``HEAD_SECONDS``): a worker process builds its app from the settings in
    the env and applies the timeout to the connections it serves (one worker: ``serve`` applies it)."""
    from emulator.app import SETTINGS_ENV, create_app_from_env
    from emulator.protocol import HEAD_SECONDS, BoundedHttpToolsProtocol

    assert Settings().head_timeout == HEAD_SECONDS == BoundedHttpToolsProtocol.head_seconds
    assert "--head-timeout" in {opt.opts[0] for opt in serve.params if isinstance(opt, click.Option)}
    with pytest.raises(ValueError, match="head_timeout"):
        Settings(head_timeout=0)
    monkeypatch.setattr(BoundedHttpToolsProtocol, "head_seconds", HEAD_SECONDS)
    settings = Settings(db=str(tmp_path / "e.db"), data_dir=tmp_path / "files", head_timeout=2.5)
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    create_app_from_env()
    assert BoundedHttpToolsProtocol.head_seconds == 2.5


def test_callback_hosts_are_names_or_addresses() -> None:
    assert Settings(callback_hosts=("hooks.internal,10.0.0.5", "[::1]", "*", "none")).callback_hosts[0] == (
        "hooks.internal,10.0.0.5"
    )
    for bad in ("http://hooks.internal", "hooks.internal:8080", "hooks/x", "a b"):
        with pytest.raises(ValueError, match="callback_hosts"):
            Settings(callback_hosts=(bad,))
    refused = click.testing.CliRunner().invoke(serve, ["--callback-host", "https://x", "--port", "0"])
    assert refused.exit_code == 2 and "is not a host name or an IP address" in refused.output
