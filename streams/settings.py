"""The worker's configuration sections, and what the Faust app needs of the whole.

The sections are plain pydantic models; ``hallpulse.config.Settings`` composes them with the
sink's sections (``sinks.settings``) and reads files and environment. The worker never
imports that composition: :func:`streams.app.create_app` is handed any object that has the
shape of :class:`WorkerConfig` (configuration is passed down, not imported up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field


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


class WorkerSettings(BaseModel):
    app_id: str = "hallpulse"
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # the live API's bounds (streams/web_server.py): connections served at once (more get
    # 503), and how long a connection may stay without a complete request (a client slow
    # to send its headers, or an idle keep-alive) before it is closed
    web_max_connections: int = Field(default=256, ge=1)
    web_idle_timeout_seconds: float = Field(default=10.0, gt=0)
    # the lobby pages' server-sent event streams (streams/live.py): at most this many open
    # at once in a worker (each holds one of the connections above; more poll instead),
    # and a comment line on each after this many seconds without a change
    sse_max_subscribers: int = Field(default=64, ge=0)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    grace_seconds: int = Field(default=600, ge=0)
    # an event stamped further ahead of this worker's clock is invalid (domain.md §2)
    future_seconds: int = Field(default=300, ge=0)
    # a larger input message is dead-lettered unread (reason too_large), with an excerpt
    max_message_bytes: int = Field(default=256 * 1024, ge=1024)
    # a visit takes at most this many events; more are dead-lettered (reason visit_too_long)
    max_visit_steps: int = Field(default=200, ge=20)
    # a visit still waiting this long after its hall's closing time is expired (§3)
    expire_after_minutes: float = Field(default=30, ge=0)
    retention_hours: int = Field(default=26, ge=25)
    tick_seconds: float = Field(default=15.0, gt=0)
    # how soon a killed worker's partitions are given to the next one
    session_timeout_seconds: float = Field(default=10.0, ge=6.0)
    # a stable name per worker process (Kafka static membership, group.instance.id): a
    # worker restarted under the same name takes its partitions back at once instead of
    # waiting out its killed predecessor's session; unset = dynamic membership
    instance_id: str | None = None
    # events are processed as Faust fetched them, in batches of at most this many: a table
    # key changed by several events of a batch is written once
    batch_max_events: int = Field(default=1000, ge=1)
    # how long the producer gathers records into one request (Kafka's linger.ms)
    producer_linger_seconds: float = Field(default=0.005, ge=0)
    # bytes the producer gathers per partition before a send must wait for the broker: the
    # 16 kB default holds a dozen visit records, so a batch's table writes waited for a
    # broker round trip every dozen records
    producer_batch_bytes: int = Field(default=512 * 1024, ge=16 * 1024)
    # how often the worker commits (under exactly-once: ends its Kafka transactions, which
    # makes alerts and facts visible downstream; the live API does not wait for it)
    commit_seconds: float = Field(default=2.8, gt=0)
    # ... and at once when it has read its input to the end (a quiet moment, the end of a
    # backlog), at most this often: what it sent then need not wait out the interval (0: off)
    caught_up_commit_seconds: float = Field(default=0.5, ge=0)


@runtime_checkable
class WorkerConfig(Protocol):
    """What the Faust app reads of the configuration (``hallpulse.config.Settings`` fits)."""

    var_dir: Path
    catalogue_file: Path
    alert_rules_file: Path
    kafka: KafkaSettings
    topics: TopicSettings
    worker: WorkerSettings

    def path(self, p: Path) -> Path: ...
