"""Configuration from ``SANMIN_*`` environment variables or a TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Everything an installation can set. Defaults are safe and need no file.

    Environment variables win over ``sanmin.toml`` in the working directory
    (or the file named by ``SANMIN_CONFIG_FILE``).
    """

    model_config = SettingsConfigDict(env_prefix="SANMIN_", extra="forbid")

    database_url: str = Field(
        default="sqlite:///./sanmin.db",
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host/db",
    )
    disabled_plugins: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="comma-separated plugins never loaded, whatever the township settings",
    )
    load_plugins: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        default=None, description="when set, the only entry-point plugins loaded (comma-separated)"
    )
    toggle_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        le=2.0,
        description="how often a process checks for plugin-setting changes made elsewhere",
    )
    secret_key: str | None = Field(
        default=None,
        description="signs session cookies; when unset, a key is made once and kept in the "
        "database, shared by every process",
    )
    archive_key: str | None = Field(
        default=None,
        description="encrypts ID numbers in the archive (at least 32 characters, kept outside "
        "the database); when unset, a key is made once and kept in the database (demo only)",
    )
    auto_migrate: bool = Field(
        default=False, description="apply migrations at start-up (demo and tests only)"
    )
    run_worker_in_process: bool = Field(
        default=False,
        description="deliver events and run jobs inside each server process (the demo turns "
        "it on); otherwise run `sanmin worker`",
    )
    worker_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="how often a runner looks for due events and jobs (the in-process runner "
        "is also woken by each commit that emits events)",
    )
    worker_retention_days: int = Field(
        default=30, ge=1, description="delivered events and job runs older than this are deleted"
    )
    # Open311 (core/tickets/open311.py): the jurisdiction a client that sends no
    # jurisdiction_id means, for an installation that serves one township to such clients
    open311_jurisdiction: str | None = Field(
        default=None,
        pattern=r"^[0-9]{12}$",
        description="Open311 default jurisdiction_id: a township's 12-digit code",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA time zone of the installation: where a day starts for metrics",
    )

    attachment_dir: Path = Field(
        default=Path("attachments"),
        description="where tickets' photos are kept (a relative path is taken from the working "
        "directory, like the default SQLite file); every server process must see the same one",
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1,
        le=1024 * 1024 * 1024,
        description="the largest photo accepted, in bytes (10 MiB by default)",
    )

    @field_validator("disabled_plugins", mode="before")
    @classmethod
    def _split_set(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("load_plugins", mode="before")
    @classmethod
    def _split_tuple(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        toml_file = Path(os.environ.get("SANMIN_CONFIG_FILE", "sanmin.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )
