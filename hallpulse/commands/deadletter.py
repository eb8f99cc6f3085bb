"""``hallpulse deadletter list|replay``: see what the pipeline could not use, and send it back.

Replay re-publishes each dead letter's original message (phone and ID numbers masked) to
the topic it came from, once the cause is fixed (a hall added to the catalogue, a
producer corrected). The worker validates it again; what still fails comes back as a new
dead letter with ``attempts`` + 1. A consumer group remembers what was replayed, so a
dead letter is replayed once.
"""

from __future__ import annotations

import json
from collections import Counter

import click

from hallpulse import kafka_local
from hallpulse.console import console
from hallpulse.errors import OperatorError
from rich.table import Table

from streams.engine import DeadLetter

REPLAY_GROUP_SUFFIX = "-deadletter-replay"


def _consumer(settings, group: str | None, timeout_ms: int):
    """A consumer on every partition of the dead-letter topic, assigned by hand: a group
    join would only add a rebalance (and kafka-python's assignor warns "No partition
    metadata" when it runs before the topic's metadata came in); the group, when named,
    keeps the committed offsets."""
    from kafka import KafkaConsumer, TopicPartition

    kafka_local.require_broker(settings)
    topic = settings.topics.deadletter
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.servers, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=timeout_ms, isolation_level="read_committed",
        bootstrap_timeout_ms=5000, request_timeout_ms=10000)
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        consumer.close()
        raise OperatorError(f"no topic {topic} on {settings.kafka.servers}; create the topics with: "
                            "hallpulse kafka topics")
    consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
    return consumer


def read_deadletters(settings, *, group: str | None = None, timeout_ms: int = 3000, commit: bool = False):
    """All dead letters from the start (``group=None``), or those a group has not seen yet;
    ``commit``: mark what was read as seen by the group."""
    consumer = _consumer(settings, group, timeout_ms)
    try:
        records = [(m, DeadLetter.parse(m.value)) for m in consumer]
        if commit and group and records:
            _commit(consumer, [m for m, _ in records])
        return records
    finally:
        consumer.close()


def _commit(consumer, messages) -> None:
    """Commit just past the given messages: nothing that arrived meanwhile is skipped."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    last: dict = {}
    for m in messages:
        tp = TopicPartition(m.topic, m.partition)
        last[tp] = max(last.get(tp, -1), m.offset)
    consumer.commit({tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in last.items()})


@click.group()
def deadletter() -> None:
    """Messages that failed validation, named the wrong hall or came too late."""


@deadletter.command("list")
@click.option("--reason", help="Only this reason code (e.g. unknown_hall, malformed_json).")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_(settings, reason: str | None, limit: int, as_json: bool) -> None:
    """Show dead letters with their reasons, and a count per reason."""
    records = [(m, d) for m, d in read_deadletters(settings) if not reason or d["reason_code"] == reason]
    counts = Counter(d["reason_code"] for _, d in records)
    if as_json:
        for m, d in records[-limit:]:
            d = {k: v for k, v in d.items() if k != "original_bytes"}
            click.echo(json.dumps({"offset": m.offset, "partition": m.partition, **d}, ensure_ascii=False))
        return
    table = Table("dead at", "reason", "why", "from", "original")
    for m, d in records[-limit:]:
        table.add_row(d.get("dead_at", "")[:19], d["reason_code"], d["reason"][:80],
                      f"{d['topic']}[{d['partition']}]@{d['offset']}", d["original"][:60])
    console().print(table)
    click.echo("by reason: " + (", ".join(f"{k} {v}" for k, v in counts.most_common()) or "none"))


@deadletter.command()
@click.option("--reason", help="Only this reason code; others are left for a later replay.")
@click.option("--dry-run", is_flag=True, help="Say what would be replayed; send nothing.")
@click.pass_obj
def replay(settings, reason: str | None, dry_run: bool) -> None:
    """Send dead letters not yet replayed back to their original topics."""
    from kafka import KafkaProducer

    group = settings.worker.app_id + REPLAY_GROUP_SUFFIX + (f"-{reason}" if reason else "")
    consumer = _consumer(settings, group, 3000)
    try:
        records = [(m, DeadLetter.parse(m.value)) for m in consumer]
        chosen = [(m, d) for m, d in records if not reason or d["reason_code"] == reason]
        if dry_run:
            click.echo(f"would replay {len(chosen)} of {len(records)} new dead letter(s)")
            return
        producer = KafkaProducer(bootstrap_servers=settings.kafka.servers, acks="all", bootstrap_timeout_ms=5000)
        try:
            for m, d in chosen:
                producer.send(d["topic"], key=(d.get("key") or "").encode() or None, value=d["original_bytes"],
                              headers=[("hallpulse-replay-attempt", str(d.get("attempts", 1)).encode())])
            producer.flush()
        finally:
            producer.close()
        if records:  # mark them replayed: those of other reasons are this group's to skip
            _commit(consumer, [m for m, _ in records])
    finally:
        consumer.close()
    click.echo(f"replayed {len(chosen)} dead letter(s)" + (f" with reason {reason}" if reason else ""))
