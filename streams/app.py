"""The Faust application: thin agents around :class:`streams.engine.Engine`.

One agent reads the three input topics (all keyed by ``hall_id`` with one partition
count, so a hall's events meet in one partition number) and applies each
:class:`~streams.engine.Outcome`: Faust table writes (changelog-backed state), alert
events, dead letters. With ``processing_guarantee = "exactly_once"`` the table
changelogs, the alert and dead-letter messages and the consumer offsets commit in one
Kafka transaction, so a killed worker resumes with exactly the state of what it
committed. Every accepted event also leaves on the facts topic (``Outcome.facts``) in that
same transaction; the sink process (``hallpulse sink``, ``sinks/sink.py``) stores the
facts and derives the aggregates from them in ClickHouse. The worker never opens the
store, so any number of workers can run beside one sink.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import faust
import structlog

from schemas.catalogue import Catalogue, load_catalogue
from schemas.facts import encode_facts_messages
from schemas.privacy import mask_text
from streams import faust_fixes
from streams.alerts import load_alert_rules
from streams.batch import OutcomeBatch
from streams.engine import ALERTS, SURVEYS, VISITS, Engine
from streams.live import HallSignals
from streams.settings import WorkerConfig
from streams.web_server import application_options, bound_web_server

log = structlog.get_logger("hallpulse.worker")


@dataclass
class WorkerState:
    """What the agents, timers and web views share inside the worker process."""

    settings: WorkerConfig
    catalogue: Catalogue
    engine: Engine
    signals: HallSignals            # the lobby pages' event streams ([worker].sse_max_subscribers)
    stale: bool = True              # the engine must be rebuilt from the tables ...
    recovered: bool = False         # ... which is possible once Faust has restored them
    facts_sent: int = 0
    partitions: set[int] = field(default_factory=set)  # the input partitions this worker owns
    skipped: int = 0                # events read for a partition this worker no longer owns
    batches: int = 0                # batches processed, and where their time went:
    engine_s: float = 0.0           # ... the engine (plain Python) ...
    send_s: float = 0.0             # ... handing table writes and messages to the producer


def create_app(settings: WorkerConfig) -> tuple[faust.App, WorkerState]:
    faust_fixes.apply()
    w = settings.worker
    settings.path(settings.var_dir).mkdir(parents=True, exist_ok=True)
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
        web_application_options=application_options(w.web_idle_timeout_seconds),
        datadir=str(settings.path(settings.var_dir) / "faust"),
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=w.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, w.session_timeout_seconds / 3),
        producer_linger=w.producer_linger_seconds,
        broker_commit_interval=w.commit_seconds,
        producer_max_batch_size=w.producer_batch_bytes,
        producer_max_request_size=max(1_048_576, 2 * w.producer_batch_bytes),
        consumer_group_instance_id=w.instance_id,
        autodiscover=False,
        logging_config=None,
    )
    bound_web_server(app, w.web_max_connections)
    catalogue = load_catalogue(settings.catalogue_file)
    engine = Engine(catalogue, load_alert_rules(settings.alert_rules_file), grace_s=w.grace_seconds,
                    retention_h=w.retention_hours, future_s=w.future_seconds,
                    max_message_bytes=w.max_message_bytes, max_visit_steps=w.max_visit_steps,
                    expire_after_min=w.expire_after_minutes)
    state = WorkerState(settings, catalogue, engine, HallSignals(w.sse_max_subscribers))
    t = settings.topics
    kind_of = {t.tickets: "tickets", t.transactions: "transactions", t.surveys: "surveys", t.ticks: "ticks"}
    inputs = app.topic(*t.inputs, t.ticks, key_type=bytes, value_type=bytes, key_serializer="raw",
                       value_serializer="raw")
    tables = {
        # str keys: the tables' changelogs encode keys and values as JSON both ways
        VISITS: app.Table("visits", partitions=t.partitions, key_type=str),
        SURVEYS: app.Table("surveys", partitions=t.partitions, key_type=str),
        ALERTS: app.Table("alert_states", partitions=t.partitions, key_type=str),
    }
    dead_counts = app.Table("deadletter_counts", default=int, partitions=t.partitions, key_type=str)

    def restore() -> None:
        assigned = {tp.partition for tp in app.consumer.assignment() if tp.topic == t.tickets}
        state.partitions = assigned
        alerts = tables[ALERTS]
        key_partition = faust_fixes.key_partitions(alerts)
        engine.restore(tables[VISITS].items(), tables[SURVEYS].items(),
                       [(k, {**st, "p": key_partition[k]} if k in key_partition else st) for k, st in alerts.items()],
                       partitions=assigned or None)
        state.stale = False
        log.info("worker.restored", halls=len(engine.books), visits=sum(len(b.visits) for b in engine.books.values()),
                 open_alerts=len(engine.alert_states), partitions=sorted(assigned),
                 table_keys={name: len(table) for name, table in tables.items()})

    @app.on_partitions_revoked.connect
    async def _revoked(sender, revoked, **kwargs) -> None:
        state.stale, state.recovered = True, False
        if faust_fixes.membership_lost():  # faust_fixes #7
            log.warning("worker.membership_lost", message="the consumer group dropped this worker (the broker was "
                        "away longer than the session timeout): starting over from the committed state")
            faust_fixes.start_over()

    @app.on_partitions_assigned.connect
    async def _assigned(sender, assigned, **kwargs) -> None:
        state.stale, state.recovered = True, False

    @app.on_rebalance_complete.connect
    async def _recovered(sender, **kwargs) -> None:
        state.recovered = True
        # what each changelog partition was read up to, against its end when the recovery
        # began: a table that comes back short is told apart from one that was read short
        recovery = app.tables.recovery
        log.info("worker.tables_recovered", changelogs={
            f"{tp.topic.removeprefix(w.app_id + '-').removesuffix('-changelog')}/{tp.partition}":
                [offset, recovery.active_highwaters.get(tp)]
            for tp, offset in sorted(recovery.active_offsets.items())})

    def transaction_of(partition: int) -> str | None:
        """The transactional id whose commit carries input ``partition``'s offsets (as Faust
        names it): under exactly-once everything an event of that partition caused is sent
        in it, so it commits or aborts with the offsets; None under at-least-once."""
        if not app.in_transaction:
            return None
        return faust_fixes.source_transaction(app, t.tickets, partition)

    async def emit(topic: str, key: bytes, value: bytes | None, partition: int) -> None:
        """Send one record in ``partition``'s transaction, straight to the producer. Faust's
        ``Topic.send`` picks the transaction by the *destination*, which for the topics a
        worker does not read (alerts, facts, dead letters) is none at all; and its producer
        buffer (100 records) stalls the agent while it drains them one by one."""
        await app.producer.send(topic, key, value, partition, None, None, transactional_id=transaction_of(partition))

    async def put(table, partition: int, key: str, value) -> None:
        """A table write that names its partition (``table[key] = value`` takes it from the
        current event, which a batch does not have): the in-memory store, the key's
        partition for the store's bookkeeping (faust_fixes #6), and the changelog record."""
        topic = table.changelog_topic
        if value is None:
            table.data.pop(key, None)
        else:
            table.data[key] = value
        faust_fixes.remember_partition(table, key, partition)
        key_bytes, _ = topic.prepare_key(key, table.key_serializer)
        value_bytes = None if value is None else topic.prepare_value(value, table.value_serializer)[0]
        await emit(topic.get_topic_name(), key_bytes, value_bytes, partition)

    async def hall_events(messages: list) -> None:
        """The agent: the input as Faust fetched it (faust_fixes #8), in batches of at most
        ``[worker].batch_max_events``; each batch's output is sent, then its input acked."""
        for i in range(0, len(messages), w.batch_max_events):
            await process_batch(messages[i:i + w.batch_max_events])

    async def process_batch(messages: list) -> None:
        if state.stale:  # events flow only after recovery: the tables are complete
            restore()
        batch = OutcomeBatch()
        ticked = False
        t0 = time.perf_counter()
        for msg in messages:
            if msg.partition not in state.partitions:
                state.skipped += 1  # read before its partition was revoked: its new owner reads it
                continue
            kind = kind_of[msg.topic]
            if kind == "ticks":
                try:
                    t_ms = int(json.loads(msg.value)["t"])
                except (ValueError, KeyError, TypeError):  # not one of ours: nothing to do
                    log.warning("ticks.ignored", value=mask_text(repr(msg.value)[:80]))
                    continue
                out = engine.tick(msg.partition, t_ms)
                ticked = True
            else:
                key = msg.key.decode(errors="replace") if isinstance(msg.key, bytes) else msg.key
                out = engine.process(kind, msg.value, topic=msg.topic, partition=msg.partition,
                                     offset=msg.offset, key=key)
            batch.add(msg.partition, out)
        t1 = time.perf_counter()
        async with faust_fixes.SENDING:  # no commit holds part of a batch (faust_fixes #2)
            await send_batch(batch)
            ack = app.consumer.ack
            for msg in messages:
                ack(msg)
        # the lobby pages watching a hall this batch changed (after a tick: every hall,
        # its waits grew) get its figures now, not at their next poll
        state.signals.notify(None if ticked else {*batch.facts, *(a.hall_id for _, a in batch.alerts)})
        state.batches += 1
        state.engine_s += t1 - t0
        state.send_s += time.perf_counter() - t1

    faust_fixes.deliver_in_batches(app, inputs, hall_events, caught_up_commit_s=w.caught_up_commit_seconds)

    async def send_batch(batch: OutcomeBatch) -> None:
        """Everything a batch changed, each key once, each output in its partition."""
        for table, k, partition, value in batch.table_writes():
            await put(tables[table], partition, k, value)
        for partition, a in batch.alerts:
            await emit(t.alerts, a.hall_id.encode(), a.model_dump_json().encode(), partition)
        for hall_id, (partition, facts) in batch.facts.items():  # one message per hall and batch
            for message in encode_facts_messages(facts):  # (or several, if it is large)
                await emit(t.facts, hall_id.encode(), message, partition)
                state.facts_sent += 1
        for k, n in batch.dead_counts.items():
            await put(dead_counts, int(k.rsplit("|", 1)[1]), k, dead_counts.data.get(k, 0) + n)
        for partition, dl in batch.dead_letters:
            await emit(t.deadletter, (dl.key or "").encode(), dl.to_json(), partition)
            log.warning("event.dead_letter", reason_code=dl.reason_code, reason=dl.reason, topic=dl.topic,
                        partition=dl.partition, offset=dl.offset)

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
        state.signals.close()  # the open event streams end, or they would hold the shutdown
        if tick_producer is not None:
            await tick_producer.stop()

    from streams.web import register_views

    register_views(app, state, dead_counts)
    return app, state


