"""The Faust application: thin agents around :class:`streams.engine.Engine`.

One agent reads the three input topics (all keyed by ``hall_id`` with one partition
count, so a hall's events meet in one partition number) and applies each
:class:`~streams.engine.Outcome`: Faust table writes (changelog-backed state), alert
events, dead letters. With ``processing_guarantee = "exactly_once"`` the table
changelogs, the alert and dead-letter messages and the consumer offsets commit in one
Kafka transaction, so a killed worker resumes with exactly the state of what it
committed. A timer hands what the engine has pending to the fact writer
(``sinks/facts.py``), which stores the facts and derives the aggregates from them in
ClickHouse; those writes are idempotent, which closes the gap between the two systems.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import faust

from hallpulse.catalogue import Catalogue, load_catalogue
from hallpulse.config import Settings
from hallpulse.logs import get_logger
from sinks.catalogue_mirror import mirror_catalogue
from sinks.migrate import apply_migrations, apply_ttl
from sinks.store import Store, open_store, worker_file
from sinks.facts import FactWriter, build_batch
from streams import faust_fixes
from streams.alerts import load_alert_rules
from streams.engine import ALERTS, SURVEYS, VISITS, Engine

log = get_logger("hallpulse.worker")


@dataclass
class WorkerState:
    """What the agents, timers and web views share inside the worker process."""

    settings: Settings
    catalogue: Catalogue
    engine: Engine
    store: Store | None = None
    writer: FactWriter | None = None
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="store"))
    stale: bool = True              # the engine must be rebuilt from the tables ...
    recovered: bool = False         # ... which is possible once Faust has restored them
    flushes: int = 0
    rows_written: int = 0
    last_flush_s: float = 0.0
    flush_errors: int = 0
    flushing: bool = False

    async def in_store_thread(self, fn, *args):
        """chDB is used from one thread only: every store call goes through here."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)


def create_app(settings: Settings) -> tuple[faust.App, WorkerState]:
    faust_fixes.apply()
    w = settings.worker
    servers = settings.kafka.servers
    app = faust.App(
        w.app_id,
        broker=[f"kafka://{s.strip()}" for s in servers.split(",")],
        store="memory://",
        processing_guarantee=w.processing_guarantee,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication,
        topic_allow_declare=True,
        web_enabled=True,
        web_bind=w.web_host,
        web_host=w.web_host,
        web_port=w.web_port,
        datadir=str(settings.path(settings.var_dir) / "faust"),
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=w.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, w.session_timeout_seconds / 3),
        autodiscover=False,
        logging_config=None,
    )
    catalogue = load_catalogue(settings.catalogue_file)
    engine = Engine(catalogue, load_alert_rules(settings.alert_rules_file), grace_s=w.grace_seconds,
                    retention_h=w.retention_hours, future_s=w.future_seconds,
                    expire_after_min=w.expire_after_minutes)
    state = WorkerState(settings, catalogue, engine)
    t = settings.topics
    kind_of = {t.tickets: "tickets", t.transactions: "transactions", t.surveys: "surveys", t.ticks: "ticks"}
    inputs = app.topic(*t.inputs, t.ticks, key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw")
    alerts_topic = app.topic(t.alerts, key_serializer="raw", value_serializer="raw")
    dead_topic = app.topic(t.deadletter, key_serializer="raw", value_serializer="raw")
    tables = {
        # str keys: the tables' changelogs encode keys and values as JSON both ways
        VISITS: app.Table("visits", partitions=t.partitions, key_type=str),
        SURVEYS: app.Table("surveys", partitions=t.partitions, key_type=str),
        ALERTS: app.Table("alert_states", partitions=t.partitions, key_type=str),
    }
    dead_counts = app.Table("deadletter_counts", default=int, partitions=t.partitions, key_type=str)

    def restore() -> None:
        engine.restore(tables[VISITS].items(), tables[SURVEYS].items(), tables[ALERTS].items())
        state.stale = False
        log.info("worker.restored", halls=len(engine.books), visits=sum(len(b.visits) for b in engine.books.values()),
                 open_alerts=len(engine.alert_states))

    @app.on_partitions_revoked.connect
    async def _revoked(sender, revoked, **kwargs) -> None:
        state.stale, state.recovered = True, False

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:
        state.stale, state.recovered = True, False

    @app.on_rebalance_complete.connect
    async def _recovered(sender, **kwargs) -> None:
        state.recovered = True

    def can_restore() -> bool:
        return state.recovered and not app.rebalancing and not app.in_recovery

    @app.agent(inputs)
    async def hall_events(stream):
        async for event in stream.events():
            if state.stale:  # events flow only after recovery: the tables are complete
                restore()
            msg = event.message
            kind = kind_of[msg.topic]
            if kind == "ticks":
                try:
                    t_ms = int(json.loads(event.value)["t"])
                except (ValueError, KeyError, TypeError):  # not one of ours: nothing to do
                    log.warning("ticks.ignored", value=repr(event.value)[:80])
                    continue
                out = engine.tick(msg.partition, t_ms)
            else:
                key = event.key.decode(errors="replace") if isinstance(event.key, bytes) else event.key
                out = engine.process(kind, event.value, topic=msg.topic, partition=msg.partition,
                                     offset=msg.offset, key=key)
            for table, k, value in out.writes:
                if value is None:
                    tables[table].pop(k, None)
                else:
                    tables[table][k] = value
            for a in out.alerts:
                await alerts_topic.send(key=a.hall_id.encode(), value=a.model_dump_json().encode())
            if out.dead_letter is not None:
                dl = out.dead_letter
                # one key per partition: a table key must only be written from one partition,
                # or recovery keeps whichever partition's record it reads last
                dead_counts[f"{dl.reason_code}|{msg.partition}"] += 1
                await dead_topic.send(key=(dl.key or "").encode(), value=dl.to_json())
                log.warning("event.dead_letter", reason_code=dl.reason_code, reason=dl.reason, topic=dl.topic,
                            partition=dl.partition, offset=dl.offset)

    @app.timer(interval=w.flush_interval_seconds)
    async def flush() -> None:
        if state.writer is None:
            return
        if state.stale:
            if not can_restore():
                return
            restore()
        pending, alerts = engine.take_pending()
        if not pending and not alerts:
            return
        t0 = time.perf_counter()
        state.flushing = True
        try:
            batch = build_batch(engine, pending, alerts)
            result = await state.in_store_thread(state.writer.write, batch)
        except Exception as e:  # the store is down or refused: keep the work, try again
            engine.requeue(pending, alerts)
            state.flush_errors += 1
            log.error("sink.flush_failed", error=str(e))
            return
        finally:
            state.flushing = False
        engine.written()
        state.flushes += 1
        state.rows_written += result.rows
        state.last_flush_s = time.perf_counter() - t0

    tick_producer = None

    @app.timer(interval=w.tick_seconds, on_leader=True)
    async def send_ticks() -> None:
        """One tick per partition with the wall-clock time: read back by the agent like any
        input, so time passing is in the log and processing stays replayable. A plain
        (non-transactional) asyncio producer: ticks are input, not output of a transaction."""
        nonlocal tick_producer
        try:
            if tick_producer is None:
                from aiokafka import AIOKafkaProducer

                tick_producer = AIOKafkaProducer(bootstrap_servers=servers, acks=1)
                await tick_producer.start()
            value = json.dumps({"t": int(time.time() * 1000)}).encode()
            for p in range(t.partitions):
                await tick_producer.send(t.ticks, value=value, partition=p)
        except Exception as e:  # a missed tick only delays an alert's closing
            log.warning("ticks.send_failed", error=str(e))

    @app.on_before_shutdown.connect
    async def _stop_tick_producer(sender, **kwargs) -> None:
        if tick_producer is not None:
            await tick_producer.stop()

    from streams.web import register_views

    register_views(app, state, dead_counts)
    return app, state


def _loopback(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def open_worker_store(state: WorkerState) -> None:
    """Open (and hold) the store, migrate it, mirror the catalogue; before the app starts."""
    s = state.settings
    store = open_store(s, hold=True)
    applied = apply_migrations(store, s.store.ttl_months)
    ttl_changed = apply_ttl(store, s.store.ttl_months)
    mirror_catalogue(store, state.catalogue)
    state.store = store
    rules = state.engine.rules
    state.writer = FactWriter(store, state.catalogue, expire_after_min=s.worker.expire_after_minutes,
                              silent_after_min=rules.default.silent_after_min, batch_rows=s.worker.flush_batch_rows)
    # tell other commands where to send their SQL while this process holds the store
    info = {"pid": os.getpid(), "url": f"http://{_loopback(s.worker.web_host)}:{s.worker.web_port}"}
    worker_file(s).write_text(json.dumps(info))
    log.info("store.ready", embedded=s.store.embedded, migrations_applied=applied, ttl_changed=ttl_changed,
             where=str(s.chdb_path) if s.store.embedded else s.store.url)


def remove_worker_file(settings: Settings) -> None:
    wf: Path = worker_file(settings)
    try:
        if json.loads(wf.read_text()).get("pid") == os.getpid():
            wf.unlink()
    except (OSError, ValueError):
        pass
