"""Typed configuration: defaults, then a TOML file, then environment variables.

Order of precedence (last wins): field defaults < ``config/hallpulse.toml`` (or the file
named by ``HALLPULSE_CONFIG``) < ``HALLPULSE__SECTION__FIELD`` environment variables <
the two well-known variables ``KAFKA_BOOTSTRAP`` and ``CLICKHOUSE_URL``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config" / "hallpulse.toml"


class KafkaSettings(BaseModel):
    """Where the broker is; ``bootstrap`` set means: use that cluster, start nothing."""

    bootstrap: str | None = None
    local_host: str = "127.0.0.1"
    local_port: int = 19092
    controller_port: int = 19093
    heap: str = "512m"

    @property
    def uses_local_broker(self) -> bool:
        return not self.bootstrap

    @property
    def servers(self) -> str:
        return self.bootstrap or f"{self.local_host}:{self.local_port}"


class TopicSettings(BaseModel):
    """Topic names and partition counts. Input topics must share one partition count:
    all are keyed by ``hall_id`` so a hall's events meet in the same partition number."""

    tickets: str = "hall.queue.tickets"
    transactions: str = "hall.transactions"
    surveys: str = "hall.surveys"
    alerts: str = "hall.alerts"
    deadletter: str = "hall.deadletter"
    ticks: str = "hall.ticks"  # the worker's own clock: lets alerts close while a hall is silent
    facts: str = "hall.facts"  # what the workers accepted, for the sink to store
    partitions: int = 4
    replication: int = 1

    @property
    def inputs(self) -> list[str]:
        return [self.tickets, self.transactions, self.surveys]

    def all(self) -> dict[str, int]:
        return {t: self.partitions for t in [*self.inputs, self.alerts, self.deadletter, self.ticks, self.facts]}


class StoreSettings(BaseModel):
    """ClickHouse: a server when ``url`` is set, otherwise embedded chDB at ``chdb_path``."""

    url: str | None = None
    chdb_path: Path = Path("var/chdb")
    database: str = "hallpulse"
    ttl_months: int = Field(default=36, ge=1)

    @property
    def embedded(self) -> bool:
        return not self.url


class WorkerSettings(BaseModel):
    app_id: str = "hallpulse"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    grace_seconds: int = Field(default=600, ge=0)
    # an event stamped further ahead of this worker's clock is invalid (domain.md §2)
    future_seconds: int = Field(default=300, ge=0)
    # a visit still waiting this long after its hall's closing time is expired (§3)
    expire_after_minutes: float = Field(default=30, ge=0)
    retention_hours: int = Field(default=26, ge=25)
    tick_seconds: float = Field(default=15.0, gt=0)
    # how soon a killed worker's partitions are given to the next one
    session_timeout_seconds: float = Field(default=10.0, ge=6.0)
    # events are processed in batches of at most this many, or what arrived within this
    # long: a table key changed by several events of a batch is written once
    batch_max_events: int = Field(default=1000, ge=1)
    batch_max_seconds: float = Field(default=0.05, gt=0)
    # how long the producer gathers records into one request (Kafka's linger.ms)
    producer_linger_seconds: float = Field(default=0.005, ge=0)


class SinkSettings(BaseModel):
    """``hallpulse sink``: the store's only owner and writer, fed by the facts and alerts topics."""

    web_host: str = "127.0.0.1"
    web_port: int = 6067
    group_id: str = "hallpulse-sink"
    batch_seconds: float = Field(default=2.0, gt=0)     # gather at most this long per write ...
    batch_messages: int = Field(default=20_000, ge=1)   # ... or this many messages
    retry_max_seconds: float = Field(default=30.0, gt=0)
    insert_rows: int = Field(default=5000, ge=1)        # rows per INSERT


class Settings(BaseSettings):
    """All of hallpulse's settings. Relative paths are resolved against ``var_dir``'s parent
    (the working directory) when used."""

    model_config = SettingsConfigDict(
        env_prefix="HALLPULSE__", env_nested_delimiter="__", extra="ignore"
    )

    var_dir: Path = Path("var")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    catalogue_file: Path = PROJECT_ROOT / "config" / "halls.toml"
    alert_rules_file: Path = PROJECT_ROOT / "config" / "alerts.toml"
    assessment_file: Path = PROJECT_ROOT / "config" / "assessment.toml"
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    store: StoreSettings = StoreSettings()
    worker: WorkerSettings = WorkerSettings()
    sink: SinkSettings = SinkSettings()

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.lower()
        if v not in {"debug", "info", "warning", "error"}:
            raise ValueError("log_level must be debug, info, warning or error")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("HALLPULSE_CONFIG", DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, _WellKnownEnv(settings_cls), env_settings]
        if config_file.exists():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def path(self, p: Path) -> Path:
        """Resolve a configured path: absolute stays, relative is taken from the cwd."""
        return p if p.is_absolute() else Path.cwd() / p

    @property
    def chdb_path(self) -> Path:
        p = self.store.chdb_path
        if p == Path("var/chdb"):
            p = self.var_dir / "chdb"
        return self.path(p)

    @property
    def kafka_dir(self) -> Path:
        return self.path(self.var_dir) / "kafka"


class _WellKnownEnv(PydanticBaseSettingsSource):
    """Maps ``KAFKA_BOOTSTRAP`` and ``CLICKHOUSE_URL`` onto their nested settings."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused protocol hook
        return None, field_name, False

    def __call__(self) -> dict:
        out: dict = {}
        if os.environ.get("KAFKA_BOOTSTRAP"):
            out["kafka"] = {"bootstrap": os.environ["KAFKA_BOOTSTRAP"]}
        if os.environ.get("CLICKHOUSE_URL"):
            out["store"] = {"url": os.environ["CLICKHOUSE_URL"]}
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
