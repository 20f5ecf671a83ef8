"""Service settings, read from ``NABAT_*`` environment variables or a ``.env`` file.

Built once by the entry point and passed down; never a module global.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Networks = Annotated[list[ipaddress.IPv4Network | ipaddress.IPv6Network], NoDecode]
"""IP networks, written in the environment as comma-separated addresses or CIDRs."""


class Settings(BaseSettings):
    """Everything an operator can set. See README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="NABAT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("var"), description="Where SQLite and the key file live.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at <data_dir>/nabat.db.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts secrets at rest and signs tokens; generated into data_dir if unset.",
    )
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    outbound_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    registration_enabled: bool = False
    jwt_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    login_attempts_per_minute: int = Field(default=5, ge=1)
    trusted_proxies: Networks = Field(
        default_factory=list,
        description="Proxies (IPs or CIDR networks) whose X-Forwarded-For is believed.",
    )
    log_level: str = "INFO"
    run_workers: bool = Field(
        default=True, description="Run delivery workers inside `nabat serve`."
    )
    worker_concurrency: int = Field(default=512, ge=1, le=10_000)
    worker_batch: int = Field(default=1000, ge=1, le=10_000)
    lease_seconds: float = Field(
        default=30.0, gt=0, description="A claim's lease; renewed by the owner's heartbeat."
    )
    heartbeat_seconds: float = Field(
        default=1.0, gt=0, description="How often a delivery process proves it is alive."
    )
    dead_after_seconds: float = Field(
        default=5.0,
        gt=0,
        description="A process silent this long is dead: its leases are taken over.",
    )
    poll_seconds: float = Field(default=0.5, gt=0)
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_cap_seconds: float = Field(default=3600.0, gt=0)
    health_failure_threshold: int = Field(default=3, ge=1)
    scheduler_poll_seconds: float = Field(
        default=5.0, gt=0, description="How often a process looks for due scheduled jobs."
    )
    check_poll_seconds: float = Field(
        default=15.0, gt=0, description="How often a process looks for channels due a check."
    )
    circuit_failure_threshold: int = Field(
        default=5,
        ge=1,
        description="Transient failures in a row after which a channel's circuit opens.",
    )
    circuit_open_seconds: float = Field(
        default=30.0, gt=0, description="How long a circuit first stays open; doubles each time."
    )
    circuit_open_cap_seconds: float = Field(
        default=1800.0, gt=0, description="The longest a circuit stays open before a trial."
    )
    stream_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="A live stream quiet this long sends a comment, so proxies keep it.",
    )
    stream_resync_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often live streams look for changes whose signal was lost.",
    )
    smtp_pool_size: int = Field(default=8, ge=1, le=100)
    dedup_window_seconds: int = Field(default=3600, ge=1, le=30 * 24 * 3600)
    idempotency_hours: int = Field(default=24, ge=1, le=24 * 90)
    inbox_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Inbox items (and the live stream's record of changes) older than "
        "this are removed.",
    )
    db_pool_size: int = Field(
        default=10, ge=1, le=1000, description="Database connections kept open per process."
    )
    db_max_overflow: int = Field(
        default=10, ge=0, le=1000, description="Extra connections opened under load."
    )
    db_pool_timeout: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds a request waits for a free connection before a 503.",
    )
    accept_queue_limit: int = Field(
        default=20_000,
        ge=1,
        description="Events waiting to be stored beyond which producers get a 503.",
    )

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _split_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _check_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"NABAT_OUTBOUND_ALLOW entry {cidr!r} is not a CIDR network "
                    "(write it like 10.0.0.0/8 or fd00::/8)"
                ) from exc
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        networks = []
        for entry in (part.strip() for part in value.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(
                    f"NABAT_TRUSTED_PROXIES entry {entry!r} is not an IP address or CIDR "
                    "network (write it like 10.0.0.5, 10.0.0.0/8 or fd00::/8)"
                ) from exc
        return networks

    @model_validator(mode="after")
    def _check_liveness(self) -> Settings:
        # A process must beat several times before it may be counted dead, and renew a
        # lease (each beat renews those in their second half) before it runs out.
        if not self.heartbeat_seconds < self.dead_after_seconds < self.lease_seconds:
            raise ValueError(
                "NABAT_HEARTBEAT_SECONDS < NABAT_DEAD_AFTER_SECONDS < NABAT_LEASE_SECONDS "
                f"must hold (got {self.heartbeat_seconds}, {self.dead_after_seconds}, "
                f"{self.lease_seconds})"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        """The database URL to use: the configured one, else SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'nabat.db').resolve()}"
