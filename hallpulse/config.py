"""Typed configuration: defaults, then a TOML file, then environment variables.

Order of precedence (last wins): field defaults < ``config/hallpulse.toml`` (or the file
named by ``HALLPULSE_CONFIG``) < ``HALLPULSE__SECTION__FIELD`` environment variables <
the two well-known variables ``KAFKA_BOOTSTRAP`` and ``CLICKHOUSE_URL``.

The sections live with the layer that uses them (``streams.settings``: Kafka, topics,
worker; ``sinks.settings``: store, sink; ``sinks.notify.settings``: notify); this module
composes them and is the only one that reads files and environment. ``Settings`` satisfies ``streams.settings.WorkerConfig``,
``sinks.settings.SinkConfig`` and ``sinks.notify.settings.NotifyConfig``, and is passed down
to the worker, the sink and the notifier.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sinks.notify.settings import NotifySettings
from sinks.settings import SinkSettings, StoreSettings
from streams.settings import KafkaSettings, TopicSettings, WorkerSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config" / "hallpulse.toml"

__all__ = ["DEFAULT_CONFIG_FILE", "PROJECT_ROOT", "KafkaSettings", "NotifySettings", "Settings", "SinkSettings",
           "StoreSettings", "TopicSettings", "WorkerSettings", "get_settings"]


class Settings(BaseSettings):
    """All of hallpulse's settings. Relative paths are resolved against ``var_dir``'s parent
    (the working directory) when used."""

    model_config = SettingsConfigDict(
        env_prefix="HALLPULSE__", env_nested_delimiter="__", extra="ignore"
    )

    var_dir: Path = Path("var")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "info"
    # allocations between two collections of Python's youngest objects in the worker and
    # the sink (hallpulse/gc_tuning.py; Python's default is 700); 0 leaves the default
    gc_threshold: int = Field(default=50_000, ge=0)
    catalogue_file: Path = PROJECT_ROOT / "config" / "halls.toml"
    alert_rules_file: Path = PROJECT_ROOT / "config" / "alerts.toml"
    assessment_file: Path = PROJECT_ROOT / "config" / "assessment.toml"
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    store: StoreSettings = StoreSettings()
    worker: WorkerSettings = WorkerSettings()
    sink: SinkSettings = SinkSettings()
    notify: NotifySettings = NotifySettings()

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
