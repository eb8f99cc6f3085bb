"""The sink's and the store's configuration sections, and what each needs of the whole.

``hallpulse.config.Settings`` composes these with the worker's sections
(``streams.settings``); the sink and the store are handed that object as a parameter and
only rely on the shapes :class:`StoreConfig` and :class:`SinkConfig` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from streams.settings import KafkaSettings, TopicSettings, WorkerSettings


class StoreSettings(BaseModel):
    """ClickHouse: a server when ``url`` is set, otherwise embedded chDB at ``chdb_path``."""

    url: str | None = None
    chdb_path: Path = Path("var/chdb")
    database: str = "hallpulse"
    ttl_months: int = Field(default=36, ge=1)

    @property
    def embedded(self) -> bool:
        return not self.url


class SinkSettings(BaseModel):
    """``hallpulse sink``: the store's only owner and writer, fed by the facts and alerts topics."""

    web_host: str = "127.0.0.1"
    web_port: int = 6067
    group_id: str = "hallpulse-sink"
    batch_seconds: float = Field(default=2.0, gt=0)     # gather at most this long per write ...
    batch_messages: int = Field(default=20_000, ge=1)   # ... or this many messages; but write at once
    batch_min_seconds: float = Field(default=0.5, ge=0)  # when caught up, after at least this long
    retry_max_seconds: float = Field(default=30.0, gt=0)
    insert_rows: int = Field(default=5000, ge=1)        # rows per INSERT


@runtime_checkable
class StoreConfig(Protocol):
    """What :func:`sinks.store.open_store` reads of the configuration."""

    var_dir: Path
    store: StoreSettings

    def path(self, p: Path) -> Path: ...

    @property
    def chdb_path(self) -> Path: ...


@runtime_checkable
class SinkConfig(StoreConfig, Protocol):
    """What the sink process reads: the store, its own section, the topics it consumes, and
    the worker's visit expiry (the sink expires forgotten visits by the same rule)."""

    kafka: KafkaSettings
    topics: TopicSettings
    worker: WorkerSettings
    sink: SinkSettings
