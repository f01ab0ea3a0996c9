"""Server settings: one validated object, built by the CLI (flags or EMULATOR_* variables) or by tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from emulator.clock import MAX_EMULATED_TIME

DEFAULT_TIME_SCALE = 60.0
"""Emulated seconds per wall second: a small fine-tune (a few minutes of emulated work) takes a few wall seconds."""

DEFAULT_DB = Path(".data/emulator.db")
DEFAULT_DATA_DIR = Path(".data/files")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    db: str = str(DEFAULT_DB)
    data_dir: Path | None = None
    time_scale: float = Field(DEFAULT_TIME_SCALE, ge=0)
    seed: int | None = None
    start_time: float | None = Field(default=None, ge=0, le=MAX_EMULATED_TIME)
    api_keys: tuple[str, ...] = ()
    admin_token: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    control_paths: tuple[Path, ...] = ()
    strict: bool = False
    control_plane: bool = True
    faults_file: Path | None = None
    responses_file: Path | None = None
    models_file: Path | None = None
    journal_size: int = Field(1000, ge=0)
    pending_seconds: float = Field(5.0, ge=0)
    max_file_bytes: int = 300 * 1024 * 1024
    max_tenant_bytes: int = 5 * 1024 * 1024 * 1024
    max_tenant_files: int = 100
    max_deployment_capacity: int = Field(32, ge=1)
    max_json_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=64, ge=2, le=512)
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    max_fault_rules: int = Field(default=1000, ge=1)
    log_level: str = "info"
    workers: int = Field(1, ge=1, le=64)
    heartbeat_seconds: float = Field(15.0, gt=0, le=300)

    @property
    def in_memory(self) -> bool:
        return self.db == ":memory:"

    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        if self.in_memory:
            raise ValueError("an in-memory database needs an explicit data_dir")
        return Path(self.db).parent / "files"
