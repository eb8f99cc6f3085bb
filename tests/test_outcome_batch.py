"""A batch of outcomes sends the same state, facts and alerts as the events one by one.

The worker applies a batch of events at once (streams/batch.py): each table key once, with
its last value; one facts message per hall; dead-letter counts summed. Applying a batch
must leave exactly what applying its events one at a time leaves, and every output must
carry its event's partition (it chooses the Kafka transaction under exactly-once).
"""

from __future__ import annotations

from collections import Counter

from streams.batch import OutcomeBatch
from tests.test_engine_scenarios import engine, scenario
from tests.events import Maker, at


def events() -> list[tuple[int, str, bytes]]:
    """The hand-worked scenario of hall JS-NJ-0002 on partition 1, another hall's visits on
    partition 3, and two bad messages."""
    out = [(1, kind, raw) for kind, raw in scenario()]
    mk = Maker("JS-NJ-0001")
    for i in range(4):
        out.append((3, *mk.ticket("issued", f"W{i}", at("10:00").replace(minute=i))))
        out.append((3, *mk.ticket("called", f"W{i}", at("10:00").replace(minute=i + 20), counter_id="C01")))
    out.insert(5, (3, "tickets", b"not json"))
    out.insert(9, (1, "surveys", b'{"event_id": 1}'))
    return out


def test_a_batch_leaves_what_the_events_leave_one_by_one():
    per_event = {"tables": {}, "facts": {}, "alerts": [], "dead": Counter(), "partition_of": {}}
    batched = OutcomeBatch()
    e = engine()
    for partition, kind, raw in events():
        out = e.process(kind, raw, partition=partition)
        batched.add(partition, out)
        for table, key, value in out.writes:
            per_event["tables"][(table, key)] = value
            per_event["partition_of"][(table, key)] = partition
        for f in out.facts:
            per_event["facts"].setdefault(f.get("h") or f["r"]["h"], []).append(f)
        per_event["alerts"].extend(out.alerts)
        if out.dead_letter:
            per_event["dead"][f"{out.dead_letter.reason_code}|{partition}"] += 1

    writes = list(batched.table_writes())
    assert len({(t, k) for t, k, _, _ in writes}) == len(writes), "a key is written twice in one batch"
    assert {(t, k): v for t, k, _, v in writes} == per_event["tables"]
    assert {(t, k): p for t, k, p, _ in writes} == per_event["partition_of"]
    assert sum(1 for v in per_event["tables"].values()) < sum(1 for _ in events()), "nothing was merged"
    assert {h: fs for h, (_, fs) in batched.facts.items()} == per_event["facts"]
    assert {h: p for h, (p, _) in batched.facts.items()} == {"JS-NJ-0002": 1, "JS-NJ-0001": 3}
    assert [a for _, a in batched.alerts] == per_event["alerts"]
    assert batched.dead_counts == per_event["dead"] and sum(batched.dead_counts.values()) == 2
    assert [p for p, _ in batched.dead_letters] == [3, 1]
    assert batched.events == len(events())
